package model

import "net/netip"

// This file holds what the kernel says about TCP sockets as it happens:
// state changes, resets sent and received with the kernel's reason,
// retransmissions and dropped packets with their drop reason. The kevents
// package produces these values from the kernel's tracepoints; the
// tracker joins them to flows by endpoints and to processes by task.

// KernelEventKind says which tracepoint an event came from.
type KernelEventKind uint8

// Kernel event kinds.
const (
	// KernelStateChange: a TCP socket changed state
	// (sock:inet_sock_set_state). OldState and NewState are set.
	KernelStateChange KernelEventKind = iota
	// KernelResetSent: this host sent a RST (tcp:tcp_send_reset). Reason is
	// the kernel's sk_rst_reason name when the kernel has one (>= 6.10);
	// NewState is the socket's state after the reset, StateUnknown when no
	// socket was involved (a RST answering a segment for no socket).
	KernelResetSent
	// KernelResetReceived: a socket accepted a RST (tcp:tcp_receive_reset).
	KernelResetReceived
	// KernelRetransmit: a segment was retransmitted
	// (tcp:tcp_retransmit_skb); NewState is the socket's state.
	KernelRetransmit
	// KernelSynAckRetransmit: a listener retransmitted a SYN/ACK
	// (tcp:tcp_retransmit_synack).
	KernelSynAckRetransmit
	// KernelDrop: an IPv4 or IPv6 packet was freed as dropped
	// (skb:kfree_skb); Reason is the kernel's skb_drop_reason name.
	// Endpoints are known only when the kernel ties the packet to a socket
	// or to another event (see the kevents package).
	KernelDrop
	numKernelEventKinds
)

// NumKernelEventKinds is the number of kernel event kinds, for per-kind
// counters indexed by KernelEventKind.
const NumKernelEventKinds = int(numKernelEventKinds)

var kernelEventKindNames = [numKernelEventKinds]string{
	"state", "reset_sent", "reset_received", "retransmit", "synack_retransmit", "drop",
}

// String returns the kind's JSON name ("state", "reset_sent",
// "reset_received", "retransmit", "synack_retransmit", "drop"), or
// "unknown".
func (k KernelEventKind) String() string {
	if k < numKernelEventKinds {
		return kernelEventKindNames[k]
	}
	return "unknown"
}

// KernelEvent is one kernel event about a TCP socket or packet. It is a
// plain value: strings in it (Reason, Comm) are shared with the source
// that produced it and never change.
type KernelEvent struct {
	Kind KernelEventKind
	// Time is when the kernel recorded the event, in Unix nanoseconds.
	Time int64
	// NetNS is the inode of the socket's network namespace, 0 when the
	// event does not say (see the kevents package for which do).
	NetNS uint64
	// Family is the address family of the endpoints (or, for a drop, of
	// the packet).
	Family Family
	// Local and Remote are the endpoints as the local socket sees them,
	// IPv4-mapped addresses unmapped. The zero AddrPort means unknown; a
	// port of 0 means not yet assigned.
	Local, Remote netip.AddrPort
	// OldState and NewState are the states of a state change; NewState is
	// also the socket's state for resets and retransmissions. RawOld and
	// RawNew are the Linux sk_state values (see StateFromLinux), 0 unknown.
	OldState, NewState State
	RawOld, RawNew     uint8
	// Reason is the kernel's own name of the reset or drop reason
	// ("NO_SOCKET", "TCP_ABORT_ON_CLOSE", "TCP_LISTEN_OVERFLOW" ...), read
	// from the running kernel; "" when the kernel gives none.
	Reason string
	// Socket identifies the kernel socket the event is about while it
	// lives (its address inside the kernel, only ever compared); 0 when
	// the event concerns no socket. A drop's Socket is the socket that was
	// receiving the packet, when the kernel says (Linux >= 6.12).
	Socket uint64
	// Cookie is the socket cookie (ss's "sk:", procinfo's Socket.Cookie)
	// when the event carries it, else 0.
	Cookie uint64
	// PID is the process (thread group) of the task the event ran in, TID
	// the thread, Comm its command name at the time (raw bytes: sanitise
	// before display); 0 and "" when unknown. They name the socket's owner
	// only when InProcess is true: an event in softirq context runs in
	// whatever task the CPU was interrupting.
	PID, TID int32
	Comm     string
	// InProcess is true when the event ran in process context (a system
	// call or a process's exit), false in softirq, hardirq or NMI context.
	InProcess bool
}

// IsOwnerEvent reports whether the event's task is the socket's owner: a
// state change made in process context by connect() (CLOSED to
// SYN-SENT), by close() or shutdown() (out of ESTABLISHED or CLOSE-WAIT,
// or an abortive close to CLOSED), or by listen() (to LISTEN). A process
// that exits closes its sockets in its own context, so its exit counts.
// Events in softirq context, and state changes a socket makes on receipt
// of a segment, never name an owner.
func (e *KernelEvent) IsOwnerEvent() bool {
	if !e.InProcess || e.PID <= 0 || e.Kind != KernelStateChange {
		return false
	}
	switch {
	case e.RawOld == LinuxTCPClose && e.RawNew == LinuxTCPSynSent:
		return true
	case e.RawNew == LinuxTCPListen:
		return true
	case e.RawOld == LinuxTCPEstablished && (e.RawNew == LinuxTCPFinWait1 || e.RawNew == LinuxTCPClose):
		return true
	case e.RawOld == LinuxTCPCloseWait && (e.RawNew == LinuxTCPLastAck || e.RawNew == LinuxTCPClose):
		return true
	}
	return false
}

// Key returns the event's join key: namespace and endpoints.
func (e *KernelEvent) Key() SocketKey {
	return SocketKey{NetNS: e.NetNS, Local: e.Local, Remote: e.Remote}
}
