//go:build !race

package tui

// raceEnabled reports a build with the race detector, which slows every
// step several times over: wall-clock latency tests skip under it.
const raceEnabled = false
