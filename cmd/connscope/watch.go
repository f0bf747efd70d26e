package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// Watch mode is connscope as a service: a live headless run that goes on
// until SIGINT or SIGTERM, with Prometheus metrics (--metrics), findings
// printed as they are raised (--json) and the packets of each failing
// flow kept as evidence (--evidence). A live --json without --duration or
// --count runs the same way.
//
// Service defaults, for a run of months rather than minutes:
//   - --retention 60s unless given: a closed connection stays in the
//     table (and the metrics' CLOSED and TIME-WAIT counts) for a minute,
//     as long as Linux keeps its TIME-WAIT socket and as far back as the
//     diagnosis looks for time_wait_churn and idle_timeout_race across
//     connections, then streams out (--json) and frees its memory;
//     without it closed flows would stay until --max-flows evicts them.
//   - a snapshot a second (pipeline.Config.PublishEvery's default for
//     headless live runs): findings are raised and metrics move within
//     a second, and the idle cost stays low.
//   - evidence files rate-limited (10 at once, then one a second) and
//     capped at 256 MiB together, the recorder at 32 MiB of packets
//     (pipeline.RecorderConfig's defaults).

// watchRetention is the --retention of a long-running run not given one.
const watchRetention = 60 * time.Second

// longRunning reports a live headless run that goes on until stopped.
func longRunning(o *options) bool {
	return o.read == "" && !o.demo && o.duration == 0 && o.count == 0
}

// checkWatch checks the watch-mode flags against the others.
func checkWatch(o *options) error {
	live := o.read == "" && !o.demo
	switch {
	case o.watchMode() && !live:
		return fmt.Errorf("%w: --metrics and --evidence watch a live capture: they exclude -r and --demo", errUsage)
	case o.metricsTop < 0:
		return fmt.Errorf("%w: --metrics-top must be 0 or more, got %d", errUsage, o.metricsTop)
	case o.set["metrics-top"] && o.metrics == "":
		return fmt.Errorf("%w: --metrics-top needs --metrics", errUsage)
	case o.evidence != "" && !o.headless():
		return fmt.Errorf("%w: --evidence needs --metrics, --json or --report", errUsage)
	}
	return nil
}

// watch is what watch mode adds to a headless run.
type watch struct {
	exp    *exporter
	rec    *pipeline.Recorder
	ln     net.Listener
	srv    *http.Server
	served chan error
	stderr io.Writer
	// findings counts the findings raised, for the closing line.
	findings uint64
}

// startWatch sets the run up for watch mode when o asks for it (else it
// returns nil): the service defaults, the recorder, the metrics listener
// (bound now, so a bad address fails before the capture starts), and the
// pipeline hooks. onFinding, when set, prints a finding line with the
// path of its evidence file ("" for none); cfg.OnRemove, when set, is
// kept and called first.
func startWatch(o *options, cfg *pipeline.Config, onFinding func(ev pipeline.FindingEvent, evidence string), stderr io.Writer) (*watch, error) {
	if cfg.Live == nil || !longRunning(o) && !o.watchMode() {
		return nil, nil
	}
	w := &watch{stderr: stderr}
	if longRunning(o) && !o.set["retention"] {
		cfg.Table.Retention = int64(watchRetention)
	}
	if o.evidence != "" {
		rec, err := pipeline.NewRecorder(pipeline.RecorderConfig{Dir: o.evidence})
		if err != nil {
			return nil, fmt.Errorf("--evidence %s: %w", o.evidence, err)
		}
		w.rec = rec
		cfg.Live.Recorder = rec
	}
	if o.metrics != "" {
		ln, err := net.Listen("tcp", o.metrics)
		if err != nil {
			return nil, fmt.Errorf("--metrics %s: %w", o.metrics, err)
		}
		w.ln = ln
		w.exp = newExporter(o.metricsTop, o.pid != 0 || o.proc != "", w.rec)
		cfg.OnSnapshot = w.exp.observeSnapshot
		prev := cfg.OnRemove
		cfg.OnRemove = func(e *model.FlowEntry, evicted bool) {
			if prev != nil {
				prev(e, evicted)
			}
			w.exp.observeRemoved(e)
		}
	}
	cfg.OnFinding = func(ev pipeline.FindingEvent) {
		w.findings++
		path := ""
		if w.rec != nil {
			var err error
			if path, err = w.rec.Save(ev); err != nil {
				fmt.Fprintln(stderr, "connscope: evidence: "+model.Sanitize(err.Error()))
			}
		}
		if w.exp != nil {
			w.exp.observeFinding(ev)
		}
		if onFinding != nil {
			onFinding(ev, path)
		}
	}
	return w, nil
}

// serve starts answering scrapes once the pipeline is open: the metrics
// follow its selection.
func (w *watch) serve(p *pipeline.Pipeline) {
	if w == nil || w.exp == nil {
		return
	}
	w.exp.mu.Lock()
	w.exp.keep = p.Keep
	w.exp.mu.Unlock()
	w.srv = &http.Server{Handler: metricsHandler(w.exp), ReadHeaderTimeout: 10 * time.Second}
	w.served = make(chan error, 1)
	go func() { w.served <- w.srv.Serve(w.ln) }()
}

// metricsHandler serves exp with the Go and process collectors at
// /metrics.
func metricsHandler(exp *exporter) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(exp, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(rw, r)
			return
		}
		fmt.Fprintln(rw, "connscope: metrics at /metrics")
	})
	return mux
}

// stop ends the metrics server (a scrape under way may finish) and says
// on stderr what the run did, for the service's journal.
func (w *watch) stop(snap *model.Snapshot) {
	if w == nil {
		return
	}
	if w.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = w.srv.Shutdown(ctx)
		cancel()
		if err := <-w.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(w.stderr, "connscope: metrics: "+model.Sanitize(err.Error()))
		}
	} else if w.ln != nil {
		w.ln.Close()
	}
	if w.exp == nil && w.rec == nil {
		return
	}
	line := fmt.Sprintf("connscope: stopped: %d packets, %d connections, %d findings", snap.Source.Packets, snap.Table.FlowsCreated, w.findings)
	if w.rec != nil {
		st := w.rec.Stats()
		line += fmt.Sprintf("; evidence: %d files written, %d rate-limited, %d without packets, %d failed, %d removed by the size cap",
			st.Written, st.RateLimited, st.NoPackets, st.Failed, st.Removed)
	}
	fmt.Fprintln(w.stderr, line)
}
