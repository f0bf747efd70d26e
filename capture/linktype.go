package capture

import "strconv"

// LinkType is a tcpdump.org LINKTYPE_* number: the framing of the packets of
// one capture file or pcapng interface.
type LinkType uint16

// Link types the decoder understands. LINKTYPE values are used, not the DLT_*
// values of any one platform (they differ for raw IP: DLT_RAW is 12 on most
// systems and 14 on OpenBSD; both appear in old files and both mean raw IP).
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in the writer's byte order
	LinkEthernet  LinkType = 1   // Ethernet II, 802.3 with LLC/SNAP, VLAN tags
	LinkPPP       LinkType = 9   // PPP, with or without the HDLC address/control bytes
	LinkFDDI      LinkType = 10  // FDDI with 802.2 LLC/SNAP
	LinkRaw12     LinkType = 12  // raw IP, historical number used by some writers
	LinkRaw14     LinkType = 14  // raw IP, OpenBSD's historical number
	LinkPPPHDLC   LinkType = 50  // PPP in HDLC-like framing
	LinkRaw       LinkType = 101 // raw IP (version from the first nibble)
	LinkCHDLC     LinkType = 104 // Cisco HDLC
	LinkLoop      LinkType = 108 // OpenBSD loopback: address family in network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkNFLOG     LinkType = 239 // Linux netfilter log (NFLOG) TLVs
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2 (tcpdump -i any)
)

var linkNames = map[LinkType]string{
	LinkNull: "NULL", LinkEthernet: "ETHERNET", LinkPPP: "PPP", LinkFDDI: "FDDI",
	LinkRaw12: "RAW(12)", LinkRaw14: "RAW(14)", LinkPPPHDLC: "PPP_HDLC", LinkRaw: "RAW",
	LinkCHDLC: "C_HDLC", LinkLoop: "LOOP", LinkLinuxSLL: "LINUX_SLL", LinkNFLOG: "NFLOG",
	LinkIPv4: "IPV4", LinkIPv6: "IPV6", LinkLinuxSLL2: "LINUX_SLL2",
}

// A few link types that are common in the wild but carry no TCP we can
// reach; naming them makes the "not supported" error easier to act on.
var otherLinkNames = map[LinkType]string{
	105: "IEEE802_11", 119: "PRISM_HEADER", 127: "IEEE802_11_RADIOTAP", 147: "USER0",
	163: "IEEE802_11_AVS", 189: "USB_LINUX", 192: "PPI", 195: "IEEE802_15_4",
	201: "BLUETOOTH_HCI_H4_WITH_PHDR", 220: "USB_LINUX_MMAPPED", 249: "NETLINK",
	251: "BLUETOOTH_LE_LL", 254: "BLUETOOTH_LINUX_MONITOR", 258: "PKTAP", 117: "PFLOG",
}

// String returns the LINKTYPE_ name without its prefix, or the number.
func (l LinkType) String() string {
	if s, ok := linkNames[l]; ok {
		return s
	}
	if s, ok := otherLinkNames[l]; ok {
		return s
	}
	return "LINKTYPE_" + strconv.Itoa(int(l))
}

// Supported reports whether the decoder can find TCP in packets of this
// link type.
func (l LinkType) Supported() bool {
	_, ok := linkNames[l]
	return ok
}
