package model_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRule checks the one-way import rule of the architecture:
// cmd -> {tui, capture, procinfo} -> model, model imports only the standard
// library, and tui never reaches capture or procinfo.
func TestImportRule(t *testing.T) {
	const mod = "github.com/connscope/connscope/"
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	for _, d := range deps("model") {
		if d != mod+"model" {
			t.Errorf("model imports %s; want the standard library only", d)
		}
	}
	rules := map[string][]string{
		"tui":      {"capture", "procinfo", "cmd"},
		"capture":  {"tui", "procinfo", "cmd"},
		"procinfo": {"tui", "capture", "cmd"},
	}
	for pkg, banned := range rules {
		out, err := exec.Command("go", "list", "-e", "-f", "{{.Name}}", mod+pkg).CombinedOutput()
		if err != nil || strings.Contains(string(out), "no Go files") {
			t.Errorf("package %s is missing: %s", pkg, out)
			continue
		}
		for _, d := range deps(pkg) {
			for _, b := range banned {
				if d == mod+b || strings.HasPrefix(d, mod+b+"/") {
					t.Errorf("%s imports %s; imports must point cmd -> {tui, capture, procinfo} -> model", pkg, d)
				}
			}
		}
	}
}
