package model_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const mod = "github.com/connscope/connscope/"

// TestImportRule checks the one-way import rule of the architecture:
// cmd -> {tui, pipeline} -> {capture, procinfo, kevents} -> model, model
// imports only the standard library and none of its packages that reach
// the system (os, net, syscall, unsafe, io/fs), tui reaches only model,
// and no package reaches back up.
func TestImportRule(t *testing.T) {
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
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", mod+"model").Output()
	if err != nil {
		t.Fatalf("go list model: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if slices.Contains([]string{"os", "net", "syscall", "unsafe", "io/fs"}, imp) {
			t.Errorf("model imports %s; model does no I/O and reaches no system interface", imp)
		}
	}
	rules := map[string][]string{
		"tui":      {"pipeline", "capture", "procinfo", "kevents", "cmd"},
		"pipeline": {"tui", "cmd"},
		"capture":  {"pipeline", "tui", "procinfo", "kevents", "cmd"},
		"procinfo": {"pipeline", "tui", "capture", "kevents", "cmd"},
		"kevents":  {"pipeline", "tui", "capture", "procinfo", "cmd"},
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
					t.Errorf("%s imports %s; imports must point cmd -> {tui, pipeline} -> {capture, procinfo, kevents} -> model", pkg, d)
				}
			}
		}
	}
}

// clockFuncs are the functions of package time that read the clock or
// wait on it.
var clockFuncs = []string{"Now", "Since", "Until", "Tick", "NewTicker", "NewTimer", "After", "AfterFunc", "Sleep"}

// TestModelReadsNoClock scans model's source (not its tests) for reads of
// the clock (time.Now and the other clockFuncs) and go statements: model
// is pure, so the same segments always give the same snapshot.
func TestModelReadsNoClock(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}\n{{join .GoFiles \"\\n\"}}", mod+"model").Output()
	if err != nil {
		t.Fatalf("go list model: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir, files := lines[0], lines[1:]
	if len(files) == 0 {
		t.Fatal("model has no source files")
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		report := func(n ast.Node, what string) {
			found = append(found, fset.Position(n.Pos()).String()+": "+what)
		}
		timePkg := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "time" {
				timePkg = "time"
				if imp.Name != nil {
					timePkg = imp.Name.Name
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				report(n, "go statement")
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && timePkg != "" && x.Name == timePkg && slices.Contains(clockFuncs, n.Sel.Name) {
					report(n, "reads the clock with time."+n.Sel.Name)
				}
			}
			return true
		})
		for _, what := range found {
			t.Errorf("%s; model must not start goroutines or read the clock: take times from segments or the caller", what)
		}
	}
}
