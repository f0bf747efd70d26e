package capture

import (
	"bufio"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/connscope/connscope/model"
)

// BenchmarkPass compares whole-file passes over CONNSCOPE_BENCH_PCAP in the
// same run, one op being one pass:
//
//   - impl=bare-dlp: the baseline, a bare gopacket DecodingLayerParser loop
//     that only counts packets per flow;
//   - impl=connscope: the file read, every packet decoded and the full
//     TCP analysis applied to a fresh flow table;
//   - impl=connscope+diagnosis: the same pass plus the diagnosis of the
//     final snapshot (model.DiagnoseSnapshot), as --report runs it; the
//     snapshot itself is not timed (the report takes it either way), so
//     the ratio to impl=connscope is what the findings add beyond the
//     timings the table keeps for them on every packet (see
//     model's BenchmarkApply).
//
// All report ns/pkt, so benchstat -col /impl gives the ratio directly:
//
//	CONNSCOPE_BENCH_PCAP=/tmp/medium.pcap go test ./capture -run '^$' \
//	    -bench 'Pass' -benchtime 3x -count 6 | tee pass.txt
//	benchstat -col /impl pass.txt
func BenchmarkPass(b *testing.B) {
	path := benchPcap(b)
	b.Run("impl=bare-dlp", func(b *testing.B) { benchBarePass(b, path) })
	b.Run("impl=connscope", func(b *testing.B) { benchAnalyzePass(b, path, false) })
	b.Run("impl=connscope+diagnosis", func(b *testing.B) { benchAnalyzePass(b, path, true) })
}

func benchBarePass(b *testing.B, path string) {
	var pkts int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		fh, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := pcapgo.NewReader(bufio.NewReaderSize(fh, 1<<20))
		if err != nil {
			b.Fatal(err)
		}
		bare := newBareCounter()
		pkts = 0
		for {
			data, _, err := r.ZeroCopyReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			pkts++
			bare.count(data)
		}
		fh.Close()
		if len(bare.counts) == 0 {
			b.Fatal("no flow counted")
		}
	}
	reportPerPacket(b, pkts)
}

func benchAnalyzePass(b *testing.B, path string, diagnose bool) {
	var (
		pkts, flows    int
		bytesPerFlow   float64
		allocsPerFlow  float64
		allocsPerPkt   float64
		before, after  runtime.MemStats
		seg            model.Segment
		lastAllocCount uint64
		diagTime       time.Duration // in DiagnoseSnapshot, over all passes
	)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		last := i == b.N-1
		if last {
			// Measure what the table holds: live heap after the pass
			// minus before it, with the table still reachable.
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&before)
			b.StartTimer()
		}
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		tbl := model.NewTable(model.Config{})
		for {
			err := f.Next(&seg)
			if err == io.EOF {
				break
			}
			if err == ErrIdle {
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
			tbl.Apply(&seg)
		}
		if diagnose {
			// The report snapshots the table with or without findings:
			// only the diagnosis is timed.
			b.StopTimer()
			snap := tbl.Snapshot(seg.TS)
			b.StartTimer()
			start := time.Now()
			if model.DiagnoseSnapshot(&snap, model.DiagOptions{}); len(snap.Flows) == 0 {
				b.Fatal("no flow to diagnose")
			}
			diagTime += time.Since(start)
		}
		pkts = int(f.Stats().Packets)
		f.Close()
		if last {
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			flows = tbl.Len()
			bytesPerFlow = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(flows)
			lastAllocCount = after.Mallocs - before.Mallocs
			allocsPerFlow = float64(lastAllocCount) / float64(flows)
			allocsPerPkt = float64(lastAllocCount) / float64(pkts)
			runtime.KeepAlive(tbl)
			b.StartTimer()
		}
	}
	reportPerPacket(b, pkts)
	b.ReportMetric(float64(flows), "flows")
	b.ReportMetric(bytesPerFlow, "B/flow")
	b.ReportMetric(allocsPerFlow, "allocs/flow")
	b.ReportMetric(allocsPerPkt, "allocs/pkt")
	if diagnose {
		// The diagnosis alone, less noisy than the difference of two
		// whole-pass timings on a busy machine.
		b.ReportMetric(float64(diagTime.Nanoseconds())/float64(b.N)/float64(pkts), "diag-ns/pkt")
	}
}

func reportPerPacket(b *testing.B, pkts int) {
	if pkts == 0 {
		b.Fatal("no packet read")
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(pkts)
	b.ReportMetric(ns, "ns/pkt")
	b.ReportMetric(1e9/ns, "pkts/s")
}
