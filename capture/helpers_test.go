package capture

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/connscope/connscope/model"
)

// repoRoot is the directory holding go.mod, found upwards from the package
// directory the tests run in.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// sharedPcaps is the public capture corpus beside the repository; tests
// that need it skip when it is absent.
func sharedPcaps(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "pcaps", "public")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared capture corpus not found at %s", dir)
	}
	return dir
}

// fixtureNames are the capture fixtures in the repository's testdata
// (see testdata/README.md).
var fixtureNames = []string{
	"encaps.pcapng", "ipv6-lo-be-nsec.pcap", "ipv6-lo.pcap", "mixed.pcapng.gz",
	"sll2-any.pcap", "truncated.pcap", "vxlan.pcap",
}

// fixture returns the path of a file under the repository's testdata.
func fixture(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), "testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return p
}

// captureFiles lists the capture files of a directory (those with an
// oracle beside them when oracleOnly).
func captureFiles(t testing.TB, dir string, oracleOnly bool) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".md") || strings.HasSuffix(n, ".tsv") {
			continue
		}
		if oracleOnly {
			if _, err := os.Stat(filepath.Join(dir, n+".oracle.json")); err != nil {
				continue
			}
		}
		out = append(out, filepath.Join(dir, n))
	}
	sort.Strings(out)
	return out
}

// oracleDir is one direction of an oracle stream.
type oracleDir struct {
	Packets      int `json:"packets"`
	PayloadBytes int `json:"payload_bytes"`
	SYN          int `json:"syn"`
	FIN          int `json:"fin"`
	RST          int `json:"rst"`
}

// oracle is the part of a tshark oracle file these tests compare with.
type oracle struct {
	Packets   int    `json:"packets"`
	Truncated bool   `json:"truncated"`
	ReadError string `json:"read_error"`
	Streams   []struct {
		A                  string    `json:"a"`
		B                  string    `json:"b"`
		AtoB               oracleDir `json:"a_to_b"`
		BtoA               oracleDir `json:"b_to_a"`
		BadTCPHeaderFrames []uint64  `json:"bad_tcp_header_frames"`
	} `json:"streams"`
}

func readOracle(t testing.TB, capture string) oracle {
	t.Helper()
	b, err := os.ReadFile(capture + ".oracle.json")
	if err != nil {
		t.Fatal(err)
	}
	var o oracle
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s.oracle.json: %v", capture, err)
	}
	return o
}

// readAll decodes every segment of a capture file; err is what ended it
// (nil at a clean end).
func readAll(t testing.TB, path string) (segs []model.Segment, st model.SourceStats, err error) {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		return nil, model.SourceStats{}, err
	}
	defer f.Close()
	for {
		var s model.Segment
		err := f.Next(&s)
		if errors.Is(err, io.EOF) {
			return segs, f.Stats(), nil
		}
		if err != nil {
			return segs, f.Stats(), err
		}
		segs = append(segs, s)
	}
}
