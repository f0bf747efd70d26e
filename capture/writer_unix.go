//go:build unix

package capture

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeOffset returns where the next write to the regular file f (of
// size bytes) lands: its end when it was opened to append (the shell's
// >>), its offset otherwise.
func writeOffset(f *os.File, size int64) (int64, bool) {
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return 0, false
	}
	if flags&unix.O_APPEND != 0 {
		return size, true
	}
	off, err := f.Seek(0, io.SeekCurrent)
	return off, err == nil
}
