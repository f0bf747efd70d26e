//go:build linux

package capture

import (
	"net"
	"testing"
	"time"
)

// TestLive_Stop_NextReturnsEveryPacketCounted stops a capture of lo in
// the middle of a stream of datagrams: Next must then hand every packet
// the readers counted to Tee (and so to a Writer) and return io.EOF,
// within a second, without Close.
func TestLive_Stop_NextReturnsEveryPacketCounted(t *testing.T) {
	b := newLab(t)
	ns := b.netns("stop")
	r := openLive(t, b, ns, LiveOptions{Interfaces: []string{"lo"}})
	var conn net.Conn
	var err error
	b.in(ns, func() {
		var ln net.PacketConn
		if ln, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return
		}
		t.Cleanup(func() { ln.Close() })
		conn, err = net.Dial("udp", ln.LocalAddr().String())
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sent <- n
				return
			case <-tick.C:
			}
			for range 10 { // about 10,000 datagrams a second
				if _, err := conn.Write([]byte("stop test")); err == nil {
					n++
				}
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	r.l.Stop()
	select {
	case <-r.done:
	case <-time.After(time.Second):
		t.Fatal("Next did not return io.EOF within a second of Stop")
	}
	close(stop)
	n := <-sent
	st := r.l.Stats()
	if st.Packets == 0 || st.Packets != r.teed.Load() {
		t.Errorf("after Stop: the readers counted %d packets, Next handed over %d (%d sent, %d queue drops)", st.Packets, r.teed.Load(), n, st.QueueDrops)
	}
	t.Logf("Stop to io.EOF: %v, %d packets", time.Since(t0), st.Packets)
	// Nothing more is read after Stop.
	time.Sleep(100 * time.Millisecond)
	if again := r.l.Stats().Packets; again != st.Packets {
		t.Errorf("the capture went on reading after Stop: %d packets, then %d", st.Packets, again)
	}
}
