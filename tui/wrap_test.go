package tui

import (
	"strings"
	"testing"
)

func TestWrapWords_KeepsEveryWordWithinWidth(t *testing.T) {
	text := "server 10.77.2.2:8082 closed the connection after 2.0 s idle (its idle timeout); the client's next request came 48 ms after the FIN and drew a RST"
	lines := wrapWords(text, 30, 40)
	if got, want := strings.Join(lines, " "), text; got != want {
		t.Fatalf("joined lines: got %q, want %q", got, want)
	}
	for i, l := range lines {
		limit := 40
		if i == 0 {
			limit = 30
		}
		if len(l) > limit {
			t.Errorf("line %d is %d cells, want <= %d: %q", i, len(l), limit, l)
		}
	}
	if len(lines) < 4 {
		t.Errorf("got %d lines, want the text wrapped over at least 4", len(lines))
	}
}
