package procinfo

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/connscope/connscope/model"
	"golang.org/x/sys/unix"
)

// pidNSInit is the inode of the initial pid namespace (PROC_PID_INIT_INO):
// any other means processes outside ours are invisible.
const pidNSInit = 0xEFFFFFFC

// sockFD is one socket in a process's fd table.
type sockFD struct {
	inode uint64
	fd    int32
}

// procEntry is what the poller remembers of one process between polls.
type procEntry struct {
	pid   int32
	start uint64 // start ticks: a different value is a new process
	gen   uint64 // last poll that saw it
	uid   uint32
	netns uint64 // 0: not readable
	fds   int    // fd count now, -1 unknown
	// scannedFDs is the fd count when socks was read (-1: never read);
	// the table is read again only when the count differs.
	scannedFDs int
	socks      []sockFD
	rescanned  bool // table read during this poll
	denied     error
	soft, hard uint64
	limitsErr  error
	ring       *model.FDRing
	meta       *procMeta
}

// procMeta is the gopsutil metadata, fetched once per process.
type procMeta struct {
	command string
	cmdline []string
	user    string
	note    string
}

// holder is the primary owner of a socket inode.
type holder struct {
	pid, fd int32
}

// sysPoller is the Linux poller state.
type sysPoller struct {
	cfg      Config
	selfNS   uint64
	pidNS    uint64
	caps     uint64
	statSize bool // stat("/proc/PID/fd").Size is the fd count (Linux >= 6.2)
	gen      uint64
	procs    map[int32]*procEntry
	index    map[uint64]holder
	shared   map[uint64][]int32
	// unresolved are the socket inodes no readable fd table held after
	// the last rescan for them: they do not trigger another.
	unresolved map[uint64]struct{}
	prevListen map[uint64]netstatCounters
	// prevAt is the previous poll's time; abortHist each namespace's
	// abort counter increases per poll interval, newest last.
	prevAt    int64
	abortHist map[uint64][]model.AbortInterval
	lastSocks int
	d         dumper
	statBuf   []byte
	linkBuf   []byte
}

func newSysPoller(cfg Config) (*sysPoller, error) {
	s := &sysPoller{
		cfg:        cfg,
		procs:      map[int32]*procEntry{},
		index:      map[uint64]holder{},
		shared:     map[uint64][]int32{},
		unresolved: map[uint64]struct{}{},
		prevListen: map[uint64]netstatCounters{},
		abortHist:  map[uint64][]model.AbortInterval{},
		statBuf:    make([]byte, 4096),
		linkBuf:    make([]byte, 256),
	}
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return nil, fmt.Errorf("own network namespace: %w", err)
	}
	s.selfNS = st.Ino
	if err := unix.Stat("/proc/self/ns/pid", &st); err == nil {
		s.pidNS = st.Ino
	}
	if f, err := os.Open("/proc/self/status"); err == nil {
		s.caps, _ = parseCapEff(f)
		f.Close()
	}
	// Our own fd table is never empty, so a zero size means the kernel
	// does not count (before 6.2).
	if err := unix.Stat("/proc/self/fd", &st); err == nil && st.Size > 0 {
		s.statSize = true
	}
	return s, nil
}

// pollNotes gathers what a poll could not see, for Limitations.
type pollNotes struct {
	deniedFD     int
	deniedFDErr  error
	nsUnreadable int
	nsDenied     int
	other        []string
}

func (s *sysPoller) poll(now time.Time) (model.KernelView, error) {
	t0 := time.Now()
	s.gen++
	v := model.KernelView{At: now.UnixNano()}
	var notes pollNotes
	socks := make([]model.Socket, 0, s.lastSocks+s.lastSocks/8+64)

	// The host table first, then the /proc scan: a socket opened in
	// between changes its process's fd count, so the scan reads that
	// table again instead of missing the socket.
	host, err := openNS("")
	if err != nil {
		return v, fmt.Errorf("host socket table: %w", err)
	}
	socks, err = s.dumpInto(&v, &notes, host, s.selfNS, "", true, socks)
	if err != nil {
		return v, fmt.Errorf("host socket table: %w", err)
	}
	dumpWall := time.Since(t0)

	t1 := time.Now()
	names, err := readDirNames("/proc")
	if err != nil {
		return v, fmt.Errorf("list processes: %w", err)
	}
	for _, name := range names {
		if pid, err := strconv.ParseInt(name, 10, 32); err == nil && pid > 0 {
			s.scanProc(int32(pid), name, now, &notes)
		}
	}
	for pid, e := range s.procs {
		if e.gen != s.gen {
			delete(s.procs, pid)
		}
	}
	procWall := time.Since(t1)

	t2 := time.Now()
	paths := s.namespaces()
	inodes := make([]uint64, 0, len(paths))
	for ino := range paths {
		inodes = append(inodes, ino)
	}
	slices.Sort(inodes)
	for _, ino := range inodes {
		p := paths[ino]
		h, err := openNS(p.path)
		if err != nil {
			if errors.Is(err, unix.EPERM) {
				notes.nsDenied++
			} else if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) { // gone since the scan
				notes.other = append(notes.other, fmt.Sprintf("network namespace %s not listed: %v", p.label, err))
			}
			continue
		}
		if socks, err = s.dumpInto(&v, &notes, h, ino, p.label, false, socks); err != nil {
			notes.other = append(notes.other, fmt.Sprintf("network namespace %s: %v", p.label, err))
		}
	}
	dumpWall += time.Since(t2)

	t3 := time.Now()
	full := s.join(socks, &notes)
	v.Sockets = socks
	v.Processes = s.processes(socks)
	procWall += time.Since(t3)
	v.TimeWait = model.TimeWaitByPortRange(socks, s.cfg.TimeWaitWidth)
	v.Limitations = s.limitations(&notes)
	s.lastSocks = len(socks)
	for ino := range s.prevListen {
		if !slices.ContainsFunc(v.Namespaces, func(n model.NetNS) bool { return n.Inode == ino }) {
			delete(s.prevListen, ino) // a namespace gone: forget its counters
			delete(s.abortHist, ino)
		}
	}
	s.prevAt = v.At
	tables := 0
	for _, e := range s.procs {
		if e.rescanned {
			tables++
		}
	}
	v.Stats = model.PollStats{
		Sockets: len(socks), Processes: len(s.procs), FDTablesRead: tables, FullRescan: full,
		Namespaces: len(v.Namespaces), Wall: time.Since(t0), DumpWall: dumpWall, ProcessesWall: procWall,
	}
	return v, nil
}

// dumpInto dumps one namespace, closes its socket and records the
// namespace in v.
func (s *sysPoller) dumpInto(v *model.KernelView, notes *pollNotes, h nsHandles, ino uint64, label string, host bool, socks []model.Socket) ([]model.Socket, error) {
	before := len(socks)
	socks, intr, err := s.d.dump(h.fd, ino, socks)
	unix.Close(h.fd)
	if err != nil {
		return socks[:before], err
	}
	name := label
	if host {
		name = "host"
	}
	if intr {
		notes.other = append(notes.other, fmt.Sprintf("the socket table of namespace %s changed during the dump: a socket may be missing or listed twice", name))
	}
	ns := model.NetNS{Inode: ino, Label: label, Host: host, Ephemeral: h.ports, Sockets: len(socks) - before}
	if h.portsErr != nil {
		notes.other = append(notes.other, fmt.Sprintf("ip_local_port_range of namespace %s not read: %v", name, h.portsErr))
	}
	if h.netstatErr != nil {
		notes.other = append(notes.other, fmt.Sprintf("ListenOverflows and ListenDrops of namespace %s not read: %v", name, h.netstatErr))
	} else {
		ns.Listen = model.ListenStats{Overflows: h.netstat.ListenOverflows, Drops: h.netstat.ListenDrops}
		n := &h.netstat
		ns.Aborts.AbortCounts = model.AbortCounts{OnClose: n.AbortOnClose, OnData: n.AbortOnData, OnTimeout: n.AbortOnTimeout,
			OnMemory: n.AbortOnMemory, OnLinger: n.AbortOnLinger}
		if prev, ok := s.prevListen[ino]; ok {
			ns.Listen.OverflowsDelta = counterDelta(prev.ListenOverflows, n.ListenOverflows)
			ns.Listen.DropsDelta = counterDelta(prev.ListenDrops, n.ListenDrops)
			s.recordAborts(ino, prev, *n, s.prevAt, v.At)
		}
		ns.Aborts.History = s.abortHist[ino]
		s.prevListen[ino] = h.netstat
	}
	v.Namespaces = append(v.Namespaces, ns)
	return socks, nil
}

// abortHistLen bounds each namespace's abort history: five minutes of 1 s
// polls.
const abortHistLen = 300

// recordAborts appends the abort counters' increase since the previous
// poll to a namespace's history (only intervals where one moved: the
// history's use is telling which kind of abort a RST was).
func (s *sysPoller) recordAborts(ino uint64, prev, cur netstatCounters, from, to int64) {
	c := model.AbortCounts{
		OnClose: counterDelta(prev.AbortOnClose, cur.AbortOnClose), OnData: counterDelta(prev.AbortOnData, cur.AbortOnData),
		OnTimeout: counterDelta(prev.AbortOnTimeout, cur.AbortOnTimeout), OnMemory: counterDelta(prev.AbortOnMemory, cur.AbortOnMemory),
		OnLinger: counterDelta(prev.AbortOnLinger, cur.AbortOnLinger),
	}
	if c == (model.AbortCounts{}) || from == 0 {
		return
	}
	h := s.abortHist[ino]
	if len(h) == abortHistLen {
		h = slices.Delete(slices.Clone(h), 0, 1)
	} else {
		h = slices.Clone(h) // views already published keep theirs
	}
	s.abortHist[ino] = append(h, model.AbortInterval{From: from, To: to, AbortCounts: c})
}

// counterDelta is the increase of a kernel counter; a counter that went
// down was reset (a namespace recreated with the same inode), so its new
// value is all increase.
func counterDelta(prev, cur uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// nsPath is a namespace to dump and its label.
type nsPath struct {
	path, label string
}

// namespaces returns every network namespace other than ours: the named
// ones (ip netns, docker) and those of the processes scanned.
func (s *sysPoller) namespaces() map[uint64]nsPath {
	out := map[uint64]nsPath{}
	for _, dir := range [...]string{"/run/netns", "/run/docker/netns"} {
		names, _ := readDirNames(dir) // absent on most hosts
		slices.Sort(names)
		for _, n := range names {
			var st unix.Stat_t
			p := dir + "/" + n
			if unix.Stat(p, &st) != nil || st.Ino == s.selfNS {
				continue
			}
			if _, dup := out[st.Ino]; !dup {
				out[st.Ino] = nsPath{path: p, label: n}
			}
		}
	}
	first := map[uint64]int32{}
	for pid, e := range s.procs {
		if e.netns == 0 || e.netns == s.selfNS {
			continue
		}
		if _, named := out[e.netns]; named {
			continue
		}
		if p, ok := first[e.netns]; !ok || pid < p {
			first[e.netns] = pid
		}
	}
	for ino, pid := range first {
		out[ino] = nsPath{path: "/proc/" + strconv.Itoa(int(pid)) + "/ns/net", label: model.NetNSInodeLabel(ino)}
	}
	return out
}

// limitations words what the poll could not see.
func (s *sysPoller) limitations(n *pollNotes) []string {
	var out []string
	hasCap := func(c uint) bool { return s.caps&(1<<c) != 0 }
	if n.deniedFD > 0 {
		if !hasCap(capSysPtrace) && !hasCap(capDACReadSearch) {
			out = append(out, fmt.Sprintf("owners of other users' sockets need CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: the fd tables of %s are not readable", nProcesses(n.deniedFD)))
		} else {
			out = append(out, fmt.Sprintf("the fd tables of %s are not readable (%v): their sockets show no owner", nProcesses(n.deniedFD), n.deniedFDErr))
		}
	}
	if n.nsUnreadable > 0 {
		msg := fmt.Sprintf("the network namespaces of %s are not readable", nProcesses(n.nsUnreadable))
		if !hasCap(capSysPtrace) {
			msg += ": needs CAP_SYS_PTRACE"
		}
		out = append(out, msg+" (sockets in other namespaces may be missing)")
	}
	if n.nsDenied > 0 {
		ns := "namespaces"
		if n.nsDenied == 1 {
			ns = "namespace"
		}
		out = append(out, fmt.Sprintf("sockets in %d other network %s are not listed: entering them needs CAP_SYS_ADMIN", n.nsDenied, ns))
	}
	if s.pidNS != 0 && s.pidNS != pidNSInit {
		out = append(out, "running in a pid namespace of its own: owners outside it are not visible")
	}
	return append(out, n.other...)
}

// nProcesses spells "1 process", "2 processes".
func nProcesses(n int) string {
	if n == 1 {
		return "1 process"
	}
	return strconv.Itoa(n) + " processes"
}
