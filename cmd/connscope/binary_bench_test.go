package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// bareEnv makes the test binary, re-executed, run the baseline instead of
// the tests: see TestMain.
const bareEnv = "CONNSCOPE_BENCH_BARE"

// BenchmarkBinary runs the whole program, as a user does, on each capture
// named by CONNSCOPE_BENCH_PCAP (a list like $PATH), in the same run as
// the baseline:
//
//   - impl=bare: a bare gopacket DecodingLayerParser loop over pcapgo that
//     only counts packets per flow in a map (this test binary, re-executed);
//   - impl=report: connscope -r F --report > /dev/null;
//   - impl=json: connscope -r F --json > /dev/null.
//
// Each iteration is one process; ns/op is its wall time, and the metrics
// add its peak RSS and CPU seconds from the kernel's rusage. Compare with
//
//	benchstat -col /impl out.txt
func BenchmarkBinary(b *testing.B) {
	files := filepath.SplitList(os.Getenv("CONNSCOPE_BENCH_PCAP"))
	if len(files) == 0 {
		b.Skip("set CONNSCOPE_BENCH_PCAP to one or more captures (see BENCHMARKS.md)")
	}
	bin := connscopeBinary(b)
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		for _, impl := range []string{"bare", "report", "json"} {
			b.Run("capture="+name+"/impl="+impl, func(b *testing.B) {
				var cmd func() *exec.Cmd
				switch impl {
				case "bare":
					cmd = func() *exec.Cmd {
						c := exec.Command(self)
						c.Env = append(os.Environ(), bareEnv+"="+f)
						return c
					}
				default:
					cmd = func() *exec.Cmd { return exec.Command(bin, "-r", f, "--"+impl) }
				}
				runBinary(b, cmd)
			})
		}
	}
}

func runBinary(b *testing.B, mk func() *exec.Cmd) {
	var maxRSS int64
	var user, sys time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := mk()
		c.Stdout = io.Discard
		var stderr strings.Builder
		c.Stderr = &stderr
		if err := c.Run(); err != nil {
			b.Fatalf("%s: %v: %s", c, err, stderr.String())
		}
		ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			b.Fatal("no rusage")
		}
		maxRSS = max(maxRSS, ru.Maxrss) // KiB on Linux
		user += c.ProcessState.UserTime()
		sys += c.ProcessState.SystemTime()
	}
	b.ReportMetric(float64(maxRSS)/1024, "peak-MB")
	b.ReportMetric(user.Seconds()/float64(b.N), "user-s/op")
	b.ReportMetric(sys.Seconds()/float64(b.N), "sys-s/op")
}

// runBare is the baseline's whole program: read the capture and count
// packets per flow, then print how many flows it saw.
func runBare(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(fh, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		decoded []gopacket.LayerType
	)
	type flowKey struct {
		src, dst     [16]byte
		sport, dport uint16
	}
	counts := map[flowKey]int{}
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp)
	parser.IgnoreUnsupported = true
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if parser.DecodeLayers(data, &decoded) != nil {
			continue
		}
		var k flowKey
		for _, t := range decoded {
			switch t {
			case layers.LayerTypeIPv4:
				copy(k.src[:], ip4.SrcIP)
				copy(k.dst[:], ip4.DstIP)
			case layers.LayerTypeIPv6:
				copy(k.src[:], ip6.SrcIP)
				copy(k.dst[:], ip6.DstIP)
			case layers.LayerTypeTCP:
				k.sport, k.dport = uint16(tcp.SrcPort), uint16(tcp.DstPort)
				counts[k]++
			}
		}
	}
	if len(counts) == 0 {
		return fmt.Errorf("%s: no TCP flow", path)
	}
	fmt.Println(len(counts), "flows")
	return nil
}
