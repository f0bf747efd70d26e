package tui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// updating reports the -update flag, which rewrites tui/testdata/*.golden
// from the current views. The flag itself is defined by x/exp/golden,
// which teatest links into this test binary.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// golden compares got with testdata/NAME.golden (rewriting it under
// -update) and shows the first differing line.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -run Golden -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("%s: line %d differs\n got: %q\nwant: %q\n(go test ./tui -run Golden -update rewrites it; check the diff)", path, i+1, gl, wl)
			return
		}
	}
}

// TestGolden_Views pins what a person sees, with the ASCII colour profile,
// at the sizes the UI promises: 140x40, 80x24 and the 40x12 minimum.
func TestGolden_Views(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		text   string // typed after keys
		kernel bool
		sort   model.SortKey // sort set after keys (0: none)
		save   bool          // a saver is set
	}{
		{name: "main"},
		{name: "detail", keys: []string{"enter"}},
		{name: "events", keys: []string{"enter", "tab"}},
		{name: "states", keys: []string{"enter", "tab", "tab"}},
		{name: "help", keys: []string{"?"}},
		{name: "filter_error", keys: []string{"/"}, text: "port 80 and state nope"},
		{name: "filtered", keys: []string{"/"}, text: "rst or retrans>0"},
		{name: "procs", keys: []string{"p"}, kernel: true},
		{name: "kernel", keys: []string{"enter", "shift+tab"}, kernel: true},
		{name: "findings", keys: []string{"F", "j"}},
		{name: "counters", keys: []string{"enter", "tab", "tab", "tab"}},
		{name: "filter_language", keys: []string{"/", "?"}},
		{name: "save_prompt", keys: []string{"j", "w"}, save: true},
		{name: "procs_enter", keys: []string{"p", "enter"}, kernel: true},
		{name: "sorted_by_rate", keys: []string{"j", "j", "j"}, sort: model.SortRate},
	}
	sizes := [][2]int{{140, 40}, {80, 24}, {40, 12}}
	for _, sz := range sizes {
		for _, tc := range tests {
			name := tc.name + "_" + itoaSize(sz)
			t.Run(name, func(t *testing.T) {
				var opts Options
				if tc.save {
					opts.Save = func(context.Context, SaveRequest) (string, error) { return "", nil }
				}
				m, feed := newTestModel(t, sz[0], sz[1], opts)
				if tc.kernel {
					feed.kernel = fixtureKernel("nginx")
					m.Update(pollFeed(feed, time.Unix(1001, 0)))
				}
				runCmd(m, press(m, tc.keys...))
				typeText(m, tc.text)
				if tc.sort != 0 {
					m.setSort(tc.sort, false)
				}
				golden(t, name, m.View())
			})
		}
	}
}

func itoaSize(sz [2]int) string {
	return strings.Join([]string{itoa(sz[0]), itoa(sz[1])}, "x")
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
