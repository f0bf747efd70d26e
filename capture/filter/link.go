package filter

// linkKind says how the network-layer protocol is identified.
type linkKind uint8

const (
	lkEthernet linkKind = iota + 1 // EtherType at offLinkType
	lkSLL                          // Linux cooked v1: protocol at 14
	lkSLL2                         // Linux cooked v2: protocol at 0
	lkRaw                          // raw IP: version nibble
	lkIPv4                         // raw IPv4 only
	lkIPv6                         // raw IPv6 only
	lkNull                         // BSD loopback: family in the capturing host's order
	lkLoop                         // OpenBSD loopback: family in network order
)

// linkInfo is the fixed layout of one link type.
type linkInfo struct {
	kind        linkKind
	name        string // for error messages
	offLinkType uint32 // offset of the EtherType-like protocol field
	offNL       uint32 // offset of the network-layer header
}

// LINKTYPE_ values this package compiles for.
const (
	LinkTypeNull      uint16 = 0   // BSD loopback
	LinkTypeEthernet  uint16 = 1   // Ethernet (and 802.1Q inside it)
	LinkTypeLoop      uint16 = 108 // OpenBSD loopback
	LinkTypeRaw       uint16 = 101 // raw IPv4 or IPv6
	LinkTypeLinuxSLL  uint16 = 113 // Linux cooked capture v1
	LinkTypeIPv4      uint16 = 228 // raw IPv4
	LinkTypeIPv6      uint16 = 229 // raw IPv6
	LinkTypeLinuxSLL2 uint16 = 276 // Linux cooked capture v2
)

// Address families in BSD loopback headers. AF_INET is 2 everywhere;
// AF_INET6 is not, so, as libpcap does for capture files, "ip6" accepts
// the values of the BSDs (24), FreeBSD (28) and Darwin (30). Linux's 10
// never appears: Linux captures loopback as Ethernet.
const (
	afInet         = 2
	afInet6BSD     = 24
	afInet6FreeBSD = 28
	afInet6Darwin  = 30
)

// linkFor returns the layout of a LINKTYPE_ value.
func linkFor(lt uint16) (linkInfo, bool) {
	switch lt {
	case LinkTypeEthernet:
		return linkInfo{kind: lkEthernet, name: "Ethernet", offLinkType: 12, offNL: 14}, true
	case LinkTypeLinuxSLL:
		return linkInfo{kind: lkSLL, name: "Linux cooked capture v1", offLinkType: 14, offNL: 16}, true
	case LinkTypeLinuxSLL2:
		return linkInfo{kind: lkSLL2, name: "Linux cooked capture v2", offLinkType: 0, offNL: 20}, true
	case LinkTypeRaw, 12, 14: // DLT_RAW is 12, or 14 on OpenBSD, in old files
		return linkInfo{kind: lkRaw, name: "raw IP"}, true
	case LinkTypeIPv4:
		return linkInfo{kind: lkIPv4, name: "raw IPv4"}, true
	case LinkTypeIPv6:
		return linkInfo{kind: lkIPv6, name: "raw IPv6"}, true
	case LinkTypeNull:
		return linkInfo{kind: lkNull, name: "BSD loopback", offNL: 4}, true
	case LinkTypeLoop:
		return linkInfo{kind: lkLoop, name: "OpenBSD loopback", offNL: 4}, true
	}
	return linkInfo{}, false
}
