package capture

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
)

// fixtureNames are the capture fixtures in the repository's testdata
// (see testdata/README.md).
var fixtureNames = []string{
	"encaps.pcapng", "ipv6-lo-be-nsec.pcap", "ipv6-lo.pcap", "mixed.pcapng.gz",
	"sll2-any.pcap", "truncated.pcap", "vxlan.pcap",
}

// fixture returns the path of a file under the repository's testdata.
func fixture(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(corpus.Root(t), "testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return p
}

// oracleCaptures lists the paths of the shared captures that have a
// tshark oracle (see internal/corpus for when the corpus is absent).
func oracleCaptures(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, c := range corpus.WithOracles(t) {
		out = append(out, c.Path)
	}
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
	b, err := os.ReadFile(capture + corpus.OracleSuffix)
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
		if err == ErrIdle {
			continue
		}
		if err != nil {
			return segs, f.Stats(), err
		}
		segs = append(segs, s)
	}
}
