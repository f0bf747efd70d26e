package main

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/capture"
)

func TestParseArgs_ErrorsAreOneLineNamingTheFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the whole message after "usage: "
	}{
		{"unknown long flag", []string{"--nope"}, "unknown flag --nope"},
		{"unknown short flag", []string{"-x"}, "unknown flag -x"},
		{"missing argument", []string{"-r"}, "-r needs an argument: -r FILE"},
		{"missing argument of a long flag", []string{"--demo", "--replay"}, "--replay needs an argument: --replay MODE"},
		{"snaplen not a number", []string{"-s", "big"}, `-s SNAPLEN: "big" is not a whole number`},
		{"snaplen too small", []string{"-s", "10"}, "-s must be between 64 and 262144, got 10"},
		{"snaplen too large", []string{"-s=300000"}, "-s must be between 64 and 262144, got 300000"},
		{"count negative", []string{"--count", "-1"}, `--count N: "-1" is not a whole number`},
		{"poll not a duration", []string{"--poll", "fast"}, `--poll D: "fast" is not a duration such as 30 (seconds), 500ms, 30s or 5m`},
		{"poll too often", []string{"--poll", "10ms"}, "--poll must be at least 100ms, got 10ms"},
		{"poll too often in seconds", []string{"--poll", "0.05"}, "--poll must be at least 100ms, got 50ms"},
		{"duration not a duration", []string{"--duration=soon"}, `--duration D: "soon" is not a duration such as 30 (seconds), 500ms, 30s or 5m`},
		{"duration negative", []string{"--duration=-3"}, `--duration D: "-3" is not a duration such as 30 (seconds), 500ms, 30s or 5m`},
		{"replay mode unknown", []string{"--replay", "middle"}, `--replay must be start, end or auto, got "middle"`},
		{"completion shell unknown", []string{"--completion", "tcsh"}, `--completion must be bash, zsh or fish, got "tcsh"`},
		{"boolean given a value", []string{"--json=yes"}, `--json takes no value, got --json="yes"`},
		{"report and json", []string{"--report", "--json"}, "--report and --json exclude each other"},
		{"file and interface", []string{"-r", "x.pcap", "-i", "lo"}, "-r and -i exclude each other"},
		{"demo and file", []string{"--demo", "-r", "x.pcap"}, "--demo and -r exclude each other"},
		{"max-flows zero", []string{"--max-flows", "0"}, "--max-flows must be positive, got 0"},
		{"filter twice", []string{"-f", "port 80", "tcp"}, `give the capture filter either with -f or as trailing words, not both (got -f "port 80" and "tcp")`},
		{"bad syntax", []string{"---r"}, "bad flag syntax: ---r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgs(tt.args)
			if err == nil {
				t.Fatalf("parseArgs(%q): got no error, want %q", tt.args, tt.want)
			}
			if !errors.Is(err, errUsage) {
				t.Errorf("parseArgs(%q): got %v, want an error wrapping errUsage (exit status 2)", tt.args, err)
			}
			if got := strings.TrimPrefix(err.Error(), "usage: "); got != tt.want {
				t.Errorf("parseArgs(%q): got %q, want %q", tt.args, got, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("parseArgs(%q): got a message of several lines %q, want one", tt.args, err)
			}
		})
	}
}

func TestParseArgs_Accepts(t *testing.T) {
	defaults := func(f func(*options)) options {
		o := options{snaplen: capture.DefaultLiveSnaplen, poll: time.Second, maxFlows: 1 << 20, replay: "auto", metricsTop: 20}
		f(&o)
		return o
	}
	tests := []struct {
		name string
		args []string
		want options
	}{
		{"nothing: live with defaults", nil, defaults(func(*options) {})},
		{"file and report", []string{"-r", "x.pcap", "--report"}, defaults(func(o *options) { o.read, o.report = "x.pcap", true })},
		{"stdin", []string{"-r", "-", "--json"}, defaults(func(o *options) { o.read, o.json = "-", true })},
		{"trailing filter words", []string{"-i", "lo", "tcp", "port", "8080"},
			defaults(func(o *options) { o.ifaces, o.capFilter = []string{"lo"}, "tcp port 8080" })},
		{"options after the filter, as tcpdump", []string{"-i", "lo", "tcp", "port", "8080", "--report", "--duration", "5s"},
			defaults(func(o *options) {
				o.ifaces, o.capFilter, o.report, o.duration = []string{"lo"}, "tcp port 8080", true, 5*time.Second
			})},
		{"double dash ends the options", []string{"--report", "--", "tcp", "port", "80"},
			defaults(func(o *options) { o.report, o.capFilter = true, "tcp port 80" })},
		{"repeated interface", []string{"-i", "eth0", "-i", "lo"}, defaults(func(o *options) { o.ifaces = []string{"eth0", "lo"} })},
		{"filter with -f", []string{"-f", "port 80 or port 443"}, defaults(func(o *options) { o.capFilter = "port 80 or port 443" })},
		{"values with =", []string{"--replay=end", "-s=256", "--poll=250ms"},
			defaults(func(o *options) { o.replay, o.snaplen, o.poll = "end", 256, 250*time.Millisecond })},
		{"one dash for a long flag", []string{"-demo", "-display", "rst"}, defaults(func(o *options) { o.demo, o.filter = true, "rst" })},
		{"process filters", []string{"--pid", "42", "--proc", "nginx", "--no-procinfo"},
			defaults(func(o *options) { o.pid, o.proc, o.noProcinfo = 42, "nginx", true })},
		{"limits", []string{"--max-flows", "1000", "--retention", "2m", "--count", "10"},
			defaults(func(o *options) { o.maxFlows, o.retention, o.count = 1000, 2*time.Minute, 10 })},
		{"bare numbers are seconds, as with timeout(1)", []string{"--duration", "6", "--poll", "2.5", "--retention=90"},
			defaults(func(o *options) {
				o.duration, o.poll, o.retention = 6*time.Second, 2500*time.Millisecond, 90*time.Second
			})},
		{"write", []string{"-w", "out.pcapng"}, defaults(func(o *options) { o.write = "out.pcapng" })},
		{"help", []string{"--help"}, defaults(func(o *options) { o.help = true })},
		{"help short", []string{"-h"}, defaults(func(o *options) { o.help = true })},
		{"version", []string{"--version"}, defaults(func(o *options) { o.version = true })},
		{"man", []string{"--man"}, defaults(func(o *options) { o.man = true })},
		{"completion", []string{"--completion", "fish"}, defaults(func(o *options) { o.completion = "fish" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(tt.args)
			if err != nil {
				t.Fatalf("parseArgs(%q): got error %v, want none", tt.args, err)
			}
			got.set = nil // which flags were given: checked by the watch-mode tests
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseArgs(%q):\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

// Every value a flag lists (and so every value the completions offer)
// must parse.
func TestParseArgs_EveryListedValueParses(t *testing.T) {
	n := 0
	for _, d := range flagDefs() {
		for _, v := range d.values {
			n++
			if _, err := parseArgs([]string{dashed(d.name), v}); err != nil {
				t.Errorf("%s %s: got %v, want no error", dashed(d.name), v, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no flag lists its values: got 0 checked, want --replay and --completion")
	}
}

func TestFlagDefs_NamesAreUniqueAndDocumented(t *testing.T) {
	seen := map[string]bool{}
	inGroup := map[string]bool{}
	for _, g := range groups {
		inGroup[g] = true
	}
	for _, d := range flagDefs() {
		for _, n := range []string{d.name, d.alias} {
			if n == "" {
				continue
			}
			if seen[n] {
				t.Errorf("flag %s: defined twice", dashed(n))
			}
			seen[n] = true
		}
		if !inGroup[d.group] {
			t.Errorf("flag %s: got group %q, want one of %q", dashed(d.name), d.group, groups)
		}
		if d.usage == "" || d.bind == nil {
			t.Errorf("flag %s: got an empty usage or no binding", dashed(d.name))
		}
	}
}

func TestRun_HelpAndVersion(t *testing.T) {
	tests := []struct {
		args []string
		want []string // substrings of stdout
	}{
		{[]string{"--version"}, []string{versionString() + "\n"}},
		{[]string{"--help"}, []string{"Usage: connscope", "Examples:", "sudo connscope -i eth0 port 8080", "connscope -r file.pcapng --report"}},
		{[]string{"-h"}, []string{"Usage: connscope"}},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), tt.args, nil, &out, &errOut); err != nil {
			t.Fatalf("run(%q): got error %v, want none", tt.args, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("run(%q): got output without %q:\n%s", tt.args, w, out.String())
			}
		}
		if errOut.Len() != 0 {
			t.Errorf("run(%q): got stderr %q, want nothing", tt.args, errOut.String())
		}
	}
}

func TestHelp_ListsEveryFlagAndStoryWithin80Columns(t *testing.T) {
	var b bytes.Buffer
	printHelp(&b)
	help := b.String()
	for _, d := range flagDocs() {
		if !strings.Contains(help, d.spelling) {
			t.Errorf("--help: got no %q", d.spelling)
		}
	}
	for _, s := range stories() {
		if !strings.Contains(help, "# "+s.title) {
			t.Errorf("--help: got no story %q", s.title)
		}
		for _, e := range s.examples {
			if e.cmd != "" && !strings.Contains(help, e.cmd) {
				t.Errorf("--help: got no example %q", e.cmd)
			}
		}
	}
	for i, l := range strings.Split(help, "\n") {
		if len([]rune(l)) > helpWidth {
			t.Errorf("--help line %d: got %d columns, want at most %d: %q", i+1, len([]rune(l)), helpWidth, l)
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("--help line %d: got trailing spaces: %q", i+1, l)
		}
	}
}

// The examples of --help must parse: a typo there is the first thing a
// newcomer copies.
func TestStories_ExamplesParse(t *testing.T) {
	for _, s := range stories() {
		for _, e := range s.examples {
			if e.cmd == "" {
				continue
			}
			// The connscope part of a pipeline, without sudo.
			for _, part := range strings.Split(e.cmd, "|") {
				f := strings.Fields(part)
				if len(f) > 0 && f[0] == "sudo" {
					f = f[1:]
				}
				if len(f) == 0 || f[0] != "connscope" {
					continue
				}
				if _, err := parseArgs(f[1:]); err != nil {
					t.Errorf("example %q: got %v, want it to parse", e.cmd, err)
				}
			}
		}
	}
}

func TestWrapWords(t *testing.T) {
	tests := []struct {
		words         []string
		first, indent string
		width         int
		want          []string
	}{
		{[]string{"a", "bb", "cc"}, "", "", 5, []string{"a bb", "cc"}},
		{[]string{"a", "bb", "cc"}, "X:", "  ", 8, []string{"X: a bb", "   cc"}},
		{[]string{"toolongword"}, "", "", 4, []string{"toolongword"}},
		{nil, "", "", 10, []string{""}},
	}
	for _, tt := range tests {
		if got := wrapWords(tt.words, tt.first, tt.indent, tt.width); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("wrapWords(%q, %q, %q, %d): got %q, want %q", tt.words, tt.first, tt.indent, tt.width, got, tt.want)
		}
	}
}

// TestParseArgs_InvalidFiltersAreUsageErrors: --display and the capture
// filter are checked before anything starts, in every mode, and refused
// with exit status 2 and one line saying what is wrong, at which column.
func TestParseArgs_InvalidFiltersAreUsageErrors(t *testing.T) {
	for _, mode := range [][]string{{"--report"}, {"--json"}, nil} {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--display", "port 80 and state nope"}, `display filter: state: unknown state "nope" at column 19: port 80 and state nope`},
			{[]string{"tcp", "prot", "80"}, `capture filter: unknown word "prot" at column 5: tcp prot 80`},
			{[]string{"-f", "port 99999"}, `capture filter: illegal port number 99999 > 65535 at column 6: port 99999`},
		} {
			args := append(append([]string{"-r", "x.pcap"}, mode...), tt.args...)
			_, err := parseArgs(args)
			if !errors.Is(err, errUsage) {
				t.Fatalf("parseArgs(%q): got %v, want a usage error", args, err)
			}
			var buf bytes.Buffer
			if code := exitStatus(err, &buf); code != 2 {
				t.Errorf("parseArgs(%q): exit status %d, want 2", args, code)
			}
			want := "connscope: " + tt.want + "; see connscope --help\n"
			if buf.String() != want {
				t.Errorf("parseArgs(%q): stderr\n%q\nwant\n%q", args, buf.String(), want)
			}
		}
	}
	for _, args := range [][]string{{"--display", "finding idle"}, {"-i", "any", "inbound", "and", "port", "80"}} {
		if _, err := parseArgs(args); err != nil {
			t.Errorf("parseArgs(%q): got %v, want it accepted", args, err)
		}
	}
}
