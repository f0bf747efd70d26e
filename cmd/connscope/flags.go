package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/capture/filter"
	"github.com/connscope/connscope/model"
)

// options is the parsed command line.
type options struct {
	read       string   // -r: capture file, "-" for stdin
	ifaces     []string // -i, repeatable; empty: every interface that is up
	capFilter  string   // -f or trailing words: pcap-filter expression
	snaplen    int      // -s
	write      string   // -w: pcapng output
	duration   time.Duration
	count      uint64
	pid        int
	proc       string
	poll       time.Duration
	noProcinfo bool
	noKEvents  bool
	retention  time.Duration
	man        bool
	completion string
	report     bool
	json       bool
	maxFlows   int
	demo       bool
	replay     string // start, end or auto
	filter     string // initial display filter
	version    bool
	help       bool
	// Watch mode (watch.go): Prometheus metrics, evidence files.
	metrics    string // --metrics ADDR
	metricsTop int
	evidence   string // --evidence DIR
	// set holds the flags given on the command line, by name.
	set map[string]bool
}

func (o *options) headless() bool { return o.report || o.json || o.metrics != "" }

// watchMode reports the service flags: --metrics or --evidence.
func (o *options) watchMode() bool { return o.metrics != "" || o.evidence != "" }

// flagDef describes one flag once. The parser, --help, the man page and
// the shell completions are all generated from the flagDefs table, so none
// of them can drift from the others.
type flagDef struct {
	name   string   // without dashes; one letter means "-x", longer "--name"
	alias  string   // another spelling, e.g. "h" for "help"; "" for none
	arg    string   // argument placeholder, "" for a boolean
	values []string // the only accepted arguments, in order; nil: any
	group  string
	usage  string
	bind   func(fs *flag.FlagSet, o *options, name, usage string)
}

// Flag groups, in the order --help and the man page list them.
const (
	groupInput  = "Input"
	groupOutput = "Output"
	groupLimits = "Limits"
	groupProc   = "Processes"
	groupInfo   = "Information"
)

var groups = []string{groupInput, groupOutput, groupProc, groupLimits, groupInfo}

// Argument placeholders that the completions know how to complete.
const (
	argFile  = "FILE"
	argIface = "IFACE"
	argPID   = "PID"
	argProc  = "NAME"
)

func flagDefs() []flagDef {
	return []flagDef{
		{name: "r", arg: argFile, group: groupInput,
			usage: "read packets from a pcap or pcapng file, gzipped or not; -r - reads stdin",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.read, n, "", u) }},
		{name: "i", arg: argIface, group: groupInput,
			usage: "capture live on IFACE (repeat for several); default: every interface that is up, loopback included",
			bind: func(fs *flag.FlagSet, o *options, n, u string) {
				fs.Func(n, u, func(s string) error { o.ifaces = append(o.ifaces, s); return nil })
			}},
		{name: "f", arg: "EXPR", group: groupInput,
			usage: "capture filter in pcap-filter syntax (trailing words work too: connscope -i lo tcp port 8080)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.capFilter, n, "", u) }},
		{name: "s", arg: "SNAPLEN", group: groupInput,
			usage: "bytes captured per live packet, 64 to 262144; the default keeps the headers only",
			bind: func(fs *flag.FlagSet, o *options, n, u string) {
				fs.IntVar(&o.snaplen, n, capture.DefaultLiveSnaplen, u)
			}},
		{name: "demo", group: groupInput,
			usage: "replay an embedded capture of typical failures (no root, no traffic needed)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.demo, n, false, u) }},
		{name: "replay", arg: "MODE", values: []string{"start", "end", "auto"}, group: groupInput,
			usage: "how the UI opens a capture (end: the whole file analysed, stdin followed as it arrives; start: paused before the first packet; auto: end)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.replay, n, "auto", u) }},
		{name: "display", arg: "FILTER", group: groupOutput,
			usage: "show only the connections the display filter keeps, e.g. 'port 8080 and rst' (UI, --report, --json; / edits it)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.filter, n, "", u) }},
		{name: "w", arg: argFile, group: groupOutput,
			usage: "also write the live packets to FILE as pcapng (after the filter, with the owning process in a comment); -w - writes stdout, --report or --json going to stderr",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.write, n, "", u) }},
		{name: "duration", arg: "D", group: groupOutput,
			usage: "stop a live --report or --json after D, e.g. 30 (seconds) or 5m",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.Var(durationFlag(&o.duration, 0), n, u) }},
		{name: "count", arg: "N", group: groupOutput,
			usage: "stop a live --report or --json after N packets",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.Uint64Var(&o.count, n, 0, u) }},
		{name: "report", group: groupOutput,
			usage: "print a table of connections and a summary instead of the UI",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.report, n, false, u) }},
		{name: "json", group: groupOutput,
			usage: "print one JSON object per connection, then a summary line (JSON Lines)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.json, n, false, u) }},
		{name: "metrics", arg: "ADDR", group: groupOutput,
			usage: "watch mode: run until stopped and serve Prometheus metrics on ADDR (host:port or :port, e.g. :9723) at /metrics",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.metrics, n, "", u) }},
		{name: "metrics-top", arg: "N", group: groupOutput,
			usage: "with --metrics, export per-process metrics for the N processes with the most fds, plus those with a finding",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.IntVar(&o.metricsTop, n, 20, u) }},
		{name: "evidence", arg: "DIR", group: groupOutput,
			usage: "keep the last packets of every live flow and write a flow's packets to DIR as pcapng when it raises a warning or critical finding",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.evidence, n, "", u) }},
		{name: "pid", arg: argPID, group: groupProc,
			usage: "show only the connections of process PID",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.IntVar(&o.pid, n, 0, u) }},
		{name: "proc", arg: argProc, group: groupProc,
			usage: "show only the connections of processes whose name contains NAME",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.proc, n, "", u) }},
		{name: "poll", arg: "D", group: groupProc,
			usage: "how often to read the kernel's socket table and /proc (at least 100ms)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.Var(durationFlag(&o.poll, time.Second), n, u) }},
		{name: "no-kernel-events", group: groupProc,
			usage: "do not read the kernel's TCP tracepoints (reset reasons, every socket's owner and states, drop reasons)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.noKEvents, n, false, u) }},
		{name: "no-procinfo", group: groupProc,
			usage: "do not read sockets and processes from the kernel",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.noProcinfo, n, false, u) }},
		{name: "max-flows", arg: "N", group: groupLimits,
			usage: "track at most N connections; the oldest idle are evicted and counted",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.IntVar(&o.maxFlows, n, 1<<20, u) }},
		{name: "retention", arg: "D", group: groupLimits,
			usage: "keep closed connections this long after their last packet (0: until evicted)",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.Var(durationFlag(&o.retention, 0), n, u) }},
		{name: "man", group: groupInfo,
			usage: "print the manual page (roff) and exit",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.man, n, false, u) }},
		{name: "completion", arg: "SHELL", values: []string{"bash", "zsh", "fish"}, group: groupInfo,
			usage: "print a completion script for bash, zsh or fish and exit",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.StringVar(&o.completion, n, "", u) }},
		{name: "version", group: groupInfo,
			usage: "print the version and commit and exit",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.version, n, false, u) }},
		{name: "help", alias: "h", group: groupInfo,
			usage: "show this help and exit",
			bind:  func(fs *flag.FlagSet, o *options, n, u string) { fs.BoolVar(&o.help, n, false, u) }},
	}
}

// newFlagSet binds every flag of flagDefs to o. The documentation builds
// one too, on a scratch options, to read the real defaults.
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("connscope", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, d := range flagDefs() {
		d.bind(fs, o, d.name, d.usage)
		if d.alias != "" {
			d.bind(fs, o, d.alias, d.usage)
		}
	}
	return fs
}

// parseArgs parses the command line. Options may come before or after the
// capture filter words, as with tcpdump; "--" ends the options. Every
// error wraps errUsage and is one line naming the flag.
func parseArgs(args []string) (options, error) {
	var o options
	fs := newFlagSet(&o)
	var words []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return o, fmt.Errorf("%w: %s", errUsage, flagError(err))
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if n := len(rest) - len(left); n > 0 && rest[n-1] == "--" {
			words = append(words, left...)
			break
		}
		words = append(words, left[0])
		rest = left[1:]
	}
	if len(words) > 0 {
		// tcpdump style: trailing words are the capture filter.
		if o.capFilter != "" {
			return o, fmt.Errorf("%w: give the capture filter either with -f or as trailing words, not both (got -f %q and %q)", errUsage, o.capFilter, strings.Join(words, " "))
		}
		o.capFilter = strings.Join(words, " ")
	}
	for _, d := range flagDefs() {
		if err := checkValue(d, fs.Lookup(d.name).Value.String()); err != nil {
			return o, err
		}
	}
	if o.snaplen < 64 || o.snaplen > 262144 {
		return o, fmt.Errorf("%w: -s must be between 64 and 262144, got %d", errUsage, o.snaplen)
	}
	if o.read != "" && len(o.ifaces) > 0 {
		return o, fmt.Errorf("%w: -r and -i exclude each other", errUsage)
	}
	if o.poll < 100*time.Millisecond {
		return o, fmt.Errorf("%w: --poll must be at least 100ms, got %s", errUsage, o.poll)
	}
	if o.report && o.json {
		return o, fmt.Errorf("%w: --report and --json exclude each other", errUsage)
	}
	if o.demo && o.read != "" {
		return o, fmt.Errorf("%w: --demo and -r exclude each other", errUsage)
	}
	if o.write != "" && (o.read != "" || o.demo) {
		return o, fmt.Errorf("%w: -w writes a live capture and cannot be used with -r or --demo", errUsage)
	}
	if o.write == "-" && !o.headless() {
		return o, fmt.Errorf("%w: -w - writes the capture to stdout, where the UI would draw: add --report or --json (printed on stderr then), or give -w a file", errUsage)
	}
	if o.maxFlows <= 0 {
		return o, fmt.Errorf("%w: --max-flows must be positive, got %d", errUsage, o.maxFlows)
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if err := checkWatch(&o); err != nil {
		return o, err
	}
	if err := checkDisplay(o.filter); err != nil {
		return o, err
	}
	if err := checkCaptureFilter(o.capFilter); err != nil {
		return o, err
	}
	return o, nil
}

// checkDisplay refuses an invalid --display before anything starts, in
// every mode: exit status 2, like any bad usage, and one line in the
// form of a capture filter's error (what, at which column, in what).
func checkDisplay(text string) error {
	_, err := model.ParseFilter(text)
	var fe *model.FilterError
	if !errors.As(err, &fe) {
		return nil
	}
	return fmt.Errorf("%w: display filter: %s at column %d: %s", errUsage, fe.Msg, fe.Pos+1, text)
}

// checkCaptureFilter refuses a capture filter that does not compile
// before anything starts: exit status 2 and the compiler's one line. A
// filter that parses but is not supported on Ethernet (inbound, which
// -i any supports) or not for the link type met (ether host on -i any) is
// the source's error, reported when it opens.
func checkCaptureFilter(expr string) error {
	if expr == "" {
		return nil
	}
	_, err := filter.Compile(expr, uint16(capture.LinkEthernet), 0)
	var se *filter.SyntaxError
	if errors.As(err, &se) && !errors.Is(err, filter.ErrUnsupported) {
		return fmt.Errorf("%w: %s", errUsage, se)
	}
	return nil
}

// secondsDuration is a duration flag that also takes a bare number of
// seconds, as timeout(1) and tshark do: 6, 1.5, 500ms, 30s, 5m.
type secondsDuration struct{ d *time.Duration }

// durationFlag binds d with its default.
func durationFlag(d *time.Duration, def time.Duration) secondsDuration {
	*d = def
	return secondsDuration{d}
}

// Set parses a bare number as seconds, anything else as time.ParseDuration.
func (v secondsDuration) Set(s string) error {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "eEnNiI") {
		if f < 0 || f > float64(math.MaxInt64)/1e9 {
			return errors.New("out of range")
		}
		*v.d = time.Duration(f * 1e9)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// String prints the duration as time.Duration does ("1s", "0s").
func (v secondsDuration) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}

// Get returns the duration, so that argKind can name the flag's kind.
func (v secondsDuration) Get() any { return *v.d }

// checkValue enforces d.values; the completion generator offers the same
// list, so what completes is exactly what parses.
func checkValue(d flagDef, v string) error {
	if d.values == nil || v == "" {
		return nil
	}
	for _, ok := range d.values {
		if v == ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %s must be %s, got %q", errUsage, dashed(d.name), orList(d.values), v)
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// flagError rewrites the flag package's messages, which spell every flag
// with one dash, so that they name the flag as --help does.
func flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag " + dashed(name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		if d, found := lookupDef(name); found {
			return fmt.Sprintf("%s needs an argument: %s %s", dashed(d.name), dashed(d.name), d.arg)
		}
		return dashed(name) + " needs an argument"
	}
	var value, name string
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "x" for flag -name: reason
		if q, after, ok := cutQuoted(rest); ok {
			if n, _, ok := strings.Cut(strings.TrimPrefix(after, " for flag -"), ":"); ok {
				value, name = q, n
			}
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if q, after, ok := cutQuoted(rest); ok {
			if n, _, ok := strings.Cut(strings.TrimPrefix(after, " for -"), ":"); ok {
				return fmt.Sprintf("%s takes no value, got %s=%s", dashed(n), dashed(n), q)
			}
		}
	}
	if name != "" {
		if d, found := lookupDef(name); found {
			return fmt.Sprintf("%s %s: %s is not %s", dashed(d.name), d.arg, value, argKind(d))
		}
	}
	return msg
}

// cutQuoted splits a Go-quoted string off the front of s.
func cutQuoted(s string) (quoted, after string, ok bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", false
	}
	return q, s[len(q):], true
}

// lookupDef finds a flag by its name or alias.
func lookupDef(name string) (flagDef, bool) {
	for _, d := range flagDefs() {
		if d.name == name || (d.alias != "" && d.alias == name) {
			return d, true
		}
	}
	return flagDef{}, false
}

// argKind says what a flag's argument must look like, from the type of the
// variable it is bound to.
func argKind(d flagDef) string {
	var o options
	fs := newFlagSet(&o)
	g, ok := fs.Lookup(d.name).Value.(flag.Getter)
	if !ok {
		return "valid"
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 30 (seconds), 500ms, 30s or 5m"
	case int, uint64:
		return "a whole number"
	}
	return "valid"
}

// dashed spells a flag name as the user types it: -x or --name.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagDoc is one flag as the documentation shows it.
type flagDoc struct {
	def      flagDef
	spelling string // "-r FILE", "-h, --help", "--replay MODE"
	usage    string // usage with the default appended when it says something
}

// flagDocs lists every flag for --help, the man page and the completions.
func flagDocs() []flagDoc {
	var o options
	fs := newFlagSet(&o)
	var out []flagDoc
	for _, d := range flagDefs() {
		sp := dashed(d.name)
		if d.alias != "" {
			sp = dashed(d.alias) + ", " + sp
		}
		if d.arg != "" {
			sp += " " + d.arg
		}
		usage := d.usage
		if def := fs.Lookup(d.name).DefValue; !isZeroDefault(def) {
			if strings.HasSuffix(usage, ")") {
				usage = strings.TrimSuffix(usage, ")") + "; default " + def + ")"
			} else {
				usage += " (default " + def + ")"
			}
		}
		out = append(out, flagDoc{def: d, spelling: sp, usage: usage})
	}
	return out
}

func isZeroDefault(v string) bool {
	switch v {
	case "", "0", "0s", "false", "[]":
		return true
	}
	return false
}

// synopsisWords lists the bracketed options of the usage line, tcpdump
// style, and the trailing expression.
func synopsisWords() []string {
	var out []string
	for _, d := range flagDefs() {
		if d.group == groupInfo {
			continue
		}
		w := "[ " + dashed(d.name)
		if d.arg != "" {
			w += " " + d.arg
		}
		w += " ]"
		if d.name == "i" {
			w += "..."
		}
		out = append(out, w)
	}
	return append(out, "[ expression ]")
}

// wrapWords fills lines of at most width columns: the first starts with
// first, the others with indent, and words are joined by one space.
func wrapWords(words []string, first, indent string, width int) []string {
	var lines []string
	line, empty := first, true
	for _, w := range words {
		if !empty && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line, empty = indent, true
		}
		if line != "" {
			line += " "
		}
		line += w
		empty = false
	}
	return append(lines, line)
}

// helpWidth is the width --help fits in, like tcpdump's.
const helpWidth = 80

// writeColumns prints rows of a term and its description: terms padded
// to one column (capped at maxTerm; a longer term gets a line of its own),
// descriptions wrapped to helpWidth.
func writeColumns(w io.Writer, indent string, rows [][2]string, maxTerm int) {
	col := 0
	for _, r := range rows {
		if n := len(r[0]); n <= maxTerm {
			col = max(col, n)
		}
	}
	pad := strings.Repeat(" ", len(indent)+col+2)
	for _, r := range rows {
		term, desc := r[0], r[1]
		if desc == "" {
			fmt.Fprintf(w, "%s%s\n", indent, term)
			continue
		}
		lines := wrapWords(strings.Fields(desc), "", "", helpWidth-len(pad))
		if len(term) > col {
			fmt.Fprintf(w, "%s%s\n", indent, term)
		} else if term != "" {
			fmt.Fprintf(w, "%s%-*s  %s\n", indent, col, term, lines[0])
			lines = lines[1:]
		}
		for _, l := range lines {
			fmt.Fprintf(w, "%s%s\n", pad, l)
		}
	}
}

// example is one command line of a story, with what it shows.
type example struct {
	cmd  string // "" continues the previous command's explanation
	what string
}

// story is one of the four ways connscope is used (DESIGN.md §1), with the
// commands that serve it. --help, the man page and the README show them.
type story struct {
	title    string
	examples []example
}

func stories() []story {
	return []story{
		{"Live on a server over SSH", []example{
			{"sudo connscope", "every connection the box sees, with its process"},
			{"sudo connscope -i eth0 port 8080", "only port 8080 on eth0"},
		}},
		{"File descriptors climbing toward the ulimit", []example{
			{"sudo connscope", "then p: open fds against the limit, growth, time left"},
			{"sudo connscope --proc nginx", "only the connections of nginx processes"},
		}},
		{"One port while reproducing a bug", []example{
			{"sudo connscope -i lo tcp port 8080", "capture port 8080 on loopback only"},
			{"", "then / with rst or retrans>0 narrows the table, and enter explains a flow"},
		}},
		{"Replaying a saved capture", []example{
			{"connscope -r file.pcapng", "the same UI over the whole file, analysed; space replays it from the start"},
			{"connscope -r file.pcapng --report", "who reset which connection, as a table"},
			{"connscope -r file.pcapng --json | jq .", "one JSON object per connection, then a summary"},
			{"tcpdump -i any -w - | connscope -r - --report", "read a capture from stdin"},
		}},
		{"Trying it out", []example{
			{"connscope --demo", "an embedded capture of typical failures, no root needed"},
		}},
	}
}

const (
	tagline        = "every TCP connection on this box, and what went wrong with it"
	expressionNote = "The expression is a capture filter in pcap-filter(7) syntax, as with tcpdump; options may also follow it, and -- ends the options."
	linuxNote      = "Live capture and process information need Linux, and root or the capabilities that connscope --man lists; elsewhere connscope replays files."
)

// printHelp writes --help: a tcpdump-style usage line, the flags by group,
// and an example for each story.
func printHelp(w io.Writer) {
	fmt.Fprintf(w, "connscope: %s\n\n", tagline)
	for _, l := range wrapWords(synopsisWords(), "Usage: connscope", strings.Repeat(" ", len("Usage: connscope")), helpWidth) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, "       connscope --demo | --man | --completion SHELL | --version | --help")
	docs := flagDocs()
	width := 0
	for _, d := range docs {
		width = max(width, len(d.spelling))
	}
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g)
		var rows [][2]string
		for _, d := range docs {
			if d.def.group == g {
				rows = append(rows, [2]string{fmt.Sprintf("%-*s", width, d.spelling), d.usage})
			}
		}
		writeColumns(w, "  ", rows, width)
	}
	fmt.Fprintln(w)
	for _, l := range wrapWords(strings.Fields(expressionNote+" "+linuxNote), "", "", helpWidth) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, "\nExamples:")
	var rows [][2]string
	for _, s := range stories() {
		rows = append(rows, [2]string{"# " + s.title, ""})
		for _, e := range s.examples {
			rows = append(rows, [2]string{e.cmd, e.what})
		}
	}
	writeColumns(w, "  ", rows, 36)
	fmt.Fprintln(w, "\nIn the UI, ? lists every key. Exit status: 0 done, 1 error, 2 bad usage;")
	fmt.Fprintln(w, "129, 130, 143: ended by SIGHUP, SIGINT (Ctrl-C) or SIGTERM after a clean stop.")
}
