package model

import (
	"math/bits"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCounterFields_CoverCounters checks that the counter table has one
// row per field of Counters, in the struct's order, and that each row
// reads the field it names.
func TestCounterFields_CoverCounters(t *testing.T) {
	typ := reflect.TypeFor[Counters]()
	if typ.NumField() != NumCounterFields {
		t.Fatalf("Counters has %d fields, the counter table %d rows", typ.NumField(), NumCounterFields)
	}
	// Field i holds 1000+i, so each row must read back its own index.
	var c Counters
	v := reflect.ValueOf(&c).Elem()
	for i := range typ.NumField() {
		v.Field(i).SetUint(uint64(1000 + i))
	}
	titles, keys := map[string]bool{}, map[string]bool{}
	for i, f := range CounterFields() {
		if want := typ.Field(i).Name; f.Name != want {
			t.Errorf("row %d names %q, want %q (the struct's order)", i, f.Name, want)
		}
		if got, want := f.Stored(&c), uint64(1000+i); got != want {
			t.Errorf("row %s reads %d, want %d: it points at another field", f.Name, got, want)
		}
		if f.Title == "" || titles[f.Title] {
			t.Errorf("row %s: title %q is empty or not unique", f.Name, f.Title)
		}
		titles[f.Title] = true
		if f.JSONKey != "" && keys[f.JSONKey] {
			t.Errorf("row %s: JSON key %q is not unique", f.Name, f.JSONKey)
		}
		keys[f.JSONKey] = true
		if (f.u64 == nil) == (f.u32 == nil) {
			t.Errorf("row %s: want exactly one of the 64- and 32-bit accessors", f.Name)
		}
	}
}

// TestCounterFields_JSONKeysAreTheREADMEs checks the table's JSON keys,
// in order, against the counters the README documents for --json.
func TestCounterFields_JSONKeysAreTheREADMEs(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("reading the README: %v", err)
	}
	const intro = "The counters of a direction"
	text := string(readme)
	i := strings.Index(text, intro)
	if i < 0 {
		t.Fatalf("the README has no paragraph starting %q", intro)
	}
	para, _, _ := strings.Cut(text[i:], "\n\n")
	// The keys are the backticked words after the paragraph's colon
	// (before it, tcp.analysis.* is quoted too).
	_, list, _ := strings.Cut(para, ":\n")
	var want []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(list, -1) {
		want = append(want, m[1])
	}
	var got []string
	for _, f := range CounterFields() {
		if f.JSONKey != "" {
			got = append(got, f.JSONKey)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("JSON keys in table order:\n got %v\nwant %v (README)", got, want)
	}
}

// TestCounterFields_Values checks the two reported values that differ from
// the stored ones, and that every other one is the stored value.
func TestCounterFields_Values(t *testing.T) {
	c := Counters{Packets: 90, SYN: 2, SYNACK: 3, Retransmission: 5, FastRetransmission: 7, SpuriousRetransmission: 11, FIN: 13}
	want := map[string]uint64{"syn": 5, "retransmission": 23}
	for _, f := range CounterFields() {
		w, ok := want[f.JSONKey]
		if !ok {
			w = f.Stored(&c)
		}
		if got := f.Value(&c); got != w {
			t.Errorf("%s: value got %d, want %d", f.Name, got, w)
		}
	}
}

// TestCounterFields_FlagMapping checks that every analysis flag counts
// into exactly one field, and anCount into that field only.
func TestCounterFields_FlagMapping(t *testing.T) {
	rows := map[AnalysisFlag]string{}
	for _, f := range CounterFields() {
		if f.Flag == 0 {
			continue
		}
		if bits.OnesCount32(uint32(f.Flag)) != 1 {
			t.Errorf("row %s: flag %v is not a single flag", f.Name, f.Flag)
		}
		if prev, ok := rows[f.Flag]; ok {
			t.Errorf("flag %v counts into %s and %s", f.Flag, prev, f.Name)
		}
		rows[f.Flag] = f.Name
	}
	for b := range numAnalysisFlags {
		fl := AnalysisFlag(1) << b
		name, ok := rows[fl]
		if !ok {
			t.Errorf("flag %v counts into no field", fl)
			continue
		}
		var c Counters
		anCount(&c, fl)
		anCount(&c, fl)
		for _, f := range CounterFields() {
			want := uint64(0)
			if f.Name == name {
				want = 2
			}
			if got := f.Stored(&c); got != want {
				t.Errorf("anCount(%v) twice: %s got %d, want %d", fl, f.Name, got, want)
			}
		}
	}
	// Bits beyond the known flags count nowhere.
	var c Counters
	unknown := ^AnalysisFlag(0) &^ (1<<numAnalysisFlags - 1)
	anCount(&c, unknown)
	if c != (Counters{}) {
		t.Errorf("unknown flags counted: %+v", c)
	}
}

// TestFlow_TotalsSumsEveryField checks Totals field by field, by
// reflection, independently of the counter table.
func TestFlow_TotalsSumsEveryField(t *testing.T) {
	var f Flow
	a, b := reflect.ValueOf(&f.Dir[0]).Elem(), reflect.ValueOf(&f.Dir[1]).Elem()
	for i := range a.NumField() {
		a.Field(i).SetUint(uint64(3*i + 1))
		b.Field(i).SetUint(uint64(1000*i + 7))
	}
	tot := f.Totals()
	v := reflect.ValueOf(tot)
	for i := range v.NumField() {
		if got, want := v.Field(i).Uint(), a.Field(i).Uint()+b.Field(i).Uint(); got != want {
			t.Errorf("Totals().%s got %d, want %d", v.Type().Field(i).Name, got, want)
		}
	}
}

func TestCounterFields_NoAllocs(t *testing.T) {
	c := Counters{Packets: 3}
	var sum uint64
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range CounterFields() {
			sum += f.Value(&c)
		}
	})
	if allocs != 0 {
		t.Errorf("ranging over CounterFields allocates %v times, want 0", allocs)
	}
	if sum == 0 {
		t.Fatal("no value read")
	}
}
