package model

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The rules are tested here on synthetic conversations shaped like the
// kernel traffic of testdata/scenarios (Linux wire forms: socket RST/ACK
// with timestamps, stateless RST with ID 0 and window 0); the scenario
// suite itself is checked from cmd/connscope, which can read captures.

// dxResult is a diagnosed run.
type dxResult struct {
	snap  Snapshot
	found [][]Finding
}

// analyse diagnoses the run's snapshot at nowMS; without facts, the flows'
// FlowFacts are wiped first, as on a Flow built outside a Table.
func (r *dxRun) analyse(t *testing.T, nowMS float64, opt DiagOptions, facts bool) dxResult {
	t.Helper()
	res := dxResult{snap: r.dxSnapshot(nowMS)}
	if !facts {
		for i := range res.snap.Flows {
			res.snap.Flows[i].Facts = FlowFacts{}
		}
	}
	res.found = DiagnoseSnapshot(&res.snap, opt)
	return res
}

// labels renders a flow's findings as "label/side" (side a, b or path).
func (res dxResult) labels(i int) []string {
	var out []string
	for _, f := range res.found[i] {
		side := f.Side.String()
		if f.Side > SideB {
			side = "path"
		}
		out = append(out, f.Label.String()+"/"+side)
	}
	return out
}

func (res dxResult) dump(i int) string {
	var b strings.Builder
	for _, f := range res.found[i] {
		fmt.Fprintf(&b, "\n\t%s %s: %s %v", f.Label, f.Severity, f.Summary, f.Frames)
	}
	return b.String()
}

func TestDiagnose_Rules(t *testing.T) {
	const srv = "10.0.0.2:80"
	tests := []struct {
		name   string
		build  func(r *dxRun)
		now    float64 // snapshot time in ms (0: the last packet)
		noFact bool    // diagnose without FlowFacts
		want   []string
		text   string // a piece the summary must contain
	}{
		{name: "clean exchange", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 100).data(SideB, 2000).fin(SideA).fin(SideB)
		}},
		{name: "refused", build: func(r *dxRun) {
			c := r.conv(srv).emit(SideA, FlagSYN, 0, nil)
			c.emit(SideB, FlagRST|FlagACK, 0, func(p *segSpec) {
				p.seq, p.win, p.ipid, p.tsopt = 0, 0, 0, false
			})
		}, want: []string{"refused/b"}, text: "nothing listens on port 80"},
		{name: "a reset soon after the peer's data: the wire cannot tell unread input from linger 0", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 1000).at(1).data(SideB, 14).at(100).rstSocket(SideB)
		}, want: []string{"abortive_close/b"}, text: "either its application closed with the client's data unread, or it set SO_LINGER 0"},
		{name: "abortive close after idle", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(1600).rstSocket(SideB)
		}, want: []string{"abortive_close/b"}, text: "after 1.6 s idle"},
		{name: "abort without facts", noFact: true, build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 1000).at(100).rstSocket(SideB)
		}, want: []string{"abortive_close/b"}, text: "the wire cannot tell them apart"},
		{name: "rst after close", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 1000).data(SideB, 14).fin(SideB).
				at(200).emit(SideA, FlagACK|FlagPSH, 1000, nil).rstStateless(SideB, 63)
		}, want: []string{"rst_after_close/b"}, text: "kept writing"},
		// Both sides closing at once after several answers (a TLS
		// close_notify each way): the client's last data was a goodbye
		// followed by its own FIN, not a request waiting for an answer.
		{name: "both close at once, seen from the client: no request limit", build: func(r *dxRun) {
			c := r.conv(srv).handshake()
			for range 3 {
				c.data(SideA, 7).data(SideB, 3)
			}
			c.emit(SideA, FlagACK|FlagPSH, 7, nil).emit(SideA, FlagACK|FlagFIN, 0, nil)
			c.emit(SideB, FlagACK|FlagFIN, 0, func(p *segSpec) { p.ack -= 8 }).rstStateless(SideB, 63)
		}, want: []string{"rst_after_close/b"}},
		{name: "both close at once, seen from the server: no request limit", build: func(r *dxRun) {
			c := r.conv(srv).handshake()
			for range 3 {
				c.data(SideA, 7).data(SideB, 3)
			}
			c.emit(SideB, FlagACK|FlagFIN, 0, nil)
			c.emit(SideA, FlagACK|FlagPSH, 7, func(p *segSpec) { p.ack-- }).emit(SideA, FlagACK|FlagFIN, 0, func(p *segSpec) { p.ack-- })
			c.rstStateless(SideB, 63)
		}, want: []string{"rst_after_close/b"}},
		{name: "idle timeout race", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(2001).fin(SideB).
				at(2050).emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 63)
		}, want: []string{"idle_timeout_race/b"}, text: "after 2.0 s idle"},
		{name: "idle timeout race without facts is a write after close", noFact: true, build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(2001).fin(SideB).
				at(2050).emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 63)
		}, want: []string{"rst_after_close/b"}},
		{name: "idle timeout race: the request crossed the FIN", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(2001)
			// The FIN leaves before the request arrives: it acknowledges
			// only the data before the request.
			c.emit(SideA, FlagACK|FlagPSH, 7, nil)
			c.emit(SideB, FlagACK|FlagFIN, 0, func(p *segSpec) { p.ack -= 7 }).rstStateless(SideB, 63)
		}, want: []string{"idle_timeout_race/b"}, text: "crossed the FIN on the wire"},
		{name: "idle timeout race: the request reset unread, no FIN", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(2001).data(SideA, 7).at(2011).rstSocket(SideB)
		}, want: []string{"idle_timeout_race/b"}, text: "connection reset by peer"},
		{name: "a request limit: the server closes right after its answer", build: func(r *dxRun) {
			c := r.conv(srv).handshake()
			for range 3 {
				c.data(SideA, 7).data(SideB, 3)
			}
			c.fin(SideB).data(SideA, 7).rstStateless(SideB, 63)
		}, want: []string{"request_limit_race/b"}, text: "right after its answer to request 3"},
		{name: "a request limit, seen from the client: the next request crossed the FIN", build: func(r *dxRun) {
			c := r.conv(srv).handshake()
			for range 3 {
				c.data(SideA, 7).data(SideB, 3)
			}
			// The client's request leaves before the server's FIN,
			// which acknowledges only the data before it, arrives.
			c.emit(SideA, FlagACK|FlagPSH, 7, nil)
			c.emit(SideB, FlagACK|FlagFIN, 0, func(p *segSpec) { p.ack -= 7 }).rstStateless(SideB, 63)
		}, want: []string{"request_limit_race/b"}, text: "crossed the FIN on the wire"},
		{name: "one answer, then a close the next request crossed: data lost", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 7).data(SideB, 3)
			c.emit(SideA, FlagACK|FlagPSH, 7, nil)
			c.emit(SideB, FlagACK|FlagFIN, 0, func(p *segSpec) { p.ack -= 7 }).rstStateless(SideB, 63)
		}, want: []string{"rst_after_close/b"}, text: "kept writing"},
		{name: "one answer then a close: the client kept writing", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 7).data(SideB, 3).fin(SideB).at(200).data(SideA, 7).rstStateless(SideB, 63)
		}, want: []string{"rst_after_close/b"}},
		{name: "a client that gave up on its request", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 140).at(1000).fin(SideA).at(2000).data(SideB, 133).rstStateless(SideA, 64)
		}, want: []string{"client_timeout/a"}, text: "after its request and closed; the server's answer came"},
		{name: "a SYN answered on its retry", build: func(r *dxRun) {
			c := r.conv(srv)
			isn := c.nxt[SideA]
			c.emit(SideA, FlagSYN, 0, nil).at(1000).emit(SideA, FlagSYN, 0, func(p *segSpec) { p.seq = isn })
			c.emit(SideB, FlagSYN|FlagACK, 0, nil).emit(SideA, FlagACK, 0, nil).data(SideA, 6).data(SideB, 3).fin(SideA).fin(SideB)
		}, want: []string{"syn_retry/b"}, text: "1.0 s after the first"},
		{name: "idle timeout race ending in EOF", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(3000).fin(SideB).
				at(3010).data(SideA, 7).at(3020).fin(SideA)
		}, want: []string{"idle_timeout_race/b"}, text: "10 ms after the FIN"},
		{name: "client closes an idle connection first: clean", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(3000).fin(SideA).fin(SideB)
		}},
		{name: "forged reset, server keeps talking", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(100)
			c.emit(SideA, FlagACK|FlagPSH, 12, nil).rstStateless(SideB, 64)
			c.at(300).emit(SideB, FlagACK|FlagPSH, 3, nil).rstStateless(SideA, 64)
		}, want: []string{"middlebox_injected/path"}, text: "claiming to come from server 10.0.0.2:80"},
		{name: "idle drop into silence", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(5000)
			seq := c.nxt[SideA]
			c.emit(SideA, FlagACK|FlagPSH, 7, nil)
			for _, ms := range []float64{5200, 5600, 6400} {
				c.at(ms).resend(SideA, seq, 7)
			}
		}, want: []string{"middlebox_idle_drop/path"}, text: "after 5.0 s idle"},
		{name: "idle drop reset from the path", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(5000).
				emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 64)
		}, want: []string{"middlebox_idle_drop/path"}, text: "1 hop closer"},
		{name: "half-open peer lost", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(500).
				emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 63)
		}, want: []string{"half_open_peer_lost/b"}, text: "stateless RST"},
		{name: "accept queue overflow reset", build: func(r *dxRun) {
			c := r.conv(srv).handshake().emit(SideA, FlagACK|FlagPSH, 6, nil)
			c.emit(SideB, FlagRST, 0, func(p *segSpec) {
				p.ack, p.win, p.ipid, p.ttl, p.tsopt = 0, 0, 0, 63, false
			})
		}, want: []string{"accept_queue_overflow/b"}, text: "SYN-RECEIVED"},
		{name: "SYN timeout", build: func(r *dxRun) {
			c := r.conv(srv)
			isn := c.nxt[SideA]
			c.emit(SideA, FlagSYN, 0, nil)
			c.at(1000).emit(SideA, FlagSYN, 0, func(p *segSpec) { p.seq = isn })
			c.at(2000).emit(SideA, FlagSYN, 0, func(p *segSpec) { p.seq = isn })
		}, want: []string{"syn_timeout/b"}, text: "3 SYNs over 2.0 s"},
		{name: "a single unanswered SYN is no timeout yet", build: func(r *dxRun) {
			r.conv(srv).emit(SideA, FlagSYN, 0, nil)
		}},
		{name: "keep-alive timeout", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 6).data(SideB, 3)
			for _, ms := range []float64{1000, 2000, 3000} {
				c.at(ms).keepalive(SideA)
			}
			c.at(4000).rstSocket(SideA)
		}, want: []string{"keepalive_timeout/a"}, text: "3 unanswered keep-alive probes"},
		{name: "answered keep-alives are clean", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 6).data(SideB, 3)
			for _, ms := range []float64{1000, 2000} {
				c.at(ms).keepalive(SideA).emit(SideB, FlagACK, 0, nil)
			}
			c.at(2500).fin(SideA).fin(SideB)
		}},
		{name: "zero window stall", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 11).emit(SideB, FlagACK, 1000, nil)
			c.win[SideA] = 0
			c.emit(SideA, FlagACK, 0, nil)
			c.at(200).keepalive(SideB).emit(SideA, FlagACK, 0, nil)
			c.win[SideA] = 400
			c.at(2200).emit(SideA, FlagACK, 0, nil).data(SideB, 1000).fin(SideA).fin(SideB)
		}, want: []string{"zero_window_stall/a"}, text: "zero window for 2.2 s"},
		{name: "a short zero window is clean", build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 11).emit(SideB, FlagACK, 1000, nil)
			c.win[SideA] = 0
			c.emit(SideA, FlagACK, 0, nil)
			c.win[SideA] = 400
			c.at(300).emit(SideA, FlagACK, 0, nil).data(SideB, 1000).fin(SideA).fin(SideB)
		}},
		{name: "loss with retransmissions", build: func(r *dxRun) { dxTransfer(r.conv(srv), 40, 4) },
			want: []string{"loss_retransmit/b"}, text: "retransmitted 4 of"},
		{name: "two retransmissions are no loss finding", build: func(r *dxRun) { dxTransfer(r.conv(srv), 40, 2) }},
		{name: "loss on a path that lost the first SYN too: one finding", build: func(r *dxRun) {
			c := r.conv(srv)
			isn := c.nxt[SideA]
			c.emit(SideA, FlagSYN, 0, nil).at(1000).emit(SideA, FlagSYN, 0, func(p *segSpec) { p.seq = isn })
			c.emit(SideB, FlagSYN|FlagACK, 0, nil).emit(SideA, FlagACK, 0, nil)
			dxTransferAt(c, 1001, 40, 4)
		}, want: []string{"loss_retransmit/b"}, text: "the client's first SYN went unanswered too (connect() waited 1.0 s"},
		{name: "close-wait leak", now: 6000, build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(10).fin(SideA)
		}, want: []string{"close_wait_leak/b"}, text: "CLOSE-WAIT for 6.0 s"},
		{name: "a short close-wait is clean", now: 2000, build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(10).fin(SideA)
		}},
		// Cases from the shared real-world captures.
		{name: "a half-closed side still sending is no close-wait leak", now: 9000, build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).at(10).fin(SideA).at(20).data(SideB, 3000)
		}},
		{name: "close-wait across a clock jump ends at the flow's last packet", now: 365 * 24 * 3600e3, build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(10).fin(SideA)
		}},
		{name: "a zero window after both FINs is clean", now: 9000, build: func(r *dxRun) {
			c := r.conv(srv).handshake().data(SideA, 10).data(SideB, 46).fin(SideA).fin(SideB)
			c.win[SideB] = 0
			c.at(300).emit(SideB, FlagACK, 0, nil)
		}},
		{name: "a lone RST says nothing", build: func(r *dxRun) { r.conv(srv).rstSocket(SideB) }},
		{name: "data 3 s after an idle FIN is a write after close, not a race", build: func(r *dxRun) {
			r.conv(srv).handshake().data(SideA, 6).data(SideB, 3).at(2001).fin(SideB).
				at(5000).emit(SideA, FlagACK|FlagPSH, 7, nil).rstStateless(SideB, 63)
		}, want: []string{"rst_after_close/b"}, text: "(3.0 s after the FIN)"},
		{name: "two SYNs 1 ms apart at the capture's end are no timeout yet", build: func(r *dxRun) {
			c := r.conv(srv)
			isn := c.nxt[SideA]
			c.emit(SideA, FlagSYN, 0, nil).at(1).emit(SideA, FlagSYN, 0, func(p *segSpec) { p.seq = isn })
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &dxRun{}
			tc.build(r)
			res := r.analyse(t, tc.now, DiagOptions{}, !tc.noFact)
			if len(res.snap.Flows) != 1 {
				t.Fatalf("flows got %d, want 1", len(res.snap.Flows))
			}
			if got := res.labels(0); !slices.Equal(got, tc.want) {
				t.Fatalf("findings got %v, want %v%s", got, tc.want, res.dump(0))
			}
			if tc.text != "" && !strings.Contains(res.found[0][0].Summary, tc.text) {
				t.Errorf("summary got %q, want it to contain %q", res.found[0][0].Summary, tc.text)
			}
			for _, f := range res.found[0] {
				if len(f.Frames) == 0 {
					t.Errorf("%s: no evidence frames, want some", f.Label)
				}
			}
		})
	}
}

// dxTransfer sends n 1000-byte segments from the server and loses `lost`
// of them on the path (the client keeps acknowledging up to the hole); the
// server resends each 200 ms later, then both close.
func dxTransfer(c *dxConv, n, lost int) {
	dxTransferAt(c.handshake(), 1, n, lost)
}

// dxTransferAt is dxTransfer's request and answer on an open connection,
// from time ms.
func dxTransferAt(c *dxConv, ms float64, n, lost int) {
	c.data(SideA, 11)
	var hole uint32
	ack := func(p *segSpec) {
		if hole != 0 {
			p.ack = hole
		}
	}
	for i := range n {
		c.at(ms)
		if i%10 == 5 && lost > 0 {
			hole = c.nxt[SideB]
			lost--
		}
		c.emit(SideB, FlagACK, 1000, nil).emit(SideA, FlagACK, 0, ack)
		if i%10 == 9 && hole != 0 {
			ms += 200
			c.at(ms).resend(SideB, hole, 1000)
			hole = 0
			c.emit(SideA, FlagACK, 0, nil)
		}
		ms++
	}
	c.at(ms + 10).fin(SideA).fin(SideB)
}

func TestDiagnose_ResetCauses(t *testing.T) {
	r := &dxRun{}
	c := r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3).at(100)
	c.emit(SideA, FlagACK|FlagPSH, 12, nil).rstStateless(SideB, 64)
	c.at(300).emit(SideB, FlagACK|FlagPSH, 3, nil).rstStateless(SideA, 64)
	res := r.analyse(t, 0, DiagOptions{}, true)
	var got []string
	for _, rs := range res.snap.Flows[0].Resets {
		got = append(got, rs.Cause)
	}
	if want := []string{"middlebox_injected", CauseAfterReset}; !slices.Equal(got, want) {
		t.Errorf("reset causes got %v, want %v", got, want)
	}
}

func TestDiagnose_Churn(t *testing.T) {
	for _, tc := range []struct {
		flows int
		want  []string
	}{
		{flows: 150, want: []string{"time_wait_churn/a"}},
		{flows: 50},
	} {
		t.Run(fmt.Sprintf("%d flows", tc.flows), func(t *testing.T) {
			r := &dxRun{}
			for i := range tc.flows {
				r.conv("10.0.0.2:80").at(float64(i)).handshake().data(SideA, 6).data(SideB, 3).fin(SideA).fin(SideB)
			}
			// A long-lived connection to another port beside them stays clean.
			r.conv("10.0.0.2:443").at(0).handshake().data(SideA, 6).at(500).data(SideB, 3).fin(SideA).fin(SideB)
			res := r.analyse(t, 0, DiagOptions{}, true)
			for i := range res.snap.Flows {
				want := tc.want
				if res.snap.Flows[i].B.Port() == 443 {
					want = nil
				}
				if got := res.labels(i); !slices.Equal(got, want) {
					t.Fatalf("flow %d: findings got %v, want %v%s", i, got, want, res.dump(i))
				}
			}
			if tc.want != nil && !strings.Contains(res.found[0][0].Summary, "opened 150 short connections to 10.0.0.2:80") {
				t.Errorf("summary got %q, want the count and the server", res.found[0][0].Summary)
			}
		})
	}
}

// dxKernel is a kernel view holding the sockets of one connection
// 10.0.0.1:40001 <-> 10.0.0.2:80 and its listener.
func dxKernel(client, server *Socket, listener *Socket, procs []Process, overflows uint64) *KernelIndex {
	v := &KernelView{Namespaces: []NetNS{{Inode: 1, Host: true, Listen: ListenStats{OverflowsDelta: overflows}}},
		Processes: procs}
	cl := netip.MustParseAddrPort("10.0.0.1:40001")
	sv := netip.MustParseAddrPort("10.0.0.2:80")
	if client != nil {
		client.NetNS, client.Local, client.Remote = 1, cl, sv
		v.Sockets = append(v.Sockets, *client)
	}
	if server != nil {
		server.NetNS, server.Local, server.Remote = 1, sv, cl
		v.Sockets = append(v.Sockets, *server)
	}
	if listener != nil {
		listener.NetNS, listener.State, listener.Local = 1, StateListen, netip.MustParseAddrPort("0.0.0.0:80")
		v.Sockets = append(v.Sockets, *listener)
	}
	return NewKernelIndex(v)
}

func TestDiagnose_KernelView(t *testing.T) {
	leaky := Process{PID: 42, Command: "leaky", FDs: 900, FDSoftLimit: 1024, FDGrowthPerMin: 600, SecondsToLimit: 12.4}
	flat := Process{PID: 42, Command: "steady", FDs: 900, FDSoftLimit: 1024, FDGrowthPerMin: 0, SecondsToLimit: -1}
	owned := func(st State) *Socket { return &Socket{State: st, Owner: OwnerKnown, PID: 42, FD: 7} }
	tests := []struct {
		name  string
		build func(r *dxRun)
		k     *KernelIndex
		now   float64
		want  []string
		text  string
	}{
		{name: "a leaking owner is the process's finding, not the flow's", k: dxKernel(owned(StateEstablished), nil, nil, []Process{leaky}, 0),
			build: func(r *dxRun) { r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3) }},
		{name: "a flat fd count is no leak", k: dxKernel(owned(StateEstablished), nil, nil, []Process{flat}, 0),
			build: func(r *dxRun) { r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3) }},
		{name: "unread bytes in the kernel's receive queue", k: dxKernel(nil, &Socket{State: StateEstablished, RecvQ: 500, Owner: OwnerKnown, PID: 9}, nil, nil, 0),
			build: func(r *dxRun) {
				r.conv("10.0.0.2:80").handshake().data(SideA, 500).at(1600).rstSocket(SideB)
			}, want: []string{"close_with_unread_data/b"}, text: "500 bytes"},
		{name: "SYNs into a full accept queue", k: dxKernel(nil, nil, &Socket{RecvQ: 9, SendQ: 8}, nil, 25),
			build: func(r *dxRun) {
				c := r.conv("10.0.0.2:80")
				isn := c.nxt[SideA]
				c.emit(SideA, FlagSYN, 0, nil).at(1000).emit(SideA, FlagSYN, 0, func(p *segSpec) { p.seq = isn })
			}, want: []string{"accept_queue_overflow/b"}, text: "9 queued, backlog 8; 25 overflows"},
		{name: "SYNs to a listener with room are a timeout", k: dxKernel(nil, nil, &Socket{RecvQ: 1, SendQ: 8}, nil, 0),
			build: func(r *dxRun) {
				c := r.conv("10.0.0.2:80")
				isn := c.nxt[SideA]
				c.emit(SideA, FlagSYN, 0, nil).at(1000).emit(SideA, FlagSYN, 0, func(p *segSpec) { p.seq = isn })
			}, want: []string{"syn_timeout/b"}},
		{name: "waiting in a full accept queue", k: dxKernel(nil, &Socket{State: StateEstablished, RecvQ: 6, Owner: OwnerKernel}, &Socket{RecvQ: 9, SendQ: 8}, nil, 0),
			build: func(r *dxRun) {
				r.conv("10.0.0.2:80").handshake().emit(SideA, FlagACK|FlagPSH, 6, nil).emit(SideB, FlagACK, 0, nil)
			}, want: []string{"accept_queue_overflow/b"}, text: "waits in the accept queue"},
		{name: "close-wait seen by the kernel with its owner", now: 1000,
			k: dxKernel(nil, &Socket{State: StateCloseWait, Owner: OwnerKnown, PID: 42, HasInfo: true,
				Info: TCPInfo{LastDataRecv: 9e9, LastDataSent: 8e9}}, nil, []Process{flat}, 0),
			build: func(r *dxRun) { r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3).at(10).fin(SideA) },
			want:  []string{"close_wait_leak/b"}, text: "8.0 s since the client's FIN, silent and not closing (process steady pid 42)"},
		{name: "the kernel says the close-wait socket moved on", now: 9000,
			k:     dxKernel(nil, &Socket{State: StateLastAck, Owner: OwnerKernel}, nil, nil, 0),
			build: func(r *dxRun) { r.conv("10.0.0.2:80").handshake().data(SideA, 6).data(SideB, 3).at(10).fin(SideA) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &dxRun{}
			tc.build(r)
			res := r.analyse(t, tc.now, DiagOptions{Kernel: tc.k}, true)
			if got := res.labels(0); !slices.Equal(got, tc.want) {
				t.Fatalf("findings got %v, want %v%s", got, tc.want, res.dump(0))
			}
			if tc.text != "" && !strings.Contains(res.found[0][0].Summary, tc.text) {
				t.Errorf("summary got %q, want it to contain %q", res.found[0][0].Summary, tc.text)
			}
		})
	}
}

func TestFindingLabel_RoundTrip(t *testing.T) {
	labels := FindingLabels()
	if len(labels) != 20 {
		t.Fatalf("labels got %d, want the catalogue's 20", len(labels))
	}
	for _, l := range labels {
		for _, spelling := range []string{l.String(), strings.ToUpper(l.String()), strings.ReplaceAll(l.String(), "_", "-")} {
			if got, ok := ParseFindingLabel(spelling); !ok || got != l {
				t.Errorf("ParseFindingLabel(%q) got %v %v, want %v", spelling, got, ok, l)
			}
		}
	}
	for _, bad := range []string{"", "none", "refused2", "fd leak"} {
		if got, ok := ParseFindingLabel(bad); ok {
			t.Errorf("ParseFindingLabel(%q) got %v, want no label", bad, got)
		}
	}
	if got := FindingLabel(200).String(); got != "" {
		t.Errorf("unknown label String got %q, want empty", got)
	}
	for s, want := range map[Severity]string{SeverityInfo: "info", SeverityWarning: "warning", SeverityCritical: "critical"} {
		if got := s.String(); got != want {
			t.Errorf("Severity(%d) got %q, want %q", s, got, want)
		}
	}
}

func TestDur(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{-5, "0 s"}, {46_000, "46 µs"}, {4_150_000, "4.2 ms"}, {48_000_000, "48 ms"},
		{2_003_000_000, "2.0 s"}, {185e9, "3 min 5 s"}, {3725e9, "1 h 2 min"},
	} {
		if got := dur(tc.ns); got != tc.want {
			t.Errorf("dur(%d) got %q, want %q", tc.ns, got, tc.want)
		}
	}
}

// FuzzDiagnose drives arbitrary segments through a Table: the diagnosis
// must never panic, with or without the flows' facts and the kernel's
// view, and every finding must carry a known label and a one-line summary.
func FuzzDiagnose(f *testing.F) {
	f.Add([]byte("\x02\x00\x00\x03\xe8\x00\x00\x00\x00\x10\x12\x00\x00\x00\x00\x03\xe9"))
	f.Add([]byte{0x04, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x14, 0xff, 0x80, 0x01, 0x14, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tbl := NewTable(Config{MaxFlows: 3, EventRing: 2, TransitionRing: 2, ResetRing: 1, PauseMin: 1e6})
		var ts int64
		for i := 0; len(data) >= 12; i++ {
			b := data[:12]
			data = data[12:]
			c := tbConns[int(b[0]>>1)%len(tbConns)]
			s := Segment{
				Frame: uint64(i + 1), Src: c[0], Dst: c[1], Flags: TCPFlags(b[1]),
				Seq: uint32(b[2])<<8 | uint32(b[3]), Ack: uint32(b[4])<<8 | uint32(b[5]),
				Window: uint16(b[6]), PayloadLen: uint32(b[7]), TTL: b[8], IPID: uint16(b[9]),
				TCPHdrLen: 20, HeaderCut: b[10]&1 != 0, Opts: TCPOptions{WScale: -1, Timestamps: b[10]&2 != 0},
			}
			if b[0]&1 != 0 {
				s.Src, s.Dst = s.Dst, s.Src
			}
			ts += int64(int8(b[11])) * 5e6 // time may go backwards
			s.TS = ts
			tbl.Apply(&s)
		}
		snap := tbl.Snapshot(ts)
		k := dxKernel(&Socket{State: StateCloseWait, Owner: OwnerKnown, PID: 1, RecvQ: 3},
			&Socket{State: StateEstablished, Owner: OwnerKernel}, &Socket{RecvQ: 2, SendQ: 1},
			[]Process{{PID: 1, FDGrowthPerMin: 5, SecondsToLimit: 3}}, 1)
		for pass, opt := range []DiagOptions{{}, {Kernel: k}, {Kernel: k}} {
			if pass == 2 {
				for i := range snap.Flows {
					snap.Flows[i].Facts = FlowFacts{}
				}
			}
			for _, fs := range DiagnoseSnapshot(&snap, opt) {
				for _, fd := range fs {
					if fd.Label.String() == "" || fd.Summary == "" || strings.Contains(fd.Summary, "\n") {
						t.Fatalf("finding %+v: want a known label and a one-line summary", fd)
					}
				}
			}
		}
		if Diagnose(nil, nil) != nil {
			t.Fatal("Diagnose(nil) got findings, want none")
		}
	})
}

// BenchmarkDiagnoseSnapshot measures diagnosing a snapshot of 20,000
// steady flows (done a few times a second, not per packet).
func BenchmarkDiagnoseSnapshot(b *testing.B) {
	tbl, _ := tbSteady(20_000)
	snap := tbl.Snapshot(tbT0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		DiagnoseSnapshot(&snap, DiagOptions{})
	}
}

func TestDiagnoseProcesses(t *testing.T) {
	listener := []Listener{{Local: netip.MustParseAddrPort("10.0.0.2:8080"), AcceptQueue: 12, Backlog: 11}}
	v := &KernelView{Processes: []Process{
		{PID: 7, Command: "leaky", FDs: 900, FDSoftLimit: 1024, FDGrowthPerMin: 600, SecondsToLimit: 12.4},
		{PID: 8, Command: "full", FDs: 256, FDSoftLimit: 256, SecondsToLimit: -1, Listeners: listener},
		{PID: 9, Command: "climbed", FDs: 64, FDSoftLimit: 64, FDGrowthPerMin: 900, SecondsToLimit: 0},
		{PID: 10, Command: "steady", FDs: 900, FDSoftLimit: 1024, SecondsToLimit: -1},
		{PID: 11, Command: "unlimited", FDs: 90000, FDSoftLimit: FDUnlimited, SecondsToLimit: -1},
	}}
	var got []string
	for _, pf := range DiagnoseProcesses(v, Thresholds{}) {
		got = append(got, fmt.Sprintf("%d %s %s %s", pf.PID, pf.Label, pf.Severity, pf.Evidence))
		if pf.Label == FindingFDExhaustion && pf.PID == 8 && !strings.Contains(pf.Summary, "12 connections wait in its listener 10.0.0.2:8080 (backlog 11)") {
			t.Errorf("fd_exhaustion summary %q does not name the queued connections", pf.Summary)
		}
	}
	want := []string{
		"7 fd_leak critical kernel",
		"8 fd_exhaustion critical kernel",
		"9 fd_exhaustion critical kernel", "9 fd_leak critical kernel",
	}
	if !slices.Equal(got, want) {
		t.Errorf("process findings got %q, want %q", got, want)
	}
	if DiagnoseProcesses(&KernelView{OwnersOnly: true, Processes: v.Processes}, Thresholds{}) != nil {
		t.Error("owners from packet comments carry no fd figures: got findings")
	}
}

// TestDiagnose_RequestLimitUnread: a server that closes every keep-alive
// connection right after its third answer. On one connection its FIN
// goes first and the client's next request draws a stateless RST; on
// another the next request arrives before the close, which resets it
// unread with no FIN. The second is the same race, once the first shows
// the limit; alone, the wire cannot tell it from any close with unread
// input.
func TestDiagnose_RequestLimitUnread(t *testing.T) {
	const srv = "10.0.0.2:80"
	unread := func(r *dxRun) {
		c := r.conv(srv).at(500).handshake()
		for range 3 {
			c.data(SideA, 7).data(SideB, 3)
		}
		c.data(SideA, 7).rstSocket(SideB)
	}
	for _, tc := range []struct {
		name       string
		withFIN    bool
		want, text string
	}{
		{"with the limit seen on another connection", true, "request_limit_race/b", "before the close, which found it unread"},
		{"alone", false, "abortive_close/b", "the wire cannot tell them apart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &dxRun{}
			if tc.withFIN {
				c := r.conv(srv).handshake()
				for range 3 {
					c.data(SideA, 7).data(SideB, 3)
				}
				c.fin(SideB).data(SideA, 7).rstStateless(SideB, 63)
			}
			unread(r)
			res := r.analyse(t, 0, DiagOptions{}, true)
			i := len(res.snap.Flows) - 1
			if got := res.labels(i); !slices.Equal(got, []string{tc.want}) {
				t.Fatalf("findings got %v, want [%s]%s", got, tc.want, res.dump(i))
			}
			if !strings.Contains(res.found[i][0].Summary, tc.text) {
				t.Errorf("summary %q lacks %q", res.found[i][0].Summary, tc.text)
			}
		})
	}
}
