package model

import (
	"errors"
	"net/netip"
	"testing"
)

// filterFixtures returns three entries that differ in every field the
// filter language can test.
func filterFixtures() []*FlowEntry {
	web := &Flow{
		ID: 0, A: netip.MustParseAddrPort("10.0.0.1:51000"), B: netip.MustParseAddrPort("10.0.0.2:8080"),
		Client: SideA, FirstTS: 1e9, LastTS: 2e9, IRTT: 300e3,
		State: [2]State{StateEstablished, StateCloseWait},
	}
	web.Dir[DirAB] = Counters{Packets: 10, PayloadBytes: 2000, Retransmission: 2, FastRetransmission: 1}
	web.Dir[DirBA] = Counters{Packets: 8, PayloadBytes: 3 << 20, RST: 1, ZeroWindow: 4}

	db := &Flow{
		ID: 1, A: netip.MustParseAddrPort("[fe80::1]:40000"), B: netip.MustParseAddrPort("[fe80::2]:5432"),
		Client: SideNone, RoleInferred: true, FirstTS: 5e9, LastTS: 5e9,
		State:  [2]State{StateTimeWait, StateClosed},
		AckRTT: [2]RTTStats{{Samples: 2, Sum: 80e6}},
	}
	db.Dir[DirAB] = Counters{Packets: 3, KeepAlive: 2, DuplicateAck: 1}

	quiet := &Flow{
		ID: 2, A: netip.MustParseAddrPort("192.168.1.5:22"), B: netip.MustParseAddrPort("192.168.1.9:60000"),
		Client: SideB, FirstTS: 0, LastTS: 1e9,
		State: [2]State{StateEstablished, StateEstablished},
	}
	quiet.Dir[DirBA] = Counters{Packets: 1, SYN: 1}

	return []*FlowEntry{
		{Flow: web, Local: SideNone, Owners: []OwnerRef{{PID: 1234, Name: "curl"}},
			Findings: []Finding{{Label: FindingIdleTimeoutRace, Severity: SeverityCritical}}, Rate: 50 << 10},
		{Flow: db, Local: SideB, Owners: []OwnerRef{{PID: 99, Name: "postgres"}}, KernelState: StateListen},
		{Flow: quiet, Local: SideA, Owners: []OwnerRef{{PID: 7, Name: "sshd"}}},
	}
}

func TestParseFilter_MatchesExpectedFlows(t *testing.T) {
	es := filterFixtures()
	const now = 10e9
	tests := []struct {
		src  string
		want []FlowID
	}{
		{"", []FlowID{0, 1, 2}},
		{"port 8080", []FlowID{0}},
		{"PORT 22", []FlowID{2}},
		{"port>50000", []FlowID{0, 2}},
		{"port <= 22", []FlowID{2}},
		{"host 10.0.0.2", []FlowID{0}},
		{"host fe80::2", []FlowID{1}},
		{"net 192.168.0.0/16", []FlowID{2}},
		{"state close_wait", []FlowID{0}},
		{"state CLOSE-WAIT", []FlowID{0}},
		{"state listen", []FlowID{1}}, // kernel state of the local side
		{"state established", []FlowID{0, 2}},
		{"proc nginx", nil},
		{"proc POST", []FlowID{1}},
		{"pid 1234", []FlowID{0}},
		{"pid 12", nil},
		{"rst", []FlowID{0}},
		{"retrans>0", []FlowID{0}},
		{"retrans=3", []FlowID{0}}, // plain + fast
		{"retrans!=3", []FlowID{1, 2}},
		{"retrans >= 4", nil},
		{"zerowin", []FlowID{0}},
		{"keepalive", []FlowID{1}},
		{"dupack=1", []FlowID{1}},
		{"syn", []FlowID{2}},
		{"packets<5", []FlowID{1, 2}},
		{"bytes>1m", []FlowID{0}},
		{"in>=3m", []FlowID{0}}, // client is local: in = server's bytes
		{"out>=3m", nil},
		{"rate>10k", []FlowID{0}},
		{"rtt>=40ms", []FlowID{1}}, // mean ACK RTT 40 ms
		{"rtt>1", []FlowID{1}},     // bare rtt numbers are milliseconds
		{"irtt<1ms", []FlowID{0, 1, 2}},
		{"irtt>0", []FlowID{0}},
		{"age>=9s", []FlowID{0, 2}},
		{"age>9s", []FlowID{2}},
		{"age>=9", []FlowID{0, 2}}, // bare age numbers are seconds
		{"idle<6s", []FlowID{1}},
		{"id=2", []FlowID{2}},
		{"finding idle_timeout_race", []FlowID{0}},
		{"finding idle", []FlowID{0}},
		{"finding", []FlowID{0}},
		{"finding refused", nil},
		{"finding idle-timeout", []FlowID{0}},
		{"closed", []FlowID{1}},
		{"open", []FlowID{0, 2}},
		{"inferred", []FlowID{1}},
		{"v6", []FlowID{1}},
		{"v4", []FlowID{0, 2}},
		{"rst or keepalive", []FlowID{0, 1}},
		{"rst || keepalive", []FlowID{0, 1}},
		{"port 8080 and rst", []FlowID{0}},
		{"port 8080 rst", []FlowID{0}}, // adjacent terms are and-ed
		{"port 8080 && port 22", nil},
		{"not rst", []FlowID{1, 2}},
		{"!rst", []FlowID{1, 2}},
		{"not (rst or keepalive)", []FlowID{2}},
		{"v4 and (port 22 or port 8080) and not rst", []FlowID{2}},
		{"rst or keepalive and v4", []FlowID{0}}, // and binds tighter than or
		{"192.168", []FlowID{2}},
		{"fe80", []FlowID{1}},
		{"10.0.0.2:8080", []FlowID{0}},
		{"curl", []FlowID{0}},
		{"SSHD", []FlowID{2}},
		{"timeout", []FlowID{0}},
		{"1234", []FlowID{0}}, // a PID as free text
		{`"idle_timeout"`, []FlowID{0}},
	}
	for _, tc := range tests {
		f, err := ParseFilter(tc.src)
		if err != nil {
			t.Errorf("ParseFilter(%q): got error %v, want none", tc.src, err)
			continue
		}
		if got := matchedIDs(f, es, now); !equalIDs(got, tc.want) {
			t.Errorf("filter %q: got flows %v, want %v", tc.src, got, tc.want)
		}
	}
}

// matchedIDs returns the IDs of the entries f keeps, in order.
func matchedIDs(f *Filter, es []*FlowEntry, now int64) []FlowID {
	var got []FlowID
	for _, e := range es {
		if f.Match(e, now) {
			got = append(got, e.Flow.ID)
		}
	}
	return got
}

func equalIDs(a, b []FlowID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseFilter_ErrorsCarryPosition(t *testing.T) {
	tests := []struct {
		src     string
		wantPos int
	}{
		{"port", 4},
		{"port ", 5},
		{"port http", 5},
		{"port 70000", 5},
		{"host", 4},
		{"host 10.0.0", 5},
		{"net 10.0.0.1", 4},
		{"state", 5},
		{"state bogus", 6},
		{"pid x", 4},
		{"retrans>", 8},
		{"retrans>x", 8},
		{"retrans>1ms", 8},
		{"rtt>3parsecs", 4},
		{"bytes>1q", 6},
		{"(rst", 0},
		{"rst)", 3},
		{"rst and", 7},
		{"rst or or keepalive", 7},
		{"not", 3},
		{"a & b", 2},
		{`"open`, 0},
		{"bogus>3", 0},
		{"()", 1},
		{"port 80 and (host 10.0.0.1 or state nope)", 36},
		{"finding bogus", 8},
	}
	for _, tc := range tests {
		f, err := ParseFilter(tc.src)
		var fe *FilterError
		if !errors.As(err, &fe) {
			t.Errorf("ParseFilter(%q): got filter %v, err %v; want a *FilterError", tc.src, f, err)
			continue
		}
		if fe.Pos != tc.wantPos {
			t.Errorf("ParseFilter(%q): got error at %d (%v), want at %d", tc.src, fe.Pos, fe, tc.wantPos)
		}
		if fe.Msg == "" {
			t.Errorf("ParseFilter(%q): got an empty message", tc.src)
		}
	}
}

func TestParseFilter_BlankMatchesAll(t *testing.T) {
	for _, src := range []string{"", "   ", "\t"} {
		f, err := ParseFilter(src)
		if err != nil || f != nil {
			t.Errorf("ParseFilter(%q): got %v, %v; want nil, nil", src, f, err)
		}
		if !f.Match(filterFixtures()[0], 0) {
			t.Errorf("nil filter from %q: got no match, want a match", src)
		}
		if f.String() != "" {
			t.Errorf("nil filter String: got %q, want empty", f.String())
		}
	}
}

func TestParseFilter_NeverPanics(t *testing.T) {
	// Every prefix of a long filter: what a person's typing produces.
	src := `(port 8080 or host fe80::1) and not state "close_wait" && retrans>=2 || rtt<1.5ms !rst idle>3m`
	e := filterFixtures()[0]
	for i := 0; i <= len(src); i++ {
		f, err := ParseFilter(src[:i])
		if err == nil {
			f.Match(e, 0)
		}
	}
	for _, s := range []string{"\x00", "\xff\xfe", "port \x1b[31m", "((((((", "))))", "!!!!!", "=<>", "µs", "rtt>1µs"} {
		f, err := ParseFilter(s)
		if err == nil {
			f.Match(e, 0)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"port 80", "not (rst or retrans>2)", "host ::1", `"x"`, "idle>3s"} {
		f.Add(s)
	}
	es := filterFixtures()
	f.Fuzz(func(t *testing.T, src string) {
		flt, err := ParseFilter(src)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) || fe.Pos < 0 || fe.Pos > len(src) {
				t.Fatalf("ParseFilter(%q): got error %v, want a *FilterError inside the input", src, err)
			}
			return
		}
		for _, e := range es {
			flt.Match(e, 0)
		}
	})
}

// TestParseFilter_FindingTakesItsWord: the README's own example, `finding
// idle`, keeps only the flows whose finding label contains "idle", not
// every flow with a finding and some idle time; a keyword no label
// contains, or a compared field, still starts a term of its own.
func TestParseFilter_FindingTakesItsWord(t *testing.T) {
	es := filterFixtures()
	es[1].Findings = []Finding{{Label: FindingRefused, Severity: SeverityWarning}}
	es[2].Findings = []Finding{{Label: FindingLossRetransmit, Severity: SeverityWarning},
		{Label: FindingMiddleboxIdleDrop, Severity: SeverityCritical}}
	const now = 10e9
	tests := []struct {
		src  string
		want []FlowID
	}{
		{"finding idle", []FlowID{0, 2}},
		{"finding refused", []FlowID{1}},
		{"finding", []FlowID{0, 1, 2}},
		{"finding idle>8.5s", []FlowID{2}},     // any finding, idle over 8.5 s
		{"finding port 8080", []FlowID{0}},     // any finding, port 8080
		{"finding and rst", []FlowID{0}},       // any finding, a RST
		{"proc post and finding", []FlowID{1}}, // proc takes its word
	}
	for _, tc := range tests {
		f, err := ParseFilter(tc.src)
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		if got := matchedIDs(f, es, now); !equalIDs(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.src, got, tc.want)
		}
	}
}
