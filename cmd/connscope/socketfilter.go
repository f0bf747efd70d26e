package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/model"
)

// socketFilter decides which sockets of the kernel's table, seen without
// packets, become rows of a live capture: those the capture could have
// seen. A socket is kept when it is in the capture's own network
// namespace, its local address is on one of the interfaces captured (any
// loopback address for lo), and the capture filter accepts a TCP segment
// between its endpoints in either direction. The processes pane is not
// narrowed: a process's sockets are counted wherever they are.
type socketFilter struct {
	// netns is the capture's namespace inode; 0 keeps every namespace.
	netns uint64
	// ifaces are the interfaces named with -i; none keeps every address.
	ifaces []string
	// prog is the capture filter compiled for Ethernet framing (nil: none).
	prog *filter.Program

	mu      sync.Mutex
	addrs   []ifaceAddr
	addrsAt time.Time
}

// ifaceAddr is an address of a captured interface: on loopback the whole
// prefix is local (127.0.0.0/8), elsewhere the address alone.
type ifaceAddr struct {
	pfx  netip.Prefix
	loop bool
}

// addrsEvery is how often the interfaces' addresses are read again (an
// address added to an interface, an interface that came up).
const addrsEvery = 5 * time.Second

// newSocketFilter returns the filter of a live capture on ifaces with the
// capture filter expr, in the namespace whose inode is netns (0: any);
// nil when it would keep everything.
func newSocketFilter(ifaces []string, expr string, netns uint64) *socketFilter {
	sf := &socketFilter{netns: netns}
	for _, n := range ifaces {
		if n != "" && n != "any" {
			sf.ifaces = append(sf.ifaces, n)
		}
	}
	if expr != "" {
		// An expression that does not compile is reported when the
		// capture opens; here it keeps every socket.
		if p, err := filter.Compile(expr, uint16(capture.LinkEthernet), 0); err == nil {
			sf.prog = p
		}
	}
	if sf.netns == 0 && len(sf.ifaces) == 0 && sf.prog == nil {
		return nil
	}
	return sf
}

// keep reports whether a socket without packets becomes a row.
func (sf *socketFilter) keep(s *model.Socket) bool {
	if sf.netns != 0 && s.NetNS != 0 && s.NetNS != sf.netns {
		return false
	}
	if len(sf.ifaces) > 0 && !sf.local(s.Local.Addr().Unmap()) {
		return false
	}
	if sf.prog != nil {
		return sf.prog.Match(tcpFrame(s.Local, s.Remote)) || sf.prog.Match(tcpFrame(s.Remote, s.Local))
	}
	return true
}

// local reports whether a is an address of a captured interface.
func (sf *socketFilter) local(a netip.Addr) bool {
	sf.mu.Lock()
	defer sf.mu.Unlock()
	if now := time.Now(); now.Sub(sf.addrsAt) > addrsEvery {
		sf.addrs, sf.addrsAt = interfaceAddrs(sf.ifaces), now
	}
	for _, x := range sf.addrs {
		if (x.loop && x.pfx.Contains(a)) || x.pfx.Addr() == a {
			return true
		}
	}
	return false
}

// interfaceAddrs reads the addresses of the named interfaces; one that
// does not exist (yet) has none.
func interfaceAddrs(names []string) []ifaceAddr {
	var out []ifaceAddr
	for _, n := range names {
		ifi, err := net.InterfaceByName(n)
		if err != nil {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			ip = ip.Unmap()
			if ip.Is4() && ones > 32 {
				ones -= 96
			}
			out = append(out, ifaceAddr{pfx: netip.PrefixFrom(ip, ones), loop: ifi.Flags&net.FlagLoopback != 0})
		}
	}
	return out
}

// tcpFrame builds the Ethernet frame of a bare TCP ACK from src to dst,
// IPv4 or IPv6, for the capture filter to judge a socket by its
// endpoints as it judges packets.
func tcpFrame(src, dst netip.AddrPort) []byte {
	v4 := src.Addr().Unmap().Is4() && dst.Addr().Unmap().Is4()
	var b []byte
	eth := make([]byte, 14)
	if v4 {
		binary.BigEndian.PutUint16(eth[12:], 0x0800)
		ip := make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, 6
		binary.BigEndian.PutUint16(ip[2:], 40)
		s, d := src.Addr().Unmap().As4(), dst.Addr().Unmap().As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		b = append(eth, ip...)
	} else {
		binary.BigEndian.PutUint16(eth[12:], 0x86dd)
		ip := make([]byte, 40)
		ip[0], ip[6], ip[7] = 0x60, 6, 64
		binary.BigEndian.PutUint16(ip[4:], 20)
		s, d := src.Addr().As16(), dst.Addr().As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		b = append(eth, ip...)
	}
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	tcp[12], tcp[13] = 5<<4, 0x10 // data offset 5 words, ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	return append(b, tcp...)
}

// netnsNames names namespaces the kernel view cannot: connscope's own,
// when it runs in one that ip netns named, and the host's ("host") seen
// from there. It returns the own namespace's inode (0 when unknown). When
// pid 1's namespace cannot be read (a container, or ip netns exec on a
// host whose init hides it), the own namespace still gets its ip netns
// name rather than passing for the host's.
func netnsNames() (self uint64, names map[uint64]string) {
	self, ok := nsInode("/proc/self/ns/net")
	if !ok {
		return 0, nil
	}
	names = map[uint64]string{}
	init, initOK := nsInode("/proc/1/ns/net")
	if initOK && init == self {
		return self, names // the host's own namespace: nothing to tell
	}
	if initOK {
		names[init] = "host"
		names[self] = model.NetNSInodeLabel(self)
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if ino, ok := nsInode("/run/netns/" + e.Name()); ok && ino == self {
				names[self] = e.Name()
				break
			}
		}
	}
	return self, names
}
