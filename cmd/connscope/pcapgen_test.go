package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
	"testing"
)

// Synthetic captures for the hardening tests: classic pcap over Ethernet,
// made in memory or streamed, so that no large file is kept in the
// repository.

// pcapFileHeader is the global header of a microsecond pcap of Ethernet.
func pcapFileHeader() []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(b[4:], 2)
	binary.LittleEndian.PutUint16(b[6:], 4)
	binary.LittleEndian.PutUint32(b[16:], 65535)
	binary.LittleEndian.PutUint32(b[20:], 1) // LINKTYPE_ETHERNET
	return b
}

// appendPcapRecord appends one packet record at ts (ns since the epoch).
func appendPcapRecord(b []byte, ts int64, frame []byte) []byte {
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(ts/1e9))
	binary.LittleEndian.PutUint32(h[4:], uint32(ts%1e9/1e3))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(h[12:], uint32(len(frame)))
	return append(append(b, h[:]...), frame...)
}

// ipv4Frame builds Ethernet + IPv4 (with a valid header checksum) around
// a transport header and payload of protocol proto.
func ipv4Frame(src, dst [4]byte, proto byte, l4 []byte) []byte {
	f := make([]byte, 14+20, 14+20+len(l4))
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 2})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 1})
	f[12], f[13] = 0x08, 0x00
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	return append(f, l4...)
}

// udpFrame is a small UDP datagram, number i of a stream.
func udpFrame(i int) []byte {
	l4 := make([]byte, 8+16)
	binary.BigEndian.PutUint16(l4[0:], uint16(10000+i%50000))
	binary.BigEndian.PutUint16(l4[2:], 53)
	binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	return ipv4Frame([4]byte{10, 1, byte(i >> 8), byte(i)}, [4]byte{10, 2, 0, 1}, 17, l4)
}

// synFrame is the SYN of connection i: each i has its own client
// address and port, so each is a flow of its own.
func synFrame(i int) []byte {
	l4 := make([]byte, 20)
	binary.BigEndian.PutUint16(l4[0:], uint16(1024+i%60000))
	binary.BigEndian.PutUint16(l4[2:], 443)
	binary.BigEndian.PutUint32(l4[4:], uint32(i)*2654435761)
	l4[12] = 5 << 4
	l4[13] = 0x02 // SYN
	binary.BigEndian.PutUint16(l4[14:], 64240)
	src := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
	return ipv4Frame(src, [4]byte{192, 0, 2, 1}, 6, l4)
}

// rstFrame is the server's RST/ACK refusing connection i's SYN.
func rstFrame(i int) []byte {
	l4 := make([]byte, 20)
	binary.BigEndian.PutUint16(l4[0:], 443)
	binary.BigEndian.PutUint16(l4[2:], uint16(1024+i%60000))
	binary.BigEndian.PutUint32(l4[8:], uint32(i)*2654435761+1)
	l4[12] = 5 << 4
	l4[13] = 0x14 // RST, ACK
	dst := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
	return ipv4Frame([4]byte{192, 0, 2, 1}, dst, 6, l4)
}

// writeSynCapture writes a capture of n SYNs, one flow each, 1 ms apart;
// with refused set, each SYN is answered by a RST 100 µs later, which
// closes its flow.
func writeSynCapture(t *testing.T, path string, n int, refused bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(pcapFileHeader())
	var rec []byte
	ts := int64(1_700_000_000_000_000_000)
	for i := 0; i < n; i++ {
		rec = appendPcapRecord(rec[:0], ts+int64(i)*1e6, synFrame(i))
		if refused {
			rec = appendPcapRecord(rec, ts+int64(i)*1e6+1e5, rstFrame(i))
		}
		w.Write(rec)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// streamUDP writes a pcap of UDP datagrams to w, as fast as w takes them,
// until a write fails or stop is closed; after stop it writes nothing
// more but returns only when release is closed, so that the caller keeps
// w open meanwhile: a producer that stalls.
func streamUDP(w io.Writer, stop, release <-chan struct{}) {
	if _, err := w.Write(pcapFileHeader()); err != nil {
		return
	}
	var chunk []byte
	ts := int64(1_700_000_000_000_000_000)
	for i := 0; ; {
		select {
		case <-stop:
			<-release
			return
		default:
		}
		chunk = chunk[:0]
		for j := 0; j < 1000; j, i = j+1, i+1 {
			chunk = appendPcapRecord(chunk, ts+int64(i)*1000, udpFrame(i))
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}
