package capture

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/connscope/connscope/model"
)

// hostile is a name made to drive a terminal: set the window title,
// clear the screen, reverse what follows, ring the bell.
const hostile = "x\x1b]0;owned\x07\x1b[2J\u202e\u009b1m\x7f.pcap"

// checkInert fails when msg holds a byte or rune that a terminal would
// act on, or when it is not one line.
func checkInert(t *testing.T, what, msg string) {
	t.Helper()
	for _, r := range msg {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || model.IsBidiControl(r) {
			t.Errorf("%s: got %q, holding %U", what, msg, r)
			return
		}
	}
}

func TestQuoteName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"eth0", "eth0"},
		{"/tmp/a b/c.pcap", "/tmp/a b/c.pcap"},
		{"café", "café"},
		{"a\x1b[2Jb", `"a\x1b[2Jb"`},
		{"tab\there", `"tab\there"`},
		{"rlo\u202eexe", `"rlo\u202eexe"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
		{"c1\u0085", `"c1\u0085"`},
	} {
		if got := quoteName(tc.in); got != tc.want {
			t.Errorf("quoteName(%q): got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestOpen_NamesWithControlBytes_AreQuoted(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sub := filepath.Join(dir, hostile+".d")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	truncated := pcapBytes(1, rec{data: ethIPv4TCP(tcpHeader{flags: 2}, 0)})
	for _, tc := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "no"+hostile)},
		{"directory", sub},
		{"not a capture", write(hostile, []byte("hello"))},
		{"empty", write("e"+hostile, nil)},
		{"unsupported link type", write("u"+hostile, pcapBytes(147))},
		{"pcap header cut", write("h"+hostile, pcapBytes(1)[:10])},
	} {
		f, err := Open(tc.path)
		if err == nil {
			f.Close()
			t.Fatalf("%s: got no error", tc.name)
		}
		checkInert(t, tc.name, err.Error())
		if !strings.Contains(err.Error(), `\x1b]0;owned\a\x1b[2J\u202e\u009b1m\x7f`) {
			t.Errorf("%s: got %q, want the name with its escapes spelled out", tc.name, err)
		}
	}
	// A *FileError from reading: a record cut short.
	f, err := Open(write("t"+hostile, truncated[:len(truncated)-5]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seg model.Segment
	err = f.Next(&seg)
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("got %v, want a truncation *FileError", err)
	}
	checkInert(t, "FileError", err.Error())
	if fe.File != filepath.Join(dir, "t"+hostile) {
		t.Errorf("got File %q, want the name as given", fe.File)
	}
}

func TestLiveEvent_String_QuotesTheInterface(t *testing.T) {
	name := "v\x1b[2J\x07"
	for _, ev := range []LiveEvent{
		{Kind: EventIfaceAdded, Iface: name},
		{Kind: EventIfaceLost, Iface: name, Err: errors.New("gone")},
		{Kind: EventIfaceFailed, Iface: name, Err: errors.New("no")},
	} {
		s := ev.String()
		checkInert(t, ev.Kind.String(), s)
		if !strings.Contains(s, `"v\x1b[2J\a"`) {
			t.Errorf("%v: got %q, want the quoted name", ev.Kind, s)
		}
	}
	if got := interfaceList([]string{"lo", name}); got != `lo, "v\x1b[2J\a"` {
		t.Errorf("interfaceList: got %s", got)
	}
}
