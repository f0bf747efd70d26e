package capture

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/connscope/connscope/model"
)

// benchPcap is the capture the read benchmarks use, named by the
// CONNSCOPE_BENCH_PCAP environment variable, e.g. one made by the shared
// pcapgen tool:
//
//	(cd ../shared/tools/pcapgen && go run . -flows 2000 -ppf 50 -seed 2 -o /tmp/bench.pcap)
//	CONNSCOPE_BENCH_PCAP=/tmp/bench.pcap go test ./capture/ -run '^$' -bench 'ReadDecode|BareDLP'
func benchPcap(b *testing.B) string {
	p := os.Getenv("CONNSCOPE_BENCH_PCAP")
	if p == "" {
		b.Skip("set CONNSCOPE_BENCH_PCAP to a capture file to run this benchmark")
	}
	return p
}

// BenchmarkReadDecode measures the headless path: File.Next over a capture
// on disk. One op is one packet read and decoded; the file is reopened
// (outside the timer) when it ends.
func BenchmarkReadDecode(b *testing.B) {
	path := benchPcap(b)
	open := func() *File {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	f := open()
	defer func() { f.Close() }()
	var seg model.Segment
	var segs uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := f.Next(&seg)
		if errors.Is(err, io.EOF) {
			b.StopTimer()
			f.Close()
			f = open()
			b.StartTimer()
			i--
			continue
		}
		if err == ErrIdle {
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		segs++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	if segs == 0 {
		b.Fatal("no segment decoded")
	}
}

// flowKey is the bare loop's flow key.
type flowKey struct {
	src, dst     [16]byte
	sport, dport uint16
}

// BenchmarkBareDLP is the baseline: a bare gopacket DecodingLayerParser
// loop (Ethernet, IPv4, IPv6, TCP) over pcapgo's ZeroCopyReadPacketData
// that only counts packets per flow in a map. One op is one packet.
func BenchmarkBareDLP(b *testing.B) {
	path := benchPcap(b)
	bare := newBareCounter()
	var fh *os.File
	var r *pcapgo.Reader
	open := func() {
		var err error
		if fh, err = os.Open(path); err != nil {
			b.Fatal(err)
		}
		// A 1 MiB buffer, as File uses: pcapgo would otherwise read
		// through a 4 KiB bufio.Reader, and the comparison would measure
		// read syscalls rather than decoding.
		if r, err = pcapgo.NewReader(bufio.NewReaderSize(fh, 1<<20)); err != nil {
			b.Fatal(err)
		}
	}
	open()
	defer func() { fh.Close() }()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data, _, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			b.StopTimer()
			fh.Close()
			open()
			b.StartTimer()
			i--
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		bare.count(data)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	if len(bare.counts) == 0 {
		b.Fatal("no flow counted")
	}
}

// bareCounter is the baseline's work: a gopacket DecodingLayerParser
// (Ethernet, IPv4, IPv6, TCP) and a count of packets per flow in a map.
type bareCounter struct {
	eth     layers.Ethernet
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	decoded []gopacket.LayerType
	parser  *gopacket.DecodingLayerParser
	counts  map[flowKey]int
}

func newBareCounter() *bareCounter {
	c := &bareCounter{counts: map[flowKey]int{}}
	c.parser = gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &c.eth, &c.ip4, &c.ip6, &c.tcp)
	c.parser.IgnoreUnsupported = true
	return c
}

func (c *bareCounter) count(data []byte) {
	if err := c.parser.DecodeLayers(data, &c.decoded); err != nil {
		return
	}
	var k flowKey
	for _, t := range c.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			copy(k.src[:], c.ip4.SrcIP)
			copy(k.dst[:], c.ip4.DstIP)
		case layers.LayerTypeIPv6:
			copy(k.src[:], c.ip6.SrcIP)
			copy(k.dst[:], c.ip6.DstIP)
		case layers.LayerTypeTCP:
			k.sport, k.dport = uint16(c.tcp.SrcPort), uint16(c.tcp.DstPort)
			c.counts[k]++
		}
	}
}

// BenchmarkNext_Memory measures File.Next on a fixture held in memory,
// without file I/O: the reader and decoder alone.
func BenchmarkNext_Memory(b *testing.B) {
	raw, err := os.ReadFile(fixture(b, "vxlan.pcap"))
	if err != nil {
		b.Fatal(err)
	}
	open := func() *File {
		f, err := NewReader("vxlan.pcap", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	f := open()
	var seg model.Segment
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.Next(&seg); err != nil {
			b.StopTimer()
			f = open()
			b.StartTimer()
		}
	}
}

// BenchmarkDecode measures Decode alone on one Ethernet/IPv4/TCP packet
// with options.
func BenchmarkDecode(b *testing.B) {
	pkt := ethIPv4TCP(tcpHeader{flags: 0x12, opts: linuxSynOpts}, 0)
	var d Decoder
	var seg model.Segment
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if r, _ := d.Decode(pkt, 0, LinkEthernet, &seg); r != ResultSegment {
			b.Fatal(r)
		}
	}
}

// BenchmarkRead_File and BenchmarkRead_Pcapgo compare reading alone (no
// decoding): File.ReadPacket against pcapgo's ZeroCopyReadPacketData as
// pcapgo.NewReader sets it up. They are the measurement behind the choice
// of our own reader (see doc.go). One op is one packet.
func BenchmarkRead_File(b *testing.B) {
	path := benchPcap(b)
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { f.Close() }()
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.ReadPacket(&p); err != nil {
			b.StopTimer()
			f.Close()
			if f, err = Open(path); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func BenchmarkRead_Pcapgo(b *testing.B) {
	path := benchPcap(b)
	var fh *os.File
	var r *pcapgo.Reader
	open := func() {
		var err error
		if fh, err = os.Open(path); err != nil {
			b.Fatal(err)
		}
		if r, err = pcapgo.NewReader(fh); err != nil {
			b.Fatal(err)
		}
	}
	open()
	defer func() { fh.Close() }()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
			b.StopTimer()
			fh.Close()
			open()
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
