package capture

import (
	"errors"
	"strings"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/model"
)

// Defaults of LiveOptions.
const (
	// DefaultLiveSnaplen is how many bytes of each packet live capture
	// keeps: the headers, not the payload. The largest IPv4 header (60
	// bytes with options) plus the largest TCP header (60) behind an
	// Ethernet header with two VLAN tags (22) is 142 bytes; 160 also
	// covers IPv6 (40) with a short extension-header chain. Nothing past
	// the TCP header is needed, since payload lengths come from the IP
	// header, and keeping less means more packets fit the kernel ring
	// (fewer drops) and a -w file holds no user data. Tunnelled traffic
	// may need more (-s): a segment whose TCP header is cut is still
	// counted in its flow but not analysed (model.Segment.HeaderCut).
	DefaultLiveSnaplen = 160
	// DefaultRingSize is the kernel ring of one socket, in bytes, when at
	// most a few are open (an interface has ReadersPerInterface sockets,
	// which share its packets): at about 256 bytes a packet (header-only
	// snaplen plus the ring's own headers) it holds some 32,000 packets,
	// 160 ms at 200,000 packets/s, enough to ride out a garbage
	// collection or a busy CPU.
	DefaultRingSize = 8 << 20
	// DefaultRingBudget caps the rings of all sockets together when no
	// RingSize is given: with many interfaces (a container host) each of
	// n sockets gets DefaultRingBudget/n, but never less than
	// MinRingSize.
	DefaultRingBudget = 64 << 20
	// MinRingSize is the smallest ring a socket gets.
	MinRingSize = 1 << 20
	// DefaultReadTimeout is how long Next waits for a packet before it
	// returns ErrIdle: what an idle consumer's loop wakes for.
	DefaultReadTimeout = 250 * time.Millisecond
	// DefaultRescanEvery is how often the interface list is read again to
	// pick up interfaces that appeared or came back up. The kernel's link
	// notifications trigger a rescan at once besides; the period is the
	// fallback when one is missed, and the pace of retrying an interface
	// that failed to open.
	DefaultRescanEvery = 2 * time.Second
	// DefaultDedupWindow is how far apart in capture time two copies of a
	// packet seen on different interfaces may be and still count as one
	// packet (see LiveOptions.DedupWindow). Forwarding takes microseconds;
	// the slack is for a queue in front of the outgoing interface.
	DefaultDedupWindow = 50 * time.Millisecond
)

// Errors of live capture. Every error OpenLive returns wraps one of these
// or names the interface and the system call that failed.
var (
	// ErrNeedsLinux: live capture (and the privilege check) exist only on
	// Linux; reading files works everywhere.
	ErrNeedsLinux = errors.New("live capture needs Linux")
	// ErrNoInterface: an interface named in LiveOptions.Interfaces does not
	// exist; the error lists the ones that do.
	ErrNoInterface = errors.New("no such interface")
	// ErrPrivilege: the process lacks CAP_NET_RAW. The error says how to
	// get it. It also matches os.ErrPermission.
	ErrPrivilege = errors.New("live capture needs CAP_NET_RAW")
)

// LiveOptions configure OpenLive. The zero value captures every interface
// that is up, loopback included, headers only, without a filter.
type LiveOptions struct {
	// Interfaces to capture on, by name. Empty (or the single name "any")
	// means every interface that is up now, and every one that comes up
	// later. Named interfaces must exist; one that is down is listed in
	// Live.Interfaces as IfaceDown, with the reason, and captured when a
	// rescan finds it up.
	Interfaces []string
	// Snaplen is the most bytes kept of each packet: 0 means
	// DefaultLiveSnaplen; MaxCaptureLength keeps whole packets.
	Snaplen int
	// Filter is a pcap-filter expression ("tcp port 8080"). It is compiled
	// for each interface's link type and run in the kernel, so rejected
	// packets cost no copy. An invalid or unsupported expression makes
	// OpenLive fail with a *filter.SyntaxError naming the word.
	Filter string
	// Promisc puts the interfaces in promiscuous mode (off by default:
	// a server sees its own traffic without it).
	Promisc bool
	// RingSize is the kernel ring of each socket in bytes (0: see
	// DefaultRingSize and DefaultRingBudget); an interface has
	// ReadersPerInterface of them.
	RingSize int
	// ReadersPerInterface is how many sockets, each with its ring and
	// reader goroutine, read each interface (0 means 1): with more than
	// one, the kernel hands each packet to one of them by a hash of its
	// flow that is the same in both directions (a PACKET_FANOUT_HASH
	// group), so that reading and decoding run on several cores while a
	// connection's packets stay in one ring, in order; Next merges them in
	// capture-time order as it merges interfaces. One reader is the
	// default because it already keeps up with the analysis behind Next
	// (a ring read and a decode cost a fraction of what the flow table
	// does with the segment), and more readers then only take CPU from it.
	ReadersPerInterface int
	// ReadTimeout is how long Next waits before returning ErrIdle
	// (0: DefaultReadTimeout).
	ReadTimeout time.Duration
	// RescanEvery is how often interfaces are listed again, besides at
	// each link notification (0: DefaultRescanEvery; negative: never, and
	// no notifications either).
	RescanEvery time.Duration
	// DedupWindow: a TCP segment seen on one interface whose copy was
	// already seen on another interface within this capture-time window
	// is the same packet (forwarded by this host, bridged, or seen on a
	// VLAN device and its parent) and is dropped, so that it is not
	// counted twice or taken for a retransmission. Copies on the same
	// interface are always kept. 0: DefaultDedupWindow; negative: off.
	DedupWindow time.Duration
	// Writer, if set, receives every captured packet (after the filter,
	// forwarded copies included) as pcapng, in frame order from Next;
	// each interface is added to it as it is opened. The caller creates
	// the Writer and closes it after Close, which writes each interface's
	// counters to it and flushes it. Packets the kernel dropped
	// (KernelDrops) or a slow consumer made Run drop (QueueDrops) are
	// missing from the file too.
	Writer *Writer
	// Comment, if set, returns the pcapng comment written with a packet
	// that carries a TCP segment (OwnerComment formats the owning
	// process). It is called from Next, one packet at a time, so it must
	// be quick; seg (with its frame number) is only valid during the call.
	Comment func(seg *model.Segment) string
	// Tee, if set, is called with every captured packet (after the
	// filter, forwarded copies included) from Next, in frame order, just
	// before its segment is returned. iface is the index in Interfaces();
	// ci.InterfaceIndex is the kernel's interface index. data is reused
	// when Tee returns: copy what you keep. With Tee or Writer set, the
	// readers copy each packet's captured bytes (the snaplen) for it.
	Tee func(iface int, ci gopacket.CaptureInfo, data []byte)
	// OnSegment, if set, is called from Next with each TCP segment it is
	// about to return (after the deduplication of forwarded copies) and
	// the packet it came from: the flight recorder of watch mode keeps
	// the last packets of every flow this way. seg and pkt.Data are only
	// valid during the call: copy what you keep. It runs on the
	// goroutine calling Next, one segment at a time, so it must be quick.
	// With OnSegment set the readers copy each packet's captured bytes
	// (the snaplen) for it; unset, it costs nothing per packet.
	OnSegment func(seg *model.Segment, pkt SegmentPacket)
	// OnEvent, if set, is told when an interface is added, lost or cannot
	// be opened after OpenLive returned. It is called on a capture
	// goroutine and must not block.
	OnEvent func(LiveEvent)

	// forceRecvmsg makes every interface use the recvmsg fallback, so
	// that tests can exercise it.
	forceRecvmsg bool
}

// SegmentPacket is the packet a segment handed to LiveOptions.OnSegment
// came from.
type SegmentPacket struct {
	// Data is the packet's captured bytes (at most the snaplen), valid
	// only during the call.
	Data []byte
	// Length is the packet's length on the wire.
	Length int
	// Iface is the interface's index in Live.Interfaces(), IfaceName its
	// name and Link its link type.
	Iface     int
	IfaceName string
	Link      LinkType
	// Snaplen is the capture's snaplen, for a pcapng interface block.
	Snaplen int
}

// CaptureInfo returns what Writer.WritePacket needs to write a packet
// captured at ts (ns since the epoch) as one of pcapng interface id (an
// ID Writer.AddInterface returned), with capLen bytes kept of wireLen.
// It lets a package that keeps packets write them without importing
// gopacket.
func CaptureInfo(ts int64, capLen, wireLen, id int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: capLen, Length: wireLen, InterfaceIndex: id}
}

// withDefaults returns the options with each zero value replaced by its
// default and Snaplen kept within MaxCaptureLength. Negative RescanEvery
// and DedupWindow stay negative: they mean "never" and "off".
func (o LiveOptions) withDefaults() LiveOptions {
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultLiveSnaplen
	}
	o.Snaplen = min(o.Snaplen, MaxCaptureLength)
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.RescanEvery == 0 {
		o.RescanEvery = DefaultRescanEvery
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	return o
}

// readers returns how many sockets read each interface.
func (o LiveOptions) readers() int {
	return max(o.ReadersPerInterface, 1)
}

// named returns the interfaces named in Interfaces, blanks and "any"
// left out; an empty set means every interface.
func (o LiveOptions) named() map[string]bool {
	named := map[string]bool{}
	for _, n := range o.Interfaces {
		if n = strings.TrimSpace(n); n != "" && n != "any" {
			named[n] = true
		}
	}
	return named
}

// validate checks what can be checked before anything is opened, and
// without privileges: the filter expression (a *filter.SyntaxError naming
// the word). o must have its defaults applied.
func (o LiveOptions) validate() error {
	if o.Filter == "" {
		return nil
	}
	_, err := filter.Compile(o.Filter, uint16(LinkEthernet), uint32(o.Snaplen))
	return err
}
