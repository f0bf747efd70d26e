package procinfo

import (
	"strings"
	"testing"

	"github.com/connscope/connscope/model"
)

const netstatText = `TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPHPHits
TcpExt: 0 0 17 42 9000
IpExt: InNoRoutes ListenOverflows
IpExt: 0 999
`

func TestParseNetstat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    netstatCounters
		wantErr string
	}{
		{name: "counters", in: netstatText, want: netstatCounters{ListenOverflows: 17, ListenDrops: 42}},
		{name: "abort counters", in: "TcpExt: TCPAbortOnData ListenOverflows TCPAbortOnClose ListenDrops TCPAbortOnTimeout TCPAbortOnLinger TCPAbortOnMemory\nTcpExt: 3 1 7 2 4 5 6\n",
			want: netstatCounters{ListenOverflows: 1, ListenDrops: 2, AbortOnClose: 7, AbortOnData: 3, AbortOnTimeout: 4, AbortOnLinger: 5, AbortOnMemory: 6}},
		{name: "abort counters without the listen ones", in: "TcpExt: TCPAbortOnClose TCPAbortOnData\nTcpExt: 1 2\n", wantErr: "no TcpExt"},
		{name: "TcpExt second", in: "IpExt: A\nIpExt: 1\nTcpExt: ListenDrops ListenOverflows\nTcpExt: 5 4\n", want: netstatCounters{ListenOverflows: 4, ListenDrops: 5}},
		{name: "empty", in: "", wantErr: "no TcpExt"},
		{name: "no counters", in: "TcpExt: A B\nTcpExt: 1 2\n", wantErr: "no TcpExt"},
		{name: "value count", in: "TcpExt: ListenOverflows ListenDrops\nTcpExt: 1\n", wantErr: "line 2: 1 TcpExt values for 2 names"},
		{name: "not a number", in: "TcpExt: ListenOverflows ListenDrops\nTcpExt: 1 x\n", wantErr: "TcpExt ListenDrops"},
		{name: "no prefix", in: "garbage\n", wantErr: "line 1"},
	}
	for _, tt := range tests {
		got, err := parseNetstat(strings.NewReader(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: got error %v, want one containing %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestParseStat(t *testing.T) {
	rest := " S 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 123456 1000 10 18446744073709551615"
	kthread := " I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 0 -20 1 0 77 0 0 18446744073709551615"
	tests := []struct {
		in          string
		want        uint64
		wantKthread bool
		wantErr     bool
	}{
		{in: "42 (bash)" + rest, want: 123456},
		{in: "42 (a (weird) ) name)" + rest, want: 123456},
		{in: "9 (kworker/R-rcu_gp)" + kthread, want: 77, wantKthread: true},
		{in: "42 (sh) S 1 2 3", wantErr: true},
		{in: "42 bash" + rest, wantErr: true},
		{in: "42 (x) S 1 1 1 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 notanumber 1", wantErr: true},
		{in: "42 (x) S 1 1 1 0 -1 flags 100 0 0 0 5 3 0 0 20 0 1 0 5 1", wantErr: true},
	}
	for _, tt := range tests {
		got, kt, err := parseStat([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want || kt != tt.wantKthread {
			t.Errorf("parseStat(%q): got %d, %v, %v; want %d, %v (error %v)", tt.in, got, kt, err, tt.want, tt.wantKthread, tt.wantErr)
		}
	}
}

func TestParseLimits(t *testing.T) {
	table := func(line string) string {
		return "Limit                     Soft Limit           Hard Limit           Units     \n" +
			"Max cpu time              unlimited            unlimited            seconds   \n" +
			line + "\nMax locked memory         8388608              8388608              bytes     \n"
	}
	tests := []struct {
		in         string
		soft, hard uint64
		wantErr    bool
	}{
		{in: table("Max open files            256                  20000                files     "), soft: 256, hard: 20000},
		{in: table("Max open files            unlimited            unlimited            files     "), soft: model.FDUnlimited, hard: model.FDUnlimited},
		{in: table("Max open files            lots                 20000                files     "), wantErr: true},
		{in: table("Max open files"), wantErr: true},
		{in: table(""), wantErr: true},
	}
	for _, tt := range tests {
		soft, hard, err := parseLimits(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || soft != tt.soft || hard != tt.hard {
			t.Errorf("got %d/%d, %v; want %d/%d (error %v) for\n%s", soft, hard, err, tt.soft, tt.hard, tt.wantErr, tt.in)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    model.PortRange
		wantErr bool
	}{
		{in: "32768\t60999\n", want: model.PortRange{First: 32768, Last: 60999}},
		{in: "1024 65535", want: model.PortRange{First: 1024, Last: 65535}},
		{in: "32768", wantErr: true},
		{in: "1 70000", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePortRange([]byte(tt.in))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parsePortRange(%q): got %+v, %v; want %+v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseCapEff(t *testing.T) {
	got, err := parseCapEff(strings.NewReader("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\nCapBnd:\t0\n"))
	if err != nil || got != 0x1fffeffffff {
		t.Errorf("got %#x, %v; want 0x1fffeffffff", got, err)
	}
	if got&(1<<capSysPtrace) == 0 || got&(1<<24) != 0 {
		t.Errorf("bits: got %#x, want CAP_SYS_PTRACE set and bit 24 clear", got)
	}
	if _, err := parseCapEff(strings.NewReader("Name:\tx\n")); err == nil {
		t.Errorf("no CapEff line: got no error")
	}
	if _, err := parseCapEff(strings.NewReader("CapEff:\tzz\n")); err == nil {
		t.Errorf("bad CapEff: got no error")
	}
}

func TestSocketInode(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[0]", 0, true},
		{"socket:[]", 0, false},
		{"socket:[12a]", 0, false},
		{"socket:[99999999999999999999999]", 0, false},
		{"pipe:[12345]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[12345", 0, false},
	}
	for _, tt := range tests {
		got, ok := socketInode([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("socketInode(%q): got %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
