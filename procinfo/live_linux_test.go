package procinfo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
	"golang.org/x/sys/unix"
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, other users' credentials)")
	}
}

// pollUntil polls every 100 ms until ok accepts a view or the deadline
// passes, and returns the last view and whether ok accepted it.
func pollUntil(t *testing.T, p *Poller, deadline time.Duration, ok func(*model.KernelView) bool) (model.KernelView, bool) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(deadline)
	for {
		v, err := p.Poll(time.Now())
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if ok(&v) {
			return v, true
		}
		if time.Now().After(end) {
			return v, false
		}
		<-tick.C
	}
}

func newPoller(t testing.TB, cfg Config) *Poller {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestPoll_FindsOwnListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	local := l.Addr().(*net.TCPAddr).AddrPort()
	v, err := newPoller(t, Config{}).Poll(time.Now())
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	i := slices.IndexFunc(v.Sockets, func(s model.Socket) bool { return s.State == model.StateListen && s.Local == local })
	if i < 0 {
		t.Fatalf("listener %v not in %d sockets", local, len(v.Sockets))
	}
	if s := v.Sockets[i]; s.Owner != model.OwnerKnown || s.PID != int32(os.Getpid()) {
		t.Errorf("listener owner: got %v pid %d, want known pid %d", s.Owner, s.PID, os.Getpid())
	}
	p := v.Process(int32(os.Getpid()))
	if p == nil || p.FDs <= 0 {
		t.Fatalf("own process: got %+v, want FDs > 0", p)
	}
	if h := v.Host(); h == nil || v.Namespaces[0].Inode != h.Inode || h.Label != "" {
		t.Errorf("namespaces: got %+v, want the host first with no label", v.Namespaces)
	}
	if v.At == 0 || v.Stats.Sockets != len(v.Sockets) || v.Stats.Processes == 0 {
		t.Errorf("stats: got At %d, %+v", v.At, v.Stats)
	}
}

// sockWant is one socket a live test expects.
type sockWant struct {
	name          string
	local, remote netip.AddrPort
	state         model.State
	owner         model.OwnerStatus
	pid           int32
	queue         *[2]uint32 // LISTEN: accept queue and backlog
}

func findSocket(v *model.KernelView, ns uint64, local, remote netip.AddrPort) *model.Socket {
	for i := range v.Sockets {
		s := &v.Sockets[i]
		if s.NetNS == ns && s.Local == local && s.Remote == remote {
			return s
		}
	}
	return nil
}

// mismatch returns why v does not hold w, or "".
func (w sockWant) mismatch(v *model.KernelView, ns uint64) string {
	s := findSocket(v, ns, w.local, w.remote)
	switch {
	case s == nil:
		return fmt.Sprintf("%s %v -> %v: absent", w.name, w.local, w.remote)
	case s.State != w.state || s.Owner != w.owner || s.PID != w.pid:
		return fmt.Sprintf("%s: got %v owner %v pid %d, want %v owner %v pid %d", w.name, s.State, s.Owner, s.PID, w.state, w.owner, w.pid)
	case w.queue != nil && [2]uint32{s.RecvQ, s.SendQ} != *w.queue:
		return fmt.Sprintf("%s: got queue %d/%d, want %d/%d", w.name, s.RecvQ, s.SendQ, w.queue[0], w.queue[1])
	}
	return ""
}

func mismatches(v *model.KernelView, ns uint64, wants []sockWant) []string {
	var out []string
	for _, w := range wants {
		if m := w.mismatch(v, ns); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// ssSocket is one socket line of `ss -tanpie`.
type ssSocket struct {
	state        model.State
	recvQ, sendQ uint32
	pids         []int32
	inode        uint64
	cookie       uint64
	info         string // the -i line
}

var (
	ssStates = map[string]model.State{
		"ESTAB": model.StateEstablished, "SYN-SENT": model.StateSynSent, "SYN-RECV": model.StateSynReceived,
		"FIN-WAIT-1": model.StateFinWait1, "FIN-WAIT-2": model.StateFinWait2, "TIME-WAIT": model.StateTimeWait,
		"UNCONN": model.StateClosed, "CLOSE-WAIT": model.StateCloseWait, "LAST-ACK": model.StateLastAck,
		"LISTEN": model.StateListen, "CLOSING": model.StateClosing,
	}
	ssPid    = regexp.MustCompile(`pid=(\d+)`)
	ssInode  = regexp.MustCompile(`\bino:(\d+)`)
	ssCookie = regexp.MustCompile(`\bsk:([0-9a-f]+)`)
)

// ssAddr parses ss's "127.0.0.1:80", "[::1]:80", "0.0.0.0:*",
// "[::ffff:127.0.0.1]:80".
func ssAddr(s string) (netip.AddrPort, bool) {
	s = strings.Replace(s, ":*", ":0", 1)
	if strings.HasPrefix(s, "*:") { // ss spells a dual-stack wildcard "*"
		s = "[::]" + s[1:]
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// runSS runs `ss -tanpie` (in the namespace of nsPID when non-zero) and
// indexes its sockets by local and remote endpoint.
func runSS(t *testing.T, nsPID int32) map[[2]netip.AddrPort]ssSocket {
	t.Helper()
	cmd := exec.Command("ss", "-tanpie")
	if nsPID != 0 {
		cmd = exec.Command("nsenter", "--net=/proc/"+strconv.Itoa(int(nsPID))+"/ns/net", "ss", "-tanpie")
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	socks := map[[2]netip.AddrPort]ssSocket{}
	var last [2]netip.AddrPort
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " ") {
			if s, ok := socks[last]; ok { // the -i line of the socket above
				s.info = line
				socks[last] = s
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		st, ok := ssStates[f[0]]
		if !ok {
			continue // the header
		}
		local, ok1 := ssAddr(f[3])
		remote, ok2 := ssAddr(f[4])
		if !ok1 || !ok2 {
			continue
		}
		rq, _ := strconv.ParseUint(f[1], 10, 32)
		sq, _ := strconv.ParseUint(f[2], 10, 32)
		s := ssSocket{state: st, recvQ: uint32(rq), sendQ: uint32(sq)}
		for _, m := range ssPid.FindAllStringSubmatch(line, -1) {
			pid, _ := strconv.Atoi(m[1])
			s.pids = append(s.pids, int32(pid))
		}
		if m := ssInode.FindStringSubmatch(line); m != nil {
			s.inode, _ = strconv.ParseUint(m[1], 10, 64)
		}
		if m := ssCookie.FindStringSubmatch(line); m != nil {
			s.cookie, _ = strconv.ParseUint(m[1], 16, 64)
		}
		last = [2]netip.AddrPort{local, remote}
		socks[last] = s
	}
	return socks
}

// crossCheckSS compares the sockets of wants in v with ss's view.
func crossCheckSS(t *testing.T, v *model.KernelView, ns uint64, nsPID int32, wants []sockWant) {
	t.Helper()
	ss := runSS(t, nsPID)
	for _, w := range wants {
		s := findSocket(v, ns, w.local, w.remote)
		if s == nil {
			continue // already reported
		}
		o, ok := ss[[2]netip.AddrPort{w.local, w.remote}]
		if !ok {
			t.Errorf("%s: ss does not list %v -> %v", w.name, w.local, w.remote)
			continue
		}
		if o.state != s.State || o.inode != s.Inode || o.cookie != s.Cookie {
			t.Errorf("%s: got %v inode %d cookie %x, ss says %v inode %d cookie %x", w.name, s.State, s.Inode, s.Cookie, o.state, o.inode, o.cookie)
		}
		if s.State == model.StateListen && (o.recvQ != s.RecvQ || o.sendQ != s.SendQ) {
			t.Errorf("%s: got queue %d/%d, ss says %d/%d", w.name, s.RecvQ, s.SendQ, o.recvQ, o.sendQ)
		}
		wantPIDs := []int32{}
		if s.Owner == model.OwnerKnown {
			wantPIDs = append([]int32{s.PID}, s.SharedWith...)
		}
		got := slices.Clone(o.pids)
		slices.Sort(got)
		if got == nil {
			got = []int32{}
		}
		slices.Sort(wantPIDs)
		if !slices.Equal(got, wantPIDs) {
			t.Errorf("%s: got owners %v, ss says %v", w.name, wantPIDs, got)
		}
		if s.HasInfo && o.info != "" {
			for _, f := range []struct {
				key string
				got uint64
			}{{"cwnd", uint64(s.Info.Cwnd)}, {"mss", uint64(s.Info.SndMSS)}, {"bytes_acked", s.Info.BytesAcked}, {"bytes_received", s.Info.BytesReceived}} {
				want := ssField(o.info, f.key)
				if f.got != want {
					t.Errorf("%s: got TCP_INFO %s %d, ss says %d", w.name, f.key, f.got, want)
				}
			}
		}
	}
}

// ssField returns a "key:N" value of an ss -i line (0 when absent: ss
// omits zero counters).
func ssField(info, key string) uint64 {
	for _, f := range strings.Fields(info) {
		if v, ok := strings.CutPrefix(f, key+":"); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// procFacts are a process's fd figures read from /proc by the test itself.
type procFacts struct {
	fds        int
	inodes     map[uint64]bool
	soft, hard uint64
	comm       string
}

func readProcFacts(t *testing.T, pid int32) procFacts {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d", pid)
	ents, err := os.ReadDir(dir + "/fd")
	if err != nil {
		t.Fatalf("read %s/fd: %v", dir, err)
	}
	f := procFacts{fds: len(ents), inodes: map[uint64]bool{}}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, "fd", e.Name()))
		if err != nil {
			continue
		}
		var ino uint64
		if _, err := fmt.Sscanf(link, "socket:[%d]", &ino); err == nil {
			f.inodes[ino] = true
		}
	}
	lim, err := os.ReadFile(dir + "/limits")
	if err != nil {
		t.Fatalf("read %s/limits: %v", dir, err)
	}
	m := regexp.MustCompile(`Max open files\s+(\d+)\s+(\d+)`).FindSubmatch(lim)
	if m == nil {
		t.Fatalf("%s/limits: no open files line", dir)
	}
	f.soft, _ = strconv.ParseUint(string(m[1]), 10, 64)
	f.hard, _ = strconv.ParseUint(string(m[2]), 10, 64)
	comm, _ := os.ReadFile(dir + "/comm")
	f.comm = strings.TrimSpace(string(comm))
	return f
}

// crossCheckProc compares what v says of pid with /proc read directly.
func crossCheckProc(t *testing.T, v *model.KernelView, pid int32) {
	t.Helper()
	facts := readProcFacts(t, pid)
	p := v.Process(pid)
	if p == nil {
		t.Errorf("pid %d: not among the %d processes", pid, len(v.Processes))
		return
	}
	if p.FDs != facts.fds || p.FDSoftLimit != facts.soft || p.FDHardLimit != facts.hard {
		t.Errorf("pid %d: got fds %d limits %d/%d, /proc says %d, %d/%d", pid, p.FDs, p.FDSoftLimit, p.FDHardLimit, facts.fds, facts.soft, facts.hard)
	}
	if p.Command != facts.comm {
		t.Errorf("pid %d: got command %q, /proc says %q", pid, p.Command, facts.comm)
	}
	exe, _ := os.Executable()
	if len(p.Cmdline) == 0 || p.Cmdline[0] != exe {
		t.Errorf("pid %d: got cmdline %q, want it to start with %q", pid, p.Cmdline, exe)
	}
	if u, err := user.Current(); err == nil && p.User != u.Username {
		t.Errorf("pid %d: got user %q, want %q", pid, p.User, u.Username)
	}
	if len(p.FDHistory) == 0 || p.FDHistory[len(p.FDHistory)-1].FDs != p.FDs {
		t.Errorf("pid %d: history %v does not end with fds %d", pid, p.FDHistory, p.FDs)
	}
	// Every socket the view gives pid is in its fd table, and every TCP
	// socket of its fd table is given to it.
	owned := 0
	for i := range v.Sockets {
		s := &v.Sockets[i]
		mine := s.Owner == model.OwnerKnown && (s.PID == pid || slices.Contains(s.SharedWith, pid))
		if mine {
			owned++
			if !facts.inodes[s.Inode] {
				t.Errorf("pid %d: socket %v -> %v inode %d is not in its fd table", pid, s.Local, s.Remote, s.Inode)
			}
		} else if facts.inodes[s.Inode] && s.Inode != 0 {
			t.Errorf("pid %d: socket %v -> %v inode %d of its fd table has owner %v pid %d", pid, s.Local, s.Remote, s.Inode, s.Owner, s.PID)
		}
	}
	if owned != p.Sockets() {
		t.Errorf("pid %d: owns %d sockets, SocketsByState sums to %d", pid, owned, p.Sockets())
	}
}

func TestPoll_LiveStates_MatchSSAndProc(t *testing.T) {
	server := startHelper(t, "server", nil, nil)
	var sa serverAddrs
	server.read(t, &sa, 20*time.Second)
	client := startHelper(t, "client", []string{sa.Queue.String(), sa.Accept.String(), sa.Accept6.String()}, nil)
	var cc clientConns
	client.read(t, &cc, 20*time.Second)

	any4 := netip.MustParseAddrPort("0.0.0.0:0")
	any6 := netip.MustParseAddrPort("[::]:0")
	known, kernel := model.OwnerKnown, model.OwnerKernel
	wants := []sockWant{
		{name: "queue listener", local: sa.Queue, remote: any4, state: model.StateListen, owner: known, pid: server.pid, queue: &[2]uint32{3, 4}},
		{name: "accepting listener", local: sa.Accept, remote: any4, state: model.StateListen, owner: known, pid: server.pid},
		{name: "ipv6 listener", local: sa.Accept6, remote: any6, state: model.StateListen, owner: known, pid: server.pid},
		{name: "client established", local: cc.Est, remote: sa.Accept, state: model.StateEstablished, owner: known, pid: client.pid},
		{name: "server established", local: sa.Accept, remote: cc.Est, state: model.StateEstablished, owner: known, pid: server.pid},
		{name: "client established ipv6", local: cc.Est6, remote: sa.Accept6, state: model.StateEstablished, owner: known, pid: client.pid},
		{name: "server established ipv6", local: sa.Accept6, remote: cc.Est6, state: model.StateEstablished, owner: known, pid: server.pid},
		{name: "half-closed client", local: cc.Half, remote: sa.Accept, state: model.StateFinWait2, owner: known, pid: client.pid},
		{name: "server left in close-wait", local: sa.Accept, remote: cc.Half, state: model.StateCloseWait, owner: known, pid: server.pid},
		{name: "active closer", local: cc.TW, remote: sa.Accept, state: model.StateTimeWait, owner: kernel},
	}
	for i, q := range cc.Queued {
		wants = append(wants,
			sockWant{name: fmt.Sprintf("queued client %d", i), local: q, remote: sa.Queue, state: model.StateEstablished, owner: known, pid: client.pid},
			sockWant{name: fmt.Sprintf("queued server side %d", i), local: sa.Queue, remote: q, state: model.StateEstablished, owner: kernel})
	}
	p := newPoller(t, Config{})
	var ns uint64
	v, ok := pollUntil(t, p, 10*time.Second, func(v *model.KernelView) bool {
		ns = v.Host().Inode
		return len(mismatches(v, ns, wants)) == 0
	})
	if !ok {
		for _, m := range mismatches(&v, ns, wants) {
			t.Error(m)
		}
		t.FailNow()
	}
	crossCheckSS(t, &v, ns, 0, wants)
	crossCheckProc(t, &v, server.pid)
	crossCheckProc(t, &v, client.pid)

	// What the processes pane shows.
	sp := v.Process(server.pid)
	wantStates := map[model.State]int{model.StateListen: 3, model.StateEstablished: 2, model.StateCloseWait: 1}
	for st := model.StateUnknown; st <= model.StateTimeWait; st++ {
		if sp.SocketsByState[st] != wantStates[st] {
			t.Errorf("server %v sockets: got %d, want %d", st, sp.SocketsByState[st], wantStates[st])
		}
	}
	i := slices.IndexFunc(sp.Listeners, func(l model.Listener) bool { return l.Local == sa.Queue })
	if len(sp.Listeners) != 3 || i < 0 || sp.Listeners[i].AcceptQueue != 3 || sp.Listeners[i].Backlog != 4 {
		t.Errorf("server listeners: got %+v, want 3 with %v at 3/4", sp.Listeners, sa.Queue)
	}
	// The TIME-WAIT socket is counted in its ephemeral port range.
	tw := false
	for _, r := range v.TimeWait {
		tw = tw || (r.NetNS == ns && r.First <= cc.TW.Port() && cc.TW.Port() <= r.Last && r.Count >= 1)
	}
	if !tw {
		t.Errorf("TIME-WAIT ranges %+v do not count port %d", v.TimeWait, cc.TW.Port())
	}
	// TCP_INFO is there for full sockets, absent for TIME-WAIT.
	est := findSocket(&v, ns, cc.Est, sa.Accept)
	if !est.HasInfo || est.Info.RTT <= 0 || est.Info.Cwnd == 0 || est.Info.BytesAcked == 0 {
		t.Errorf("established TCP_INFO: got %+v (has %v), want rtt, cwnd and bytes acked", est.Info, est.HasInfo)
	}
	if s := findSocket(&v, ns, cc.TW, sa.Accept); s.HasInfo || s.Timer != model.TimerTimeWait || s.OwnerNote() != "time-wait: no process" {
		t.Errorf("time-wait: got info %v timer %v note %q", s.HasInfo, s.Timer, s.OwnerNote())
	}
	if s := findSocket(&v, ns, sa.Queue, cc.Queued[0]); s.OwnerNote() != "waiting in accept queue" {
		t.Errorf("queued: got note %q", s.OwnerNote())
	}
}

func TestPoll_OtherNetNS_OwnerAndLabel(t *testing.T) {
	needRoot(t)
	check := func(t *testing.T, h *helper, wantLabel func(ino uint64) string) {
		var nc netnsConns
		h.read(t, &nc, 20*time.Second)
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", h.pid), &st); err != nil {
			t.Fatal(err)
		}
		ns := st.Ino
		wants := []sockWant{
			{name: "listener", local: nc.Listen, remote: netip.MustParseAddrPort("0.0.0.0:0"), state: model.StateListen, owner: model.OwnerKnown, pid: h.pid},
			{name: "client", local: nc.Client, remote: nc.Listen, state: model.StateEstablished, owner: model.OwnerKnown, pid: h.pid},
			{name: "accepted", local: nc.Listen, remote: nc.Client, state: model.StateEstablished, owner: model.OwnerKnown, pid: h.pid},
		}
		p := newPoller(t, Config{})
		v, ok := pollUntil(t, p, 10*time.Second, func(v *model.KernelView) bool { return len(mismatches(v, ns, wants)) == 0 })
		if !ok {
			for _, m := range mismatches(&v, ns, wants) {
				t.Error(m)
			}
			t.FailNow()
		}
		if ns == v.Host().Inode {
			t.Fatalf("helper's namespace %d is the host's", ns)
		}
		if got, want := v.NetNSLabel(ns), wantLabel(ns); got != want {
			t.Errorf("label: got %q, want %q", got, want)
		}
		if pr := v.Process(h.pid); pr == nil || pr.NetNS != ns || pr.SocketsByState[model.StateEstablished] != 2 {
			t.Errorf("process: got %+v, want netns %d with 2 established", pr, ns)
		}
		i := slices.IndexFunc(v.Namespaces, func(n model.NetNS) bool { return n.Inode == ns })
		if i < 0 || v.Namespaces[i].Host || v.Namespaces[i].Sockets != 3 || v.Namespaces[i].Ephemeral.Size() == 0 {
			t.Errorf("namespace entry: got %+v, want 3 sockets and a port range", v.Namespaces)
		}
		crossCheckSS(t, &v, ns, h.pid, wants)
		crossCheckProc(t, &v, h.pid)
	}
	t.Run("unshared", func(t *testing.T) {
		h := startHelper(t, "netns", nil, func(c *exec.Cmd) { c.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET })
		check(t, h, model.NetNSInodeLabel)
	})
	t.Run("ip netns", func(t *testing.T) {
		name := fmt.Sprintf("csproc-%d", os.Getpid())
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
		h := startHelper(t, "netns", nil, func(c *exec.Cmd) {
			c.Args = append([]string{"ip", "netns", "exec", name}, append([]string{c.Path}, c.Args[1:]...)...)
			c.Path, _ = exec.LookPath("ip")
		})
		check(t, h, func(uint64) string { return name })
	})
}

func TestPoll_FDLeak_PredictsExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 s: a leak of 20 fd/s up to a limit of 256")
	}
	leak := startHelper(t, "leak", nil, nil)
	var r leakReport
	leak.read(t, &r, 20*time.Second)

	// Connect at a steady 20 per second: each one costs the helper an fd.
	const rate = 20
	stop := make(chan struct{})
	dialErr := make(chan error, 1)
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		start := time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				dialErr <- nil
				return
			case <-tick.C:
			}
			// Catch up on ticks lost to a busy machine: the rate holds on
			// average, not just per tick.
			for len(conns) < int(time.Since(start).Seconds()*rate) {
				c, err := net.Dial("tcp4", r.Addr.String())
				if err != nil {
					dialErr <- err
					return
				}
				conns = append(conns, c)
			}
		}
	}()
	defer func() { close(stop); <-dialErr }()

	p := newPoller(t, Config{})
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var (
		predAt    time.Time
		predicted float64
		growth    float64
		emfile    leakReport
	)
	deadline := time.After(60 * time.Second)
	for emfile.EMFILEAt == 0 {
		select {
		case <-deadline:
			t.Fatalf("no EMFILE after 60 s (prediction %.1f s at %v)", predicted, predAt)
		case line, ok := <-leak.lines:
			if !ok {
				t.Fatalf("leak helper exited: %s", leak.stderr)
			}
			if err := json.Unmarshal(line, &emfile); err != nil {
				t.Fatalf("leak helper line %q: %v", line, err)
			}
			continue
		case <-tick.C:
		}
		now := time.Now()
		v, err := p.Poll(now)
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		pr := v.Process(leak.pid)
		if pr == nil {
			continue
		}
		if pr.FDSoftLimit != leakSoftLimit {
			t.Fatalf("soft limit: got %d, want %d", pr.FDSoftLimit, leakSoftLimit)
		}
		// Predict once the trend has 4 s of samples, about a third of
		// the way to the limit.
		if predAt.IsZero() && len(pr.FDHistory) >= 20 && pr.SecondsToLimit > 0 {
			predAt, predicted, growth = now, pr.SecondsToLimit, pr.FDGrowthPerMin
			t.Logf("at %d fds: growing %.0f fd/min, %.2f s to the limit of %d", pr.FDs, growth, predicted, pr.FDSoftLimit)
		}
	}
	if predAt.IsZero() {
		t.Fatalf("EMFILE came before any prediction (after %d accepts)", emfile.Held)
	}
	measured := time.Unix(0, emfile.EMFILEAt).Sub(predAt).Seconds()
	t.Logf("EMFILE after %d accepts, %.2f s after the prediction of %.2f s", emfile.Held, measured, predicted)
	if math.Abs(predicted-measured) > 0.2*measured {
		t.Errorf("time to exhaustion: predicted %.2f s, measured %.2f s: off by more than 20%%", predicted, measured)
	}
	if math.Abs(growth-rate*60) > 0.2*rate*60 {
		t.Errorf("growth: got %.0f fd/min, want %d ± 20%%", growth, rate*60)
	}
	// At the limit: the count is the limit, and no time is left.
	v, _ := pollUntil(t, p, 5*time.Second, func(v *model.KernelView) bool {
		pr := v.Process(leak.pid)
		return pr != nil && pr.FDs == leakSoftLimit
	})
	if pr := v.Process(leak.pid); pr == nil || pr.FDs != leakSoftLimit || pr.SecondsToLimit != 0 {
		t.Errorf("at EMFILE: got %+v, want %d fds and 0 s left", pr, leakSoftLimit)
	}
	crossCheckProc(t, &v, leak.pid)
}

func TestPoll_Unprivileged_SaysWhatIsMissing(t *testing.T) {
	needRoot(t)
	// A root listener the unprivileged poll must not be able to attribute.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// A named namespace it cannot enter.
	name := fmt.Sprintf("csproc-unpriv-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	// The test binary lives in a private directory: copy it where nobody
	// can run it.
	dir, err := os.MkdirTemp("", "procinfo-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	exe, _ := os.Executable()
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "procinfo.test")
	if err := os.WriteFile(copyPath, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "unpriv", []string{l.Addr().String()}, func(c *exec.Cmd) {
		c.Path, c.Args[0] = copyPath, copyPath
		c.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
		c.Dir = dir
	})
	var r unprivReport
	h.read(t, &r, 30*time.Second)
	all := strings.Join(r.Limitations, "\n")
	for _, want := range []string{"CAP_SYS_PTRACE", "CAP_SYS_ADMIN"} {
		if !strings.Contains(all, want) {
			t.Errorf("limitations do not name %s:\n%s", want, all)
		}
	}
	if r.OwnOwner != "known" || r.OwnPID != h.pid || r.OwnFDs <= 0 {
		t.Errorf("own listener: got owner %s pid %d fds %d, want known pid %d with fds", r.OwnOwner, r.OwnPID, r.OwnFDs, h.pid)
	}
	if r.RootOwner != "denied" {
		t.Errorf("root's listener: got owner %s, want denied", r.RootOwner)
	}
	if r.Sockets < 2 {
		t.Errorf("sockets: got %d, want the table even without privileges", r.Sockets)
	}
}

func TestRun_DeliversUntilCancelled(t *testing.T) {
	p := newPoller(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan *model.KernelView, 1)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 20*time.Millisecond, out) }()
	first := <-out
	second := <-out
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: got %v, want context.Canceled", err)
	}
	if first.At == 0 || second.At <= first.At {
		t.Errorf("views: got At %d then %d, want increasing", first.At, second.At)
	}
	if pr := second.Process(int32(os.Getpid())); pr != nil && len(pr.FDHistory) < 2 {
		t.Errorf("second view: got %d fd samples, want the history to grow", len(pr.FDHistory))
	}
}

func TestDump_OneWalkMatchesPerFamily(t *testing.T) {
	l4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	l6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l6.Close()
	cookies := func(perFamily bool) map[uint64]model.State {
		h, err := openNS("")
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(h.fd)
		d := dumper{perFamily: perFamily}
		socks, _, err := d.dump(h.fd, 1, nil)
		if err != nil {
			t.Fatalf("dump (per family %v): %v", perFamily, err)
		}
		if !perFamily && d.perFamily {
			t.Logf("this kernel refuses the one-walk request: per-family dumps only")
		}
		m := map[uint64]model.State{}
		for _, s := range socks {
			if s.State == model.StateListen {
				m[s.Cookie] = s.State
			}
		}
		return m
	}
	one, two := cookies(false), cookies(true)
	if len(one) < 2 || len(one) != len(two) {
		t.Fatalf("listeners: got %d in one walk, %d per family; want the same, at least 2", len(one), len(two))
	}
	for c := range two {
		if _, ok := one[c]; !ok {
			t.Errorf("listener cookie %x: listed per family, missing from the one walk", c)
		}
	}
}

func TestPoll_SharedListener_LowestPIDOwns(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File() // a dup, inherited by the helper as fd 3
	if err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "hold", nil, func(c *exec.Cmd) { c.ExtraFiles = []*os.File{f} })
	f.Close()
	var ready struct{}
	h.read(t, &ready, 20*time.Second)
	self := int32(os.Getpid())
	owner, other := min(self, h.pid), max(self, h.pid)
	local := l.Addr().(*net.TCPAddr).AddrPort()
	p := newPoller(t, Config{})
	v, err := p.Poll(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ns := v.Host().Inode
	s := findSocket(&v, ns, local, netip.MustParseAddrPort("0.0.0.0:0"))
	if s == nil || s.Owner != model.OwnerKnown || s.PID != owner || !slices.Equal(s.SharedWith, []int32{other}) {
		t.Fatalf("shared listener: got %+v, want owner %d shared with %d", s, owner, other)
	}
	for _, pid := range []int32{self, h.pid} {
		pr := v.Process(pid)
		if pr == nil || !slices.ContainsFunc(pr.Listeners, func(x model.Listener) bool { return x.Local == local }) {
			t.Errorf("pid %d: listener %v not among its listeners", pid, local)
		}
	}
	crossCheckSS(t, &v, ns, 0, []sockWant{{name: "shared listener", local: local, remote: netip.MustParseAddrPort("0.0.0.0:0")}})
}

// TestPoll_AbortCountersBetweenPolls closes a loopback connection with
// unread input between two polls: the host namespace's history then holds
// an interval around that moment in which TCPAbortOnClose moved.
func TestPoll_AbortCountersBetweenPolls(t *testing.T) {
	needRoot(t)
	p := newPoller(t, Config{})
	if _, err := p.Poll(time.Now()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("unread")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the bytes reach the server's queue
	at := time.Now().UnixNano()
	s.Close() // unread input: the kernel sends a RST and counts TCPAbortOnClose
	time.Sleep(20 * time.Millisecond)
	v, err := p.Poll(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	host := v.Host()
	if host == nil {
		t.Fatal("no host namespace in the view")
	}
	iv, ok := host.Aborts.At(at)
	if !ok || iv.OnClose == 0 {
		t.Fatalf("abort history %+v: got no interval holding the close with TCPAbortOnClose counted", host.Aborts.History)
	}
	if host.Aborts.OnClose < iv.OnClose {
		t.Errorf("total TCPAbortOnClose %d is below the interval's %d", host.Aborts.OnClose, iv.OnClose)
	}
}
