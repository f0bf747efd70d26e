// Package kevents reads what the Linux kernel says about TCP sockets as it
// happens: every state change, each reset sent (with the kernel's reason)
// or received, retransmissions, and packets dropped (with the drop
// reason), each with the task it ran in and whether that was process
// context. It produces model.KernelEvent values and nothing else: joining
// them to flows and owners is the tracker's job.
//
// # Mechanism
//
// A Source owns a tracefs instance (instances/PREFIX-PID-START-SEQ, its own
// ring buffer) with these events enabled: sock:inet_sock_set_state
// (filtered in the kernel to IPPROTO_TCP), tcp:tcp_send_reset,
// tcp:tcp_receive_reset, tcp:tcp_retransmit_skb, tcp:tcp_retransmit_synack,
// skb:kfree_skb (IPv4 and IPv6, without the NOT_SPECIFIED and QUEUE_PURGE
// frees of ordinary traffic), tcp:tcp_bad_csum (to give a TCP_CSUM drop its
// endpoints) and task:task_newtask and task:task_rename (to name tasks).
// It reads the per-CPU trace_pipe_raw pages without blocking and decodes
// them with the events' format files, so field offsets and enum names come
// from the running kernel: reset and drop reasons are the names in the
// format file's __print_symbolic table (the enums were renumbered between
// releases, so no number is built in). This was chosen over eBPF programs
// because it needs no BPF program or verifier, gives each event the
// kernel's own process-context flag (common_flags), works from Linux 4.16,
// and does not depend on perf_event_paranoid; eBPF could add what tracefs
// lacks (network namespace, addresses of dropped packets) at the price of
// CAP_BPF+CAP_PERFMON and programs kept in step with kernel structures.
//
// Timestamps: the instance's trace clock is set to "boot" (CLOCK_BOOTTIME,
// which keeps counting across suspend; "mono" on kernels without it). Each
// Read converts them to Unix nanoseconds with the offset CLOCK_REALTIME -
// CLOCK_BOOTTIME measured between two readings of the boot clock, so a
// step of the wall clock applies from the next Read on.
//
// # What each event carries, and what it cannot
//
// Local and Remote are the socket's endpoints as it sees them. A connect
// (CLOSED to SYN-SENT) is recorded before the kernel picks the local port:
// Read completes it from the socket's next event (kept back for one more
// Read at most). A full socket goes from FIN-WAIT-2 (or CLOSING) to CLOSED
// when its TIME-WAIT mini-socket takes over: there is no TIME-WAIT event.
// A reset sent by a listener carries the listener's endpoints (remote
// unspecified); a reset answering a segment for no socket carries the
// segment's endpoints reversed, and Socket 0.
//
// Owners: PID, TID and Comm name the task the event ran in; Comm comes from
// the event stream (a task's creation and renames), so it is right even
// for a process that has exited, and /proc is asked only about threads
// born before the source opened. Only events with InProcess name the
// socket's owner (model.KernelEvent.IsOwnerEvent): connect() (to
// SYN-SENT), listen(), and close() or shutdown() (out of ESTABLISHED or
// CLOSE-WAIT), including the close of every socket of a process that
// exits. Events in softirq run in whatever task the CPU interrupted: on
// loopback the server's SYN-RECEIVED and ESTABLISHED run in the client's
// task. accept() changes no state, so an accepted connection's owner is
// known only when it closes; a TIME-WAIT socket has none.
//
// Drops: kfree_skb carries the reason and the packet's ethertype but no
// addresses. A drop gets endpoints when the kernel ties it to something
// that has them: the reset answering the same packet (NO_SOCKET), a
// tcp_bad_csum event (TCP_CSUM), or the receiving socket (rx_sk, Linux
// >= 6.12) when an earlier event of that socket was read (a listener, for
// TCP_LISTEN_OVERFLOW: its local endpoint only). A NETFILTER_DROP has
// none, and a UDP drop cannot be told from a TCP one except by such a
// tie. On Linux 6.18 a SYN refused because the accept queue is full is
// freed without a reason (counted in ListenOverflows only):
// TCP_LISTEN_OVERFLOW marks the last ACK of a handshake that finds the
// queue full.
//
// Not available from these tracepoints: the network namespace (NetNS is
// always 0; join by endpoints), the socket cookie except on resets
// received. Status lists every missing or partial part with its reason,
// including those an older kernel lacks (no reset reason before 6.10, no
// drop reason before 5.17).
//
// # Privileges and degradation
//
// Opening needs root, or CAP_SYS_ADMIN (to mount tracefs when nothing
// has) plus write access to tracefs (owned by root, mode 0700: root, or
// CAP_DAC_OVERRIDE):
// perf_event_paranoid does not apply. tracefs is found in
// /proc/self/mountinfo, or mounted at /sys/kernel/tracing as perf does,
// or found under debugfs. A tracefs this package mounted is left mounted,
// as perf leaves it: another tracer may have found it since. When nothing
// can be read Open returns an *Error whose message says in one line which
// evidence is missing and why ("kernel events unavailable: tracefs not
// mounted and cannot be mounted (needs CAP_SYS_ADMIN)").
//
// # Cost and bounds
//
// Nothing touches the packet capture path. The kernel writes each event
// into the instance's ring buffer (Options.BufferKB per CPU, 2 MiB by
// default); when the reader falls behind the kernel overwrites the oldest
// events and counts them (Stats.KernelLost): it never waits for the
// reader. A Read takes at most Options.MaxPages pages, reusing its page
// buffers; Run reads every Options.Interval (50 ms; backing off to 200 ms
// while nothing happens) and hands each batch to a channel without
// blocking, counting a batch the consumer had no
// room for (Stats.QueueDropped). The task and socket tables are capped.
// Measured on a 2-core VM under 9,000 connections/s of loopback churn
// (about 92,000 events/s): the reader used 3% of one core (0.3 us per
// event) and lost nothing; see TestChurn_ReaderKeepsUp.
//
// # Cleanup
//
// Close closes the buffers and removes the instance (which disables its
// events); it always releases what it can and may be called more than
// once. The owning program should call it on SIGINT and SIGTERM. A
// process killed before Close (SIGKILL) leaves its instance: the name
// carries the owner's pid and start time, and the next Open with the same
// prefix removes instances whose owner is gone. Two sources, in one
// process or two, never share an instance and do not disturb each other.
package kevents
