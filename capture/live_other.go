//go:build !linux

package capture

// OpenLive fails on systems other than Linux: live capture uses AF_PACKET
// sockets. Reading capture files (Open) works everywhere.
func OpenLive(opts LiveOptions) (*Live, error) { return nil, ErrNeedsLinux }
