//go:build !unix

package capture

import "os"

// writeOffset cannot tell where writes to f land without the file's
// flags: a Writer on a file it did not create does not cut it back.
func writeOffset(f *os.File, size int64) (int64, bool) { return 0, false }
