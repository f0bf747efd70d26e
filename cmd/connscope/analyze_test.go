package main

import (
	"context"
	"io"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/pipeline"
)

// analysis is the outcome of reading a whole file through the headless
// pipeline, as --report and --json do.
type analysis struct {
	snap    *model.Snapshot
	readErr error // the error that ended the source early (e.g. truncation)
}

// analyzeFile reads every packet of path through the headless pipeline.
// An error opening the file is returned as err; a read error that ends the
// file early is in readErr with everything read before it.
func analyzeFile(ctx context.Context, path string, stdin io.Reader, cfg model.Config) (*analysis, error) {
	p, err := pipeline.Open(pipeline.Config{File: path, Stdin: stdin, Table: cfg})
	if err != nil {
		return nil, err
	}
	runErr := p.Run(ctx)
	return &analysis{snap: p.Latest(), readErr: runErr}, nil
}
