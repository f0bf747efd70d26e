package model

import (
	"cmp"
	"slices"
)

// CauseCount is one cause of a findings summary: how bad it is, how many
// rows carry it, and what the most recent of them says.
type CauseCount struct {
	Label FindingLabel
	// Severity is the worst any row reported for the label.
	Severity Severity
	// Rows counts the rows with the label (a row reporting it twice
	// counts once).
	Rows int
	// Example is the summary of the most recent row with the label (latest
	// last packet, then the greatest key); raw text: sanitise it.
	Example string
	// ExampleKey is that row's key.
	ExampleKey Key
	exampleTS  int64
}

// FindingsSummary groups the findings of a set of rows by cause: the
// findings screen, the report's summary and the metrics all count with it.
type FindingsSummary struct {
	// Causes are ordered most severe first, then by row count (most
	// first), then by label.
	Causes []CauseCount
	// Rows counts the rows with at least one finding.
	Rows int
}

// SummarizeFindings groups the findings of rows by label.
func SummarizeFindings(rows []FlowEntry) FindingsSummary {
	var s FindingsSummary
	at := map[FindingLabel]int{}
	for i := range rows {
		e := &rows[i]
		counted := false
		for j, fd := range e.Findings {
			if fd.Label.String() == "" || hasLabel(e.Findings[:j], fd.Label) {
				continue
			}
			k, ok := at[fd.Label]
			if !ok {
				k = len(s.Causes)
				at[fd.Label] = k
				s.Causes = append(s.Causes, CauseCount{Label: fd.Label, Severity: fd.Severity})
			}
			if !counted {
				s.Rows, counted = s.Rows+1, true
			}
			c := &s.Causes[k]
			c.Rows++
			c.Severity = max(c.Severity, fd.Severity)
			f := e.Flow
			if c.Rows == 1 || f.LastTS > c.exampleTS || (f.LastTS == c.exampleTS && f.Key().Compare(c.ExampleKey) > 0) {
				c.exampleTS, c.ExampleKey, c.Example = f.LastTS, f.Key(), fd.Summary
			}
		}
	}
	slices.SortFunc(s.Causes, func(a, b CauseCount) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Rows, a.Rows); c != 0 {
			return c
		}
		return cmp.Compare(a.Label.String(), b.Label.String())
	})
	return s
}

// Count returns the number of rows with label l.
func (s *FindingsSummary) Count(l FindingLabel) int {
	for _, c := range s.Causes {
		if c.Label == l {
			return c.Rows
		}
	}
	return 0
}

func hasLabel(fs []Finding, l FindingLabel) bool {
	for _, f := range fs {
		if f.Label == l {
			return true
		}
	}
	return false
}
