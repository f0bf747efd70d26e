package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/connscope/connscope/internal/corpus"
	"github.com/connscope/connscope/model"
)

var update = flag.Bool("update-tshark", false, "rewrite the tshark goldens in testdata/golden (needs tshark 4.0 on PATH)")

// fieldColumns are the per-frame values compared with tshark. Options are
// "-" in frames whose TCP header is cut short (tshark and we may read a
// different part of a cut option list, and neither analyses the frame).
var fieldColumns = []string{
	"file", "frame", "ts", "framelen", "iface", "src", "dst", "seq", "ack", "win", "flags",
	"len", "hdrlen", "ttl", "ipid", "df", "v6", "cut", "mss", "ws", "sackperm", "sack", "tsval", "tsecr",
}

// goldenSet is a group of captures whose tshark fields are kept in one
// golden file under testdata/golden.
type goldenSet struct {
	golden string
	// maxFrame limits the frames kept per capture (0: all), to keep the
	// golden of the shared corpus small.
	maxFrame uint64
	files    func(t testing.TB) []string
}

var goldenSets = []goldenSet{
	{golden: "fixtures.tsv", files: func(t testing.TB) []string {
		var out []string
		for _, name := range fixtureNames {
			out = append(out, fixture(t, name))
		}
		return out
	}},
	{golden: "shared.tsv.gz", maxFrame: 100, files: func(t testing.TB) []string {
		return oracleCaptures(t)
	}},
}

// knownFieldDifferences are frames where we deliberately differ from
// tshark 4.0, with the reason. Each entry must still differ, so a stale
// entry fails the test.
var knownFieldDifferences = map[string]string{
	"encaps.pcapng#93": "the packet commented \"NFLOG big-endian TLVs, ipv6\": TLVs in big-endian order inside a little-endian file: tshark reads TLVs " +
		"in the reading host's order and finds a malformed record; we accept either order " +
		"(a record from a big-endian host is then decoded too)",
}

// TestFields_MatchTshark compares, frame by frame, every field of the
// segments we decode with what tshark 4.0 dissects (recorded in
// testdata/golden): the set of frames tshark puts in a TCP stream, and for
// each its time, lengths, interface, addresses, ports, TCP header fields,
// IP TTL/ID/DF and TCP options.
func TestFields_MatchTshark(t *testing.T) {
	for _, set := range goldenSets {
		t.Run(set.golden, func(t *testing.T) { testFieldSet(t, set) })
	}
}

func testFieldSet(t *testing.T, set goldenSet) {
	goldenPath := filepath.Join(corpus.Root(t), "testdata", "golden", set.golden)
	if *update {
		writeGolden(t, set, goldenPath)
	}
	want := readGolden(t, goldenPath)
	files := set.files(t)
	if len(files) == 0 {
		t.Fatalf("%s: no captures", set.golden)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			wantRows, ok := want[name]
			if !ok {
				t.Fatalf("no golden rows for %s in %s: run with -update-tshark", name, set.golden)
			}
			segs, _, _ := readAll(t, path)
			got := map[uint64][]string{}
			for i := range segs {
				if set.maxFrame == 0 || segs[i].Frame <= set.maxFrame {
					got[segs[i].Frame] = segmentRow(name, &segs[i])
				}
			}
			compareRows(t, name, got, wantRows)
		})
	}
}

func compareRows(t *testing.T, name string, got, want map[uint64][]string) {
	t.Helper()
	frames := map[uint64]bool{}
	for f := range got {
		frames[f] = true
	}
	for f := range want {
		frames[f] = true
	}
	order := make([]uint64, 0, len(frames))
	for f := range frames {
		order = append(order, f)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, f := range order {
		key := fmt.Sprintf("%s#%d", name, f)
		g, w := got[f], want[f]
		var diffs []string
		switch {
		case g == nil:
			diffs = append(diffs, "tshark has a TCP segment, we have none")
		case w == nil:
			diffs = append(diffs, "we have a segment, tshark puts no TCP segment in a stream")
		default:
			for i := range fieldColumns {
				if g[i] != w[i] && g[i] != "-" && w[i] != "-" {
					diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", fieldColumns[i], g[i], w[i]))
				}
			}
		}
		reason, known := knownFieldDifferences[key]
		switch {
		case known && len(diffs) == 0:
			t.Errorf("frame %d: listed as a known difference (%s) but matches tshark now: remove the entry", f, reason)
		case !known:
			for _, d := range diffs {
				t.Errorf("frame %d: %s", f, d)
			}
		}
	}
}

// segmentRow formats a segment like a golden row.
func segmentRow(file string, s *model.Segment) []string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	row := []string{
		file, strconv.FormatUint(s.Frame, 10), fmt.Sprintf("%d.%09d", s.TS/1e9, s.TS%1e9),
		strconv.Itoa(int(s.FrameLen)), strconv.Itoa(int(s.Iface)), s.Src.String(), s.Dst.String(),
		strconv.FormatUint(uint64(s.Seq), 10), strconv.FormatUint(uint64(s.Ack), 10),
		strconv.Itoa(int(s.Window)), fmt.Sprintf("%02x", uint8(s.Flags)), strconv.Itoa(int(s.PayloadLen)),
		strconv.Itoa(int(s.TCPHdrLen)), strconv.Itoa(int(s.TTL)), strconv.Itoa(int(s.IPID)), b(s.DF), b(s.IPv6),
		b(s.HeaderCut),
		strconv.Itoa(int(s.Opts.MSS)), strconv.Itoa(int(s.Opts.WScale)), b(s.Opts.SACKPermitted), b(s.Opts.SACK),
		strconv.FormatUint(uint64(s.Opts.TSVal), 10), strconv.FormatUint(uint64(s.Opts.TSEcr), 10),
	}
	if s.HeaderCut {
		for i := len(row) - 6; i < len(row); i++ {
			row[i] = "-"
		}
	}
	return row
}

// readGolden loads a golden file: rows by capture name and frame.
func readGolden(t testing.TB, path string) map[string]map[uint64][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate with -update-tshark, which needs tshark)", err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	out := map[string]map[uint64][]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			if name, ok := strings.CutPrefix(line, "# capture "); ok {
				out[name] = map[uint64][]string{} // a capture with no TCP rows
			}
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != len(fieldColumns) {
			t.Fatalf("%s:%d: got %d columns, want %d", path, n, len(cols), len(fieldColumns))
		}
		frame, err := strconv.ParseUint(cols[1], 10, 64)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		if out[cols[0]] == nil {
			out[cols[0]] = map[uint64][]string{}
		}
		out[cols[0]][frame] = cols
	}
	return out
}

// tsharkFields are the fields extracted per frame, in this order.
var tsharkFields = []string{
	"frame.number", "frame.time_epoch", "frame.len", "frame.interface_id", "frame.protocols", "tcp.stream",
	"ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.ttl", "ipv6.hlim", "ip.id", "ip.flags.df",
	"tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "tcp.flags",
	"tcp.len", "tcp.hdr_len", "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm",
	"tcp.options.sack_le", "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
	"_ws.short", "_ws.malformed",
}

// writeGolden runs tshark over the set's captures and writes the golden.
func writeGolden(t *testing.T, set goldenSet, path string) {
	t.Helper()
	version, err := exec.Command("tshark", "--version").Output()
	if err != nil {
		t.Fatalf("-update-tshark needs tshark: %v", err)
	}
	cfg := t.TempDir()
	var out bytes.Buffer
	fmt.Fprintf(&out, "# per-frame TCP fields from %s\n", strings.SplitN(string(version), "\n", 2)[0])
	fmt.Fprintf(&out, "# regenerate: go test ./capture/ -run TestFields_ -update-tshark\n")
	fmt.Fprintf(&out, "# columns: %s\n", strings.Join(fieldColumns, " "))
	if set.maxFrame > 0 {
		fmt.Fprintf(&out, "# frames 1-%d of each capture\n", set.maxFrame)
	}
	for _, capPath := range set.files(t) {
		name := filepath.Base(capPath)
		fmt.Fprintf(&out, "# capture %s\n", name)
		args := []string{"-r", capPath, "-n"}
		for _, p := range []string{"tcp.analyze_sequence_numbers:TRUE", "tcp.check_checksum:FALSE",
			"tcp.desegment_tcp_streams:TRUE", "ip.defragment:TRUE", "ipv6.defragment:TRUE"} {
			args = append(args, "-o", p)
		}
		args = append(args, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "quote=n")
		for _, f := range tsharkFields {
			args = append(args, "-e", f)
		}
		cmd := exec.Command("tshark", args...)
		cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+cfg, "LC_ALL=C")
		res, _ := cmd.Output() // a truncated capture exits non-zero after its last frame
		for _, line := range strings.Split(strings.TrimRight(string(res), "\n"), "\n") {
			if line == "" {
				continue
			}
			row, ok := tsharkRow(t, name, line)
			if !ok {
				continue
			}
			if f, _ := strconv.ParseUint(row[1], 10, 64); set.maxFrame > 0 && f > set.maxFrame {
				continue
			}
			out.WriteString(strings.Join(row, "\t"))
			out.WriteByte('\n')
		}
	}
	data := out.Bytes()
	if strings.HasSuffix(path, ".gz") {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		data = z.Bytes()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tsharkRow turns one line of tshark output into a golden row; ok is false
// for frames tshark puts in no TCP stream (and for ICMP-quoted headers),
// following the oracle's rules.
func tsharkRow(t *testing.T, file, line string) (row []string, ok bool) {
	cols := strings.Split(line, "\t")
	for len(cols) < len(tsharkFields) {
		cols = append(cols, "")
	}
	v := map[string]string{}
	for i, f := range tsharkFields {
		v[f] = cols[i]
	}
	last := func(f string) string {
		s := v[f]
		if i := strings.LastIndexByte(s, ','); i >= 0 {
			return s[i+1:]
		}
		return s
	}
	protos := strings.Split(v["frame.protocols"], ":")
	tcpAt := -1
	for i, p := range protos {
		if p == "tcp" {
			tcpAt = i
			break
		}
	}
	if tcpAt < 0 || v["tcp.stream"] == "" || strings.Contains(v["tcp.stream"], ",") {
		return nil, false
	}
	fam := ""
	for i := tcpAt - 1; i >= 0; i-- {
		if protos[i] == "icmp" || protos[i] == "icmpv6" {
			return nil, false
		}
		if fam == "" && (protos[i] == "ip" || protos[i] == "ipv6") {
			fam = protos[i]
		}
	}
	if fam == "" {
		return nil, false
	}
	num := func(s string) uint64 {
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil && s != "" {
			t.Fatalf("%s: frame %s: bad number %q", file, v["frame.number"], s)
		}
		return n
	}
	bit := func(s string) string {
		if s == "1" || s == "True" {
			return "1"
		}
		return "0"
	}
	present := func(s string) string {
		if s != "" {
			return "1"
		}
		return "0"
	}
	ep := func(addr, port string) string {
		if fam == "ipv6" {
			return "[" + addr + "]:" + port
		}
		return addr + ":" + port
	}
	hdr := int(num(last("tcp.hdr_len")))
	cut := strings.Contains(v["_ws.short"], "TCP") || strings.Contains(v["_ws.malformed"], "TCP") || hdr < 20
	ts := v["frame.time_epoch"]
	if i := strings.IndexByte(ts, '.'); i >= 0 {
		frac := ts[i+1:]
		for len(frac) < 9 {
			frac += "0"
		}
		ts = ts[:i+1] + frac
	}
	ttl, ipid, df, v6 := last("ip.ttl"), strconv.FormatUint(num(last("ip.id")), 10), bit(last("ip.flags.df")), "0"
	if fam == "ipv6" {
		ttl, ipid, df, v6 = last("ipv6.hlim"), "0", "0", "1"
	}
	ws := "-1"
	if s := last("tcp.options.wscale.shift"); s != "" {
		ws = strconv.FormatUint(min(num(s), maxWScale), 10)
	}
	row = []string{
		file, v["frame.number"], ts, v["frame.len"], strconv.FormatUint(num(v["frame.interface_id"]), 10),
		ep(last(fam+".src"), last("tcp.srcport")), ep(last(fam+".dst"), last("tcp.dstport")),
		strconv.FormatUint(num(last("tcp.seq_raw")), 10), strconv.FormatUint(num(last("tcp.ack_raw")), 10),
		strconv.FormatUint(num(last("tcp.window_size_value")), 10), fmt.Sprintf("%02x", num(last("tcp.flags"))&0xFF),
		strconv.FormatUint(num(last("tcp.len")), 10), strconv.Itoa(hdr), ttl, ipid, df, v6, bit(map[bool]string{true: "1"}[cut]),
		strconv.FormatUint(num(last("tcp.options.mss_val")), 10), ws, present(v["tcp.options.sack_perm"]),
		present(v["tcp.options.sack_le"]), strconv.FormatUint(num(last("tcp.options.timestamp.tsval")), 10),
		strconv.FormatUint(num(last("tcp.options.timestamp.tsecr")), 10),
	}
	if cut {
		for i := len(row) - 6; i < len(row); i++ {
			row[i] = "-"
		}
	}
	return row, true
}
