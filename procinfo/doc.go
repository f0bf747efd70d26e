// Package procinfo reads the kernel's side of every TCP connection: the
// socket table of each network namespace (netlink INET_DIAG with
// TCP_INFO, all states, IPv4 and IPv6), the process owning each socket
// (from /proc/PID/fd), each process's name, command line, user, fd count
// against RLIMIT_NOFILE and fd growth, and the TcpExt ListenOverflows and
// ListenDrops counters. It produces model.KernelView values and nothing
// else: joining them to flows is the tracker's job.
//
// # Contract
//
// Poller.Poll takes one synchronous snapshot; Poller.Run polls on its own
// goroutine and hands over only the latest view (a stale one waiting in
// the channel is replaced). A Poller keeps caches between polls: the
// socket inodes of each process's fd table are rescanned only when its fd
// count changed, or when a socket inode no fd table explains appears
// (then the tables of the socket's uid, then everyone's, are reread, once
// per new inode). Process metadata is fetched once per process (pid and
// start time). fd counts come from stat("/proc/PID/fd").Size (Linux >=
// 6.2), counting the entries on older kernels.
//
// Each namespace's socket table is one INET_DIAG dump for both address
// families (the original tcp_diag request walks the kernel's shared hash
// tables once, where per-family requests walk them twice); a kernel that
// refuses it gets per-family requests. A poll of 20,000 sockets costs
// about 40-65 ms of CPU once the fd tables are cached.
//
// Sockets of processes in other network namespaces (containers, ip netns)
// are dumped inside their namespace, entered with setns on a locked
// thread that is discarded if it cannot be restored, and labelled by the
// namespace's name or inode.
//
// Missing privileges degrade, never silently: what could not be read is
// listed in KernelView.Limitations with the capability that would allow
// it, and each socket without an owner carries a model.OwnerStatus that
// says why (TIME-WAIT, accept queue, orphan, denied, not visible).
//
// Linux code lives in _linux.go files; elsewhere New returns
// ErrUnsupported ("live process data needs Linux"). The parsers of /proc
// text and of INET_DIAG messages take readers or bytes and build on every
// platform, so they are tested everywhere.
package procinfo
