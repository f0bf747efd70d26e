package kevents

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
)

// testPrefix names the tests' tracefs instances.
const testPrefix = "cs-h2-ktest"

// openTest opens a source for a test: skipped when not root or without
// tracefs, failed under CI=true when root but the source cannot open.
func openTest(t *testing.T) *Source {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("kernel events need root (tracefs instance); run the tests as root")
	}
	s, err := Open(Options{Prefix: testPrefix, Interval: 20 * time.Millisecond})
	if err != nil {
		var ke *Error
		if os.Getenv("CI") == "true" || !errors.As(err, &ke) || ke.Cause == CauseSetup {
			t.Fatalf("Open: %v", err)
		}
		t.Skipf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// collect reads events until done says they suffice or the timeout passes,
// and returns everything read.
func collect(t *testing.T, s *Source, timeout time.Duration, done func([]model.KernelEvent) bool) []model.KernelEvent {
	t.Helper()
	var evs []model.KernelEvent
	deadline := time.Now().Add(timeout)
	for {
		var err error
		evs, err = s.Read(evs)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if done(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Logf("timed out after %v with %d events", timeout, len(evs))
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// find returns the events that match.
func find(evs []model.KernelEvent, match func(*model.KernelEvent) bool) []model.KernelEvent {
	var out []model.KernelEvent
	for i := range evs {
		if match(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	return out
}

// has reports whether some event matches.
func has(match func(*model.KernelEvent) bool) func([]model.KernelEvent) bool {
	return func(evs []model.KernelEvent) bool { return len(find(evs, match)) > 0 }
}

// about matches the events of one connection, seen from either end.
func about(a, b netip.AddrPort) func(*model.KernelEvent) bool {
	return func(e *model.KernelEvent) bool {
		return (e.Local == a && e.Remote == b) || (e.Local == b && e.Remote == a)
	}
}

// dump logs events for a failing test.
func dump(t *testing.T, evs []model.KernelEvent) {
	t.Helper()
	for _, e := range evs {
		t.Logf("%s", describe(&e))
	}
}

func describe(e *model.KernelEvent) string {
	return fmt.Sprintf("%d %-14s %v -> %v %v->%v reason=%q pid=%d tid=%d comm=%q proc=%v sock=%x cookie=%d",
		e.Time, e.Kind, e.Local, e.Remote, e.OldState, e.NewState, e.Reason, e.PID, e.TID, e.Comm, e.InProcess, e.Socket, e.Cookie)
}

// netns is a network namespace made for a test and removed after it.
type netns struct{ name string }

func newNetns(t *testing.T, suffix string) *netns {
	t.Helper()
	name := "cs-h2-" + suffix
	exec.Command("ip", "netns", "del", name).Run()
	run(t, "ip", "netns", "add", name)
	ns := &netns{name}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ns.run(t, "ip", "link", "set", "lo", "up")
	return ns
}

func (n *netns) run(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, append([]string{"ip", "netns", "exec", n.name}, args...)...)
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// helperEnv selects a helper mode of the test binary (TestMain).
const helperEnv = "KEVENTS_TEST_HELPER"

// helperCommand runs this test binary as a helper process in mode.
func helperCommand(t *testing.T, mode string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hold":
		// Open a source, say its instance, and wait to be killed.
		s, err := Open(Options{Prefix: testPrefix})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Print(s.Name())
		time.Sleep(time.Minute)
		os.Exit(3)
	case "churn":
		secs, _ := strconv.Atoi(os.Getenv("KEVENTS_CHURN_SECONDS"))
		rate, _ := strconv.Atoi(os.Getenv("KEVENTS_CHURN_RATE"))
		os.Exit(churn(secs, rate))
	case "burst":
		os.Exit(burst(os.Getenv("KEVENTS_TEST_ADDR")))
	}
	os.Exit(4)
}

// burst makes 200 short connections to addr, one after another, each
// writing a byte and closing once the server answers.
func burst(addr string) int {
	for range burstConns {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		c.Write([]byte("x"))
		c.Read(make([]byte, 1))
		time.Sleep(2 * time.Millisecond)
		c.Close()
	}
	return 0
}

const burstConns = 200

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func netipAddrPort(ip string, port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(port))
}

func mountedTracefsForTest() (string, bool) { return mountedTracefs("/proc/self/mountinfo") }
