//go:build !linux

package kevents

import (
	"context"

	"github.com/connscope/connscope/model"
)

// Source reads TCP kernel events; only Linux has them.
type Source struct{}

// Open fails on systems other than Linux: the events come from Linux
// tracepoints.
func Open(opts Options) (*Source, error) {
	return nil, &Error{Cause: CauseUnsupported, Detail: "kernel events need Linux"}
}

// Run is never reached: Open fails.
func (s *Source) Run(ctx context.Context, out chan<- []model.KernelEvent) error { return ErrClosed }

// Read is never reached: Open fails.
func (s *Source) Read(dst []model.KernelEvent) ([]model.KernelEvent, error) { return dst, ErrClosed }

// Status is empty: Open fails.
func (s *Source) Status() Status { return Status{} }

// Stats is empty: Open fails.
func (s *Source) Stats() Stats { return Stats{} }

// Close has nothing to release.
func (s *Source) Close() error { return nil }
