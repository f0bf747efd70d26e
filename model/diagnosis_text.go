package model

// Text helpers of the finding summaries: thin names over the presentation
// helpers of text.go, so the diagnosis words durations, counts and roles as
// every view does.

// role names a side for a summary: "server 10.0.0.2:8080" ("endpoint
// 10.0.0.2:8080" when roles are unknown).
func (d *diag) role(s Side) string { return Role(d.f, s) }

// roleWord is "client" or "server" ("peer" when roles are unknown).
func (d *diag) roleWord(s Side) string { return RoleWord(d.f, s) }

// dur renders a duration for a summary in the sentence form ("46 µs",
// "4.1 ms", "2.0 s", "3 min 5 s"); a negative span reads as none.
func dur(ns int64) string { return Duration(max(ns, 0)) }

// plural is "1 hop", "2 hops".
func plural(n int, word string) string { return Plural(n, word) }
