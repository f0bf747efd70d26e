package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/connscope/connscope/model"
)

// ngPacket is one packet read back from a pcapng file.
type ngPacket struct {
	iface int
	ts    time.Time
	wire  int
	data  []byte
}

// readNg reads a pcapng file with gopacket's reader (an implementation
// independent of ours), returning the packets and their comments.
func readNg(t *testing.T, b []byte) ([]ngPacket, []string) {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatalf("pcapgo cannot read the file: %v", err)
	}
	var pkts []ngPacket
	var comments []string
	for {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err == io.EOF {
			return pkts, comments
		}
		if err != nil {
			t.Fatalf("pcapgo: packet %d: %v", len(pkts)+1, err)
		}
		pkts = append(pkts, ngPacket{iface: ci.InterfaceIndex, ts: ci.Timestamp, wire: ci.Length, data: append([]byte(nil), data...)})
		comments = append(comments, strings.Join(opts.Comments, "|"))
	}
}

// rawIPv4TCP is tcpFrame without its Ethernet header (raw IP link type).
func rawIPv4TCP(f tcpFrame) []byte { return f.bytes()[14:] }

func TestWriter_RoundTrip_TwoLinkTypesAndComments(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{Comment: "test capture"})
	if err != nil {
		t.Fatal(err)
	}
	eth, err := w.AddInterface("eth0", LinkEthernet, 160, "tcp port 80")
	if err != nil {
		t.Fatal(err)
	}
	tun, err := w.AddInterface("wg0", LinkRaw, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if eth != 0 || tun != 1 {
		t.Fatalf("got interface IDs %d, %d, want 0, 1", eth, tun)
	}
	t0 := time.Unix(1700000000, 123456789)
	type in struct {
		iface   int
		frame   tcpFrame
		wire    int
		comment string
	}
	ins := []in{
		{eth, tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: 1, flags: model.FlagSYN}, 0, OwnerComment(1234, "curl")},
		{tun, tcpFrame{src: "10.8.0.1", dst: "10.8.0.2", sport: 22, dport: 50000, seq: 7, ack: 9, flags: model.FlagACK, payload: 3}, 1400, ""},
		{eth, tcpFrame{src: "10.0.0.2", dst: "10.0.0.1", sport: 80, dport: 40000, seq: 5, ack: 2, flags: model.FlagSYN | model.FlagACK}, 0, "line one\nline two"},
	}
	for i, p := range ins {
		data := p.frame.bytes()
		if p.iface == tun {
			data = rawIPv4TCP(p.frame)
		}
		wire := p.wire
		if wire == 0 {
			wire = len(data)
		}
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), InterfaceIndex: p.iface, CaptureLength: len(data), Length: wire}
		if err := w.WritePacket(ci, data, p.comment); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	if err := w.WriteInterfaceStats(eth, t0.Add(time.Second).UnixNano(), 2, 5); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Packets() != 3 {
		t.Errorf("got Packets %d, want 3", w.Packets())
	}

	// Our reader: same segments, interfaces, times and wire lengths.
	f, err := NewReader("written.pcapng", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("capture.NewReader: %v", err)
	}
	for i, p := range ins {
		var s model.Segment
		if err := f.Next(&s); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		wantWire := uint32(p.wire)
		if wantWire == 0 {
			wantWire = uint32(len(p.frame.bytes()))
		}
		if s.Frame != uint64(i+1) || int(s.Iface) != p.iface || s.TS != t0.Add(time.Duration(i)*time.Millisecond).UnixNano() ||
			s.Src.Port() != p.frame.sport || s.Seq != p.frame.seq || s.Flags != p.frame.flags || s.FrameLen != wantWire {
			t.Errorf("segment %d: got frame %d iface %d ts %d sport %d seq %d flags %v len %d; want frame %d iface %d ts %d sport %d seq %d flags %v len %d",
				i, s.Frame, s.Iface, s.TS, s.Src.Port(), s.Seq, s.Flags, s.FrameLen,
				i+1, p.iface, t0.Add(time.Duration(i)*time.Millisecond).UnixNano(), p.frame.sport, p.frame.seq, p.frame.flags, wantWire)
		}
	}
	var s model.Segment
	if err := f.Next(&s); err != io.EOF {
		t.Errorf("after the last packet: got %v, want io.EOF", err)
	}

	// gopacket's reader: the comments (our File does not expose them).
	_, comments := readNg(t, buf.Bytes())
	want := []string{"connscope: pid=1234 comm=curl", "", "line one line two"}
	for i := range want {
		if comments[i] != want[i] {
			t.Errorf("comment %d: got %q, want %q", i, comments[i], want[i])
		}
	}
}

func TestWriter_Tshark_ReadsInterfacesAndComments(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	path := filepath.Join(t.TempDir(), "c.pcapng")
	w, err := CreateWriter(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lo, _ := w.AddInterface("lo", LinkEthernet, 160, "")
	tun, _ := w.AddInterface("tun0", LinkRaw, 160, "")
	t0 := time.Unix(1700000000, 0)
	f := tcpFrame{src: "127.0.0.1", dst: "127.0.0.1", sport: 5000, dport: 80, flags: model.FlagSYN}
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, InterfaceIndex: lo, CaptureLength: 54, Length: 54}, f.bytes(), OwnerComment(42, "nginx: worker"))
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, InterfaceIndex: tun, CaptureLength: 40, Length: 40}, rawIPv4TCP(f), "")
	w.WriteInterfaceStats(lo, t0.UnixNano(), 1, 0)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.interface_name", "-e", "tcp.srcport", "-e", "frame.comment")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.Bytes())
	}
	got := strings.TrimSpace(string(out))
	want := "lo\t5000\tconnscope: pid=42 comm=nginx: worker\ntun0\t5000\t"
	if got != strings.TrimSpace(want) {
		t.Errorf("tshark read:\n%s\nwant:\n%s", got, want)
	}
}

func TestWriter_EmptyCapture_IsAValidFile(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() == 0 {
		t.Error("got nothing written by NewWriter, want the section header at once")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := NewReader("empty.pcapng", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("got %v opening an empty capture, want a valid file", err)
	}
	var s model.Segment
	if err := f.Next(&s); err != io.EOF {
		t.Errorf("got %v, want io.EOF", err)
	}
}

// TestWriter_KilledBeforeClose_FileHoldsWholePackets stands for a process
// killed outright: the file holds what was written out so far, which must
// always end on a block boundary.
func TestWriter_KilledBeforeClose_FileHoldsWholePackets(t *testing.T) {
	var buf syncBuffer
	w, err := NewWriter(&buf, WriterOptions{BufferSize: 300, FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface("eth0", LinkEthernet, 160, "")
	t0 := time.Unix(1700000000, 0)
	const n = 20
	for i := 0; i < n; i++ {
		f := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, seq: uint32(i), flags: model.FlagACK}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, InterfaceIndex: id, CaptureLength: 54, Length: 54}, f.bytes(), "c"); err != nil {
			t.Fatal(err)
		}
		on := buf.bytes()
		f2, err := NewReader("partial", bytes.NewReader(on))
		if err != nil {
			t.Fatalf("after packet %d: %v", i, err)
		}
		got := 0
		for {
			var s model.Segment
			err := f2.Next(&s)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after packet %d, reading what was written: got %v, want whole packets and a clean end", i, err)
			}
			if s.Seq != uint32(got) {
				t.Fatalf("got seq %d as packet %d", s.Seq, got)
			}
			got++
		}
		if got > i+1 {
			t.Fatalf("got %d packets after writing %d", got, i+1)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if pkts, _ := readNg(t, buf.bytes()); len(pkts) != n {
		t.Errorf("got %d packets after Close, want %d", len(pkts), n)
	}
}

func TestWriter_FlushEvery_WritesOutAQuietTail(t *testing.T) {
	var buf syncBuffer
	w, err := NewWriter(&buf, WriterOptions{FlushEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	id, _ := w.AddInterface("eth0", LinkEthernet, 160, "")
	f := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, flags: model.FlagSYN}
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), InterfaceIndex: id, CaptureLength: 54, Length: 54}, f.bytes(), ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if pkts, _ := readNg(t, buf.bytes()); len(pkts) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the packet was never written out without Flush or Close")
		}
		time.Sleep(time.Millisecond)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestWriter_Errors(t *testing.T) {
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: 4, Length: 4}
	t.Run("unknown interface", func(t *testing.T) {
		w, _ := NewWriter(io.Discard, WriterOptions{})
		ci := ci
		ci.InterfaceIndex = 3
		err := w.WritePacket(ci, []byte{1, 2, 3, 4}, "")
		if err == nil || !strings.Contains(err.Error(), "interface 3") {
			t.Errorf("got %v, want an error naming interface 3", err)
		}
	})
	t.Run("after close", func(t *testing.T) {
		w, _ := NewWriter(io.Discard, WriterOptions{})
		w.AddInterface("lo", LinkEthernet, 0, "")
		w.Close()
		if err := w.WritePacket(ci, []byte{1, 2, 3, 4}, ""); !errors.Is(err, ErrWriterClosed) {
			t.Errorf("got %v, want ErrWriterClosed", err)
		}
	})
	t.Run("write error is sticky", func(t *testing.T) {
		w, err := NewWriter(&failWriter{after: 1}, WriterOptions{FlushEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		w.AddInterface("lo", LinkEthernet, 0, "")
		if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("got %v from Flush, want the write error", err)
		}
		if err := w.WritePacket(ci, []byte{1, 2, 3, 4}, ""); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("got %v from a later write, want the first error again", err)
		}
		if w.Err() == nil {
			t.Error("got nil Err, want the write error")
		}
	})
	t.Run("create names the file", func(t *testing.T) {
		_, err := CreateWriter(filepath.Join(t.TempDir(), "no", "such", "dir.pcapng"), WriterOptions{})
		var pe *os.PathError
		if !errors.As(err, &pe) {
			t.Errorf("got %v, want a *PathError naming the file", err)
		}
	})
}

func TestOwnerComment_RoundTrip(t *testing.T) {
	tests := []struct {
		pid  int
		comm string
		want string
	}{
		{1234, "nginx", "connscope: pid=1234 comm=nginx"},
		{1, "Web Content", "connscope: pid=1 comm=Web Content"},
		{7, "evil\x1b[2Jname", "connscope: pid=7 comm=evilname"},
		{8, "t\x1b]0;title\x07ab\u202ec\td", "connscope: pid=8 comm=tabc d"},
	}
	for _, tc := range tests {
		got := OwnerComment(tc.pid, tc.comm)
		if got != tc.want {
			t.Errorf("OwnerComment(%d, %q): got %q, want %q", tc.pid, tc.comm, got, tc.want)
		}
		pid, comm, ok := ParseOwnerComment(got)
		if !ok || pid != tc.pid || comm != strings.TrimPrefix(tc.want, "connscope: pid="+strconv.Itoa(tc.pid)+" comm=") {
			t.Errorf("ParseOwnerComment(%q): got %d %q %v", got, pid, comm, ok)
		}
	}
	// A comment written by someone else: the command comes back plain.
	if pid, comm, ok := ParseOwnerComment("connscope: pid=9 comm=a\x1b[31mb\u009b2Jc\u2066d\xffe"); !ok || pid != 9 || comm != "abcd\ufffde" {
		t.Errorf("ParseOwnerComment of a crafted comment: got %d %q %v, want 9 \"abcd\\ufffde\"", pid, comm, ok)
	}
	for _, bad := range []string{"", "pid=1 comm=x", "connscope: pid=x comm=y", "connscope: pid=1", "connscope: pid=-1 comm=x"} {
		if _, _, ok := ParseOwnerComment(bad); ok {
			t.Errorf("ParseOwnerComment(%q): got ok, want not ok", bad)
		}
	}
}

func TestResetComment_RoundTrip(t *testing.T) {
	owner := OwnerComment(1234, "web server")
	tests := []struct {
		reason, owner string
		want          string
		wantReason    string
		wantPID       int
	}{
		{"TCP_ABORT_ON_CLOSE", owner, "connscope: rst=TCP_ABORT_ON_CLOSE pid=1234 comm=web server", "TCP_ABORT_ON_CLOSE", 1234},
		{"NO_SOCKET", "", "connscope: rst=NO_SOCKET", "NO_SOCKET", -1},
		{"TCP_STATE", "someone else's note", "connscope: rst=TCP_STATE", "TCP_STATE", -1},
		// Not a kernel reason name: the owner comment stays as it was.
		{"abort\x1b[2J", owner, owner, "", 1234},
		{"", owner, owner, "", 1234},
	}
	for _, tc := range tests {
		got := ResetComment(tc.reason, tc.owner)
		if got != tc.want {
			t.Errorf("ResetComment(%q, %q): got %q, want %q", tc.reason, tc.owner, got, tc.want)
		}
		reason, ok := ParseResetComment(got)
		if reason != tc.wantReason || ok != (tc.wantReason != "") {
			t.Errorf("ParseResetComment(%q): got %q %v, want %q", got, reason, ok, tc.wantReason)
		}
		pid, comm, ok := ParseOwnerComment(got)
		if tc.wantPID < 0 {
			if ok {
				t.Errorf("ParseOwnerComment(%q): got owner %d %q, want none", got, pid, comm)
			}
		} else if !ok || pid != tc.wantPID || comm != "web server" {
			t.Errorf("ParseOwnerComment(%q): got %d %q %v, want %d \"web server\"", got, pid, comm, ok, tc.wantPID)
		}
	}
	for _, bad := range []string{"connscope: rst=", "connscope: rst=lower pid=1 comm=x", "rst=NO_SOCKET", "connscope: rst=" + strings.Repeat("A", 65)} {
		if r, ok := ParseResetComment(bad); ok {
			t.Errorf("ParseResetComment(%q): got %q, want not ok", bad, r)
		}
	}
}

// writeSome writes n TCP packets of interface id.
func writeSome(t *testing.T, w *Writer, id, n int) {
	t.Helper()
	t0 := time.Unix(1700000000, 0)
	for i := range n {
		data := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 1, dport: 2, seq: uint32(i), flags: model.FlagACK}.bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, InterfaceIndex: id, CaptureLength: len(data), Length: len(data)}, data, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// readStream reads a capture from r to its end, counting segments.
func readStream(r io.Reader) (int, error) {
	f, err := NewReader("pipe", r)
	if err != nil {
		return 0, err
	}
	var seg model.Segment
	n := 0
	for {
		switch err := f.Next(&seg); err {
		case nil:
			n++
		case ErrIdle:
		case io.EOF:
			return n, nil
		default:
			return n, err
		}
	}
}

func TestCreateWriter_Dash_WritesToStdout(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	stdout := os.Stdout
	os.Stdout = pw
	defer func() { os.Stdout = stdout }()
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() { n, err := readStream(pr); got <- result{n, err} }()

	w, err := CreateWriter("-", WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface("lo", LinkEthernet, 0, "")
	writeSome(t, w, id, 3000) // more than a pipe buffer
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Close leaves stdout open: the program may still write to it.
	if _, err := pw.Write(nil); err != nil {
		t.Errorf("stdout closed by the Writer: %v", err)
	}
	pw.Close()
	if r := <-got; r.err != nil || r.n != 3000 {
		t.Errorf("got %d packets from stdout, %v; want 3000", r.n, r.err)
	}
}

func TestWriter_PipeClosedByItsReader_ErrorIsStickyAndNamesThePipeOnce(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	w, err := NewWriter(pw, WriterOptions{BufferSize: 1000, FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	pr.Close() // the reading program went away
	id, _ := w.AddInterface("lo", LinkEthernet, 0, "")
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		data := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", flags: model.FlagACK}.bytes()
		werr = w.WritePacket(gopacket.CaptureInfo{InterfaceIndex: id, CaptureLength: len(data), Length: len(data)}, data, "")
	}
	if !errors.Is(werr, syscall.EPIPE) {
		t.Fatalf("got %v, want EPIPE", werr)
	}
	if msg := werr.Error(); strings.Count(msg, pw.Name()) != 1 || strings.Count(msg, "write") != 1 {
		t.Errorf("got %q, want the pipe named once after one \"write\"", msg)
	}
	if err := w.Close(); err != werr {
		t.Errorf("got %v from Close, want %v", err, werr)
	}
}

func TestWriter_NamesWithControlBytes_AreQuotedInErrors(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "no such dir\x1b]0;title\a", "x\x1b[2J.pcapng")
	_, err := CreateWriter(name, WriterOptions{})
	var pe *os.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *PathError", err)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\x1b\a") || !strings.Contains(msg, `\x1b]0;title\a`) {
		t.Errorf("got %q, want the name quoted with its escapes spelled out", msg)
	}
	w, err := NewWriter(&failWriter{}, WriterOptions{})
	if w != nil || err == nil {
		t.Fatalf("got %v, %v; want the header's write error", w, err)
	}
}
