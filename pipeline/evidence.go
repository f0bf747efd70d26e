package pipeline

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connscope/connscope/capture"
	"github.com/connscope/connscope/model"
)

// evidenceExt ends every evidence file's name; tmpPrefix starts the name
// of one being written.
const (
	evidenceExt = ".pcapng"
	tmpPrefix   = ".tmp-"
)

// evidenceFile is one evidence file in the directory.
type evidenceFile struct {
	name string
	size int64
}

// evidenceDir is the evidence directory: its files, oldest first, their
// total size and the rate limit's tokens. The Recorder's mutex guards it.
type evidenceDir struct {
	dir    string
	files  []evidenceFile
	total  int64
	tokens float64
	last   time.Time
}

// open creates dir if missing, removes the temporary files a killed run
// left, and lists the evidence files already there, oldest first (their
// names start with the UTC time they were written).
func (d *evidenceDir) open(dir string, tokens float64) error {
	if dir == "" {
		return errors.New("evidence: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("evidence directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("evidence directory: %w", err)
	}
	d.dir, d.tokens = dir, tokens
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if strings.HasPrefix(name, tmpPrefix) {
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		if !strings.HasSuffix(name, evidenceExt) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		d.files = append(d.files, evidenceFile{name, info.Size()})
		d.total += info.Size()
	}
	slices.SortFunc(d.files, func(a, b evidenceFile) int { return strings.Compare(a.name, b.name) })
	return nil
}

// take spends a rate-limit token, if one is left at now.
func (d *evidenceDir) take(now time.Time, burst int, every time.Duration) bool {
	if !d.last.IsZero() {
		d.tokens = min(float64(burst), d.tokens+float64(now.Sub(d.last))/float64(every))
	}
	d.last = now
	if d.tokens < 1 {
		return false
	}
	d.tokens--
	return true
}

// added records a file written and removes the oldest until the total
// fits max (the newest stays whatever its size); it returns how many it
// removed.
func (d *evidenceDir) added(f evidenceFile, max int64) uint64 {
	d.files = append(d.files, f)
	d.total += f.size
	var n uint64
	for d.total > max && len(d.files) > 1 {
		old := d.files[0]
		if err := os.Remove(filepath.Join(d.dir, old.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			break // try again after the next file
		}
		d.files = d.files[1:]
		d.total -= old.size
		n++
	}
	return n
}

// Save writes the evidence file of a finding just raised, when it is a
// warning or worse: the packets held of its flow (within the flow's
// frames), each with the owning process of its sender's socket in its
// comment, as pcapng. The file is written under a temporary name and
// renamed when complete, so the directory only ever holds whole files. It
// returns the file's path, or "" when the finding gets none (info, no
// packet held, or the rate limit: each counted).
func (r *Recorder) Save(ev FindingEvent) (string, error) {
	if ev.Finding.Severity < model.SeverityWarning {
		return "", nil
	}
	f := ev.Row.Flow
	r.mu.Lock()
	var pkts []heldPacket
	var fromA []bool
	if f.Kind == model.FlowWire {
		pkts, fromA = r.packets(f.A, f.B, f.FirstFrame, f.LastFrame)
	}
	if len(pkts) == 0 {
		r.st.NoPackets++
		r.mu.Unlock()
		return "", nil
	}
	now := r.cfg.Clock()
	if !r.ev.take(now, r.cfg.Burst, r.cfg.Every) {
		r.st.RateLimited++
		r.mu.Unlock()
		return "", nil
	}
	// The file is written under the lock: Save and Add run on one
	// goroutine in a headless run, and names must stay unique.
	defer r.mu.Unlock()
	name := r.ev.unique(evidenceName(now, ev.Finding.Label, f))
	size, err := writeEvidence(r.ev.dir, name, ev, pkts, fromA)
	if err != nil {
		r.st.Failed++
		return "", err
	}
	r.st.Written++
	r.st.Removed += r.ev.added(evidenceFile{name, size}, r.cfg.MaxBytes)
	r.st.Files, r.st.DirBytes = len(r.ev.files), r.ev.total
	return filepath.Join(r.ev.dir, name), nil
}

// unique returns name, or name with a number before its extension when a
// file of that name exists already.
func (d *evidenceDir) unique(name string) string {
	base := strings.TrimSuffix(name, evidenceExt)
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(d.dir, name)); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = base + "-" + strconv.Itoa(i) + evidenceExt
	}
}

// writeEvidence writes the packets to dir/name through a temporary file
// and returns the file's size.
func writeEvidence(dir, name string, ev FindingEvent, pkts []heldPacket, fromA []bool) (int64, error) {
	fd := ev.Finding
	tmp := filepath.Join(dir, tmpPrefix+name)
	comment := "connscope evidence: " + fd.Label.String() + " (" + fd.Severity.String() + ") at " +
		time.Unix(0, ev.Now).UTC().Format(time.RFC3339Nano) + ": " + fd.Summary
	w, err := capture.CreateWriter(tmp, capture.WriterOptions{FlushEvery: -1, Comment: comment})
	if err != nil {
		return 0, err
	}
	fail := func(err error) (int64, error) {
		_ = w.Close()
		_ = os.Remove(tmp)
		return 0, err
	}
	type ifaceKey struct {
		iface int32
		link  capture.LinkType
	}
	ids := map[ifaceKey]int{}
	owner := [2]string{}
	for _, s := range [2]model.Side{model.SideA, model.SideB} {
		if o, ok := ev.Row.Owner(s); ok {
			owner[s] = capture.OwnerComment(o.PID, o.Name)
		}
	}
	// A RST this host's kernel said it sent, and why, carries the reason
	// too: a replay of the file explains it with the kernel's word again.
	reasons := map[uint64]string{}
	for _, r := range ev.Row.Flow.Resets {
		if r.KernelReason != "" {
			reasons[r.Frame] = r.KernelReason
		}
	}
	for i, p := range pkts {
		k := ifaceKey{p.iface, p.link}
		id, ok := ids[k]
		if !ok {
			if id, err = w.AddInterface(p.name, p.link, int(p.snaplen), ""); err != nil {
				return fail(err)
			}
			ids[k] = id
		}
		side := model.SideB
		if fromA[i] {
			side = model.SideA
		}
		note := owner[side]
		if reason := reasons[p.frame]; reason != "" {
			note = capture.ResetComment(reason, note)
		}
		if err := w.WritePacket(capture.CaptureInfo(p.ts, int(p.n), int(p.wire), id), p.data, note); err != nil {
			return fail(err)
		}
	}
	if err := w.Close(); err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	st, err := os.Stat(tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	return st.Size(), nil
}

// evidenceName names an evidence file after the time, the finding's label
// and the flow's endpoints, client first when known, in characters safe
// in any filesystem: 20260102T030405.123Z_refused_10.0.0.1-40000_10.0.0.2-80.pcapng.
func evidenceName(now time.Time, l model.FindingLabel, f *model.Flow) string {
	a, b := f.A, f.B
	if f.Client == model.SideB {
		a, b = b, a
	}
	return now.UTC().Format("20060102T150405.000Z") + "_" + safeName(l.String()) + "_" +
		safeEndpoint(a) + "_" + safeEndpoint(b) + evidenceExt
}

// safeEndpoint spells ip:port as ip-port, with an IPv6 address's colons
// as dashes ([fe80::1]:80 is fe80--1-80).
func safeEndpoint(ap netip.AddrPort) string {
	return safeName(ap.Addr().String()) + "-" + strconv.Itoa(int(ap.Port()))
}

// safeName keeps letters, digits, '.', '-' and '_', and turns anything
// else into '-'.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
		default:
			b[i] = '-'
		}
	}
	return string(b)
}
