// Package filter compiles pcap-filter(7) expressions ("tcp port 80 and host
// 10.0.0.1") to classic BPF with golang.org/x/net/bpf, so that connscope can
// attach the same program in the kernel for live capture (SO_ATTACH_FILTER,
// see Program.Raw) and run it in the x/net/bpf virtual machine for capture
// files (Program.Match).
//
// # Contract
//
// The verdicts are libpcap's: for every supported expression and link type a
// packet is accepted exactly when libpcap 1.10 (tcpdump -r FILE EXPR) accepts
// it, including the corner cases that make hand-written filters wrong: the
// fragment-offset test before port loads, the IPv4 header length taken from
// the packet (ldxb 4*([k]&0xf)), `host` also matching ARP and RARP, a bare
// `port` meaning tcp, udp or sctp over IPv4 and IPv6, the IPv6 fragment
// header for protocol tests, `and` and `or` sharing one precedence, the
// operators `%` and `^` taking everything to their right, and `vlan` moving
// every later test of the expression onto the inner headers. A load beyond
// the captured bytes rejects the packet, as it does in the kernel, so
// truncated captures agree too. The differential test runs libpcap (through
// tcpdump) on every shared capture and fixture to prove it, and keeps
// libpcap's verdicts in testdata for machines without tcpdump.
//
// The package is pure: it does no I/O and never panics, whatever the
// expression or packet. A Program is immutable and safe for concurrent
// use. Every compile error is a *SyntaxError naming the offending word and
// its byte offset, and words that pcap-filter knows but connscope does not
// compile (gateway, mpls, pppoes, host names that need DNS, ...) say so by
// name and wrap ErrUnsupported. A SyntaxError's message and caret line
// spell out control characters of the expression as Go escapes, so that
// printing them cannot drive a terminal.
//
// # Link types
//
// Offsets are computed per LINKTYPE_ value: Ethernet (1), Linux cooked
// capture v1 (113) and v2 (276), raw IP (101, and the historical 12 and 14:
// IPv4 or IPv6 told apart by the version nibble), raw IPv4 (228) and raw
// IPv6 (229), BSD loopback (0, the address family in the byte order of the
// machine that captured, see NullByteOrder) and OpenBSD loopback (108, family
// in network byte order). Any other link type gives an error wrapping
// ErrLinkType. `vlan` is defined on Ethernet only, as in libpcap.
//
// # Programs
//
// The compiler emits libpcap's evaluation order (which matters only for
// which loads a truncated packet reaches) and then runs a small optimizer
// that threads jumps whose outcome earlier tests already decided, merges
// blocks that do the same thing and removes reloads of values already in a
// register; none of it can change a verdict. Programs come out about the
// size of libpcap's ("port 80" is 24 instructions in both). Conditional
// jumps reach at most 255 instructions, so longer ones go through shared
// `ja` trampolines.
//
// The kernel accepts at most 4,096 instructions, and less in practice: it
// charges the translated program to the socket's option memory
// (net.core.optmem_max; at 128 KiB about 2,100 instructions, an OR of some
// 260 hosts). The VM has no limit.
//
// Two libpcap behaviours are not reproduced. libpcap's own optimizer may
// reorder loads (in an OR of hosts it compares every source address
// before the first destination), so on a packet cut short inside the
// tested headers tcpdump can differ from its unoptimized program (tcpdump
// -O); this package keeps the unoptimized order. And in live capture
// libpcap tests the first `vlan` with the kernel's VLAN metadata, because
// Linux strips the tag from the frame; this package always reads the tag
// from the frame, as libpcap does for capture files.
//
// The x/net/bpf VM cannot evaluate the packet-type extension that the live
// loopback prefix (DropOutgoing) uses, nor does a capture file record the
// packet type, so Match runs the program without that prefix. The VM's `len`
// is the captured length; MatchLen takes the original length for `len`,
// `less` and `greater` on truncated captures, as libpcap does.
package filter
