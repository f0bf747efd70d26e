package model

import "math"

// This file holds the vocabulary of a file replay shared by the pipeline
// that runs it and the UI that controls it: speeds, commands, status, and
// the pure clock arithmetic of pacing.

// ReplaySpeed is how fast a file replay runs: a multiple of the recorded
// speed, or as fast as possible.
type ReplaySpeed uint8

// Replay speeds, slowest first.
const (
	SpeedX1 ReplaySpeed = iota
	SpeedX10
	SpeedX100
	SpeedMax
)

// String returns "x1", "x10", "x100" or "max".
func (s ReplaySpeed) String() string {
	switch s {
	case SpeedX1:
		return "x1"
	case SpeedX10:
		return "x10"
	case SpeedX100:
		return "x100"
	}
	return "max"
}

// factor is the multiple of recorded speed, 0 for SpeedMax.
func (s ReplaySpeed) factor() int64 {
	switch s {
	case SpeedX1:
		return 1
	case SpeedX10:
		return 10
	case SpeedX100:
		return 100
	}
	return 0
}

// ReplayOp is a command from the UI to a file replay. Live sources ignore
// them.
type ReplayOp uint8

// Replay commands.
const (
	ReplayToggle ReplayOp = iota // play if paused, pause if playing
	ReplayPlay
	ReplayPause
	ReplayFaster
	ReplaySlower
	ReplayStep  // apply exactly one more packet, then stay paused
	ReplayToEnd // apply everything as fast as possible, then pause
	// ReplayRestart reads the file again from its first packet and plays
	// it at the current speed (ReplayStatus.CanRestart says whether the
	// source can be read again).
	ReplayRestart
)

// ReplayStatus is where a replay stands, published with each snapshot
// and after each command.
type ReplayStatus struct {
	// Live is set for a live source: the other fields are then unused
	// except Applied.
	Live    bool
	Playing bool
	Speed   ReplaySpeed
	// ToEnd is set while jumping to the end of the capture.
	ToEnd bool
	// Ended is set once the source is exhausted and every packet applied.
	Ended bool
	// CanRestart is set when the source can be read again from its start
	// (a file, not stdin or a live capture).
	CanRestart bool
	// Start is the first packet's capture time; Clock the capture time the
	// replay has reached (it runs between packets while playing).
	Start, Clock int64
	// Applied counts the segments applied so far.
	Applied uint64
}

// Pacer maps wall time to the capture time a replay has reached. It is
// pure: wall times are passed in, so it is tested without a clock. The
// zero value is paused at capture time 0 at speed x1.
//
// While playing at a finite speed the replay clock runs from an anchor:
// clock = anchorCap + (wall - anchorWall) * factor. Every change of speed
// or play state re-anchors, so the clock never jumps.
type Pacer struct {
	playing    bool
	speed      ReplaySpeed
	anchorWall int64
	anchorCap  int64
}

// Playing reports whether the clock runs.
func (p *Pacer) Playing() bool { return p.playing }

// Speed returns the replay speed.
func (p *Pacer) Speed() ReplaySpeed { return p.speed }

// Clock returns the capture time reached at wall time wall.
func (p *Pacer) Clock(wall int64) int64 {
	f := p.speed.factor()
	if !p.playing || f == 0 {
		return p.anchorCap
	}
	d := wall - p.anchorWall
	if d < 0 {
		d = 0
	}
	if d > (math.MaxInt64-p.anchorCap)/f {
		return math.MaxInt64
	}
	return p.anchorCap + d*f
}

// Due returns the latest capture time whose packets should be applied by
// wall time wall: the clock while playing (everything at SpeedMax), and
// nothing new while paused.
func (p *Pacer) Due(wall int64) int64 {
	if p.playing && p.speed == SpeedMax {
		return math.MaxInt64
	}
	return p.Clock(wall)
}

// Play starts the clock at capture time at.
func (p *Pacer) Play(wall, at int64) {
	p.playing = true
	p.anchorWall, p.anchorCap = wall, at
}

// Pause stops the clock where it is.
func (p *Pacer) Pause(wall int64) {
	p.anchorCap = p.Clock(wall)
	p.playing = false
}

// SetSpeed changes speed without moving the clock; from SpeedMax the clock
// restarts at capture time at (the last packet applied).
func (p *Pacer) SetSpeed(wall int64, s ReplaySpeed, at int64) {
	if p.speed == SpeedMax || !p.playing {
		p.anchorCap = max(p.anchorCap, at)
	} else {
		p.anchorCap = p.Clock(wall)
	}
	p.anchorWall = wall
	p.speed = s
}

// MoveTo sets the clock to capture time at (after a step or a burst at
// SpeedMax), keeping the play state.
func (p *Pacer) MoveTo(wall, at int64) {
	p.anchorWall, p.anchorCap = wall, at
}
