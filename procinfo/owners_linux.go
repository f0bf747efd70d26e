package procinfo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connscope/connscope/model"
	"github.com/shirou/gopsutil/v3/process"
	"golang.org/x/sys/unix"
)

// Owners: the /proc side of a poll. Each process's fd count is read every
// poll; its fd table only when the count changed or a socket inode no
// table explains appeared. join then gives each socket its owner.

// scanProc refreshes one process: start time, fd count, namespace,
// limits, and its fd table when the count changed.
func (s *sysPoller) scanProc(pid int32, name string, now time.Time, notes *pollNotes) {
	base := "/proc/" + name
	b, err := readSmall(base+"/stat", s.statBuf)
	if err != nil {
		return // gone
	}
	start, kthread, err := parseStat(b)
	if err != nil || kthread {
		return // kernel threads hold no fds
	}
	e := s.procs[pid]
	if e == nil || e.start != start {
		e = &procEntry{pid: pid, start: start, scannedFDs: -1, fds: -1, ring: model.NewFDRing(s.cfg.HistoryLen)}
		s.procs[pid] = e
	}
	e.gen = s.gen
	e.rescanned = false
	var st unix.Stat_t
	if err := unix.Stat(base+"/fd", &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return
		}
		e.fds, e.scannedFDs, e.denied = -1, -1, err
		notes.denied(e)
		return
	}
	e.uid = st.Uid
	count := int(st.Size)
	if !s.statSize {
		n, err := readDirNames(base + "/fd")
		if err != nil {
			e.fds, e.scannedFDs, e.denied = -1, -1, err
			notes.denied(e)
			return
		}
		count = len(n)
	}
	if err := unix.Stat(base+"/ns/net", &st); err == nil {
		e.netns = st.Ino
	} else {
		e.netns = 0
		if !errors.Is(err, unix.ENOENT) {
			notes.nsUnreadable++
		}
	}
	s.readLimits(e, base)
	e.fds = count
	e.ring.Add(model.FDSample{At: now.UnixNano(), FDs: count})
	// A denied table is retried only when its size changes, like any
	// other: failing readlinks cost as much as successful ones.
	if count != e.scannedFDs {
		s.scanFDs(e, count)
	}
	if e.denied != nil {
		notes.denied(e)
	}
}

// denied counts a process whose fd table could not be read.
func (n *pollNotes) denied(e *procEntry) {
	n.deniedFD++
	if n.deniedFDErr == nil {
		n.deniedFDErr = fmt.Errorf("pid %d: %w", e.pid, e.denied)
	}
}

// readLimits reads RLIMIT_NOFILE with prlimit, or from the world-readable
// /proc/PID/limits when prlimit is refused (another user's process
// without CAP_SYS_RESOURCE).
func (s *sysPoller) readLimits(e *procEntry, base string) {
	var lim unix.Rlimit
	err := unix.Prlimit(int(e.pid), unix.RLIMIT_NOFILE, nil, &lim)
	if err == nil {
		e.soft, e.hard, e.limitsErr = lim.Cur, lim.Max, nil
		return
	}
	f, ferr := os.Open(base + "/limits")
	if ferr != nil {
		e.soft, e.hard, e.limitsErr = 0, 0, fmt.Errorf("prlimit: %w", err)
		return
	}
	e.soft, e.hard, e.limitsErr = parseLimits(f)
	f.Close()
}

// scanFDs reads a process's fd table for socket inodes; count is its fd
// count, remembered to tell when the table changes.
func (s *sysPoller) scanFDs(e *procEntry, count int) {
	e.scannedFDs = count
	e.rescanned = true
	e.denied = nil
	e.socks = e.socks[:0]
	dir := "/proc/" + strconv.Itoa(int(e.pid)) + "/fd"
	f, err := os.Open(dir)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			e.denied = err
		}
		return
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		e.denied = err
		return
	}
	dfd := int(f.Fd())
	denied := 0
	for _, name := range names {
		n, err := unix.Readlinkat(dfd, name, s.linkBuf)
		if err != nil {
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				denied++
			}
			continue // closed since the listing
		}
		if ino, ok := socketInode(s.linkBuf[:n]); ok {
			fd, _ := strconv.Atoi(name)
			e.socks = append(e.socks, sockFD{inode: ino, fd: int32(fd)})
		}
	}
	if denied > 0 && denied == len(names) {
		e.denied = fmt.Errorf("readlink %s: %w", dir, unix.EACCES)
	}
}

// buildIndex maps every socket inode of the fd tables to its holders.
func (s *sysPoller) buildIndex() {
	clear(s.index)
	clear(s.shared)
	for _, e := range s.procs {
		for _, sf := range e.socks {
			h, ok := s.index[sf.inode]
			if !ok {
				s.index[sf.inode] = holder{pid: e.pid, fd: sf.fd}
				continue
			}
			if h.pid == e.pid {
				continue // the same socket under two fds (dup)
			}
			if e.pid < h.pid { // the lowest PID is the owner shown
				s.index[sf.inode] = holder{pid: e.pid, fd: sf.fd}
				s.shared[sf.inode] = append(s.shared[sf.inode], h.pid)
			} else {
				s.shared[sf.inode] = append(s.shared[sf.inode], e.pid)
			}
		}
	}
}

// join sets each socket's owner. Inodes no fd table explains trigger a
// rescan of the tables that did not change size, first of the sockets'
// users, then of everyone; inodes still unexplained are remembered so
// they trigger nothing more. It reports whether the tables of everyone
// were reread.
func (s *sysPoller) join(socks []model.Socket, notes *pollNotes) (full bool) {
	s.buildIndex()
	missing := func() (uids map[uint32]bool, fresh bool) {
		uids = map[uint32]bool{}
		for i := range socks {
			if ino := socks[i].Inode; ino != 0 {
				if _, ok := s.index[ino]; !ok {
					if _, old := s.unresolved[ino]; !old {
						uids[socks[i].UID] = true
						fresh = true
					}
				}
			}
		}
		return uids, fresh
	}
	uids, fresh := missing()
	for round := 0; fresh && round < 2; round++ {
		all, n := round == 1, 0
		for _, e := range s.procs {
			if !e.rescanned && e.denied == nil && e.fds >= 0 && (all || uids[e.uid]) {
				s.scanFDs(e, e.fds)
				n++
			}
		}
		full = full || (all && n > 0)
		s.buildIndex()
		uids, fresh = missing()
	}
	clear(s.unresolved)
	for i := range socks {
		sk := &socks[i]
		if sk.Inode == 0 {
			sk.Owner = model.OwnerKernel
			continue
		}
		h, ok := s.index[sk.Inode]
		if !ok {
			s.unresolved[sk.Inode] = struct{}{}
			sk.Owner = model.OwnerNotFound
			if notes.deniedFD > 0 {
				sk.Owner = model.OwnerDenied
			}
			continue
		}
		sk.Owner, sk.PID, sk.FD = model.OwnerKnown, h.pid, h.fd
		if sh := s.shared[sk.Inode]; len(sh) > 0 {
			sk.SharedWith = slices.Clone(sh)
			slices.Sort(sk.SharedWith)
			sk.SharedWith = slices.Compact(sk.SharedWith) // one pid, several fds
		}
	}
	return full
}

// processes builds the view's process list: every owner of a socket, and
// every process at WatchFraction of its fd limit.
func (s *sysPoller) processes(socks []model.Socket) []model.Process {
	byPID := map[int32]*model.Process{}
	get := func(pid int32) *model.Process {
		p := byPID[pid]
		if p == nil {
			p = &model.Process{PID: pid}
			byPID[pid] = p
		}
		return p
	}
	for i := range socks {
		sk := &socks[i]
		if sk.Owner != model.OwnerKnown {
			continue
		}
		add := func(pid int32) {
			p := get(pid)
			p.SocketsByState[sk.State]++
			if q, backlog, ok := sk.AcceptQueue(); ok {
				p.Listeners = append(p.Listeners, model.Listener{NetNS: sk.NetNS, Local: sk.Local, AcceptQueue: q, Backlog: backlog})
			}
		}
		add(sk.PID)
		for _, pid := range sk.SharedWith {
			add(pid)
		}
	}
	if f := s.cfg.WatchFraction; f > 0 {
		for pid, e := range s.procs {
			if e.fds >= 0 && e.soft > 0 && e.soft != model.FDUnlimited && float64(e.fds) >= f*float64(e.soft) {
				get(pid)
			}
		}
	}
	out := make([]model.Process, 0, len(byPID))
	for pid, p := range byPID {
		e := s.procs[pid]
		if e == nil {
			continue // exited between the scan and the join
		}
		p.StartTicks, p.UID, p.NetNS = e.start, e.uid, e.netns
		p.FDs, p.FDSoftLimit, p.FDHardLimit = e.fds, e.soft, e.hard
		p.FDHistory = e.ring.Samples()
		p.FDGrowthPerMin, p.SecondsToLimit = model.FDTrend(p.FDHistory, s.cfg.TrendWindow, e.soft)
		m := s.meta(e)
		p.Command, p.Cmdline, p.User = m.command, m.cmdline, m.user
		var notes []string
		if m.note != "" {
			notes = append(notes, m.note)
		}
		if e.limitsErr != nil {
			notes = append(notes, "fd limits not read: "+e.limitsErr.Error())
		}
		if e.denied != nil {
			notes = append(notes, "fd table not readable: "+e.denied.Error())
		}
		p.Note = strings.Join(notes, "; ")
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b model.Process) int { return int(a.PID) - int(b.PID) })
	return out
}

// meta returns the process's name, command line and user, fetched with
// gopsutil on first use.
func (s *sysPoller) meta(e *procEntry) *procMeta {
	if e.meta != nil {
		return e.meta
	}
	m := &procMeta{}
	e.meta = m
	ctx := context.Background()
	p, err := process.NewProcessWithContext(ctx, e.pid)
	if err != nil {
		m.note = "process details not read: " + err.Error()
		return m
	}
	var errName, errCmdline, errUser error
	m.command, errName = p.NameWithContext(ctx)
	m.cmdline, errCmdline = p.CmdlineSliceWithContext(ctx)
	if m.user, errUser = p.UsernameWithContext(ctx); errUser != nil {
		// No passwd entry (a container's user): the numeric uid is the
		// honest name.
		m.user, errUser = strconv.FormatUint(uint64(e.uid), 10), nil
	}
	if err := errors.Join(errName, errCmdline, errUser); err != nil {
		m.note = "process details incomplete: " + err.Error()
	}
	return m
}

// readDirNames lists a directory's entry names.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// readSmall reads a small /proc file into buf (one read is enough for
// files under a page, which the kernel generates whole).
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
