//go:build linux

package capture

// benchReaders sets the readers per interface of a capture child of the
// CPU benchmarks (CONNSCOPE_LIVE_BENCH_READERS); it is a file of its own
// so that the benchmark file also builds against versions without the
// option.
func benchReaders(o *LiveOptions, n int) { o.ReadersPerInterface = n }
