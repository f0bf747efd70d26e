package kevents

import (
	"encoding/binary"
	"net/netip"

	"github.com/connscope/connscope/model"
)

// evType is what the source does with a record.
type evType uint8

const (
	evState evType = iota
	evSendReset
	evRecvReset
	evRetransmit
	evSynAck
	evDrop
	evBadCsum  // joins a TCP_CSUM drop to its endpoints
	evNewTask  // task:task_newtask: pid -> process, command name
	evRenameTk // task:task_rename: exec or prctl(PR_SET_NAME)
)

// Address families as the kernel numbers them, and the ethertypes of
// kfree_skb's protocol field.
const (
	afInet      = 2
	afInet6     = 10
	ipprotoTCP  = 6
	ethIPv4     = 0x0800
	ethIPv6     = 0x86dd
	cloneThread = 0x10000
)

// common_flags bits (kernel/trace/trace.h): the event ran in hardirq,
// softirq or NMI context.
const (
	flagHardIRQ = 0x08
	flagSoftIRQ = 0x10
	flagNMI     = 0x40
	notProcess  = flagHardIRQ | flagSoftIRQ | flagNMI
)

// decoder turns the records of one event type into values. Its fields are
// the format file's, located once at Open; an absent field has size 0
// and reads as zero.
type decoder struct {
	typ evType
	// localIsDst: the event stores the packet's source first (tcp_bad_csum),
	// so the local endpoint is its destination.
	localIsDst bool

	flags, pid                         field
	family, sport, dport               field
	saddr, daddr, saddr6, daddr6       field
	sockaddr                           bool // saddr/daddr hold struct sockaddr_in6
	skaddr, skbaddr, rxsk              field
	oldstate, newstate, state          field
	protocol, reason, cookie           field
	taskPID, comm, newcomm, cloneFlags field
	reasons                            map[uint64]string // the kernel's enum names
}

// newDecoder locates the fields of f that typ uses.
func newDecoder(typ evType, f *format) *decoder {
	g := func(n string) field { return f.Fields[n] }
	d := &decoder{
		typ: typ, flags: g("common_flags"), pid: g("common_pid"),
		family: g("family"), sport: g("sport"), dport: g("dport"),
		saddr: g("saddr"), daddr: g("daddr"), saddr6: g("saddr_v6"), daddr6: g("daddr_v6"),
		skaddr: g("skaddr"), skbaddr: g("skbaddr"), rxsk: g("rx_sk"),
		oldstate: g("oldstate"), newstate: g("newstate"), state: g("state"),
		protocol: g("protocol"), reason: g("reason"), cookie: g("sock_cookie"),
		taskPID: g("pid"), comm: g("comm"), newcomm: g("newcomm"), cloneFlags: g("clone_flags"),
	}
	d.sockaddr = d.saddr.Size >= 16 && d.sport.Size == 0
	d.localIsDst = typ == evBadCsum
	if d.reason.Size > 0 {
		d.reasons, _ = f.symbolTable("reason")
	}
	return d
}

// inProcess reports whether a record ran in process context.
func (d *decoder) inProcess(rec []byte) bool {
	return d.flags.get(rec)&notProcess == 0 && int32(d.pid.get(rec)) > 0
}

// reasonName returns the kernel's name of a record's reason, "" when the
// event has none, or "UNKNOWN" for a value missing from the table.
func (d *decoder) reasonName(rec []byte) string {
	if d.reason.Size == 0 || d.reasons == nil {
		return ""
	}
	if n, ok := d.reasons[d.reason.get(rec)]; ok {
		return n
	}
	return "UNKNOWN"
}

// endpoints decodes a record's addresses, local first.
func (d *decoder) endpoints(rec []byte) (fam model.Family, local, remote netip.AddrPort, ok bool) {
	var src, dst netip.AddrPort
	if d.sockaddr {
		var f1, f2 uint16
		f1, src = sockaddr(d.saddr.bytes(rec))
		f2, dst = sockaddr(d.daddr.bytes(rec))
		switch {
		case f1 == afInet6 || f2 == afInet6:
			fam = model.FamilyIPv6
		case f1 != afInet && f2 != afInet:
			return 0, local, remote, false
		}
	} else {
		sp, dp := uint16(d.sport.get(rec)), uint16(d.dport.get(rec))
		s6, d6 := addr16(d.saddr6.bytes(rec)), addr16(d.daddr6.bytes(rec))
		v6 := d.family.get(rec) == afInet6
		if d.family.Size == 0 { // kernels without the field: v4-mapped means IPv4
			v6 = s6.IsValid() && !s6.Is4In6() && !s6.IsUnspecified()
		}
		if v6 {
			fam = model.FamilyIPv6
			src, dst = netip.AddrPortFrom(s6.Unmap(), sp), netip.AddrPortFrom(d6.Unmap(), dp)
		} else {
			s4, d4 := addr4(d.saddr.bytes(rec)), addr4(d.daddr.bytes(rec))
			if !s4.IsValid() { // only the v6 fields exist: take the mapped address
				s4, d4 = s6.Unmap(), d6.Unmap()
			}
			src, dst = netip.AddrPortFrom(s4, sp), netip.AddrPortFrom(d4, dp)
		}
	}
	if d.localIsDst {
		return fam, dst, src, true
	}
	return fam, src, dst, true
}

// sockaddr decodes a struct sockaddr_in or sockaddr_in6 as the tracepoints
// store it (family in host order, port in network order).
func sockaddr(b []byte) (uint16, netip.AddrPort) {
	if len(b) < 8 {
		return 0, netip.AddrPort{}
	}
	fam := binary.NativeEndian.Uint16(b)
	port := binary.BigEndian.Uint16(b[2:])
	switch {
	case fam == afInet:
		return fam, netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)
	case fam == afInet6 && len(b) >= 24:
		return fam, netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), port)
	}
	return fam, netip.AddrPort{}
}

func addr4(b []byte) netip.Addr {
	if len(b) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(b))
}

func addr16(b []byte) netip.Addr {
	if len(b) != 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(b))
}

// kindOf maps a socket or drop event type to its model kind.
var kindOf = [...]model.KernelEventKind{
	evState:      model.KernelStateChange,
	evSendReset:  model.KernelResetSent,
	evRecvReset:  model.KernelResetReceived,
	evRetransmit: model.KernelRetransmit,
	evSynAck:     model.KernelSynAckRetransmit,
	evDrop:       model.KernelDrop,
}

// decode fills ev from a socket or drop record (not task records). It
// returns false for a record to skip: a state change of a non-TCP socket
// (MPTCP, SCTP), or a drop of a non-IP packet.
func (d *decoder) decode(rec []byte, ev *model.KernelEvent) bool {
	*ev = model.KernelEvent{Kind: kindOf[d.typ], InProcess: d.inProcess(rec)}
	ev.TID = int32(d.pid.get(rec))
	switch d.typ {
	case evDrop:
		switch d.protocol.get(rec) {
		case ethIPv4:
			ev.Family = model.FamilyIPv4
		case ethIPv6:
			ev.Family = model.FamilyIPv6
		default:
			return false
		}
		ev.Reason = d.reasonName(rec)
		ev.Socket = d.rxsk.get(rec)
		return true
	case evState:
		if d.protocol.Size > 0 && d.protocol.get(rec) != ipprotoTCP {
			return false
		}
		ev.RawOld, ev.RawNew = uint8(d.oldstate.get(rec)), uint8(d.newstate.get(rec))
	case evSendReset, evRetransmit:
		ev.RawNew = uint8(d.state.get(rec))
		ev.Reason = d.reasonName(rec)
	}
	ev.OldState = model.StateFromLinux(ev.RawOld) // 0 (none) is StateUnknown
	ev.NewState = model.StateFromLinux(ev.RawNew)
	ev.Socket = d.skaddr.get(rec)
	ev.Cookie = d.cookie.get(rec)
	var ok bool
	ev.Family, ev.Local, ev.Remote, ok = d.endpoints(rec)
	return ok
}

// commString returns a fixed-size comm field as a string (up to its NUL).
func commString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
