package tui

import (
	"reflect"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/key"
)

// TestKeys_EveryBindingIsInTheHelp walks the key map itself, not the help
// groups, so a binding left out of helpGroups fails here: each one's keys
// and description must share a line of the help screen, narrow (one
// column) and wide (two).
func TestKeys_EveryBindingIsInTheHelp(t *testing.T) {
	km := newKeyMap()
	v := reflect.ValueOf(km)
	if v.NumField() == 0 {
		t.Fatal("the key map has no bindings")
	}
	for _, w := range []int{80, 200} {
		m, _ := newTestModel(t, w, 24, Options{})
		c := m.ctx()
		help := m.overlay.lines(&c)
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			b, ok := v.Field(i).Interface().(key.Binding)
			if !ok {
				t.Fatalf("keyMap.%s: got a %s, want a key.Binding", name, v.Field(i).Type())
			}
			h := b.Help()
			if len(b.Keys()) == 0 || h.Key == "" || h.Desc == "" {
				t.Errorf("keyMap.%s: got keys %q help %q %q, want keys with their help", name, b.Keys(), h.Key, h.Desc)
				continue
			}
			found := false
			for _, l := range help {
				if strings.Contains(l, " "+h.Key+" ") && strings.Contains(l, h.Desc) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("width %d: keyMap.%s (%s: %s) is not on the help screen", w, name, h.Key, h.Desc)
			}
		}
	}
}
