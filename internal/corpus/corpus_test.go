package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestRoot_HoldsTheModule(t *testing.T) {
	root := Root(t)
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "module github.com/connscope/connscope\n") {
		t.Errorf("got go.mod starting %q, want the connscope module", string(b[:min(len(b), 40)]))
	}
}

func TestFindRoot_WalksUpToGoMod(t *testing.T) {
	top := t.TempDir()
	deep := filepath.Join(top, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "a", "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := findRoot(deep)
	if err != nil || got != filepath.Join(top, "a") {
		t.Errorf("got %q, %v; want %q", got, err, filepath.Join(top, "a"))
	}
	if got, err := findRoot(top); err == nil {
		t.Errorf("got root %q above a directory without go.mod, want an error", got)
	}
}

func TestCaptures_ListsTheCorpusWithItsOracles(t *testing.T) {
	all := Captures(t)
	with := WithOracles(t)
	if len(with) < 40 {
		t.Errorf("got %d captures with an oracle, want at least 40", len(with))
	}
	if !slices.IsSortedFunc(all, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("captures are not sorted by name")
	}
	for _, c := range all {
		if !isCapture(c.Name) {
			t.Errorf("%s listed as a capture", c.Name)
		}
		if st, err := os.Stat(c.Path); err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s: path %s: %v", c.Name, c.Path, err)
		}
		if c.Oracle != "" && c.Oracle != c.Path+OracleSuffix {
			t.Errorf("%s: oracle %s, want %s", c.Name, c.Oracle, c.Path+OracleSuffix)
		}
	}
	// The paths are relative to the repository, through ../shared.
	if dir := PublicDir(t); filepath.Dir(all[0].Path) != dir || filepath.Base(filepath.Dir(filepath.Dir(dir))) != "shared" {
		t.Errorf("got public dir %s for %s, want <root>/../shared/pcaps/public", dir, all[0].Path)
	}
	if p := Capture(t, "ndpi-avast.pcap"); filepath.Base(p) != "ndpi-avast.pcap" {
		t.Errorf("got %s, want the path of ndpi-avast.pcap", p)
	}
}

// recorder stands in for a test to observe the policy: Skipf and Fatalf
// end the goroutine, as they do in a test.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// observe runs fn with a recorder on a goroutine of its own.
func observe(fn func(t testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

func TestMissing_SkipsOrFailsUnderCI(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "shared", "pcaps", "public")
	for _, ci := range []string{"", "false", "true"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			r := observe(func(tb testing.TB) { need(tb, absent, "the shared public captures") })
			if wantFail := ci == "true"; r.failed != wantFail || r.skipped == wantFail {
				t.Errorf("got skipped %v, failed %v; want failed %v", r.skipped, r.failed, wantFail)
			}
			if !strings.Contains(r.msg, "the shared public captures") || !strings.Contains(r.msg, absent) {
				t.Errorf("got message %q, want it to name what is missing and where", r.msg)
			}
		})
	}
	// Present: no skip, no failure.
	t.Setenv("CI", "true")
	here, _ := os.Getwd()
	if r := observe(func(tb testing.TB) { need(tb, here, "x") }); r.skipped || r.failed {
		t.Errorf("got skipped %v, failed %v for a path that exists", r.skipped, r.failed)
	}
}
