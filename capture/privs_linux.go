//go:build linux

package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// capNetRaw is CAP_NET_RAW's bit in the capability sets
// (include/uapi/linux/capability.h).
const capNetRaw = 13

// PrivilegeError says that live capture is not allowed and how to allow
// it. It matches ErrPrivilege and os.ErrPermission with errors.Is.
type PrivilegeError struct {
	// Binary is the path of the running program, for the setcap line.
	Binary string
	// Err is the refused system call, if one was refused (nil when the
	// capability check alone decided).
	Err error
}

// Error gives the missing capability and both fixes in one line.
func (e *PrivilegeError) Error() string {
	return "live capture needs CAP_NET_RAW (run as root or setcap cap_net_raw=eip " + e.Binary + ")"
}

// Is matches ErrPrivilege and os.ErrPermission.
func (e *PrivilegeError) Is(target error) bool {
	return target == ErrPrivilege || target == os.ErrPermission
}

// Unwrap returns the refused system call's error.
func (e *PrivilegeError) Unwrap() error { return e.Err }

// privilegeError builds the error for this program.
func privilegeError(err error) *PrivilegeError {
	bin, xerr := os.Executable()
	if xerr != nil || bin == "" {
		bin = "BINARY"
	}
	return &PrivilegeError{Binary: bin, Err: err}
}

// CheckLive reports whether this process may capture live: it needs
// CAP_NET_RAW in its effective set (root has it). Without it the error is a
// *PrivilegeError saying exactly that and how to fix it; reading files
// needs no privilege. CAP_NET_ADMIN is not needed to capture (the
// TPACKET ring and promiscuous mode through a packet socket work without
// it), so the setcap line does not grant it. When
// the capabilities cannot be read (no /proc), CheckLive returns nil and
// opening the socket decides.
func CheckLive() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil
	}
	defer f.Close()
	eff, err := parseCapEff(f)
	if err != nil {
		return nil
	}
	if eff&(1<<capNetRaw) == 0 {
		return privilegeError(nil)
	}
	return nil
}

// errNoCapEff: a status file without a CapEff line.
var errNoCapEff = errors.New("no CapEff line")

// parseCapEff reads the effective capability mask (the CapEff line, in
// hex) from the text of /proc/PID/status.
func parseCapEff(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("CapEff %q: %w", strings.TrimSpace(rest), err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errNoCapEff
}
