// Command gopeer is the Go side of the diagnosis scenarios: small net/http
// and net programs with the bugs Go services really have, run by lab.py in
// a network namespace. It speaks lab.py's peer protocol: JSON events on
// stdout ({"ev":"ready","pid":N}, {"ev":"mark",...}, {"ev":"done"}, and
// on the word "exit" on stdin, {"ev":"result","conns":[...],"extra":[...]}),
// where every step a connection went through is logged with its wall-clock
// time and, for failures, the exact error text the program got.
//
//	gopeer httpserver -addr IP:PORT [-idle 2s] [-close-delay 20ms] [-max-requests N] [-nofile N -leak-files]
//	gopeer httpclient -url URL -ports P1,P2 -paths /a,/b -gaps 0s,2.01s [-busy 8ms] [-timeout 1s]
//	gopeer leakserver -leak IP:PORT [-ok IP:PORT] [-nofile N]
//
// Servers listen on an IPv4 address, not a wildcard: on "0.0.0.0" Go
// listens dual-stack and ss would show IPv4-mapped IPv6 addresses.
//
// Standard library only. The scenario suite builds it with
// `go build -o X ./testdata/scenarios/gopeer` (the go tool skips testdata
// for ./... patterns).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// --- the peer protocol -----------------------------------------------------

var outMu sync.Mutex

func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// emit prints one JSON event line.
func emit(ev string, kv map[string]any) {
	if kv == nil {
		kv = map[string]any{}
	}
	kv["ev"], kv["t"] = ev, now()
	b, err := json.Marshal(kv)
	if err != nil {
		panic(err) // only our own maps are marshalled
	}
	outMu.Lock()
	os.Stdout.Write(append(b, '\n'))
	outMu.Unlock()
}

// step is one logged step of a connection: op, outcome ("ok" or the exact
// error text) and time, plus details.
type step map[string]any

// connLog is one connection as the truth records it.
type connLog struct {
	mu    sync.Mutex
	Name  string `json:"name"`
	Local string `json:"local"`
	Peer  string `json:"peer"`
	Log   []step `json:"log"`
}

func (c *connLog) add(op, res string, kv step) {
	if kv == nil {
		kv = step{}
	}
	kv["op"], kv["res"], kv["t"] = op, res, now()
	c.mu.Lock()
	c.Log = append(c.Log, kv)
	c.mu.Unlock()
}

// registry holds every connection's log and the program's extra figures.
type registry struct {
	mu    sync.Mutex
	conns []*connLog
	extra map[string]any
}

var reg = &registry{extra: map[string]any{}}

func (r *registry) conn(name, local, peer string) *connLog {
	c := &connLog{Name: name, Local: local, Peer: peer, Log: []step{}}
	r.mu.Lock()
	r.conns = append(r.conns, c)
	r.mu.Unlock()
	return c
}

func (r *registry) set(k string, v any) {
	r.mu.Lock()
	r.extra[k] = v
	r.mu.Unlock()
}

// serveStdin waits for "exit" (or the end of stdin) and then prints the
// result and exits.
func serveStdin() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "exit" {
			break
		}
	}
	reg.mu.Lock()
	conns := make([]map[string]any, 0, len(reg.conns))
	for _, c := range reg.conns {
		c.mu.Lock()
		conns = append(conns, map[string]any{"name": c.Name, "local": c.Local, "peer": c.Peer, "log": c.Log})
		c.mu.Unlock()
	}
	extra := map[string]any{"name": "gopeer"}
	for k, v := range reg.extra {
		extra[k] = v
	}
	reg.mu.Unlock()
	emit("result", map[string]any{"conns": conns, "extra": []any{extra}})
	os.Exit(0)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "gopeer: "+format+"\n", a...)
	os.Exit(1)
}

// setNofile sets RLIMIT_NOFILE's soft limit (0: leave it as Go set it, at
// the hard limit).
func setNofile(n uint64) {
	if n == 0 {
		return
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fail("getrlimit: %v", err)
	}
	rl.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fail("setrlimit: %v", err)
	}
	reg.set("nofile_soft", n)
}

// --- httpserver ------------------------------------------------------------

// trackedConn logs a server connection's requests and its close. Its
// Close waits closeDelay first: a stand-in for a loaded server, it widens
// the window between net/http's idle deadline firing and close().
type trackedConn struct {
	net.Conn
	log        *connLog
	closeDelay time.Duration
	mu         sync.Mutex
	lastErr    error
	requests   int
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
	} else {
		c.mu.Lock()
		c.lastErr = nil
		c.mu.Unlock()
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.mu.Lock()
	why := errText(c.lastErr)
	c.mu.Unlock()
	// The last read error says why net/http closes: its idle deadline
	// ("i/o timeout") or the client's FIN ("EOF").
	c.log.add("close-begin", "ok", step{"last_read_error": why})
	time.Sleep(c.closeDelay)
	err := c.Conn.Close()
	c.log.add("close", errText(err), nil)
	return err
}

type trackedListener struct {
	net.Listener
	closeDelay time.Duration
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lg := reg.conn("server", c.LocalAddr().String(), c.RemoteAddr().String())
	lg.add("accept", "ok", nil)
	return &trackedConn{Conn: c, log: lg, closeDelay: l.closeDelay}, nil
}

type ctxKey struct{}

// acceptLog receives net/http's error log ("http: Accept error: ...").
type acceptLog struct{}

func (acceptLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if strings.Contains(line, "Accept error") {
		reg.mu.Lock()
		if _, ok := reg.extra["first_accept_error"]; !ok {
			reg.extra["first_accept_error"] = line
			reg.extra["first_accept_error_t"] = now()
		}
		reg.extra["last_accept_error"] = line
		n, _ := reg.extra["accept_errors"].(int)
		reg.extra["accept_errors"] = n + 1
		reg.mu.Unlock()
	} else {
		emit("log", map[string]any{"text": line})
	}
	return len(p), nil
}

// leakFiles opens a file every millisecond and never closes it (the bug:
// a forgotten Close on a per-tick file) until the fd limit stops it, and
// then keeps trying every 10 ms, as such a loop does.
func leakFiles() {
	var held []*os.File
	marked := false
	for {
		f, err := os.Open(os.DevNull)
		if err == nil {
			held = append(held, f)
			time.Sleep(time.Millisecond)
			continue
		}
		if !marked {
			marked = true
			reg.set("leaked_files", len(held))
			reg.set("first_open_error", err.Error())
			emit("mark", map[string]any{"name": "fds-exhausted", "leaked_files": len(held), "error": err.Error()})
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func httpServer(args []string) {
	fs := flag.NewFlagSet("httpserver", flag.ExitOnError)
	addr := fs.String("addr", "10.77.2.2:8080", "listen address")
	idle := fs.Duration("idle", 0, "Server.IdleTimeout")
	closeDelay := fs.Duration("close-delay", 0, "wait this long in each connection's Close")
	maxReq := fs.Int("max-requests", 0, "answer the N-th request of a connection with Connection: close")
	nofile := fs.Uint64("nofile", 0, "set RLIMIT_NOFILE's soft limit")
	leak := fs.Bool("leak-files", false, "leak a file per millisecond until the fd limit")
	fs.Parse(args)

	setNofile(*nofile)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail("listen: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		tc := r.Context().Value(ctxKey{}).(*trackedConn)
		body, err := io.ReadAll(r.Body)
		tc.mu.Lock()
		tc.requests++
		n := tc.requests
		tc.mu.Unlock()
		st := step{"method": r.Method, "path": r.URL.Path, "body_bytes": len(body), "n": n}
		if err != nil {
			tc.log.add("request", err.Error(), st)
			return
		}
		tc.log.add("request", "ok", st)
		// ?work=2s: a slow handler (it does not watch r.Context()).
		if d, err := time.ParseDuration(r.URL.Query().Get("work")); err == nil {
			time.Sleep(d)
		}
		if *maxReq > 0 && n >= *maxReq {
			w.Header().Set("Connection", "close") // like nginx's keepalive_requests
		}
		// ?parts=2: the answer in parts, flushed 50 ms apart.
		parts, _ := strconv.Atoi(r.URL.Query().Get("parts"))
		rc := http.NewResponseController(w)
		for i := 0; i < max(parts, 1); i++ {
			if i > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			if _, err := io.WriteString(w, "ok\n"); err != nil {
				tc.log.add("write", err.Error(), step{"part": i + 1})
				return
			}
			if parts > 0 {
				if err := rc.Flush(); err != nil {
					tc.log.add("write", err.Error(), step{"part": i + 1})
					return
				}
				tc.log.add("write", "ok", step{"part": i + 1})
			}
		}
	})
	srv := &http.Server{
		Handler:     mux,
		IdleTimeout: *idle,
		ErrorLog:    log.New(acceptLog{}, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, c)
		},
	}
	if *leak {
		go leakFiles()
	}
	go serveStdin()
	emit("ready", map[string]any{"pid": os.Getpid()})
	if err := srv.Serve(&trackedListener{Listener: ln, closeDelay: *closeDelay}); err != nil {
		fail("serve: %v", err)
	}
}

// --- httpclient ------------------------------------------------------------

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func httpClient(args []string) {
	fs := flag.NewFlagSet("httpclient", flag.ExitOnError)
	base := fs.String("url", "", "server base URL")
	bindIP := fs.String("bind", "10.77.1.2", "local address")
	portList := fs.String("ports", "", "local port of each new connection, in order")
	pathList := fs.String("paths", "/", "one request per path, in order")
	method := fs.String("method", http.MethodPost, "POST (with a body) or GET")
	gapList := fs.String("gaps", "", "wait before each POST, from the previous answer (or the start)")
	busy := fs.Duration("busy", 0, "spend the end of the last wait on the CPU (GOMAXPROCS 1)")
	timeout := fs.Duration("timeout", 0, "http.Client.Timeout")
	fs.Parse(args)

	var ports []int
	for _, p := range splitList(*portList) {
		n, err := strconv.Atoi(p)
		if err != nil {
			fail("bad port %q", p)
		}
		ports = append(ports, n)
	}
	paths := splitList(*pathList)
	gaps := make([]time.Duration, len(paths))
	for i, g := range splitList(*gapList) {
		d, err := time.ParseDuration(g)
		if err != nil {
			fail("bad gap %q", g)
		}
		gaps[i] = d
	}
	if *busy > 0 {
		runtime.GOMAXPROCS(1)
	}

	// Each new connection binds the next fixed local port, so every run
	// names the same flows.
	var dialMu sync.Mutex
	dials := 0
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialMu.Lock()
			if dials >= len(ports) {
				dialMu.Unlock()
				return nil, errors.New("gopeer: no local port left for another connection")
			}
			d := *dialer
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(*bindIP), Port: ports[dials]}
			dials++
			dialMu.Unlock()
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 1,
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}
	conns := map[string]*connLog{}
	go serveStdin()
	emit("ready", map[string]any{"pid": os.Getpid()})

	last := time.Now()
	for i, path := range paths {
		target := last.Add(gaps[i])
		if *busy > 0 && i == len(paths)-1 {
			// Sleep until shortly before, then compute until the moment:
			// a CPU-busy client whose transport goroutine does not get to
			// run (GOMAXPROCS 1) between a FIN's arrival and this request.
			time.Sleep(time.Until(target.Add(-*busy)))
			spins := 0
			for time.Now().Before(target) {
				spins++
			}
			reg.set("busy_spins", spins)
		} else {
			time.Sleep(time.Until(target))
		}
		// Every connection the request was tried on: more than one when
		// the transport retried it by itself.
		var used []httptrace.GotConnInfo
		trace := &httptrace.ClientTrace{GotConn: func(g httptrace.GotConnInfo) { used = append(used, g) }}
		var body io.Reader
		if *method == http.MethodPost {
			body = strings.NewReader("hello\n")
		}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			*method, *base+path, body)
		if err != nil {
			fail("request: %v", err)
		}
		start := now()
		resp, err := client.Do(req)
		res := "ok"
		var status step
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = step{"status": resp.StatusCode, "connection_close": resp.Close}
		}
		if err != nil {
			res = err.Error()
		}
		last = time.Now()
		if len(used) == 0 {
			reg.conn(fmt.Sprintf("request %d", i+1), "", "").add("request", res, step{"method": *method, "path": path})
			continue
		}
		// Each attempt is logged on its connection; what the caller got
		// (res) belongs to the last one, the earlier ones were hidden.
		for k, g := range used {
			local := g.Conn.LocalAddr().String()
			c := conns[local]
			if c == nil {
				c = reg.conn(fmt.Sprintf("conn of request %d", i+1), local, g.Conn.RemoteAddr().String())
				conns[local] = c
			}
			st := step{"method": *method, "path": path, "t_start": start, "reused": g.Reused,
				"was_idle": g.WasIdle, "idle_s": g.IdleTime.Seconds()}
			if k < len(used)-1 {
				st["retried_by_transport_on"] = used[k+1].Conn.LocalAddr().String()
				c.add("request", "ok", st) // the caller saw nothing of this attempt
				continue
			}
			for kk, v := range status {
				st[kk] = v
			}
			c.add("request", res, st)
		}
	}
	// Close what is still pooled (the client closes first), then report.
	tr.CloseIdleConnections()
	emit("done", nil)
	select {}
}

// --- leakserver ------------------------------------------------------------

// open counts the connections a leaky server holds: it is also what keeps
// them reachable, as real leaks are (a registry, a blocked goroutine); an
// unreachable net.Conn would be closed by its finalizer at the next GC.
var open = struct {
	sync.Mutex
	m map[net.Conn]bool
}{m: map[net.Conn]bool{}}

// lineServer answers "OK" to every line. With closeOnEOF false it has the
// bug: on the client's EOF it returns without closing the connection.
func lineServer(addr string, closeOnEOF bool) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen: %v", err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		lg := reg.conn("server", c.LocalAddr().String(), c.RemoteAddr().String())
		lg.add("accept", "ok", nil)
		open.Lock()
		open.m[c] = true
		open.Unlock()
		go func() {
			r := bufio.NewReader(c)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					lg.add("read", errText(err), nil)
					if closeOnEOF {
						open.Lock()
						delete(open.m, c)
						open.Unlock()
						lg.add("close", errText(c.Close()), nil)
					}
					return // the leak: no c.Close()
				}
				if _, err := io.WriteString(c, "OK\n"); err != nil {
					lg.add("write", err.Error(), nil)
				}
			}
		}()
	}
}

func leakServer(args []string) {
	fs := flag.NewFlagSet("leakserver", flag.ExitOnError)
	leak := fs.String("leak", "10.77.2.2:8080", "listen address of the handler that forgets Close")
	ok := fs.String("ok", "", "listen address of the handler that closes")
	nofile := fs.Uint64("nofile", 0, "set RLIMIT_NOFILE's soft limit")
	fs.Parse(args)
	setNofile(*nofile)
	go lineServer(*leak, false)
	if *ok != "" {
		go lineServer(*ok, true)
	}
	time.Sleep(50 * time.Millisecond) // let the listeners bind
	go serveStdin()
	emit("ready", map[string]any{"pid": os.Getpid()})
	select {}
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: gopeer httpserver|httpclient|leakserver [flags]")
	}
	switch os.Args[1] {
	case "httpserver":
		httpServer(os.Args[2:])
	case "httpclient":
		httpClient(os.Args[2:])
	case "leakserver":
		leakServer(os.Args[2:])
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
