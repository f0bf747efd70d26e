package kevents

import (
	"bufio"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connscope/connscope/model"
	"golang.org/x/sys/unix"
)

// maxHeld bounds the connect events waiting for their local port.
const maxHeld = 4096

// maxSockets bounds the table of live sockets' endpoints.
const maxSockets = 16384

// endpoints are a socket's addresses as its events gave them.
type endpoints struct {
	family        model.Family
	local, remote netip.AddrPort
}

// idleBackoff is how many times Options.Interval Run waits at most while
// the kernel records nothing: an idle host costs a wake-up every 200 ms,
// not 20 a second, and the ring buffers still hold far more than what a
// burst can bring in that time.
const idleBackoff = 4

// Run drains the buffers every Options.Interval and sends each non-empty
// batch on out without blocking: when out is full the batch is dropped
// and counted (Stats.QueueDropped), so a slow consumer never holds back
// the reader or the kernel. Each batch is a new slice the consumer owns.
// While reads come back empty the wait doubles, up to idleBackoff times
// the interval; the first event brings it back. Run returns ctx.Err()
// when ctx ends, or ErrClosed after Close.
func (s *Source) Run(ctx context.Context, out chan<- []model.KernelEvent) error {
	wait := s.opts.Interval
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		batch, err := s.Read(nil)
		if len(batch) > 0 || s.pending() {
			wait = s.opts.Interval
		} else {
			wait = min(2*wait, idleBackoff*s.opts.Interval)
		}
		if len(batch) > 0 {
			select {
			case out <- batch:
			default:
				s.queueDropped.Add(uint64(len(batch)))
			}
		}
		if err != nil {
			return err
		}
		if s.capped.Load() && ctx.Err() == nil {
			continue
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pending reports connect events held back for their local port.
func (s *Source) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held) > 0
}

// Read drains what the kernel has buffered (at most Options.MaxPages
// pages) and appends the events to dst in time order. It never blocks.
// A connect (CLOSED to SYN-SENT) is recorded by the kernel before the
// socket has a local port; Read completes its endpoints from the socket's
// next event, holding it back until the next Read at most.
func (s *Source) Read(dst []model.KernelEvent) ([]model.KernelEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return dst, ErrClosed
	}
	s.recs = s.recs[:0]
	used := 0
	perCPU := max(s.opts.MaxPages/len(s.cpus), 8)
	s.capped.Store(false)
	for _, c := range s.cpus {
		for k := range perCPU + 1 {
			if k == perCPU {
				s.capped.Store(true) // more is waiting: Run reads again at once
				break
			}
			if used == len(s.pages) {
				s.pages = append(s.pages, make([]byte, s.subbuf))
			}
			page := s.pages[used]
			n, err := unix.Read(c.fd, page)
			if err != nil || n <= 0 {
				if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
					s.decodeErrors.Add(1)
				}
				break
			}
			used++
			s.pagesRead.Add(1)
			var lost uint64
			s.recs, lost, err = parsePage(page[:n], s.lay, s.recs)
			s.kernelLost.Add(lost)
			if err != nil {
				s.decodeErrors.Add(1)
			}
		}
	}
	s.readLost()
	slices.SortStableFunc(s.recs, func(a, b record) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	offset := clockOffset(s.clock)
	start := len(dst)
	dst = append(dst, s.held...)
	s.held = s.held[:0]
	heldEnd := len(dst)
	clear(s.skbs)
	clear(s.rsts)
	for _, r := range s.recs {
		dst = s.decodeRecord(r, int64(r.ts)+offset, dst)
	}
	dst = s.completeConnects(dst, start, heldEnd)
	for i := start; i < len(dst); i++ {
		s.perKind[dst[i].Kind].Add(1)
	}
	s.events.Add(uint64(len(dst) - start))
	return dst, nil
}

// decodeRecord appends the event of one record, or applies a task record.
func (s *Source) decodeRecord(r record, unixNS int64, dst []model.KernelEvent) []model.KernelEvent {
	if len(r.data) < 8 {
		s.decodeErrors.Add(1)
		return dst
	}
	d := s.decoders[uint16(r.data[0])|uint16(r.data[1])<<8]
	if d == nil {
		return dst // an event of this instance we did not ask for
	}
	rec := r.data
	switch d.typ {
	case evNewTask:
		s.tasks.newTask(int32(d.pid.get(rec)), int32(d.taskPID.get(rec)), commString(d.comm.bytes(rec)), d.cloneFlags.get(rec))
		return dst
	case evRenameTk:
		s.tasks.rename(int32(d.taskPID.get(rec)), commString(d.newcomm.bytes(rec)))
		return dst
	case evBadCsum:
		// A checksum failure names the packet that kfree_skb drops next.
		if i, ok := s.skbs[d.skbaddr.get(rec)]; ok && i < len(dst) {
			dst[i].Family, dst[i].Local, dst[i].Remote, _ = d.endpoints(rec)
		}
		return dst
	}
	var ev model.KernelEvent
	if !d.decode(rec, &ev) {
		return dst
	}
	ev.Time = unixNS
	if ev.TID > 0 {
		t := s.tasks.lookup(ev.TID)
		ev.PID, ev.Comm = t.tgid, t.comm
	}
	switch d.typ {
	case evDrop:
		skb := d.skbaddr.get(rec)
		// A reset answering a segment for no socket is recorded just
		// before the segment's drop, with the same skb: it has the
		// endpoints. Otherwise the receiving socket may be known.
		if i, ok := s.rsts[skb]; ok && i < len(dst) {
			ev.Family, ev.Local, ev.Remote = dst[i].Family, dst[i].Local, dst[i].Remote
		} else if ep, ok := s.socks[ev.Socket]; ok && ev.Socket != 0 {
			ev.Family, ev.Local, ev.Remote = ep.family, ep.local, ep.remote
		}
		s.skbs[skb] = len(dst)
	case evSendReset:
		if ev.Socket == 0 {
			s.rsts[d.skbaddr.get(rec)] = len(dst)
		}
	}
	if ev.Socket != 0 && ev.Kind != model.KernelDrop && ev.Local.Port() != 0 {
		s.learnSocket(&ev)
	}
	return append(dst, ev)
}

// learnSocket remembers the endpoints of a live socket, so that a drop the
// kernel ties to it (kfree_skb's rx_sk) gets them; a closed socket is
// forgotten.
func (s *Source) learnSocket(ev *model.KernelEvent) {
	if ev.Kind == model.KernelStateChange && ev.RawNew == model.LinuxTCPClose {
		delete(s.socks, ev.Socket)
		return
	}
	if len(s.socks) >= maxSockets {
		clear(s.socks)
	}
	s.socks[ev.Socket] = endpoints{ev.Family, ev.Local, ev.Remote}
}

// completeConnects fills the local endpoint of connect events (SYN-SENT
// with port 0) in dst[start:] from the next event of the same socket.
// Those still incomplete are held for the next Read if they are new
// (at or after heldEnd), delivered as they are otherwise.
func (s *Source) completeConnects(dst []model.KernelEvent, start, heldEnd int) []model.KernelEvent {
	open := make(map[uint64]int)
	for i := start; i < len(dst); i++ {
		e := &dst[i]
		if e.Socket == 0 {
			continue
		}
		if e.Kind == model.KernelStateChange && e.RawNew == model.LinuxTCPSynSent && e.Local.Port() == 0 {
			open[e.Socket] = i
			continue
		}
		if j, ok := open[e.Socket]; ok && e.Local.Port() != 0 {
			dst[j].Local, dst[j].Remote, dst[j].Family = e.Local, e.Remote, e.Family
			delete(open, e.Socket)
		}
	}
	if len(open) == 0 {
		return dst
	}
	keep := make([]bool, len(dst)-start)
	for i := range keep {
		keep[i] = true
	}
	for _, j := range open {
		if j >= heldEnd && len(s.held) < maxHeld {
			s.held = append(s.held, dst[j])
			keep[j-start] = false
		}
	}
	slices.SortFunc(s.held, func(a, b model.KernelEvent) int { return int(a.Time - b.Time) })
	w := start
	for i := start; i < len(dst); i++ {
		if keep[i-start] {
			dst[w] = dst[i]
			w++
		}
	}
	return dst[:w]
}

// readLost adds the kernel's per-CPU counts of overwritten and dropped
// events, once a second.
func (s *Source) readLost() {
	now := time.Now().UnixNano()
	if now-s.statsAt < int64(time.Second) {
		return
	}
	s.statsAt = now
	var total uint64
	for _, c := range s.cpus {
		if c.stats == nil {
			continue
		}
		if _, err := c.stats.Seek(0, 0); err != nil {
			continue
		}
		sc := bufio.NewScanner(c.stats)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && (k == "overrun" || k == "dropped events") {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	if total > s.statsLost {
		s.kernelLost.Add(total - s.statsLost)
		s.statsLost = total
	}
}

// clockOffset returns CLOCK_REALTIME minus the trace clock, read between
// two readings of the trace clock so the error is half their gap (well
// under a microsecond).
func clockOffset(clock int) int64 {
	var a, r, b unix.Timespec
	unix.ClockGettime(int32(clock), &a)
	unix.ClockGettime(unix.CLOCK_REALTIME, &r)
	unix.ClockGettime(int32(clock), &b)
	mid := (a.Nano() + b.Nano()) / 2
	return r.Nano() - mid
}
