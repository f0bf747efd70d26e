package corpus

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Paths of the corpus, relative to the repository root and to the shared
// directory.
const (
	// SharedRel is the shared directory relative to the repository root.
	SharedRel = "../shared"
	// PublicRel is the public captures' directory inside the shared one.
	PublicRel = "pcaps/public"
	// OracleSuffix ends the name of a capture's tshark oracle, written
	// beside the capture.
	OracleSuffix = ".oracle.json"
)

// Entry is one capture of the public corpus.
type Entry struct {
	// Name is the file name ("ndpi-avast.pcap").
	Name string
	// Path is the file's path, usable from the test's directory.
	Path string
	// Oracle is the path of its tshark oracle (Path + OracleSuffix), or
	// "" when it has none.
	Oracle string
}

// Root returns the repository root: the nearest directory holding go.mod
// at or above the test's working directory. Not finding one is a broken
// checkout, not a missing corpus: the test fails.
func Root(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("corpus: working directory: %v", err)
	}
	root, err := findRoot(wd)
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	return root
}

// Dir returns the shared directory (../shared beside the repository).
// When it is absent the test is skipped, or fails under CI=true.
func Dir(t testing.TB) string {
	t.Helper()
	return need(t, sharedDir(Root(t)), "the shared reference corpus")
}

// PublicDir returns the directory of the public captures and their
// oracles (../shared/pcaps/public). When it is absent the test is
// skipped, or fails under CI=true.
func PublicDir(t testing.TB) string {
	t.Helper()
	return need(t, publicDir(Root(t)), "the shared public captures")
}

// Capture returns the path of one public capture by file name. When it is
// absent the test is skipped, or fails under CI=true.
func Capture(t testing.TB, name string) string {
	t.Helper()
	dir := PublicDir(t)
	return need(t, filepath.Join(dir, name), "the shared capture "+name)
}

// Captures lists every capture of the public corpus, sorted by name, each
// with its oracle's path when it has one. Oracles, notes and licences are
// not captures. An absent or empty corpus skips the test, or fails it
// under CI=true.
func Captures(t testing.TB) []Entry {
	t.Helper()
	dir := PublicDir(t)
	out, err := list(dir)
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	if len(out) == 0 {
		missing(t, "the shared public captures", dir+" holds no capture")
	}
	return out
}

// WithOracles returns the captures of Captures that have a tshark oracle.
func WithOracles(t testing.TB) []Entry {
	t.Helper()
	var out []Entry
	for _, c := range Captures(t) {
		if c.Oracle != "" {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		missing(t, "the tshark oracles of the shared captures", "no "+OracleSuffix+" file in "+PublicDir(t))
	}
	return out
}

// findRoot walks up from dir to the first directory holding go.mod.
func findRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for start := dir; ; {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && st.Mode().IsRegular() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod at or above %s", start)
		}
		dir = parent
	}
}

func sharedDir(root string) string { return filepath.Clean(filepath.Join(root, SharedRel)) }

func publicDir(root string) string {
	return filepath.Join(sharedDir(root), filepath.FromSlash(PublicRel))
}

// need returns path if it exists; otherwise it applies the policy.
func need(t testing.TB, path, what string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		reason := path + " does not exist"
		if !errors.Is(err, fs.ErrNotExist) {
			reason = err.Error()
		}
		missing(t, what, reason)
	}
	return path
}

// missing is the one policy: skip, or fail when CI=true.
func missing(t testing.TB, what, reason string) {
	t.Helper()
	const hint = "check out the project's shared directory beside the repository, as " + SharedRel
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (%s); CI=true, so this fails: %s", what, reason, hint)
	}
	t.Skipf("%s is missing (%s); skipped: %s", what, reason, hint)
}

// list reads the captures of dir.
func list(dir string) ([]Entry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !isCapture(name) {
			continue
		}
		c := Entry{Name: name, Path: filepath.Join(dir, name)}
		if st, err := os.Stat(c.Path + OracleSuffix); err == nil && st.Mode().IsRegular() {
			c.Oracle = c.Path + OracleSuffix
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// isCapture tells capture files from the oracles, notes and tables beside
// them, by name: the corpus holds .pcap, .pcapng, .trace and gzipped
// captures.
func isCapture(name string) bool {
	switch {
	case strings.HasPrefix(name, "."),
		strings.HasSuffix(name, ".json"),
		strings.HasSuffix(name, ".md"),
		strings.HasSuffix(name, ".tsv"),
		strings.HasSuffix(name, ".txt"):
		return false
	}
	return true
}
