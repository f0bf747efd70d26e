package model

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// This file holds the kernel's view of TCP: the socket table, the processes
// that own sockets, and the network namespaces they live in. procinfo fills
// a KernelView once per poll; the tracker joins its sockets to flows by
// SocketKey; the UI renders processes and listeners. Everything here is
// plain data plus pure helpers: no netlink or /proc types leak in.

// Family is a socket's address family as the kernel reports it.
type Family uint8

// Address families. A dual-stack IPv6 socket talking to an IPv4 peer is
// FamilyIPv6 with IPv4-mapped addresses, which Socket unmaps.
const (
	FamilyIPv4 Family = iota
	FamilyIPv6
)

// String returns "ipv4" or "ipv6".
func (f Family) String() string {
	if f == FamilyIPv6 {
		return "ipv6"
	}
	return "ipv4"
}

// Linux sk_state values (include/net/tcp_states.h), as carried in
// Socket.RawState.
const (
	LinuxTCPEstablished   uint8 = 1
	LinuxTCPSynSent       uint8 = 2
	LinuxTCPSynRecv       uint8 = 3
	LinuxTCPFinWait1      uint8 = 4
	LinuxTCPFinWait2      uint8 = 5
	LinuxTCPTimeWait      uint8 = 6
	LinuxTCPClose         uint8 = 7
	LinuxTCPCloseWait     uint8 = 8
	LinuxTCPLastAck       uint8 = 9
	LinuxTCPListen        uint8 = 10
	LinuxTCPClosing       uint8 = 11
	LinuxTCPNewSynRecv    uint8 = 12
	LinuxTCPBoundInactive uint8 = 13
)

// StateFromLinux maps a Linux sk_state to the RFC 9293 state. A request
// socket (NEW_SYN_RECV) is SYN-RECEIVED; CLOSE and BOUND_INACTIVE (bound,
// neither listening nor connected, Linux >= 6.5) are CLOSED; any other
// value is UNKNOWN.
func StateFromLinux(raw uint8) State {
	switch raw {
	case LinuxTCPEstablished:
		return StateEstablished
	case LinuxTCPSynSent:
		return StateSynSent
	case LinuxTCPSynRecv, LinuxTCPNewSynRecv:
		return StateSynReceived
	case LinuxTCPFinWait1:
		return StateFinWait1
	case LinuxTCPFinWait2:
		return StateFinWait2
	case LinuxTCPTimeWait:
		return StateTimeWait
	case LinuxTCPClose, LinuxTCPBoundInactive:
		return StateClosed
	case LinuxTCPCloseWait:
		return StateCloseWait
	case LinuxTCPLastAck:
		return StateLastAck
	case LinuxTCPListen:
		return StateListen
	case LinuxTCPClosing:
		return StateClosing
	}
	return StateUnknown
}

// SocketTimer is the kernel timer pending on a socket (ss's "timer:").
type SocketTimer uint8

// Socket timers, numbered as INET_DIAG's idiag_timer.
const (
	TimerNone SocketTimer = iota
	TimerRetransmit
	TimerKeepalive
	TimerTimeWait
	TimerZeroWindowProbe
	numTimers
)

var timerNames = [numTimers]string{"", "retransmit", "keepalive", "time-wait", "zero-window-probe"}

// String returns ss's timer name ("retransmit", "keepalive", ...), or ""
// for TimerNone and unknown values.
func (t SocketTimer) String() string {
	if t < numTimers {
		return timerNames[t]
	}
	return ""
}

// OwnerStatus says whether a socket's owning process is known and, when
// not, why: a row never shows an unexplained "unknown process".
type OwnerStatus uint8

// Owner statuses.
const (
	// OwnerKnown: PID holds the socket in its fd table.
	OwnerKnown OwnerStatus = iota
	// OwnerKernel: no process holds the socket and none can: TIME-WAIT and
	// SYN-RECEIVED mini-sockets, connections still waiting in a listener's
	// accept queue, and sockets their process already closed (orphans
	// finishing FIN-WAIT, CLOSING or LAST-ACK).
	OwnerKernel
	// OwnerDenied: the socket has an inode but some processes' fd tables
	// could not be read (KernelView.Limitations says which and names the
	// capability missing).
	OwnerDenied
	// OwnerNotFound: every readable fd table was searched without finding
	// the inode: a process in another pid namespace, or a socket opened
	// and closed between the dump and the scan.
	OwnerNotFound
)

// String returns "known", "kernel", "denied" or "not-found".
func (o OwnerStatus) String() string {
	switch o {
	case OwnerKnown:
		return "known"
	case OwnerKernel:
		return "kernel"
	case OwnerDenied:
		return "denied"
	}
	return "not-found"
}

// TCPInfo is the subset of the kernel's struct tcp_info that diagnoses and
// the UI use, in typed units. Field comments give the --json key where the
// flow's "kernel" object carries the value (durations in µs or ms there).
type TCPInfo struct {
	RTT    time.Duration // smoothed RTT ("rtt_us")
	RTTVar time.Duration // RTT variance ("rttvar_us")
	MinRTT time.Duration // lowest RTT seen
	RTO    time.Duration // retransmission timeout
	// Retransmits is the number of consecutive unanswered retransmissions
	// of the current segment (tcpi_retransmits, "retransmits").
	Retransmits uint8
	// Probes counts unanswered keep-alive or zero-window probes.
	Probes uint8
	// Backoff is the RTO exponential backoff count.
	Backoff      uint8
	TotalRetrans uint32 // retransmitted segments over the life ("total_retrans")
	Lost         uint32 // segments currently presumed lost ("lost")
	// Unacked is segments in flight ("unacked"); for a LISTEN socket the
	// kernel puts the accept-queue length here.
	Unacked       uint32
	Cwnd          uint32 // congestion window in segments ("cwnd")
	SndSSThresh   uint32 // slow-start threshold in segments
	SndMSS        uint32 // sender MSS in bytes
	BytesAcked    uint64 // bytes sent and acknowledged ("bytes_acked")
	BytesReceived uint64 // bytes received in order ("bytes_received")
	BytesSent     uint64 // bytes sent, retransmissions included
	BytesRetrans  uint64 // bytes retransmitted
	NotSentBytes  uint32 // bytes queued by the process and not yet sent
	// LastDataSent and LastDataRecv are the times since the last data
	// segment was sent or received ("last_send_ms", "last_recv_ms"), at
	// the kernel's millisecond resolution.
	LastDataSent time.Duration
	LastDataRecv time.Duration
	// LastAckRecv is the time since the last ACK was received.
	LastAckRecv time.Duration
}

// SocketKey identifies a socket for joining it to a flow: its network
// namespace and its local and remote endpoints.
type SocketKey struct {
	NetNS         uint64
	Local, Remote netip.AddrPort
}

// Socket is one TCP socket of the kernel's table.
type Socket struct {
	// NetNS is the inode of the socket's network namespace (see
	// KernelView.Namespaces for its label).
	NetNS  uint64
	Family Family
	// Local and Remote are the endpoints, IPv4-mapped addresses unmapped
	// so they compare equal to packet addresses. A LISTEN socket's Remote
	// is the unspecified address with port 0.
	Local, Remote netip.AddrPort
	// State is the RFC 9293 state; RawState the Linux sk_state it maps
	// from (see StateFromLinux).
	State    State
	RawState uint8
	// Inode is the socket's inode, 0 when no file refers to it (TIME-WAIT,
	// request sockets, accept-queue entries, orphans).
	Inode uint64
	// Cookie is the kernel's socket cookie (ss's "sk:"), stable for the
	// socket's life: the key to follow one socket across polls.
	Cookie uint64
	UID    uint32
	// RecvQ and SendQ are the queued bytes; for a LISTEN socket they are
	// the accept-queue length and the backlog (see AcceptQueue).
	RecvQ, SendQ uint32
	// Timer is the pending kernel timer, TimerExpires the time left on
	// it, TimerRetrans the retransmissions or probes it counted.
	Timer        SocketTimer
	TimerExpires time.Duration
	TimerRetrans uint8
	// Owner tells whether PID is known; PID and FD name the process and
	// file descriptor holding the socket (the lowest PID when several
	// share it). SharedWith lists the other PIDs holding it, ascending
	// (a listener inherited by worker processes).
	Owner      OwnerStatus
	PID        int32
	FD         int32
	SharedWith []int32
	// Info is TCP_INFO, valid when HasInfo (full sockets only: TIME-WAIT
	// and request sockets carry none).
	Info    TCPInfo
	HasInfo bool
}

// Key returns the socket's join key.
func (s *Socket) Key() SocketKey {
	return SocketKey{NetNS: s.NetNS, Local: s.Local, Remote: s.Remote}
}

// AcceptQueue returns a LISTEN socket's accept-queue length and backlog;
// ok is false for any other state.
func (s *Socket) AcceptQueue() (queued, backlog uint32, ok bool) {
	if s.State != StateListen {
		return 0, 0, false
	}
	return s.RecvQ, s.SendQ, true
}

// OwnerNote explains a socket without a known owner in a few words
// ("time-wait: no process", "waiting in accept queue" ...); "" when the
// owner is known.
func (s *Socket) OwnerNote() string {
	switch s.Owner {
	case OwnerKnown:
		return ""
	case OwnerDenied:
		return "owner not readable: permission denied"
	case OwnerNotFound:
		return "owner not visible (other pid namespace or just closed)"
	}
	switch s.State {
	case StateTimeWait:
		return "time-wait: no process"
	case StateSynReceived:
		return "handshake in progress: no process yet"
	case StateEstablished, StateCloseWait:
		return "waiting in accept queue"
	}
	return "closed by its process (orphan)"
}

// FDSample is one fd count of a process at a poll.
type FDSample struct {
	At  int64 // Unix nanoseconds of the poll
	FDs int
}

// FDRing is a bounded history of fd counts, oldest first. It grows up to
// its capacity, so a short-lived process costs only what it used. The
// zero value holds nothing; use NewFDRing.
type FDRing struct {
	buf      []FDSample
	start    int
	capacity int
}

// NewFDRing returns a ring keeping the newest capacity samples (at least 1).
func NewFDRing(capacity int) *FDRing {
	return &FDRing{capacity: max(capacity, 1)}
}

// Add appends a sample, dropping the oldest when the ring is full.
func (r *FDRing) Add(s FDSample) {
	if len(r.buf) < r.capacity {
		r.buf = append(r.buf, s)
		return
	}
	if len(r.buf) == 0 {
		return // zero value
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
}

// Len returns the number of samples held.
func (r *FDRing) Len() int { return len(r.buf) }

// Samples returns a copy of the samples, oldest first.
func (r *FDRing) Samples() []FDSample {
	out := make([]FDSample, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// FDUnlimited is the FDSoftLimit/FDHardLimit value of RLIM_INFINITY; a
// renderer shows it as "unlimited", not as a number.
const FDUnlimited = math.MaxUint64

// flatGrowthPerMin is the slope under which an fd count is "not growing":
// one fd per ten minutes is noise, not a leak worth a countdown.
const flatGrowthPerMin = 0.1

// FDTrend fits a least-squares line to the samples of the last window
// (ending at the newest sample) and returns the growth in fds per minute
// and the seconds until the count reaches softLimit at that rate, counted
// from the newest sample. secondsToLimit is -1 when the count is not
// growing (fewer than 3 samples, no time span, or under 0.1 fd/min) or
// the limit is unknown (0) or unlimited; 0 when the limit is already
// reached. Samples must be in time order; the results are never NaN.
func FDTrend(samples []FDSample, window time.Duration, softLimit uint64) (perMin, secondsToLimit float64) {
	if len(samples) == 0 {
		return 0, -1
	}
	last := samples[len(samples)-1]
	first := len(samples) - 1
	for first > 0 && last.At-samples[first-1].At <= int64(window) {
		first--
	}
	win := samples[first:]
	if len(win) < 3 || last.At <= win[0].At {
		return 0, -1
	}
	// Times relative to the window's start, in seconds, keep the sums
	// small enough for float64 to stay exact.
	var sx, sy float64
	for _, s := range win {
		sx += float64(s.At-win[0].At) / 1e9
		sy += float64(s.FDs)
	}
	n := float64(len(win))
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for _, s := range win {
		dx := float64(s.At-win[0].At)/1e9 - mx
		sxy += dx * (float64(s.FDs) - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0, -1
	}
	perSec := sxy / sxx
	perMin = perSec * 60
	if perMin < flatGrowthPerMin || softLimit == 0 || softLimit == FDUnlimited {
		return perMin, -1
	}
	left := float64(softLimit) - float64(last.FDs)
	if left <= 0 {
		return perMin, 0
	}
	return perMin, left / perSec
}

// Listener is a LISTEN socket as the processes pane shows it.
type Listener struct {
	NetNS       uint64
	Local       netip.AddrPort
	AcceptQueue uint32
	Backlog     uint32
}

// Process is one process that owns a TCP socket (or is close to its fd
// limit), with its fd figures: one --json "process" line (pid, command,
// netns label, fds, fd_soft_limit, fd_hard_limit, fd_growth_per_min,
// seconds_to_limit, sockets_by_state, listeners). Text fields are raw: the
// UI sanitises them.
type Process struct {
	PID int32
	// StartTicks is the start time in clock ticks since boot (field 22 of
	// /proc/PID/stat): with PID it identifies the process across polls.
	StartTicks uint64
	// Command is the process name; Cmdline its arguments.
	Command string
	Cmdline []string
	User    string
	UID     uint32
	// NetNS is the inode of the process's network namespace.
	NetNS uint64
	// FDs is the number of open file descriptors; FDSoftLimit and
	// FDHardLimit are RLIMIT_NOFILE (0 unknown, FDUnlimited for infinity).
	FDs         int
	FDSoftLimit uint64
	FDHardLimit uint64
	// FDHistory is the bounded fd-count history, oldest first.
	FDHistory []FDSample
	// FDGrowthPerMin and SecondsToLimit are FDTrend over FDHistory.
	FDGrowthPerMin float64
	SecondsToLimit float64
	// SocketsByState counts the process's TCP sockets, indexed by State.
	SocketsByState [numStates]int
	// Listeners are its LISTEN sockets, in socket-table order.
	Listeners []Listener
	// Note explains missing figures ("limits not readable: ..."), "" when
	// everything was read.
	Note string
}

// Sockets returns the number of TCP sockets the process holds.
func (p *Process) Sockets() int {
	n := 0
	for _, c := range p.SocketsByState {
		n += c
	}
	return n
}

// ListenStats are a namespace's TcpExt accept-queue counters from
// /proc/net/netstat: totals since boot and the increase since the
// previous poll (0 on the first).
type ListenStats struct {
	Overflows      uint64 // ListenOverflows: a full accept queue refused a connection
	Drops          uint64 // ListenDrops: SYNs dropped at a listener (overflows included)
	OverflowsDelta uint64
	DropsDelta     uint64
}

// AbortCounts are a namespace's TcpExt abort counters: the RSTs its stack
// sent instead of a FIN, by cause.
type AbortCounts struct {
	OnClose   uint64 // TCPAbortOnClose: close() with unread input
	OnData    uint64 // TCPAbortOnData: SO_LINGER 0 (or data after a close)
	OnTimeout uint64 // TCPAbortOnTimeout: retransmissions or keep-alive probes ran out
	OnMemory  uint64 // TCPAbortOnMemory
	OnLinger  uint64 // TCPAbortOnLinger: FIN-WAIT-2 linger timeout
}

// AbortInterval is what the abort counters counted between two polls:
// the increase over (From, To], Unix nanoseconds.
type AbortInterval struct {
	From, To int64
	AbortCounts
}

// AbortStats are a namespace's abort counters: the totals since boot and
// their increase between consecutive polls, oldest first (bounded). When
// a single kind moved in the interval of one RST, it names that RST's
// cause: the kernel's own word without its per-RST reason.
type AbortStats struct {
	AbortCounts
	History []AbortInterval
}

// At returns the interval holding time t, if the history covers it.
func (a *AbortStats) At(t int64) (AbortInterval, bool) {
	for i := len(a.History) - 1; i >= 0; i-- {
		if iv := a.History[i]; iv.From < t && t <= iv.To {
			return iv, true
		}
	}
	return AbortInterval{}, false
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	First, Last uint16
}

// Size returns the number of ports in the range (0 for an empty or
// inverted range).
func (r PortRange) Size() int {
	if r.Last < r.First {
		return 0
	}
	return int(r.Last) - int(r.First) + 1
}

// NetNS is one network namespace the poll saw.
type NetNS struct {
	Inode uint64
	// Label names it: "" for the host namespace (the poller's own), the
	// name under /run/netns (ip netns) or docker's netns directory, else
	// "net:[INODE]" as /proc/PID/ns/net spells it.
	Label string
	Host  bool
	// Listen are its accept-queue counters; Ephemeral its local port
	// range (ip_local_port_range; zero when not read).
	Listen    ListenStats
	Aborts    AbortStats
	Ephemeral PortRange
	Sockets   int // TCP sockets dumped in it
}

// PortRangeCount counts TIME-WAIT sockets of one namespace over a range of
// local ports.
type PortRangeCount struct {
	NetNS uint64
	PortRange
	// Listening is set for a one-port range that a LISTEN socket uses:
	// the server closed first and holds the TIME-WAIT.
	Listening bool
	Count     int
}

// TimeWaitByPortRange counts the TIME-WAIT sockets per namespace and local
// port range: a port some LISTEN socket of the namespace uses is a range
// of its own (server side), any other port falls in an aligned range of
// width ports (client side, ephemeral). The result is ordered by
// namespace and first port; width 0 counts per port.
func TimeWaitByPortRange(socks []Socket, width uint16) []PortRangeCount {
	type lkey struct {
		ns   uint64
		port uint16
	}
	listening := map[lkey]bool{}
	for i := range socks {
		if socks[i].State == StateListen {
			listening[lkey{socks[i].NetNS, socks[i].Local.Port()}] = true
		}
	}
	type bkey struct {
		ns          uint64
		first, last uint16
		listen      bool
	}
	counts := map[bkey]int{}
	for i := range socks {
		s := &socks[i]
		if s.State != StateTimeWait {
			continue
		}
		p := s.Local.Port()
		k := bkey{ns: s.NetNS, first: p, last: p}
		if listening[lkey{s.NetNS, p}] {
			k.listen = true
		} else if width > 1 {
			k.first = p - p%width
			k.last = uint16(min(int(k.first)+int(width)-1, math.MaxUint16))
		}
		counts[k]++
	}
	out := make([]PortRangeCount, 0, len(counts))
	for k, c := range counts {
		out = append(out, PortRangeCount{NetNS: k.ns, PortRange: PortRange{k.first, k.last}, Listening: k.listen, Count: c})
	}
	slices.SortFunc(out, func(a, b PortRangeCount) int {
		switch {
		case a.NetNS != b.NetNS:
			if a.NetNS < b.NetNS {
				return -1
			}
			return 1
		case a.First != b.First:
			return int(a.First) - int(b.First)
		case a.Listening != b.Listening: // a listening port sorts before the range holding it
			if a.Listening {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// PollStats describe what one poll did and cost.
type PollStats struct {
	Sockets       int           // sockets dumped, all namespaces
	Processes     int           // processes in /proc, kernel threads aside
	FDTablesRead  int           // fd tables (re)scanned for socket inodes
	FullRescan    bool          // every fd table was rescanned (unknown inodes appeared)
	Namespaces    int           // network namespaces dumped
	Wall          time.Duration // wall time of the poll
	DumpWall      time.Duration // of which the netlink dumps
	ProcessesWall time.Duration // of which /proc
}

// KernelView is the result of one poll: immutable once published, safe to
// share between goroutines.
type KernelView struct {
	// At is the poll time in Unix nanoseconds, as the caller passed it.
	At int64
	// Sockets are every TCP socket of every namespace dumped, host
	// namespace first, then in kernel dump order.
	Sockets []Socket
	// Processes are the processes owning a TCP socket (plus any close to
	// its fd limit), ordered by PID.
	Processes []Process
	// Namespaces lists the network namespaces, the host one first.
	Namespaces []NetNS
	// TimeWait counts TIME-WAIT sockets per local port range (see
	// TimeWaitByPortRange).
	TimeWait []PortRangeCount
	// Limitations say what this poll could not see and why (missing
	// capabilities, vanished namespaces ...): never silent.
	Limitations []string
	// OwnersOnly marks a view rebuilt from a capture file's packet
	// comments (-w): its sockets name owners, but their states, queues and
	// TCP_INFO were not recorded, so they are no evidence of state.
	OwnersOnly bool
	// Recorded are the kernel's events a capture file's packet comments
	// recorded (OwnersOnly views only): the RSTs the recording host's
	// kernel sent, each with its reason, in file order. A store built from
	// them is Partial: what a file did not record proves nothing.
	Recorded []KernelEvent
	Stats    PollStats
}

// Host returns the host namespace's entry, or nil when the view is empty.
func (v *KernelView) Host() *NetNS {
	for i := range v.Namespaces {
		if v.Namespaces[i].Host {
			return &v.Namespaces[i]
		}
	}
	return nil
}

// NetNSLabel returns the label of a namespace inode: "" for the host
// namespace, "net:[INODE]" for one not in the view.
func (v *KernelView) NetNSLabel(inode uint64) string {
	for i := range v.Namespaces {
		if v.Namespaces[i].Inode == inode {
			return v.Namespaces[i].Label
		}
	}
	return NetNSInodeLabel(inode)
}

// NetNSInodeLabel spells a namespace inode as /proc/PID/ns/net does:
// "net:[4026531840]".
func NetNSInodeLabel(inode uint64) string {
	return "net:[" + strconv.FormatUint(inode, 10) + "]"
}

// Process returns the process with the given PID, or nil.
func (v *KernelView) Process(pid int32) *Process {
	i, ok := slices.BinarySearchFunc(v.Processes, pid, func(p Process, pid int32) int {
		return int(p.PID) - int(pid)
	})
	if !ok {
		return nil
	}
	return &v.Processes[i]
}
