//go:build !unix

package main

// nsInode: network namespaces exist only on Linux.
func nsInode(string) (uint64, bool) { return 0, false }
