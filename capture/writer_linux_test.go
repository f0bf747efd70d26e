//go:build linux

package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"golang.org/x/sys/unix"

	"github.com/connscope/connscope/model"
)

// smallFilesystem mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends. It needs root (CAP_SYS_ADMIN).
func smallFilesystem(t *testing.T, size int) string {
	t.Helper()
	requireRoot(t)
	dir, err := os.MkdirTemp("", labPrefix+"-fs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(labPrefix+"-tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.Itoa(size)); err != nil {
		os.Remove(dir)
		t.Fatalf("mount a %d-byte tmpfs on %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			return
		}
		os.Remove(dir)
	})
	return dir
}

// TestWriter_FullFilesystem_FileKeepsWholeBlocks writes a capture onto a
// 256 KiB filesystem until it is full. The write that meets ENOSPC writes
// part of its buffer; the Writer must cut the file back to the last whole
// block, keep the error (Err, every later call, Close) and write nothing
// more, and the file must read back whole with Open.
func TestWriter_FullFilesystem_FileKeepsWholeBlocks(t *testing.T) {
	dir := smallFilesystem(t, 256<<10)
	path := filepath.Join(dir, "full.pcapng")
	// A buffer that is not a multiple of the filesystem's page keeps the
	// failing write from ending on a block boundary by chance.
	w, err := CreateWriter(path, WriterOptions{BufferSize: 10000, FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface("eth0", LinkEthernet, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0)
	var werr error
	written := 0
	for i := 0; i < 100000 && werr == nil; i++ {
		f := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 80, seq: uint32(i), flags: model.FlagACK, payload: 1000}
		data := f.bytes()
		werr = w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), InterfaceIndex: id, CaptureLength: len(data), Length: len(data)}, data, "connscope: pid=1 comm=x")
		if werr == nil {
			written++
		}
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("got %v after %d packets, want ENOSPC", werr, written)
	}
	msg := werr.Error()
	if strings.Count(msg, "write ") != 1 || strings.Count(msg, path) != 1 {
		t.Errorf("got %q, want the file named once after one \"write\"", msg)
	}
	if !errors.Is(w.Err(), syscall.ENOSPC) {
		t.Errorf("got Err %v, want the ENOSPC", w.Err())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing more is written after the error.
	data := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", flags: model.FlagACK}.bytes()
	if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, InterfaceIndex: id, CaptureLength: len(data), Length: len(data)}, data, ""); err != werr {
		t.Errorf("got %v from a later write, want the first error again", err)
	}
	if err := w.Flush(); err != werr {
		t.Errorf("got %v from Flush, want the first error again", err)
	}
	if err := w.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("got %v from Close, want the ENOSPC", err)
	}
	if st2, _ := os.Stat(path); st2.Size() != st.Size() {
		t.Errorf("the file grew from %d to %d bytes after the error", st.Size(), st2.Size())
	}

	// Every block whole: Open reads every packet to a clean end.
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p Packet
	n := 0
	for {
		err := f.ReadPacket(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the file back after %d packets: %v", n, err)
		}
		if len(p.Data) != len(data)+1000 || string(p.Comment) != "connscope: pid=1 comm=x" {
			t.Fatalf("packet %d: got %d bytes, comment %q", n+1, len(p.Data), p.Comment)
		}
		n++
	}
	if n == 0 || n > written || uint64(n) != w.Packets() {
		t.Errorf("read back %d packets; %d were accepted before the error, Packets says %d", n, written, w.Packets())
	}
	t.Logf("%d packets accepted, %d in the %d-byte file after ENOSPC", written, n, st.Size())
}

// TestWriter_FullFilesystem_AppendKeepsWhatWasThere appends a second
// section to a capture (as -w - >> file does) until the filesystem is
// full: the cut must fall at the end of the appended blocks, leaving the
// first section as it was.
func TestWriter_FullFilesystem_AppendKeepsWhatWasThere(t *testing.T) {
	dir := smallFilesystem(t, 128<<10)
	path := filepath.Join(dir, "append.pcapng")
	first, err := CreateWriter(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := first.AddInterface("lo", LinkEthernet, 0, "")
	writeSome(t, first, id, 10)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, WriterOptions{BufferSize: 7000, FlushEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	id, _ = w.AddInterface("eth0", LinkEthernet, 0, "")
	var werr error
	for i := 0; i < 100000 && werr == nil; i++ {
		data := tcpFrame{src: "10.0.0.1", dst: "10.0.0.2", seq: uint32(i), flags: model.FlagACK, payload: 1000}.bytes()
		werr = w.WritePacket(gopacket.CaptureInfo{InterfaceIndex: id, CaptureLength: len(data), Length: len(data)}, data, "")
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", werr)
	}
	w.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) <= len(before) || string(after[:len(before)]) != string(before) {
		t.Fatalf("the first section changed: %d bytes before, %d after", len(before), len(after))
	}
	n, err := readStream(bytes.NewReader(after))
	if err != nil || uint64(n) != 10+w.Packets() {
		t.Errorf("read %d packets back, %v; want the 10 of the first section and the %d appended", n, err, w.Packets())
	}
}
