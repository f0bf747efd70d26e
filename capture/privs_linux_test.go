//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseCapEff(t *testing.T) {
	status := func(eff string) string {
		return "Name:\tconnscope\nUmask:\t0022\nCapInh:\t0000000000000000\nCapPrm:\t" + eff + "\nCapEff:\t" + eff + "\nCapBnd:\t000001ffffffffff\n"
	}
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{"root", status("000001ffffffffff"), 0x1ffffffffff, false},
		{"nobody", status("0000000000000000"), 0, false},
		{"net_raw only", status("0000000000002000"), 1 << capNetRaw, false},
		{"no CapEff line", "Name:\tx\nCapPrm:\t0\n", 0, true},
		{"not hex", status("zz"), 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCapEff(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %#x, %v; want %#x, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestOpenErr_PermissionSaysWhatIsMissing(t *testing.T) {
	err := (&opener{}).openErr("eth0", "packet socket", unix.EPERM)
	if !errors.Is(err, ErrPrivilege) || !errors.Is(err, os.ErrPermission) || !errors.Is(err, unix.EPERM) {
		t.Errorf("got %v, want it to match ErrPrivilege, os.ErrPermission and EPERM", err)
	}
	if !strings.HasPrefix(err.Error(), "eth0: packet socket: live capture needs CAP_NET_RAW (run as root or setcap cap_net_raw=eip ") {
		t.Errorf("got %q, want the interface, the step and the fix", err)
	}
	other := (&opener{}).openErr("eth0", "packet socket", unix.ENODEV)
	if errors.Is(other, ErrPrivilege) {
		t.Errorf("got %v matching ErrPrivilege for ENODEV", other)
	}
}

// TestPrivsHelper is the body the privilege tests run in a child process
// under another user; on its own it does nothing.
func TestPrivsHelper(t *testing.T) {
	if os.Getenv("CONNSCOPE_PRIVS_HELPER") != "1" {
		t.Skip("runs only as the child of TestCheckLive_WithoutCapNetRaw")
	}
	fmt.Printf("check: %v\n", CheckLive())
	l, err := OpenLive(LiveOptions{Interfaces: []string{"lo"}, RescanEvery: -1})
	if err != nil {
		fmt.Printf("open: %v\n", err)
		fmt.Printf("is-privilege: %v is-permission: %v\n", errors.Is(err, ErrPrivilege), errors.Is(err, os.ErrPermission))
		return
	}
	fmt.Printf("open: ok, %d interface(s), %v\n", len(l.Interfaces()), l.Interfaces()[0].Method)
	l.Close()
}

// TestCheckLive_WithoutCapNetRaw runs the test binary as nobody, once with
// no capability and once with CAP_NET_RAW alone.
func TestCheckLive_WithoutCapNetRaw(t *testing.T) {
	requireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	// nobody must be able to run the binary: copy it out of the build
	// directory (mode 0700) into a directory of its own.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "connscope-privs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "capture.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	run := func(caps ...string) string {
		t.Helper()
		args := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, caps...)
		args = append(args, bin, "-test.run=^TestPrivsHelper$", "-test.count=1")
		cmd := exec.Command(setpriv, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CONNSCOPE_PRIVS_HELPER=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("setpriv %v: %v\n%s", caps, err, out)
		}
		return string(out)
	}

	out := run()
	want := "live capture needs CAP_NET_RAW (run as root or setcap cap_net_raw=eip " + bin + ")"
	for _, line := range []string{"check: " + want, "open: " + want, "is-privilege: true is-permission: true"} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("as nobody: got\n%s\nwant a line %q", out, line)
		}
	}

	out = run("--inh-caps=+net_raw", "--ambient-caps=+net_raw")
	for _, line := range []string{"check: <nil>", "open: ok, 1 interface(s), tpacket_v3"} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("as nobody with CAP_NET_RAW alone: got\n%s\nwant a line %q", out, line)
		}
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
