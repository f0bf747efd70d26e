package main

import (
	_ "embed"
	"io"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// demoCapture is a small capture of typical failures recorded from real
// kernel traffic in network namespaces (see testdata/scenarios): a refused
// connection, a reset with unread data, an idle keep-alive race,
// retransmissions and a zero window. --demo replays it so that a newcomer
// sees the tool working with no root and no traffic.
//
//go:embed demo/demo.pcap
var demoCapture []byte

// pipelineConfig turns the command line into the pipeline's input,
// limits and selection: every mode (UI, --report, --json) starts from it,
// so they read, join, diagnose and select by the same rules.
func pipelineConfig(o options, stdin io.Reader) pipeline.Config {
	cfg := pipeline.Config{
		Filter:         o.capFilter,
		Table:          model.Config{MaxFlows: o.maxFlows, Retention: int64(o.retention)},
		Display:        o.filter,
		PID:            o.pid,
		Proc:           o.proc,
		Poll:           o.poll,
		NoProcinfo:     o.noProcinfo,
		NoKernelEvents: o.noKEvents,
		Count:          o.count,
	}
	switch {
	case o.demo:
		cfg.Demo = demoCapture
	case o.read != "":
		cfg.File, cfg.Stdin = o.read, stdin
	default:
		cfg.Live = &pipeline.LiveConfig{Interfaces: o.ifaces, Snaplen: o.snaplen, Write: o.write}
		// Sockets without packets become rows only where the capture
		// looks: its namespace, its interfaces, its filter.
		self, _ := netnsNames()
		if sf := newSocketFilter(o.ifaces, o.capFilter, self); sf != nil {
			cfg.SocketFilter = sf.keep
		}
	}
	return cfg
}

// startAtEnd reports whether a replay in the UI opens analysed: the whole
// file at once, as Wireshark shows it (space replays it from its first
// packet), and a stream on stdin followed as it arrives. --replay start
// opens paused before the first packet instead.
func startAtEnd(o options) bool {
	return o.replay != "start"
}
