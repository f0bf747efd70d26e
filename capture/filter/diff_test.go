package filter

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	update     = flag.Bool("update", false, "rewrite testdata/libpcap_verdicts.txt from tcpdump")
	goldenOnly = flag.Bool("golden", false, "compare with the committed libpcap verdicts instead of running tcpdump")
)

// goldenPath holds libpcap's verdicts, so the test runs where tcpdump is
// missing; with tcpdump present they are checked against it too.
// The file is gzipped text: its expressions and bitmaps repeat too much
// to keep it plain.
const goldenPath = "testdata/libpcap_verdicts.txt.gz"

// longHosts is a filter of 120 ORed hosts: its jumps to the end span far
// more than 255 instructions, so it needs trampolines.
var longHosts = func() string {
	var parts []string
	for i := 1; i <= 117; i++ {
		parts = append(parts, fmt.Sprintf("host 10.%d.%d.%d", i/50, i%50, i))
	}
	parts = append(parts, "host 192.168.1.103", "host 172.31.112.16", "host 10.0.0.2")
	return strings.Join(parts, " or ")
}()

// longJuxtaposed is the same idea with libpcap's inherited qualifiers.
var longJuxtaposed = func() string {
	parts := []string{"src host 192.168.0.5"}
	for i := 1; i <= 110; i++ {
		parts = append(parts, fmt.Sprintf("172.16.%d.%d", i/10, i))
	}
	parts = append(parts, "10.1.42.15", "192.168.0.8")
	return strings.Join(parts, " or ")
}()

// diffExprs are compared with libpcap on every packet of every capture.
// They cover each primitive, qualifier, operator and link-layer rule the
// compiler implements; the hosts, ports and VLAN IDs occur in the shared
// captures, so both verdicts occur.
var diffExprs = []string{
	// protocol names
	"tcp", "udp", "icmp", "icmp6", "sctp", "ip", "ip6", "arp", "rarp", "igmp",
	"pim or vrrp or igrp", "ah or esp",
	"tcp or udp or icmp or ip6 or arp",
	"not ip and not ip6",
	// ports and port ranges
	"port 80", "tcp port 80", "port 53", "udp port 53", "port 443 or port 5353",
	"src port 80", "dst port 80", "src or dst port 80", "src and dst port 5353",
	"tcp src port 80 or tcp dst port 80",
	"port 80 or 443 or 8080", "port (80 or 443)", "port 80 and not 443",
	"tcp and (port 80 or port 443)", "tcp and not port 22", "! port 22",
	"portrange 1-1023", "tcp portrange 1024-65535", "udp src portrange 50-60",
	"sctp port 80", "tcp dst portrange 8000-9000 or udp port 123",
	// hosts and networks
	"host 192.168.1.103", "src host 192.168.0.5", "dst host 10.0.0.1",
	"host 192.168.2.100 or 5.62.53.53", "host 192.168.1.103 and host 203.205.151.162",
	"src and dst host 127.0.0.1", "host (10.0.0.1 or 10.0.0.2)",
	"ip host 192.168.64.6", "arp host 192.168.1.1", "arp or rarp or host 172.31.112.16",
	"net 10.0.0.0/8", "net 192.168.0.0 mask 255.255.0.0", "src net 192.168", "dst net 10",
	"not net 192.168.0.0/16 and ip", "host 10.1",
	"ip6 host ::1", "host fe80::7a92:9cff:fe0f:a88e", "dst host ff02::fb",
	"net 2001:470::/32", "ip6 net fe80::/10", "src net 2001:b07:a3d:c112::/64",
	"host 192.168.1.103 and not port 443 or port 80",
	"ip or arp and udp",
	// link layer
	"ether host 78:92:9c:0f:a8:8e", "ether src 00:0c:29:c1:2d:24", "ether dst ff:ff:ff:ff:ff:ff",
	"ether broadcast", "ether multicast", "multicast and not broadcast",
	"ether proto 0x0800", `ether proto \ip6`, "ether proto 0x88cc", "ether[12:2] = 0x800",
	"link[0] & 1 = 1", "ip multicast", "ip6 multicast",
	// protocol numbers
	"proto 6", "ip proto 17", "ip6 proto 58", `proto \tcp`, `ip proto \udp`,
	"ip proto 1 or ip6 proto 58", "ip6 proto 44",
	// VLAN (Ethernet only; later tests move onto the inner headers)
	"vlan", "vlan 201", "vlan 20", "vlan and tcp", "vlan 201 and vlan 200 and tcp",
	"vlan 10 and vlan 20 and host 192.168.1.200", "(vlan 10 or vlan 20) and ip",
	"tcp or vlan", "not vlan and tcp", "vlan and ip6",
	// byte offsets, arithmetic, comparisons
	"tcp[13] & 2 != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
	"tcp[tcpflags] & tcp-rst != 0", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src and dst net 10",
	"ip[6:2] & 0x1fff = 0", "ip[0] & 0xf != 5", "ip[2:2] > 576", "ip[8] < 64",
	"tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
	"tcp port 80 and (((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0)",
	"udp[0:2] > 1000", "udp[4:2] <= 40",
	"icmp[icmptype] = icmp-echo or icmp[icmptype] = icmp-echoreply",
	"icmp6[icmp6type] = icmp6-echo or icmp6[0] >= 133", "ip6[6] = 6", "arp[6:2] = 1",
	"ip6 and tcp[13] & 2 != 0", "ip[9] = 6 and ip[6:2] & 0x1fff = 0 and tcp[13] & 4 != 0",
	"tcp[0:2] = 80 or tcp[2:2] = 80", "tcp[tcp[12] >> 4] = 0",
	"ip[len - 20] > 0", "tcp[0] * 2 + tcp[1] / 3 - 7 >= 0x10", "tcp[0:4] % 7 = 3",
	"ip[0] ^ 0x45 = 0", "tcp[12] | 0x0f = 0x5f", "-ip[2:2] < 65000", "udp[2:2] << 1 > 1000",
	"tcp[12] >> 4 > 5", "ip[2:2] / (ip[1] & 3) = 100", "len / ip[0] = 1",
	"1 + 3 % 2 = 2", "3 % 2 + 1 = 2",
	// lengths
	"len > 100", "len <= 60", "greater 500", "less 100", "len - 14 > 1000", "len % 7 = 3",
	"tcp[13] = 0x10 and len < 100", "tcp[13] & 8 != 0 or len >= 1500",
	// long expressions (jumps over 255 instructions)
	longHosts, longJuxtaposed,
}

// tcpdumpLinkNames maps LINKTYPE_ values to tcpdump -y names.
var tcpdumpLinkNames = map[uint16]string{
	LinkTypeEthernet: "EN10MB", LinkTypeLinuxSLL: "LINUX_SLL", LinkTypeLinuxSLL2: "LINUX_SLL2",
	LinkTypeRaw: "RAW", LinkTypeIPv4: "IPV4", LinkTypeIPv6: "IPV6", LinkTypeNull: "NULL", LinkTypeLoop: "LOOP",
}

// captureGroup is the captures that share a link type (and, for BSD
// loopback, the byte order of the machine that wrote them). tcpdump reads
// them as one pcap file, which takes a sixth of the tcpdump runs that one
// file at a time would.
type captureGroup struct {
	linkType uint16
	order    binary.ByteOrder
	caps     []*testCapture
	packets  []testPacket
	file     []byte
}

// groupCaptures builds the groups of the comparable captures.
func groupCaptures(caps []*testCapture) []*captureGroup {
	type key struct {
		lt uint16
		le bool
	}
	byKey := map[key]*captureGroup{}
	var groups []*captureGroup
	for _, c := range caps {
		if c.skip != "" {
			continue
		}
		k := key{lt: c.packets[0].linkType}
		if k.lt == LinkTypeNull {
			k.le = c.order == binary.LittleEndian
		}
		g := byKey[k]
		if g == nil {
			g = &captureGroup{linkType: k.lt, order: c.order}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.caps = append(g.caps, c)
		g.packets = append(g.packets, c.packets...)
	}
	for _, g := range groups {
		g.file = pcapFile(g.order, g.linkType, g.packets)
	}
	return groups
}

// pcapFile writes packets as a pcap file in byte order order. The header's
// order is what libpcap reads as "the capturing machine's" for BSD
// loopback families.
func pcapFile(order binary.ByteOrder, linkType uint16, pkts []testPacket) []byte {
	hdr := make([]byte, 24)
	order.PutUint32(hdr[0:], 0xa1b2c3d4)
	order.PutUint16(hdr[4:], 2)
	order.PutUint16(hdr[6:], 4)
	order.PutUint32(hdr[16:], maxSnaplenForTest)
	order.PutUint32(hdr[20:], uint32(linkType))
	out := hdr
	for i, pk := range pkts {
		rec := make([]byte, 16)
		order.PutUint32(rec[0:], uint32(i)) // distinct, increasing timestamps
		order.PutUint32(rec[8:], uint32(len(pk.data)))
		order.PutUint32(rec[12:], uint32(pk.wireLen))
		out = append(append(out, rec...), pk.data...)
	}
	return out
}

// maxSnaplenForTest is libpcap's largest snapshot length.
const maxSnaplenForTest = 262144

// libpcapVerdicts runs tcpdump on a pcap file (fed on stdin) holding
// packets and returns one '0'/'1' per packet, or "E" when libpcap rejects
// the expression. tcpdump writes the accepted packets; they come out in
// order, so walking both lists and matching bytes and wire length gives
// exact verdicts (identical packets always get identical verdicts).
func libpcapVerdicts(file []byte, packets []testPacket, expr string) (string, error) {
	// "--" ends the options: an expression may start with '-'.
	args := []string{"-r", "-", "-w", "-", "--"}
	if expr != "" {
		args = append(args, expr)
	}
	cmd := exec.Command("tcpdump", args...)
	cmd.Stdin = bytes.NewReader(file)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "expression rejects all packets") {
			return strings.Repeat("0", len(packets)), nil
		}
		if strings.Contains(stderr.String(), "tcpdump: ") && out.Len() == 0 {
			return "E", nil
		}
		return "", fmt.Errorf("tcpdump %q: %v: %s", expr, err, stderr.String())
	}
	_, acc, err := readPcap(out.Bytes())
	if err != nil {
		return "", fmt.Errorf("tcpdump output for %q: %w", expr, err)
	}
	v := make([]byte, len(packets))
	j := 0
	for i, pk := range packets {
		v[i] = '0'
		if j < len(acc) && acc[j].wireLen == pk.wireLen && bytes.Equal(acc[j].data, pk.data) {
			v[i] = '1'
			j++
		}
	}
	if j != len(acc) {
		return "", fmt.Errorf("tcpdump %q: matched %d of %d accepted packets", expr, j, len(acc))
	}
	return string(v), nil
}

// ourVerdicts compiles expr for the capture and runs it on every packet.
func ourVerdicts(c *testCapture, expr string, opts ...Option) (string, *Program, error) {
	opts = append([]Option{NullByteOrder(c.order)}, opts...)
	p, err := Compile(expr, c.packets[0].linkType, 0, opts...)
	if err != nil {
		return "E", nil, err
	}
	v := make([]byte, len(c.packets))
	for i, pk := range c.packets {
		v[i] = '0'
		if p.MatchLen(pk.data, pk.wireLen) {
			v[i] = '1'
		}
	}
	return string(v), p, nil
}

// goldenKey identifies one (capture, expression) pair in the goldens: the
// capture by name and content hash, so a changed file cannot match stale
// verdicts.
func goldenKey(c *testCapture, expr string) string {
	sum := sha256.Sum256(c.raw)
	if len(expr) > 80 {
		// The long OR lists would fill the file; their hash names them.
		es := sha256.Sum256([]byte(expr))
		expr = fmt.Sprintf("%s... (%d bytes, sha256 %s)", expr[:40], len(expr), hex.EncodeToString(es[:8]))
	}
	return c.name + " " + hex.EncodeToString(sum[:8]) + "\t" + expr
}

func readGolden(t *testing.T) map[string]string {
	f, err := os.Open(goldenPath)
	if os.IsNotExist(err) && *update {
		return map[string]string{}
	}
	if err != nil {
		t.Fatalf("open %s: %v", goldenPath, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("read %s: %v", goldenPath, err)
	}
	m := map[string]string{}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// verdicts \t capture hash \t expression
		v, key, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: malformed line %q", goldenPath, line)
		}
		m[key] = unpackVerdicts(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", goldenPath, err)
	}
	return m
}

// packVerdicts stores "0101..." as "N:hex" (N packets, bit i = packet i).
func packVerdicts(v string) string {
	if v == "E" {
		return "E"
	}
	b := make([]byte, (len(v)+7)/8)
	for i := range v {
		if v[i] == '1' {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return fmt.Sprintf("%d:%s", len(v), hex.EncodeToString(b))
}

func unpackVerdicts(s string) string {
	if s == "E" {
		return "E"
	}
	var n int
	var h string
	if k, err := fmt.Sscanf(strings.Replace(s, ":", " ", 1), "%d %s", &n, &h); k != 2 || err != nil {
		return "?"
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) < (n+7)/8 {
		return "?"
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = '0'
		if b[i/8]&(0x80>>(i%8)) != 0 {
			v[i] = '1'
		}
	}
	return string(v)
}

func writeGolden(t *testing.T, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	sb.WriteString("# libpcap's verdicts (tcpdump -r FILE -w - EXPR) for the differential test.\n")
	sb.WriteString("# Regenerate: go test ./capture/filter -run TestDifferentialLibpcap -update\n")
	sb.WriteString("# Format: packets:bitmap-hex (or E: libpcap rejects the expression) TAB capture sha256/8 TAB expression\n")
	for _, k := range keys {
		sb.WriteString(packVerdicts(m[k]) + "\t" + k + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write([]byte(sb.String()))
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := os.WriteFile(goldenPath, zb.Bytes(), 0o644); err != nil {
		t.Fatalf("write %s: %v", goldenPath, err)
	}
}

// TestDifferentialLibpcap is the proof of the package: for every
// expression of diffExprs and every packet of every capture, the VM's
// verdict equals libpcap's.
func TestDifferentialLibpcap(t *testing.T) {
	if len(diffExprs) < 60 {
		t.Fatalf("got %d expressions, want at least 60", len(diffExprs))
	}
	caps := loadCaptures(t)
	_, lookErr := exec.LookPath("tcpdump")
	live := lookErr == nil && !*goldenOnly && !testing.Short()
	if *update && lookErr != nil {
		t.Fatalf("-update needs tcpdump: %v", lookErr)
	}
	golden := readGolden(t)
	if len(golden) == 0 && !*update {
		t.Fatalf("%s holds no verdicts: run with tcpdump installed and -update", goldenPath)
	}

	type result struct {
		c       *testCapture
		expr    string
		libpcap string
		err     error
	}
	var comparable []*testCapture
	for _, c := range caps {
		if c.skip != "" {
			t.Logf("not compared: %s: %s", c.name, c.skip)
			if len(c.packets) == 0 || strings.Contains(c.skip, "different link types") {
				continue
			}
			if _, err := Compile("tcp", c.packets[0].linkType, 0); err == nil {
				t.Errorf("%s: Compile accepted link type %d, want an error", c.name, c.packets[0].linkType)
			}
			continue
		}
		comparable = append(comparable, c)
	}
	var results []result
	if live {
		type job struct {
			g    *captureGroup
			expr string
		}
		var jobs []job
		for _, g := range groupCaptures(comparable) {
			for _, e := range diffExprs {
				jobs = append(jobs, job{g, e})
			}
		}
		verdicts := make([]string, len(jobs))
		errs := make([]error, len(jobs))
		var wg sync.WaitGroup
		next := make(chan int)
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					verdicts[i], errs[i] = libpcapVerdicts(jobs[i].g.file, jobs[i].g.packets, jobs[i].expr)
				}
			}()
		}
		for i := range jobs {
			next <- i
		}
		close(next)
		wg.Wait()
		// Split each group's verdicts back into its captures.
		for i, j := range jobs {
			off := 0
			for _, c := range j.g.caps {
				v := verdicts[i]
				if v != "E" && errs[i] == nil {
					v = v[off : off+len(c.packets)]
				}
				off += len(c.packets)
				results = append(results, result{c, j.expr, v, errs[i]})
			}
		}
	} else {
		for _, c := range comparable {
			for _, e := range diffExprs {
				v, ok := golden[goldenKey(c, e)]
				if !ok || len(v) != len(c.packets) && v != "E" {
					results = append(results, result{c, e, "", fmt.Errorf("no golden verdicts for %q on %s: run with tcpdump installed and -update", e, c.name)})
					continue
				}
				results = append(results, result{c, e, v, nil})
			}
		}
	}

	newGolden := map[string]string{}
	agreed, compared, bothErr := 0, 0, 0
	mismatchExprs := map[string]bool{}
	for _, r := range results {
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		key := goldenKey(r.c, r.expr)
		newGolden[key] = r.libpcap
		if live && !*update {
			// A verdict missing from the file is an error too: the
			// run without tcpdump (and -short) would have nothing to
			// compare with.
			switch g, ok := golden[key]; {
			case !ok:
				t.Errorf("%s %q: no saved libpcap verdicts; run with -update", r.c.name, r.expr)
			case g != r.libpcap:
				t.Errorf("%s %q: saved verdicts differ from tcpdump's; run with -update", r.c.name, r.expr)
			}
		}
		ours, prog, err := ourVerdicts(r.c, r.expr)
		if plain, _, _ := ourVerdicts(r.c, r.expr, withoutOptimizer()); plain != ours {
			t.Errorf("%s %q: the optimizer changed verdicts:\n got %s\nwant %s", r.c.name, r.expr, ours, plain)
		}
		if r.libpcap == "E" || ours == "E" {
			if r.libpcap != ours {
				t.Errorf("%s %q: libpcap verdicts %.20s..., ours %s (err %v)", r.c.name, r.expr, r.libpcap, ours, err)
			} else {
				bothErr++
			}
			continue
		}
		compared += len(ours)
		for i := range ours {
			if ours[i] == r.libpcap[i] {
				agreed++
				continue
			}
			mismatchExprs[r.expr] = true
			pk := r.c.packets[i]
			t.Errorf("%s packet %d %q: got %c, want %c (libpcap)\npacket (%d of %d bytes): %x\nours:\n%s",
				r.c.name, i+1, r.expr, ours[i], r.libpcap[i], len(pk.data), pk.wireLen, pk.data[:min(len(pk.data), 96)], prog)
			if name, ok := tcpdumpLinkNames[pk.linkType]; ok && live {
				out, _ := exec.Command("tcpdump", "-y", name, "-d", r.expr).CombinedOutput()
				t.Logf("libpcap (tcpdump -y %s -d):\n%s", name, out)
			}
			break
		}
	}
	t.Logf("%d expressions x %d captures: %d of %d packet verdicts agree with libpcap (%d pairs rejected by both)",
		len(diffExprs), len(caps), agreed, compared, bothErr)
	if !*update {
		stale := 0
		for k := range golden {
			if _, ok := newGolden[k]; !ok {
				stale++
			}
		}
		if stale > 0 {
			t.Errorf("%s holds %d verdicts for captures or expressions no longer compared; run with tcpdump installed and -update", goldenPath, stale)
		}
	}
	if *update && !t.Failed() {
		writeGolden(t, newGolden)
	}
}

// randomPrimitives are combined at random by TestDifferentialLibpcapRandom.
var randomPrimitives = []string{
	"tcp", "udp", "icmp", "ip", "ip6", "arp", "vlan", "vlan 201", "vlan 20",
	"port 80", "port 443", "src port 53", "dst portrange 1-1024", "host 192.168.1.103",
	"src net 10", "dst net 192.168.0.0/16", "ether multicast", "ether broadcast",
	"tcp[13] & 2 != 0", "ip[8] > 60", "len > 200", "less 80", "greater 1000",
	"ip6 host ::1", "net fe80::/10", "proto 17", "ip6 proto 6", "icmp6",
	"tcp[tcpflags] & tcp-ack != 0", "udp[8] = 0", "ether proto 0x86dd", "icmp[0] = 8",
	"ip[6:2] & 0x3fff != 0", "tcp[12] >> 4 > 5", "host 10.0.0.1 or 10.0.0.2",
	"port 80 or 8080", "not port 22", "ip host 192.168.0.5", "arp host 172.31.112.1", "sctp",
}

// TestDifferentialLibpcapRandom compares random combinations of primitives
// (and, or, not, parentheses, vlan anywhere) with libpcap, with a fixed
// seed so that a failure reproduces. It needs tcpdump.
func TestDifferentialLibpcapRandom(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil || testing.Short() || *goldenOnly {
		t.Skip("needs tcpdump (and no -short)")
	}
	caps := loadCaptures(t)
	var comparable []*testCapture
	for _, c := range caps {
		if c.skip == "" {
			comparable = append(comparable, c)
		}
	}
	groups := groupCaptures(comparable)
	if len(groups) == 0 {
		t.Skip("no captures")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth == 0 || r.IntN(3) == 0 {
			p := randomPrimitives[r.IntN(len(randomPrimitives))]
			if r.IntN(5) == 0 {
				p = "not " + p
			}
			return p
		}
		s := gen(depth-1) + []string{" and ", " or "}[r.IntN(2)] + gen(depth-1)
		if r.IntN(2) == 0 {
			s = "(" + s + ")"
		}
		if r.IntN(6) == 0 {
			s = "not " + s
		}
		return s
	}
	agreed := 0
	for i := 0; i < 60; i++ {
		expr := gen(2 + i%3)
		for _, g := range groups {
			lib, err := libpcapVerdicts(g.file, g.packets, expr)
			if err != nil {
				t.Fatal(err)
			}
			p, cerr := Compile(expr, g.linkType, 0, NullByteOrder(g.order))
			if lib == "E" || cerr != nil {
				if (lib == "E") != (cerr != nil) {
					t.Errorf("%q on link type %d: libpcap refuses: %v, our error: %v", expr, g.linkType, lib == "E", cerr)
				}
				continue
			}
			for k, pk := range g.packets {
				got := p.MatchLen(pk.data, pk.wireLen)
				if got != (lib[k] == '1') {
					t.Errorf("%q on link type %d, packet %x: got %v, want %c (libpcap)", expr, g.linkType, pk.data[:min(len(pk.data), 64)], got, lib[k])
					break
				}
				agreed++
			}
		}
	}
	t.Logf("%d random verdicts agree with libpcap", agreed)
}
