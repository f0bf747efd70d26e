//go:build unix

package main

import (
	"os"
	"syscall"
)

// nsInode returns the inode of a namespace file (/proc/self/ns/net, a
// bind mount under /run/netns).
func nsInode(path string) (uint64, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return uint64(sys.Ino), true
}
