package pipeline

import "github.com/connscope/connscope/capture"

// Interfaces returns the interfaces of a live capture with their states
// and counters (one that is down, lost or failed says why), nil for other
// inputs. It may be called from any goroutine while Run goes on.
func (p *Pipeline) Interfaces() []capture.LiveInterface {
	if p.src == nil || p.src.liveCap == nil {
		return nil
	}
	return p.src.liveCap.Interfaces()
}
