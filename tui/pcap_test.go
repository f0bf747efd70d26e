package tui

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// readPcap decodes a classic pcap of Ethernet frames into segments. It is
// a test helper only (tui must not import capture): just enough of pcap,
// Ethernet, 802.1Q, IPv4, IPv6 and TCP to replay the shared captures.
func readPcap(t testing.TB, path string) []model.Segment {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 {
		t.Fatalf("%s: too short for a pcap header", path)
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, nano = binary.BigEndian, true
	default:
		t.Fatalf("%s: not a classic pcap file", path)
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		t.Fatalf("%s: link type %d, the test reader knows Ethernet (1) only", path, lt)
	}
	var segs []model.Segment
	frame := uint64(0)
	for off := 24; off+16 <= len(b); {
		sec, frac := int64(bo.Uint32(b[off:])), int64(bo.Uint32(b[off+4:]))
		capLen, origLen := int(bo.Uint32(b[off+8:])), bo.Uint32(b[off+12:])
		off += 16
		if off+capLen > len(b) {
			break
		}
		pkt := b[off : off+capLen]
		off += capLen
		frame++
		ts := sec*1e9 + frac*1000
		if nano {
			ts = sec*1e9 + frac
		}
		if s, ok := decodeEthernet(pkt); ok {
			s.TS, s.Frame, s.FrameLen = ts, frame, origLen
			segs = append(segs, s)
		}
	}
	return segs
}

func decodeEthernet(p []byte) (model.Segment, bool) {
	var s model.Segment
	if len(p) < 14 {
		return s, false
	}
	et, p := binary.BigEndian.Uint16(p[12:]), p[14:]
	for et == 0x8100 && len(p) >= 4 {
		et, p = binary.BigEndian.Uint16(p[2:]), p[4:]
	}
	var src, dst netip.Addr
	var tcp []byte
	var ipPayload int
	switch {
	case et == 0x0800 && len(p) >= 20 && p[9] == 6:
		ihl := int(p[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(p[2:]))
		if ihl < 20 || len(p) < ihl {
			return s, false
		}
		src, dst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		s.TTL, s.IPID, s.DF = p[8], binary.BigEndian.Uint16(p[4:]), p[6]&0x40 != 0
		tcp, ipPayload = p[ihl:], total-ihl
	case et == 0x86dd && len(p) >= 40 && p[6] == 6:
		src, dst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		s.TTL, s.IPv6 = p[7], true
		tcp, ipPayload = p[40:], int(binary.BigEndian.Uint16(p[4:]))
	default:
		return s, false
	}
	if len(tcp) < 20 {
		return s, false
	}
	hl := int(tcp[12]>>4) * 4
	s.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:]))
	s.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:]))
	s.Seq, s.Ack = binary.BigEndian.Uint32(tcp[4:]), binary.BigEndian.Uint32(tcp[8:])
	s.Flags = model.TCPFlags(tcp[13])
	s.Window = binary.BigEndian.Uint16(tcp[14:])
	s.TCPHdrLen = uint8(hl)
	s.Opts.WScale = -1
	if hl < 20 || len(tcp) < hl {
		s.HeaderCut = true
		return s, true
	}
	s.PayloadLen = uint32(max(ipPayload-hl, 0))
	s.Opts.Len = uint8(hl - 20)
	for o := tcp[20:hl]; len(o) > 0; {
		kind := o[0]
		if kind == 0 {
			break
		}
		if kind == 1 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
			break
		}
		v := o[2:o[1]]
		switch {
		case kind == 2 && len(v) == 2:
			s.Opts.MSS = binary.BigEndian.Uint16(v)
		case kind == 3 && len(v) == 1:
			s.Opts.WScale = int8(min(v[0], 14))
		case kind == 4:
			s.Opts.SACKPermitted = true
		case kind == 5:
			s.Opts.SACK = true
		case kind == 8 && len(v) == 8:
			s.Opts.Timestamps = true
			s.Opts.TSVal, s.Opts.TSEcr = binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
		}
		o = o[o[1]:]
	}
	return s, true
}

// sliceSource is a capture.Source over segments already decoded.
type sliceSource struct {
	segs []model.Segment
	i    int
}

func (s *sliceSource) Next(seg *model.Segment) error {
	if s.i >= len(s.segs) {
		return io.EOF
	}
	*seg = s.segs[s.i]
	s.i++
	return nil
}

func (s *sliceSource) Stats() model.SourceStats {
	n := uint64(s.i)
	return model.SourceStats{Packets: n, TCPFrames: n}
}

// replayPipeline runs an interactive pipeline over segs, as the UI does for
// a file, and returns it with its Run going until the test ends; ended
// waits until the replay reached the end of segs.
func replayPipeline(t testing.TB, segs []model.Segment, cfg pipeline.Config) (p *pipeline.Pipeline, ended func()) {
	t.Helper()
	return replayPipelineFrom(t, &sliceSource{segs: segs}, cfg)
}

// replayPipelineFrom is replayPipeline over any source.
func replayPipelineFrom(t testing.TB, src capture.Source, cfg pipeline.Config) (p *pipeline.Pipeline, ended func()) {
	t.Helper()
	cfg.Source, cfg.SourceName, cfg.Interactive = src, "test segments", true
	p, err := pipeline.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("pipeline: %v", err)
		}
	})
	return p, func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !p.Replay().Ended {
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for the replay to end")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func TestReadPcap_SharedCaptureMatchesOracleCounts(t *testing.T) {
	segs := readPcap(t, corpus.Capture(t, "ndpi-avast.pcap"))
	// ndpi-avast.pcap.oracle.json: 142 packets, all TCP, 2 RSTs.
	rst := 0
	for _, s := range segs {
		if s.Flags.Has(model.FlagRST) {
			rst++
		}
	}
	if len(segs) != 142 || rst != 2 {
		t.Errorf("decoded %d segments with %d RSTs, want 142 and 2", len(segs), rst)
	}
	if got := fmt.Sprint(segs[0].Src); got != "192.168.2.100:64357" {
		t.Errorf("first segment source: got %s, want 192.168.2.100:64357", got)
	}
}
