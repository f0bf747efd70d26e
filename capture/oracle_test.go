package capture

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/connscope/connscope/model"
)

// pairCounts are the totals of one direction between two endpoints.
type pairCounts struct {
	packets, payload, syn, fin, rst int
}

func (c pairCounts) String() string {
	return fmt.Sprintf("packets %d, payload %d, SYN %d, FIN %d, RST %d", c.packets, c.payload, c.syn, c.fin, c.rst)
}

// TestDecode_SharedPcaps_MatchOracle decodes every shared capture and
// compares, per directed endpoint pair, the segments produced with tshark's
// streams: packets, payload bytes (tcp.len), SYN, FIN and RST counts. It
// also checks the frames marked HeaderCut against the oracle's
// bad_tcp_header_frames, the packet total, and the truncation verdict.
func TestDecode_SharedPcaps_MatchOracle(t *testing.T) {
	files := oracleCaptures(t)
	if len(files) < 40 {
		t.Errorf("got %d shared captures with an oracle, want at least 40", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			o := readOracle(t, path)
			segs, st, err := readAll(t, path)
			switch {
			case o.Truncated && !errors.Is(err, ErrTruncated):
				t.Errorf("got error %v, want a truncation error (tshark: %q)", err, o.ReadError)
			case !o.Truncated && err != nil:
				t.Errorf("got error %v, want none", err)
			}
			if int(st.Packets) != o.Packets {
				t.Errorf("got %d packets, want %d", st.Packets, o.Packets)
			}
			want := map[[2]string]pairCounts{}
			var wantCut []uint64
			add := func(src, dst string, d oracleDir) {
				if d.Packets == 0 {
					return
				}
				k := [2]string{src, dst}
				c := want[k]
				c.packets += d.Packets
				c.payload += d.PayloadBytes
				c.syn += d.SYN
				c.fin += d.FIN
				c.rst += d.RST
				want[k] = c
			}
			total := 0
			for _, s := range o.Streams {
				add(s.A, s.B, s.AtoB)
				add(s.B, s.A, s.BtoA)
				total += s.AtoB.Packets + s.BtoA.Packets
				wantCut = append(wantCut, s.BadTCPHeaderFrames...)
			}
			got := map[[2]string]pairCounts{}
			var gotCut []uint64
			for i := range segs {
				s := &segs[i]
				k := [2]string{s.Src.String(), s.Dst.String()}
				c := got[k]
				c.packets++
				c.payload += int(s.PayloadLen)
				if s.Flags.Has(model.FlagSYN) {
					c.syn++
				}
				if s.Flags.Has(model.FlagFIN) {
					c.fin++
				}
				if s.Flags.Has(model.FlagRST) {
					c.rst++
				}
				got[k] = c
				if s.HeaderCut {
					gotCut = append(gotCut, s.Frame)
				}
			}
			if len(segs) != total {
				t.Errorf("got %d segments, want %d (sum of stream packets)", len(segs), total)
			}
			if int(st.TCPFrames) != len(segs) {
				t.Errorf("got TCPFrames %d, want %d", st.TCPFrames, len(segs))
			}
			for k, w := range want {
				if g := got[k]; g != w {
					t.Errorf("%s -> %s: got %v, want %v", k[0], k[1], g, w)
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s -> %s: got %v, want no such pair", k[0], k[1], g)
				}
			}
			sort.Slice(wantCut, func(i, j int) bool { return wantCut[i] < wantCut[j] })
			if fmt.Sprint(gotCut) != fmt.Sprint(wantCut) {
				t.Errorf("got HeaderCut frames %v, want %v", gotCut, wantCut)
			}
		})
	}
}
