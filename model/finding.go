package model

// This file holds the vocabulary of the diagnosis (DESIGN.md §5): the cause
// labels, their severities, and the Finding a rule reports on a flow.

// FindingLabel names the cause of a connection's trouble. The labels are
// the catalogue's, and a user types them in the filter `finding LABEL`.
type FindingLabel uint8

// Finding labels. FindingNone is the zero value and never reported.
const (
	FindingNone FindingLabel = iota
	// FindingRefused: a SYN answered by RST/ACK: nothing listens there.
	FindingRefused
	// FindingCloseWithUnreadData: an endpoint reset instead of closing while
	// its peer's data was unread (close() with unread input).
	FindingCloseWithUnreadData
	// FindingAbortiveClose: a RST instead of a FIN from an idle, in-order
	// endpoint (SO_LINGER 0, a killed process, ss -K).
	FindingAbortiveClose
	// FindingRSTAfterClose: the peer kept writing after this side closed;
	// its data drew a RST.
	FindingRSTAfterClose
	// FindingIdleTimeoutRace: one side closed an idle connection and the
	// other's next request crossed the FIN (the keep-alive race).
	FindingIdleTimeoutRace
	// FindingMiddleboxInjected: a RST that the endpoint whose address it
	// carries did not send.
	FindingMiddleboxInjected
	// FindingMiddleboxIdleDrop: after a long idle the path dropped the
	// connection: data retransmitted into silence, or a RST from the path.
	FindingMiddleboxIdleDrop
	// FindingHalfOpenPeerLost: a stateless RST answering data: the peer had
	// lost its socket.
	FindingHalfOpenPeerLost
	// FindingAcceptQueueOverflow: the listener's accept queue was full:
	// SYNs dropped, or the handshake reset from SYN-RECEIVED.
	FindingAcceptQueueOverflow
	// FindingSYNTimeout: SYNs retransmitted and never answered.
	FindingSYNTimeout
	// FindingKeepaliveTimeout: keep-alive probes unanswered, then a RST
	// from the prober.
	FindingKeepaliveTimeout
	// FindingZeroWindowStall: a receiver's window stayed at zero: its
	// application stopped reading.
	FindingZeroWindowStall
	// FindingLossRetransmit: retransmissions above the threshold.
	FindingLossRetransmit
	// FindingTimeWaitChurn: many short connections on one port pair range,
	// each leaving a TIME-WAIT behind on the active closer.
	FindingTimeWaitChurn
	// FindingCloseWaitLeak: a socket left in CLOSE-WAIT: its owner never
	// calls close().
	FindingCloseWaitLeak
	// FindingFDLeak: a process's fd count is climbing to its limit (a
	// process-level finding).
	FindingFDLeak
	// FindingSYNRetry: a SYN went unanswered once and its retransmission
	// was answered: the connection worked, a second late.
	FindingSYNRetry
	// FindingClientTimeout: the client gave up waiting for an answer and
	// closed; the server's late answer drew its RST.
	FindingClientTimeout
	// FindingRequestLimitRace: a server closed a keep-alive connection
	// right after its N-th answer (a per-connection request limit), and
	// the client's next request met the close.
	FindingRequestLimitRace
	// FindingFDExhaustion: a process is at its fd limit: new sockets,
	// accepts and files fail with EMFILE (a process-level finding).
	FindingFDExhaustion
	numFindingLabels
)

var findingNames = [numFindingLabels]string{
	"", "refused", "close_with_unread_data", "abortive_close", "rst_after_close",
	"idle_timeout_race", "middlebox_injected", "middlebox_idle_drop", "half_open_peer_lost",
	"accept_queue_overflow", "syn_timeout", "keepalive_timeout", "zero_window_stall",
	"loss_retransmit", "time_wait_churn", "close_wait_leak", "fd_leak",
	"syn_retry", "client_timeout", "request_limit_race", "fd_exhaustion",
}

// String returns the catalogue label ("idle_timeout_race"), "" for
// FindingNone and unknown values.
func (l FindingLabel) String() string {
	if l < numFindingLabels {
		return findingNames[l]
	}
	return ""
}

// FindingLabels returns every label, in catalogue order.
func FindingLabels() []FindingLabel {
	out := make([]FindingLabel, 0, numFindingLabels-1)
	for l := FindingNone + 1; l < numFindingLabels; l++ {
		out = append(out, l)
	}
	return out
}

// ParseFindingLabel accepts a catalogue label in any case, with '-' or '_'
// ("idle-timeout-race", "IDLE_TIMEOUT_RACE").
func ParseFindingLabel(s string) (FindingLabel, bool) {
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		}
		b[i] = c
	}
	for l := FindingNone + 1; l < numFindingLabels; l++ {
		if findingNames[l] == string(b) {
			return l, true
		}
	}
	return FindingNone, false
}

// Severity ranks findings: a table badge shows the most severe.
type Severity uint8

// Severities, least severe first.
const (
	// SeverityInfo: notable, often deliberate (an abortive close, churn).
	SeverityInfo Severity = iota
	// SeverityWarning: something broke or degraded for this connection.
	SeverityWarning
	// SeverityCritical: the service or the path is failing (nothing
	// answers, the path forges or drops, a process runs out of fds).
	SeverityCritical
)

// String returns "info", "warning" or "critical".
func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return "info"
}

// Evidence says what a finding rests on: the packets, the kernel's own
// word (its socket table, counters or events), or both.
type Evidence uint8

// Kinds of evidence.
const (
	EvidenceWire Evidence = iota
	EvidenceKernel
	EvidenceBoth
)

// String returns "wire", "kernel" or "both".
func (e Evidence) String() string {
	switch e {
	case EvidenceKernel:
		return "kernel"
	case EvidenceBoth:
		return "both"
	}
	return "wire"
}

// Finding is one diagnosis of a flow: what went wrong, who it is about,
// how bad it is, a one-line explanation with the numbers that matter, and
// the frames that prove it.
type Finding struct {
	Label    FindingLabel
	Severity Severity
	// Evidence says whether the finding rests on the wire, the kernel's
	// word, or both.
	Evidence Evidence
	// Side is the endpoint the finding is about: the sender of the reset,
	// the side that closed, stopped reading, retransmits, or holds the
	// TIME-WAIT, CLOSE-WAIT or fds. SideNone means the path between the
	// endpoints (a middlebox).
	Side Side
	// Summary is one line of plain language that names endpoints by role
	// and address, with the numbers that matter. It quotes no packet
	// bytes, but a process name from /proc appears as read: sanitise it
	// for display like any other text from the system.
	Summary string
	// Frames are the evidence, in capture order (empty for a finding from
	// the kernel's view alone).
	Frames []uint64
}
