package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/connscope/connscope/model"
)

// fmtRow is the report's row as fmt wrote it, the reference the row
// built by hand must equal.
func fmtRow(e *model.FlowEntry) string {
	f := e.Flow
	c, s := model.SideA, model.SideB
	if f.Client == model.SideB {
		c, s = model.SideB, model.SideA
	}
	conn := fmt.Sprintf("%s %s %s", endpointString(f.Endpoint(c)), model.Arrow(f.Client != model.SideNone, f.RoleInferred), endpointString(f.Endpoint(s)))
	if len(e.Owners) > 0 {
		o := e.Owners[0]
		conn += fmt.Sprintf(" [%s/%d]", model.Sanitize(o.Name), o.PID)
	}
	dc, ds := f.Dir[c], f.Dir[s]
	var rst []string
	for _, x := range f.Resets {
		who := model.RoleWord(f, x.From)
		if x.MiddleboxSuspected {
			who += "(middlebox?)"
		}
		rst = append(rst, who+"@"+x.SenderState.String())
	}
	rstCol := "-"
	if len(rst) > 0 {
		rstCol = strings.Join(rst, ",")
	}
	return fmt.Sprintf("%-5d %-46s %-25s %-13s %-15s %5d %5d %9s  %s\n", f.ID, conn, f.State[c].String()+"/"+f.State[s].String(),
		fmt.Sprintf("%d/%d", dc.Packets, ds.Packets), fmt.Sprintf("%d/%d", dc.PayloadBytes, ds.PayloadBytes),
		dc.RetransmissionField()+ds.RetransmissionField(), dc.ZeroWindow+ds.ZeroWindow, model.RTTCell(f.IRTT), rstCol)
}

func TestReportRow_AsFmtWroteIt(t *testing.T) {
	names := []string{"", "nginx", "日本語のプロセス名", "e\u0301clair", strings.Repeat("long-name-", 8), "ctl\x1b[2Jx", "bad\xffutf8"}
	ends := [][2]string{{"10.0.0.1:40000", "10.0.0.2:80"}, {"[2001:db8::1]:51234", "[fe80::1]:443"}, {"1.2.3.4:1", "5.6.7.8:2"}}
	for i, name := range names {
		for j, ep := range ends {
			f := model.Flow{ID: model.FlowID(i*1000000 + j), A: netip.MustParseAddrPort(ep[0]), B: netip.MustParseAddrPort(ep[1]),
				Client: []model.Side{model.SideA, model.SideB, model.SideNone}[j], RoleInferred: i%2 == 1, IRTT: int64(i) * 12345678,
				State: [2]model.State{model.StateEstablished, model.StateCloseWait}}
			f.Dir[0].Packets, f.Dir[1].Packets, f.Dir[0].PayloadBytes, f.Dir[1].PayloadBytes = uint64(i), 1<<40, uint64(j)*99999, 7
			f.Dir[0].Retransmission, f.Dir[1].ZeroWindow = uint32(i*j), uint32(123456*j)
			if i%3 == 0 {
				f.Resets = []model.Reset{{From: model.SideB, SenderState: model.StateEstablished, MiddleboxSuspected: j == 1}, {From: model.SideA, SenderState: model.StateClosed}}
			}
			e := model.FlowEntry{Flow: &f}
			if name != "" {
				e.Owners = []model.OwnerRef{{PID: 100 * i, Name: name}}
			}
			var buf bytes.Buffer
			r := newReportWriter(&buf)
			r.bw.Flush()
			buf.Reset()
			if err := r.row(&e); err != nil {
				t.Fatal(err)
			}
			r.bw.Flush()
			if got, want := buf.String(), fmtRow(&e); got != want {
				t.Errorf("name %q, ends %v:\n got %q\nwant %q", name, ep, got, want)
			}
		}
	}
}
