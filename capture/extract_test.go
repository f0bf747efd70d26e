package capture

import (
	"path/filepath"
	"testing"

	"github.com/connscope/connscope/model"
)

// TestExtract_OneFlowRoundTrips writes one flow of a fixture to pcapng and
// reads it back: the same segments, in order, and nothing of other flows.
func TestExtract_OneFlowRoundTrips(t *testing.T) {
	readSegments := func(path string) []model.Segment {
		t.Helper()
		segs, _, err := readAll(t, path)
		if err != nil {
			t.Fatal(err)
		}
		return segs
	}
	path := fixture(t, "ipv6-lo.pcap")
	all := readSegments(path)
	a, b := all[0].Src, all[0].Dst
	match := func(s *model.Segment) bool {
		return (s.Src == a && s.Dst == b) || (s.Src == b && s.Dst == a)
	}
	var want []model.Segment
	for _, s := range all {
		if match(&s) {
			want = append(want, s)
		}
	}
	if len(want) == 0 || len(want) == len(all) {
		t.Fatalf("fixture: flow has %d of %d segments; want a strict subset", len(want), len(all))
	}
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), "flow.pcapng")
	n, err := Extract(src, dst, want[0].Frame, want[len(want)-1].Frame, match)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("wrote %d packets, want %d", n, len(want))
	}
	got := readSegments(dst)
	if len(got) != len(want) {
		t.Fatalf("read back %d segments, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		g.Frame, w.Frame = 0, 0 // renumbered in the new file
		g.Iface, w.Iface = 0, 0
		if g != w {
			t.Fatalf("segment %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestExtract_NoMatchLeavesNoFile reports an empty selection as an error.
func TestExtract_NoMatchLeavesNoFile(t *testing.T) {
	src, err := Open(fixture(t, "ipv6-lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), "none.pcapng")
	if _, err := Extract(src, dst, 1, 0, func(*model.Segment) bool { return false }); err == nil {
		t.Fatal("got nil error for an empty selection")
	}
	if _, err := Open(dst); err == nil {
		t.Fatal("an empty selection left a file behind")
	}
}
