package model

import (
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestStateFromLinux_EveryValue(t *testing.T) {
	want := map[uint8]State{
		0: StateUnknown, 1: StateEstablished, 2: StateSynSent, 3: StateSynReceived, 4: StateFinWait1,
		5: StateFinWait2, 6: StateTimeWait, 7: StateClosed, 8: StateCloseWait, 9: StateLastAck,
		10: StateListen, 11: StateClosing, 12: StateSynReceived, 13: StateClosed, 14: StateUnknown, 255: StateUnknown,
	}
	for raw, w := range want {
		if got := StateFromLinux(raw); got != w {
			t.Errorf("StateFromLinux(%d): got %v, want %v", raw, got, w)
		}
	}
}

func TestFDRing_KeepsNewestInOrder(t *testing.T) {
	tests := []struct {
		capacity, adds int
		want           []int // FDs of the samples, oldest first
	}{
		{capacity: 3, adds: 0, want: []int{}},
		{capacity: 3, adds: 2, want: []int{0, 1}},
		{capacity: 3, adds: 3, want: []int{0, 1, 2}},
		{capacity: 3, adds: 7, want: []int{4, 5, 6}},
		{capacity: 0, adds: 4, want: []int{3}}, // capacity is at least 1
	}
	for _, tt := range tests {
		r := NewFDRing(tt.capacity)
		for i := 0; i < tt.adds; i++ {
			r.Add(FDSample{At: int64(i), FDs: i})
		}
		got := []int{}
		for _, s := range r.Samples() {
			got = append(got, s.FDs)
		}
		if !slices.Equal(got, tt.want) || r.Len() != len(tt.want) {
			t.Errorf("cap %d after %d adds: got %v (Len %d), want %v", tt.capacity, tt.adds, got, r.Len(), tt.want)
		}
	}
	var zero FDRing
	zero.Add(FDSample{FDs: 1}) // must not panic
	if zero.Len() != 0 {
		t.Errorf("zero FDRing Len: got %d, want 0", zero.Len())
	}
}

// series returns n samples every step starting at t0 with fds = f(i).
func series(n int, step time.Duration, f func(i int) int) []FDSample {
	out := make([]FDSample, n)
	t0 := int64(1_700_000_000) * int64(time.Second)
	for i := range out {
		out[i] = FDSample{At: t0 + int64(i)*int64(step), FDs: f(i)}
	}
	return out
}

func TestFDTrend(t *testing.T) {
	leak := series(13, 250*time.Millisecond, func(i int) int { return 10 + 5*i }) // 20 fd/s, ends at 70
	// Flat for a long time, then leaking at 2 fd/s for the last 10 s.
	late := append(series(100, time.Second, func(int) int { return 50 }), series(11, time.Second, func(i int) int { return 50 + 2*i })...)
	for i := 100; i < len(late); i++ {
		late[i].At += 100 * int64(time.Second)
	}
	noisy := series(60, time.Second, func(i int) int { return 100 + []int{0, 3, -2, 1}[i%4] })
	tests := []struct {
		name        string
		samples     []FDSample
		window      time.Duration
		soft        uint64
		wantPerMin  float64
		wantSeconds float64
	}{
		{"empty", nil, time.Minute, 256, 0, -1},
		{"two samples", leak[:2], time.Minute, 256, 0, -1},
		{"same instant", []FDSample{{At: 5, FDs: 1}, {At: 5, FDs: 2}, {At: 5, FDs: 3}}, time.Minute, 256, 0, -1},
		{"steady leak", leak, time.Minute, 256, 1200, (256 - 70) / 20.0},
		{"leak, limit reached", leak, time.Minute, 70, 1200, 0},
		{"leak, limit passed", leak, time.Minute, 64, 1200, 0},
		{"leak, unlimited", leak, time.Minute, FDUnlimited, 1200, -1},
		{"leak, limit unknown", leak, time.Minute, 0, 1200, -1},
		{"flat", series(10, time.Second, func(int) int { return 42 }), time.Minute, 256, 0, -1},
		{"shrinking", series(10, time.Second, func(i int) int { return 100 - i }), time.Minute, 256, -60, -1},
		{"window drops the flat past", late, 10 * time.Second, 1000, 120, (1000 - 70) / 2.0},
		{"noise is not a leak", noisy, time.Minute, 1024, 0, -1},
	}
	for _, tt := range tests {
		perMin, secs := FDTrend(tt.samples, tt.window, tt.soft)
		if math.IsNaN(perMin) || math.IsNaN(secs) {
			t.Errorf("%s: got NaN (%v, %v)", tt.name, perMin, secs)
			continue
		}
		if math.Abs(perMin-tt.wantPerMin) > 0.5 || math.Abs(secs-tt.wantSeconds) > 1e-6*math.Max(1, tt.wantSeconds) {
			t.Errorf("%s: got %.3f fd/min, %.3f s; want %.3f fd/min, %.3f s", tt.name, perMin, secs, tt.wantPerMin, tt.wantSeconds)
		}
	}
}

func TestFDTrend_NoisyLeakStaysClose(t *testing.T) {
	// A leak of 30 fd/min under request noise of up to 8 fds.
	s := series(60, time.Second, func(i int) int { return 200 + i/2 + []int{0, 8, 3, 5, 1}[i%5] })
	perMin, secs := FDTrend(s, time.Minute, 1024)
	if perMin < 27 || perMin > 33 {
		t.Errorf("growth: got %.2f fd/min, want 30 ± 3", perMin)
	}
	if secs <= 0 {
		t.Errorf("seconds to limit: got %.1f, want > 0", secs)
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestTimeWaitByPortRange(t *testing.T) {
	tw := func(ns uint64, local string) Socket {
		return Socket{NetNS: ns, Local: ap(local), Remote: ap("10.0.0.9:5000"), State: StateTimeWait}
	}
	socks := []Socket{
		{NetNS: 1, Local: ap("0.0.0.0:8080"), Remote: ap("0.0.0.0:0"), State: StateListen},
		tw(1, "10.0.0.1:8080"), tw(1, "10.0.0.1:8080"), // server side: port 8080 listens
		tw(1, "10.0.0.1:40001"), tw(1, "10.0.0.1:40959"), tw(1, "10.0.0.1:40960"),
		tw(1, "10.0.0.1:65535"),
		tw(2, "10.0.0.1:8080"), // another namespace: 8080 does not listen there
		{NetNS: 1, Local: ap("10.0.0.1:40002"), Remote: ap("10.0.0.9:80"), State: StateEstablished},
	}
	got := TimeWaitByPortRange(socks, 1024)
	want := []PortRangeCount{
		{NetNS: 1, PortRange: PortRange{8080, 8080}, Listening: true, Count: 2},
		{NetNS: 1, PortRange: PortRange{39936, 40959}, Count: 2},
		{NetNS: 1, PortRange: PortRange{40960, 41983}, Count: 1},
		{NetNS: 1, PortRange: PortRange{64512, 65535}, Count: 1},
		{NetNS: 2, PortRange: PortRange{7168, 8191}, Count: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("width 1024:\n got %+v\nwant %+v", got, want)
	}
	perPort := TimeWaitByPortRange(socks[:4], 0)
	wantPerPort := []PortRangeCount{
		{NetNS: 1, PortRange: PortRange{8080, 8080}, Listening: true, Count: 2},
		{NetNS: 1, PortRange: PortRange{40001, 40001}, Count: 1},
	}
	if !slices.Equal(perPort, wantPerPort) {
		t.Errorf("width 0:\n got %+v\nwant %+v", perPort, wantPerPort)
	}
	if n := len(TimeWaitByPortRange(nil, 1024)); n != 0 {
		t.Errorf("no sockets: got %d ranges, want 0", n)
	}
}

func TestPortRange_Size(t *testing.T) {
	tests := []struct {
		r    PortRange
		want int
	}{{PortRange{32768, 60999}, 28232}, {PortRange{0, 65535}, 65536}, {PortRange{5, 5}, 1}, {PortRange{6, 5}, 0}}
	for _, tt := range tests {
		if got := tt.r.Size(); got != tt.want {
			t.Errorf("%+v.Size(): got %d, want %d", tt.r, got, tt.want)
		}
	}
}

func TestSocket_AcceptQueueAndOwnerNote(t *testing.T) {
	tests := []struct {
		s         Socket
		wantQ     bool
		wantNote  string
		wantQueue [2]uint32
	}{
		{Socket{State: StateListen, RecvQ: 3, SendQ: 128, Owner: OwnerKnown}, true, "", [2]uint32{3, 128}},
		{Socket{State: StateTimeWait, Owner: OwnerKernel}, false, "time-wait: no process", [2]uint32{}},
		{Socket{State: StateSynReceived, Owner: OwnerKernel}, false, "handshake in progress: no process yet", [2]uint32{}},
		{Socket{State: StateEstablished, RecvQ: 7, Owner: OwnerKernel}, false, "waiting in accept queue", [2]uint32{}},
		{Socket{State: StateFinWait2, Owner: OwnerKernel}, false, "closed by its process (orphan)", [2]uint32{}},
		{Socket{State: StateEstablished, Inode: 9, Owner: OwnerDenied}, false, "owner not readable: permission denied", [2]uint32{}},
		{Socket{State: StateEstablished, Inode: 9, Owner: OwnerNotFound}, false, "owner not visible (other pid namespace or just closed)", [2]uint32{}},
	}
	for _, tt := range tests {
		q, b, ok := tt.s.AcceptQueue()
		if ok != tt.wantQ || [2]uint32{q, b} != tt.wantQueue {
			t.Errorf("%v AcceptQueue: got %d/%d %v, want %v %v", tt.s.State, q, b, ok, tt.wantQueue, tt.wantQ)
		}
		if got := tt.s.OwnerNote(); got != tt.wantNote {
			t.Errorf("%v/%v OwnerNote: got %q, want %q", tt.s.State, tt.s.Owner, got, tt.wantNote)
		}
	}
}

func TestKernelView_Lookups(t *testing.T) {
	v := KernelView{
		Processes:  []Process{{PID: 3}, {PID: 17}, {PID: 4000}},
		Namespaces: []NetNS{{Inode: 100, Host: true}, {Inode: 200, Label: "web"}},
	}
	for _, pid := range []int32{3, 17, 4000} {
		if p := v.Process(pid); p == nil || p.PID != pid {
			t.Errorf("Process(%d): got %v, want PID %d", pid, p, pid)
		}
	}
	for _, pid := range []int32{0, 4, 5000} {
		if p := v.Process(pid); p != nil {
			t.Errorf("Process(%d): got PID %d, want nil", pid, p.PID)
		}
	}
	labels := map[uint64]string{100: "", 200: "web", 4026532999: "net:[4026532999]"}
	for ino, want := range labels {
		if got := v.NetNSLabel(ino); got != want {
			t.Errorf("NetNSLabel(%d): got %q, want %q", ino, got, want)
		}
	}
	if h := v.Host(); h == nil || h.Inode != 100 {
		t.Errorf("Host: got %+v, want inode 100", h)
	}
	var empty KernelView
	if h := empty.Host(); h != nil {
		t.Errorf("empty Host: got %+v, want nil", h)
	}
	s := Socket{NetNS: 200, Local: ap("[::1]:80"), Remote: ap("[::1]:5000")}
	if k := s.Key(); k != (SocketKey{200, ap("[::1]:80"), ap("[::1]:5000")}) {
		t.Errorf("Key: got %+v", k)
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{FamilyIPv4.String(), "ipv4"}, {FamilyIPv6.String(), "ipv6"},
		{TimerNone.String(), ""}, {TimerKeepalive.String(), "keepalive"}, {TimerZeroWindowProbe.String(), "zero-window-probe"},
		{SocketTimer(99).String(), ""},
		{OwnerKnown.String(), "known"}, {OwnerKernel.String(), "kernel"}, {OwnerDenied.String(), "denied"}, {OwnerNotFound.String(), "not-found"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestProcess_Sockets(t *testing.T) {
	var p Process
	p.SocketsByState[StateListen] = 2
	p.SocketsByState[StateCloseWait] = 5
	if got := p.Sockets(); got != 7 {
		t.Errorf("Sockets: got %d, want 7", got)
	}
}
