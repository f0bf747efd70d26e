package kevents

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"

	"github.com/connscope/connscope/model"
)

func loadFormat(t *testing.T, path string) *format {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("format file: %v", err)
	}
	defer f.Close()
	ft, err := parseFormat(f)
	if err != nil {
		t.Fatal(err)
	}
	return ft
}

// wantNames checks that the table names each value as the kernel does.
func wantNames(t *testing.T, table map[uint64]string, want map[uint64]string) {
	t.Helper()
	for v, n := range want {
		if table[v] != n {
			t.Errorf("value %d: got %q, want %q", v, table[v], n)
		}
	}
}

// findValue returns the value of a name in a table.
func findValue(table map[uint64]string, name string) (uint64, bool) {
	for v, n := range table {
		if n == name {
			return v, true
		}
	}
	return 0, false
}

func TestSymbolTable_OlderKfreeSkbLayout(t *testing.T) {
	f := loadFormat(t, "testdata/kfree_skb-5.17.format")
	table, ok := f.symbolTable("reason")
	if !ok || len(table) != 7 {
		t.Fatalf("got %d reasons (ok %v), want 7", len(table), ok)
	}
	wantNames(t, table, map[uint64]string{1: "NOT_SPECIFIED", 2: "NO_SOCKET", 4: "TCP_CSUM"})
	if f.has("rx_sk") || !f.has("skbaddr", "protocol", "reason") || f.Fields["reason"].Offset != 28 {
		t.Errorf("fields %+v", f.Fields)
	}
	d := newDecoder(evDrop, f)
	rec := make([]byte, 32)
	binary.NativeEndian.PutUint16(rec[24:], ethIPv6)
	binary.NativeEndian.PutUint32(rec[28:], 4)
	rec[2] = flagSoftIRQ
	var ev model.KernelEvent
	if !d.decode(rec, &ev) || ev.Reason != "TCP_CSUM" || ev.Family != model.FamilyIPv6 || ev.InProcess {
		t.Errorf("decoded %+v, want an IPv6 TCP_CSUM drop in softirq", ev)
	}
}

func TestSymbolTable_StatesLeftSymbolicAreSkipped(t *testing.T) {
	f := loadFormat(t, "testdata/tcp_send_reset-5.15.format")
	if _, ok := f.symbolTable("state"); ok {
		t.Error("a table of unevaluated enum names parsed as numbers")
	}
	if _, ok := f.symbolTable("reason"); ok || f.has("reason") {
		t.Error("the 5.15 layout has no reason")
	}
	d := newDecoder(evSendReset, f)
	if d.sockaddr {
		t.Fatal("the 5.15 layout has no sockaddr fields")
	}
	rec := make([]byte, 74)
	binary.NativeEndian.PutUint32(rec[24:], uint32(model.LinuxTCPEstablished))
	binary.NativeEndian.PutUint16(rec[28:], 8080)
	binary.NativeEndian.PutUint16(rec[30:], 40000)
	binary.NativeEndian.PutUint16(rec[32:], afInet)
	copy(rec[34:], []byte{10, 0, 0, 1})
	copy(rec[38:], []byte{10, 0, 0, 2})
	var ev model.KernelEvent
	if !d.decode(rec, &ev) {
		t.Fatal("decode failed")
	}
	if ev.Local != netip.MustParseAddrPort("10.0.0.1:8080") || ev.Remote != netip.MustParseAddrPort("10.0.0.2:40000") ||
		ev.NewState != model.StateEstablished || ev.Reason != "" || !ev.InProcess == (ev.TID > 0) {
		t.Errorf("decoded %+v", ev)
	}
}

// The running kernel's own format files: reason names are read from them,
// and the numbers differ from the older layout's.
func TestSymbolTable_ThisKernel(t *testing.T) {
	root, ok := mountedTracefsForTest()
	if !ok {
		t.Skip("no tracefs mounted")
	}
	drop := loadFormat(t, root+"/events/skb/kfree_skb/format")
	table, ok := drop.symbolTable("reason")
	if !ok {
		t.Fatal("kfree_skb: no reason table")
	}
	for _, n := range []string{"NOT_SPECIFIED", "NO_SOCKET", "TCP_CSUM", "NETFILTER_DROP", "TCP_LISTEN_OVERFLOW",
		"TCP_RFC7323_PAWS", "TCP_ZEROWINDOW"} {
		if _, ok := findValue(table, n); !ok {
			t.Errorf("kfree_skb: no %s", n)
		}
	}
	old := loadFormat(t, "testdata/kfree_skb-5.17.format")
	oldTable, _ := old.symbolTable("reason")
	v, _ := findValue(table, "NO_SOCKET")
	ov, _ := findValue(oldTable, "NO_SOCKET")
	t.Logf("NO_SOCKET is %d here, %d in 5.17", v, ov)
	rst := loadFormat(t, root+"/events/tcp/tcp_send_reset/format")
	if !rst.has("reason") {
		t.Skip("tcp_send_reset has no reason on this kernel (< 6.10)")
	}
	rt, ok := rst.symbolTable("reason")
	if !ok {
		t.Fatal("tcp_send_reset: no reason table")
	}
	for _, n := range []string{"NO_SOCKET", "TCP_ABORT_ON_CLOSE", "TCP_ABORT_ON_LINGER", "TCP_KEEPALIVE_TIMEOUT", "TCP_STATE"} {
		if _, ok := findValue(rt, n); !ok {
			t.Errorf("tcp_send_reset: no %s", n)
		}
	}
}

func TestParsePage_EventsTimeExtendsAndPadding(t *testing.T) {
	lay := pageLayout{tsOff: 0, commitOff: 8, commitSize: 8, dataOff: 16}
	page := make([]byte, 4096)
	binary.NativeEndian.PutUint64(page, 1000)
	data := page[16:]
	off := 0
	put := func(hdr uint32, words ...uint32) {
		binary.NativeEndian.PutUint32(data[off:], hdr)
		off += 4
		for _, w := range words {
			binary.NativeEndian.PutUint32(data[off:], w)
			off += 4
		}
	}
	put(2<<5|2, 0xaaaa, 0xbbbb) // 8-byte event, delta 2
	put(5<<5|typeTimeExtend, 1) // +5 + 1<<27
	put(0, 12, 0xcccc, 0xdddd)  // long form: length 12 incl. itself
	put(1<<5|typePadding, 8, 0) // a discarded event: 8 bytes after its header
	put(3<<5|1, 0xeeee)         // 4-byte event, delta 3
	binary.NativeEndian.PutUint64(page[8:], uint64(off)|missedEvents|missedStored)
	binary.NativeEndian.PutUint64(data[off:], 42)
	recs, lost, err := parsePage(page, lay, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lost != 42 {
		t.Errorf("lost %d, want 42", lost)
	}
	want := []struct {
		ts   uint64
		size int
	}{{1002, 8}, {1007 + 1<<27, 8}, {1010 + 1<<27, 4}}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, w := range want {
		if recs[i].ts != w.ts || len(recs[i].data) != w.size {
			t.Errorf("record %d: ts %d size %d, want %d %d", i, recs[i].ts, len(recs[i].data), w.ts, w.size)
		}
	}
	if binary.NativeEndian.Uint32(recs[1].data) != 0xcccc {
		t.Error("long-form event data misplaced")
	}
}

func TestParseInstanceName(t *testing.T) {
	name := instanceName("connscope", 1234, 5678, 3)
	pid, start, ok := parseInstanceName("connscope", name)
	if !ok || pid != 1234 || start != 5678 {
		t.Errorf("parse %q: %d %d %v", name, pid, start, ok)
	}
	for _, bad := range []string{"connscope-1-2", "other-1-2-3", "connscope-x-2-3", "connscope-1-2-3-4"} {
		if _, _, ok := parseInstanceName("connscope", bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
