package kevents

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// field is one field of a trace event record, as its format file gives it.
type field struct {
	Name   string
	Offset int
	Size   int
}

// format is a parsed tracefs event format file (events/SYSTEM/EVENT/format).
type format struct {
	Name     string
	ID       uint16
	Fields   map[string]field
	PrintFmt string
}

// parseFormat reads an event format file. Field names lose their array
// suffix ("saddr[28]" is "saddr"); the print fmt line is kept whole for
// symbolTable.
func parseFormat(r io.Reader) (*format, error) {
	f := &format{Fields: make(map[string]field)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	seenID := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "name:"):
			f.Name = strings.TrimSpace(strings.TrimPrefix(line, "name:"))
		case strings.HasPrefix(line, "ID:"):
			id, err := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "ID:")), 10, 16)
			if err != nil {
				return nil, fmt.Errorf("format %s: bad ID line %q: %w", f.Name, line, err)
			}
			f.ID, seenID = uint16(id), true
		case strings.HasPrefix(line, "field:"):
			fd, err := parseField(line)
			if err != nil {
				return nil, fmt.Errorf("format %s: %w", f.Name, err)
			}
			f.Fields[fd.Name] = fd
		case strings.HasPrefix(line, "print fmt:"):
			f.PrintFmt = strings.TrimSpace(strings.TrimPrefix(line, "print fmt:"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("format %s: %w", f.Name, err)
	}
	if !seenID || len(f.Fields) == 0 {
		return nil, fmt.Errorf("format %q: no ID or no fields", f.Name)
	}
	return f, nil
}

// parseField parses "field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;".
func parseField(line string) (field, error) {
	var fd field
	parts := strings.Split(line, ";")
	if len(parts) < 3 {
		return fd, fmt.Errorf("bad field line %q", line)
	}
	decl := strings.TrimSpace(strings.TrimPrefix(parts[0], "field:"))
	name := decl[strings.LastIndexAny(decl, " *")+1:]
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = name[:i]
	}
	if name == "" {
		return fd, fmt.Errorf("bad field declaration %q", decl)
	}
	fd.Name = name
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			continue
		}
		switch k {
		case "offset":
			fd.Offset = n
		case "size":
			fd.Size = n
		}
	}
	if fd.Size <= 0 {
		return fd, fmt.Errorf("field %s: no size", name)
	}
	return fd, nil
}

// symbolTable extracts the __print_symbolic table the print fmt applies to
// REC->name: a map from the enum's value to its name, as the running
// kernel numbers it. Entries whose value is not a number (an enum the
// kernel did not evaluate) are skipped; ok is false when no numeric entry
// was found.
func (f *format) symbolTable(name string) (map[uint64]string, bool) {
	key := "__print_symbolic(REC->" + name + ","
	i := strings.Index(f.PrintFmt, key)
	if i < 0 {
		return nil, false
	}
	s := f.PrintFmt[i+len(key):]
	table := make(map[uint64]string)
	for {
		s = strings.TrimLeft(s, " ,")
		if !strings.HasPrefix(s, "{") {
			break // the closing parenthesis of __print_symbolic
		}
		end := strings.IndexByte(s, '}')
		if end < 0 {
			break
		}
		entry := s[1:end]
		s = s[end+1:]
		v, n, ok := strings.Cut(entry, ",")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		n = strings.Trim(strings.TrimSpace(n), `"`)
		num, err := strconv.ParseUint(v, 0, 64)
		if err != nil || n == "" {
			continue
		}
		table[num] = n
	}
	return table, len(table) > 0
}

// get reads an unsigned field of 1, 2, 4 or 8 bytes from a record in the
// machine's byte order; 0 when the field is absent or out of range.
func (fd field) get(rec []byte) uint64 {
	if fd.Size == 0 || fd.Offset+fd.Size > len(rec) {
		return 0
	}
	b := rec[fd.Offset : fd.Offset+fd.Size]
	switch fd.Size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.NativeEndian.Uint16(b))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	return 0
}

// bytes returns a field's bytes, nil when absent or out of range.
func (fd field) bytes(rec []byte) []byte {
	if fd.Size == 0 || fd.Offset+fd.Size > len(rec) {
		return nil
	}
	return rec[fd.Offset : fd.Offset+fd.Size]
}

// has reports whether the format has every named field.
func (f *format) has(names ...string) bool {
	for _, n := range names {
		if _, ok := f.Fields[n]; !ok {
			return false
		}
	}
	return true
}
