package filter

// IP protocol numbers the generator uses.
const (
	ipprotoUndef  = 0 // no protocol: "port 80" means tcp, udp or sctp
	ipprotoICMP   = 1
	ipprotoIGMP   = 2
	ipprotoTCP    = 6
	ipprotoIGRP   = 9
	ipprotoUDP    = 17
	ipprotoFrag   = 44 // IPv6 fragment header
	ipprotoESP    = 50
	ipprotoAH     = 51
	ipprotoICMPv6 = 58
	ipprotoPIM    = 103
	ipprotoVRRP   = 112
	ipprotoSCTP   = 132
)

// EtherTypes.
const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeRARP = 0x8035
	etherTypeIPv6 = 0x86dd
	etherTypeQ    = 0x8100 // 802.1Q
	etherTypeQinQ = 0x88a8 // 802.1ad
	etherTypeQ91  = 0x9100 // pre-standard QinQ
)

// service is a named port and the transport it is registered for.
type service struct {
	port  uint32
	proto uint8 // ipprotoTCP, ipprotoUDP, or ipprotoUndef for both
}

// services is the part of Debian's /etc/services (netbase) that people
// type in capture filters. libpcap reads the file at compile time; a fixed
// table keeps this package free of I/O and gives the same answer on every
// machine. A name registered for tcp only means tcp only, as in libpcap:
// "port http" is "tcp port 80".
var services = map[string]service{
	"ftp-data": {20, ipprotoTCP}, "ftp": {21, ipprotoTCP}, "ssh": {22, ipprotoTCP},
	"telnet": {23, ipprotoTCP}, "smtp": {25, ipprotoTCP}, "mail": {25, ipprotoTCP},
	"domain": {53, ipprotoUndef}, "bootps": {67, ipprotoUDP}, "bootpc": {68, ipprotoUDP},
	"tftp": {69, ipprotoUDP}, "http": {80, ipprotoTCP}, "www": {80, ipprotoTCP},
	"kerberos": {88, ipprotoUndef}, "pop3": {110, ipprotoTCP}, "pop-3": {110, ipprotoTCP},
	"ntp": {123, ipprotoUDP}, "netbios-ns": {137, ipprotoUDP}, "imap2": {143, ipprotoTCP},
	"imap": {143, ipprotoTCP}, "snmp": {161, ipprotoUndef}, "snmp-trap": {162, ipprotoUndef},
	"snmptrap": {162, ipprotoUndef}, "bgp": {179, ipprotoTCP}, "ldap": {389, ipprotoUndef},
	"https": {443, ipprotoUndef}, "microsoft-ds": {445, ipprotoTCP}, "isakmp": {500, ipprotoUDP},
	"syslog": {514, ipprotoUDP}, "submission": {587, ipprotoTCP}, "ldaps": {636, ipprotoUndef},
	"domain-s": {853, ipprotoUndef}, "rsync": {873, ipprotoTCP}, "imaps": {993, ipprotoTCP},
	"pop3s": {995, ipprotoTCP}, "openvpn": {1194, ipprotoUndef}, "radius": {1812, ipprotoUndef},
	"nfs": {2049, ipprotoUndef}, "mysql": {3306, ipprotoTCP}, "ms-wbt-server": {3389, ipprotoTCP},
	"sip": {5060, ipprotoUndef}, "xmpp-client": {5222, ipprotoTCP}, "mdns": {5353, ipprotoUDP},
	"postgresql": {5432, ipprotoTCP}, "postgres": {5432, ipprotoTCP}, "amqp": {5672, ipprotoTCP},
	"redis": {6379, ipprotoTCP}, "http-alt": {8080, ipprotoTCP}, "webcache": {8080, ipprotoTCP},
	"git": {9418, ipprotoTCP},
}

// ipProtocols maps /etc/protocols names to numbers, for "proto \tcp".
var ipProtocols = map[string]uint32{
	"ip": 0, "icmp": 1, "igmp": 2, "ipencap": 4, "tcp": 6, "egp": 8, "udp": 17,
	"ipv6": 41, "ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46, "gre": 47, "esp": 50,
	"ah": 51, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ospf": 89,
	"pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136,
}

// etherProtocols maps libpcap's EtherType names, for "ether proto \ip".
var etherProtocols = map[string]uint32{
	"ip": etherTypeIPv4, "ip6": etherTypeIPv6, "arp": etherTypeARP, "rarp": etherTypeRARP,
}

// ipprotoName names a transport protocol for error messages.
func ipprotoName(p uint8) string {
	switch p {
	case ipprotoTCP:
		return "tcp"
	case ipprotoUDP:
		return "udp"
	case ipprotoSCTP:
		return "sctp"
	}
	return "any"
}
