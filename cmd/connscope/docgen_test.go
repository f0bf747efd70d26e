package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connscope/connscope/model"
	"github.com/connscope/connscope/tui"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the generated sections of README.md (flags, keys, filter language)")

// repoRoot is the module root, two directories up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

func manPage(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := writeMan(&b); err != nil {
		t.Fatalf("writeMan: %v", err)
	}
	return b.String()
}

func completion(t *testing.T, shell string) string {
	t.Helper()
	var b bytes.Buffer
	if err := writeCompletion(&b, shell); err != nil {
		t.Fatalf("writeCompletion(%s): %v", shell, err)
	}
	return b.String()
}

func TestMan_MentionsEveryFlagWithItsUsage(t *testing.T) {
	man := manPage(t)
	for _, fd := range flagDocs() {
		d := fd.def
		if !strings.Contains(man, roffFlag(d)) {
			t.Errorf("man page: got no %q for %s", roffFlag(d), dashed(d.name))
		}
		if d.alias != "" && !strings.Contains(man, `\fB`+roffText(dashed(d.alias))+`\fR`) {
			t.Errorf("man page: got no alias %s", dashed(d.alias))
		}
		if !strings.Contains(man, roffText(fd.usage)) {
			t.Errorf("man page: got no usage %q for %s", fd.usage, dashed(d.name))
		}
	}
	for _, want := range []string{".TH CONNSCOPE 1", ".SH SYNOPSIS", ".SH EXAMPLES", ".SH CAPABILITIES", "CAP_NET_RAW", ".SH EXIT STATUS"} {
		if !strings.Contains(man, want) {
			t.Errorf("man page: got no %q", want)
		}
	}
}

// groff is how man(1) shows the page: it must render without a warning
// and show every flag as typed.
func TestMan_RendersWithGroff(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff not installed")
	}
	man := manPage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "groff", "-man", "-Tutf8", "-ww", "-rLL=100n")
	cmd.Stdin = strings.NewReader(man)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("groff: %v: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("groff: got warnings, want none:\n%s", stderr.String())
	}
	// Strip overstrike bold/underline and map the typographic minus and
	// hyphen back to ASCII, as a reader copying a flag would get it.
	text := regexp.MustCompile(".\b").ReplaceAllString(out.String(), "")
	text = strings.NewReplacer("\u2212", "-", "\u2010", "-").Replace(text)
	text = regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(text, "")
	for _, fd := range flagDocs() {
		if !strings.Contains(text, fd.spelling) {
			t.Errorf("rendered man page: got no %q", fd.spelling)
		}
	}
	if !strings.Contains(text, setcapCommand) {
		t.Errorf("rendered man page: got no %q", setcapCommand)
	}
}

func TestCompletion_EveryShellMentionsEveryFlag(t *testing.T) {
	for _, shell := range shellNames(t) {
		script := completion(t, shell)
		for _, d := range flagDefs() {
			for _, n := range []string{d.name, d.alias} {
				if n == "" {
					continue
				}
				want := dashed(n)
				if shell == "fish" {
					want = map[bool]string{true: "-s " + n, false: "-l " + n}[len(n) == 1]
				}
				if !regexp.MustCompile(`(^|[\s'"{(|,*])` + regexp.QuoteMeta(want) + `([\s'"\[|,)}]|$)`).MatchString(script) {
					t.Errorf("%s completion: got no %q", shell, want)
				}
			}
			for _, v := range d.values {
				if !strings.Contains(script, v) {
					t.Errorf("%s completion: got no value %q of %s", shell, v, dashed(d.name))
				}
			}
		}
	}
}

// shellNames is what --completion accepts.
func shellNames(t *testing.T) []string {
	d, ok := lookupDef("completion")
	if !ok || len(d.values) == 0 {
		t.Fatal("no --completion flag with values")
	}
	return d.values
}

func TestCompletion_UnknownShellIsAUsageError(t *testing.T) {
	err := writeCompletion(&bytes.Buffer{}, "tcsh")
	if !errors.Is(err, errUsage) {
		t.Errorf("writeCompletion(tcsh): got %v, want a usage error", err)
	}
}

// completionCase is a command line typed up to the cursor and the words a
// shell must offer there.
type completionCase struct {
	line string
	want []string // exactly these (sorted); nil: at least one word, see min
	min  []string // at least these
}

func completionCases() []completionCase {
	var longs []string
	for _, d := range flagDefs() {
		if strings.HasPrefix(d.name, "re") {
			longs = append(longs, dashed(d.name))
		}
	}
	slices.Sort(longs)
	return []completionCase{
		{line: "connscope --re", want: longs},
		{line: "connscope --replay ", want: []string{"auto", "end", "start"}},
		{line: "connscope --completion ", want: []string{"bash", "fish", "zsh"}},
		{line: "connscope -r ", min: []string{"capture.pcap"}},
		{line: "connscope -i ", min: []string{"lo"}},
		{line: "connscope --demo --m", want: []string{"--man", "--max-flows", "--metrics", "--metrics-top"}},
	}
}

// shellTest runs script in dir with a deadline, so a shell waiting for
// input fails the test instead of hanging it.
func shellTest(t *testing.T, dir, name string, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CACHE_HOME="+dir, "TERM=dumb")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("%s %q: %v", name, args, err)
	}
	var words []string
	for _, l := range strings.Split(string(out), "\n") {
		w, _, _ := strings.Cut(strings.TrimRight(l, "\r"), "\t") // fish: word TAB description
		if w != "" {
			words = append(words, w)
		}
	}
	slices.Sort(words)
	return slices.Compact(words)
}

func checkCompletion(t *testing.T, shell string, c completionCase, got []string) {
	t.Helper()
	if c.want != nil && !slices.Equal(got, c.want) {
		t.Errorf("%s: %q<TAB>: got %q, want %q", shell, c.line, got, c.want)
	}
	for _, w := range c.min {
		if !slices.Contains(got, w) {
			t.Errorf("%s: %q<TAB>: got %q, want it to include %q", shell, c.line, got, w)
		}
	}
}

// completionDir holds the script and a capture file for -r to complete.
func completionDir(t *testing.T, shell, name string) (dir, script string) {
	dir = t.TempDir()
	script = filepath.Join(dir, name)
	if err := os.WriteFile(script, []byte(completion(t, shell)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "capture.pcap"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, script
}

func TestCompletion_Bash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	dir, script := completionDir(t, "bash", "connscope.bash")
	// Call the completion function as bash's programmable completion does.
	const harness = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _connscope; printf '%s\n' "${COMPREPLY[@]}"`
	for _, c := range completionCases() {
		words := strings.Split(c.line, " ") // a trailing space makes the empty current word
		got := shellTest(t, dir, "bash", append([]string{"--norc", "--noprofile", "-c", harness, "bash", script}, words...)...)
		checkCompletion(t, "bash", c, got)
	}
}

func TestCompletion_Fish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish not installed")
	}
	dir, script := completionDir(t, "fish", "connscope.fish")
	for _, c := range completionCases() {
		got := shellTest(t, dir, "fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", script, c.line)
		checkCompletion(t, "fish", c, got)
	}
}

// zshHarness types a command line and TAB into an interactive zsh on a
// pseudo-terminal and records the matches every compadd call keeps. Each
// step waits for the prompt (or for the end of completion), never for a
// time.
const zshHarness = `
zmodload zsh/zpty
zpty z zsh -f -i
step() { zpty -w z "$1"; zpty -r z line '*ZP> ' }
step "PS1='%(?.ZP.ZP)> '"
step "autoload -U compinit; compinit -u -D"
step "source ${(q)1}"
step "compadd() { local -a m; builtin compadd -O m \"\$@\"; (( \$#m )) && print -rl -- \$m >> ${(q)2}; builtin compadd \"\$@\" }"
step 'comppostfuncs=(_zdone); _zdone() { print -r ZDONE$((40+2)) > /dev/tty }'
zpty -n -w z "${3}"$'\t'
zpty -r z line '*ZDONE42*'
zpty -d z
cat ${(q)2} 2>/dev/null
`

func TestCompletion_Zsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh not installed")
	}
	dir, script := completionDir(t, "zsh", "_connscope")
	harness := filepath.Join(dir, "harness.zsh")
	if err := os.WriteFile(harness, []byte(zshHarness), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, c := range completionCases() {
		out := filepath.Join(dir, fmt.Sprintf("matches%d", i))
		got := shellTest(t, dir, "zsh", "-f", harness, script, out, c.line)
		checkCompletion(t, "zsh", c, got)
	}
}

// flagsMarkdown is the README's flags table, generated like --help.
func flagsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Flag | What it does |\n|---|---|\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "| **%s** | |\n", g)
		for _, d := range flagDocs() {
			if d.def.group == g {
				fmt.Fprintf(&b, "| `%s` | %s |\n", d.spelling, strings.ReplaceAll(d.usage, "|", `\|`))
			}
		}
	}
	return b.String()
}

const (
	readmeFlagsBegin = "<!-- flags: generated from cmd/connscope/flags.go by `go test ./cmd/connscope -run TestREADME -update-readme` -->\n"
	readmeFlagsEnd   = "<!-- end of flags -->"
)

func TestREADME_FlagsTableIsCurrent(t *testing.T) {
	readmeSection(t, readmeFlagsBegin, readmeFlagsEnd, flagsMarkdown())
}

const (
	readmeKeysBegin = "<!-- keys: generated from tui.KeyHelp and model.FilterLanguage by `go test ./cmd/connscope -run TestREADME -update-readme` -->\n"
	readmeKeysEnd   = "<!-- end of keys -->"
)

// keysMarkdown is the README's keys table and display filter language,
// from the tables the help screen and the man page use.
func keysMarkdown() string {
	var b strings.Builder
	b.WriteString("| Key | Action |\n|---|---|\n")
	for _, g := range tui.KeyHelp() {
		fmt.Fprintf(&b, "| **%s** | |\n", g.Title)
		for _, k := range g.Keys {
			fmt.Fprintf(&b, "| `%s` | %s |\n", strings.ReplaceAll(k[0], "|", `\|`), strings.ReplaceAll(k[1], "|", `\|`))
		}
	}
	b.WriteString("\nThe display filter language (`/` in the UI, `--display` at start; `?` in the filter line shows it):\n\n")
	b.WriteString("| Term | Keeps |\n|---|---|\n")
	for _, f := range model.FilterLanguage() {
		fmt.Fprintf(&b, "| `%s` | %s |\n", strings.ReplaceAll(f.Example, "|", `\|`), strings.ReplaceAll(f.Meaning, "|", `\|`))
	}
	return b.String()
}

func TestREADME_KeysAndFilterLanguageAreCurrent(t *testing.T) {
	readmeSection(t, readmeKeysBegin, readmeKeysEnd, keysMarkdown())
}

// readmeSection checks (or, with -update-readme, rewrites) the part of
// README.md between begin and end.
func readmeSection(t *testing.T, begin, end, want string) {
	t.Helper()
	path := filepath.Join(repoRoot(t), "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	readme := string(data)
	before, rest, ok := strings.Cut(readme, begin)
	if !ok {
		t.Fatalf("README.md: got no line %q", strings.TrimSpace(begin))
	}
	table, after, ok := strings.Cut(rest, end)
	if !ok {
		t.Fatalf("README.md: got no line %q", end)
	}
	if table == want {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(path, []byte(before+begin+want+end+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md section %q is stale; regenerate it with: go test ./cmd/connscope -run TestREADME -update-readme\ngot:\n%s\nwant:\n%s", strings.TrimSpace(begin), table, want)
}

// TestMan_ListsTheKeysAndTheFilterLanguage: the man page carries every
// key and every term of the display filter language, from the tables the
// help screen uses.
func TestMan_ListsTheKeysAndTheFilterLanguage(t *testing.T) {
	man := manPage(t)
	for _, want := range []string{".SH KEYS", ".SH DISPLAY FILTER"} {
		if !strings.Contains(man, want) {
			t.Errorf("man page: got no %q", want)
		}
	}
	for _, g := range tui.KeyHelp() {
		for _, k := range g.Keys {
			if !strings.Contains(man, roffText(k[0])) || !strings.Contains(man, roffText(k[1])) {
				t.Errorf("man page: got no key %q (%s)", k[0], k[1])
			}
		}
	}
	for _, f := range model.FilterLanguage() {
		if !strings.Contains(man, roffText(f.Example)) || !strings.Contains(man, roffText(f.Meaning)) {
			t.Errorf("man page: got no filter term %q", f.Example)
		}
	}
}

// releaseBuild is what a build configuration sets.
type releaseBuild struct {
	targets []string // GOOS/GOARCH
	flags   []string // go build flags, with -ldflags values reduced to their names
	cgoOff  bool
}

// normLdflags reduces "-s -w -X main.version={{ .Version }}" to
// "-s -w -X main.version=": the values differ between a release and CI,
// the flags and variables must not.
func normLdflags(s string) string {
	s = regexp.MustCompile(`\{\{[^}]*\}\}`).ReplaceAllString(s, "T") // goreleaser templates
	return regexp.MustCompile(`(-X\s+\S+?=)\S+`).ReplaceAllString(strings.Join(strings.Fields(s), " "), "$1")
}

// goreleaserBuild reads the builds section of .goreleaser.yaml: its lists
// (env, flags, ldflags, goos, goarch) are all this test needs of YAML.
func goreleaserBuild(t *testing.T, yaml string) releaseBuild {
	t.Helper()
	_, section, ok := strings.Cut(yaml, "\nbuilds:\n")
	if !ok {
		t.Fatal(".goreleaser.yaml: got no builds section")
	}
	if end := regexp.MustCompile(`(?m)^[a-z]`).FindStringIndex(section); end != nil {
		section = section[:end[0]]
	}
	lists := map[string][]string{}
	key := ""
	for _, l := range strings.Split(section, "\n") {
		trim := strings.TrimSpace(l)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		if item, ok := strings.CutPrefix(trim, "- "); ok {
			if key != "" {
				lists[key] = append(lists[key], item)
			}
			continue
		}
		key = ""
		if k, v, ok := strings.Cut(trim, ":"); ok && strings.TrimSpace(v) == "" {
			key = k
		}
	}
	b := releaseBuild{cgoOff: slices.Contains(lists["env"], "CGO_ENABLED=0"), flags: lists["flags"]}
	if ld := lists["ldflags"]; ld != nil {
		b.flags = append(b.flags, "-ldflags", normLdflags(strings.Join(ld, " ")))
	}
	for _, goos := range lists["goos"] {
		for _, goarch := range lists["goarch"] {
			b.targets = append(b.targets, goos+"/"+goarch)
		}
	}
	slices.Sort(b.targets)
	return b
}

func ciBuild(t *testing.T, script string) releaseBuild {
	t.Helper()
	var b releaseBuild
	m := regexp.MustCompile(`(?m)^for target in ([^;]+); do\n((?:.*\n)*?)done`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal(".ci/run: got no `for target in ...; do ... done` loop")
	}
	b.targets = strings.Fields(m[1])
	slices.Sort(b.targets)
	body := strings.ReplaceAll(m[2], "\\\n", " ")
	b.cgoOff = strings.Contains(body, "CGO_ENABLED=0")
	build := regexp.MustCompile(`go build (.*?) -o `).FindStringSubmatch(body)
	if build == nil {
		t.Fatal(".ci/run: got no `go build ... -o` in the target loop")
	}
	args := build[1]
	ld := regexp.MustCompile(`-ldflags "([^"]*)"`).FindStringSubmatch(args)
	if ld != nil {
		args = strings.Replace(args, ld[0], "", 1)
	}
	b.flags = strings.Fields(args)
	if ld != nil {
		b.flags = append(b.flags, "-ldflags", normLdflags(ld[1]))
	}
	return b
}

// CI builds the four release targets on every run with the release's
// flags, so a release cannot be the first to find a target that does not
// build or an -X that names no variable.
func TestReleaseBuild_MatchesCI(t *testing.T) {
	root := repoRoot(t)
	yaml, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	rel, c := goreleaserBuild(t, string(yaml)), ciBuild(t, string(ci))
	wantTargets := []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"}
	if !slices.Equal(rel.targets, wantTargets) {
		t.Errorf(".goreleaser.yaml targets: got %q, want %q", rel.targets, wantTargets)
	}
	if !slices.Equal(c.targets, rel.targets) {
		t.Errorf(".ci/run targets: got %q, want the release's %q", c.targets, rel.targets)
	}
	if !rel.cgoOff || !c.cgoOff {
		t.Errorf("CGO_ENABLED=0: got release %v, CI %v, want both", rel.cgoOff, c.cgoOff)
	}
	if !slices.Equal(rel.flags, c.flags) {
		t.Errorf("build flags: got .ci/run %q, want the release's %q", c.flags, rel.flags)
	}
	for _, v := range []string{"-X main.version=", "-X main.commit="} {
		if !slices.ContainsFunc(rel.flags, func(f string) bool { return strings.Contains(f, v) }) {
			t.Errorf(".goreleaser.yaml ldflags: got %q, want %s", rel.flags, v)
		}
	}
}

// The release's -X flags must name variables that exist: the linker
// ignores one that does not, and --version would say "dev".
func TestReleaseBuild_VersionAndCommitAreInjected(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "connscope")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin,
		"-ldflags", "-s -w -X main.version=1.2.3 -X main.commit=abc1234", ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		t.Fatalf("connscope --version: %v", err)
	}
	if got, want := string(out), "connscope 1.2.3 (commit abc1234)\n"; got != want {
		t.Errorf("connscope --version: got %q, want %q", got, want)
	}
}
