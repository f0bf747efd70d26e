package main

import (
	"net/netip"
	"testing"

	"github.com/connscope/connscope/model"
)

// TestSocketFilter_KeepsWhatTheCaptureCouldSee judges sockets by the
// capture's namespace, interface and filter, IPv4 and IPv6, in either
// direction of the filter.
func TestSocketFilter_KeepsWhatTheCaptureCouldSee(t *testing.T) {
	sock := func(ns uint64, local, remote string) *model.Socket {
		return &model.Socket{NetNS: ns, Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), State: model.StateEstablished}
	}
	sf := newSocketFilter([]string{"lo"}, "tcp port 18081", 7)
	if sf == nil {
		t.Fatal("a filter that keeps everything")
	}
	tests := []struct {
		s    *model.Socket
		want bool
	}{
		{sock(7, "127.0.0.1:18081", "127.0.0.1:40000"), true},
		{sock(7, "127.0.0.1:40000", "127.0.0.1:18081"), true}, // the port is the remote's
		{sock(7, "127.0.0.5:40000", "127.0.0.1:18081"), true}, // any 127/8 address is on lo
		{sock(7, "[::1]:18081", "[::1]:40000"), true},
		{sock(7, "127.0.0.1:18082", "127.0.0.1:40000"), false},    // the filter
		{sock(8, "127.0.0.1:18081", "127.0.0.1:40000"), false},    // another namespace
		{sock(7, "192.0.2.1:18081", "198.51.100.1:40000"), false}, // not on lo
	}
	for _, tc := range tests {
		if got := sf.keep(tc.s); got != tc.want {
			t.Errorf("%v -> %v in netns %d: got %v, want %v", tc.s.Local, tc.s.Remote, tc.s.NetNS, got, tc.want)
		}
	}
	if newSocketFilter(nil, "", 0) != nil {
		t.Errorf("no interface, filter or namespace: got a filter, want none")
	}
	all := newSocketFilter(nil, "host 10.0.0.2", 0)
	if !all.keep(sock(1, "10.0.0.1:5", "10.0.0.2:80")) || all.keep(sock(1, "10.0.0.1:5", "10.0.0.3:80")) {
		t.Errorf("a host filter alone: got the wrong verdicts")
	}
}
