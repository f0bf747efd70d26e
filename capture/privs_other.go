//go:build !linux

package capture

// CheckLive reports that live capture is not available: it exists only on
// Linux (AF_PACKET). Reading capture files works everywhere.
func CheckLive() error { return ErrNeedsLinux }
