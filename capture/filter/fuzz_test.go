package filter

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/net/bpf"
)

// fuzzLinks are the link types the fuzzer picks from.
var fuzzLinks = []uint16{LinkTypeEthernet, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeRaw, LinkTypeIPv4, LinkTypeIPv6, LinkTypeNull, LinkTypeLoop, 239}

// checkClassic applies the kernel's bpf_check_classic rules, so that the
// fuzzer proves kernel validity without root: jumps inside the program, a
// return at the end, no constant division by zero or shift by 32 or more,
// scratch words in range and written before every read on every path, and
// only the ancillary loads we use.
func checkClassic(raw []bpf.RawInstruction) error {
	n := len(raw)
	if n == 0 || n > 0xffff {
		return fmt.Errorf("%d instructions", n)
	}
	const all = 0xffff
	valid := make([]uint32, n) // scratch words written on every path to pc
	for i := range valid {
		valid[i] = all
	}
	valid[0] = 0
	reach := make([]bool, n)
	reach[0] = true
	for pc, in := range raw {
		if !reach[pc] {
			continue
		}
		mem := valid[pc]
		next := func(to int) error {
			if to >= n {
				return fmt.Errorf("pc %d: jump to %d past the end", pc, to)
			}
			reach[to] = true
			valid[to] &= mem
			return nil
		}
		switch in.Op & 0x07 {
		case clsLD, clsLDX:
			switch in.Op & 0xe0 {
			case modeMEM:
				if in.K >= scratchSlots || mem&(1<<in.K) == 0 {
					return fmt.Errorf("pc %d: reads scratch M[%d] before it is written", pc, in.K)
				}
			case modeABS:
				if in.K >= ancillaryBase && in.K != ancillaryBase+4 {
					return fmt.Errorf("pc %d: ancillary load %#x", pc, in.K)
				}
				if in.K >= 0x80000000 && in.K < ancillaryBase {
					return fmt.Errorf("pc %d: negative offset %#x", pc, in.K)
				}
			}
		case clsST, clsSTX:
			if in.K >= scratchSlots {
				return fmt.Errorf("pc %d: scratch M[%d] out of range", pc, in.K)
			}
			mem |= 1 << in.K
		case clsALU:
			op := in.Op & 0xf0
			if in.Op&srcX == 0 {
				if (op == 0x30 || op == 0x90) && in.K == 0 {
					return fmt.Errorf("pc %d: division by constant zero", pc)
				}
				if (op == 0x60 || op == 0x70) && in.K >= 32 {
					return fmt.Errorf("pc %d: shift by %d", pc, in.K)
				}
			}
		case clsJMP:
			if in.Op&0xf0 == jmpJA {
				if err := next(pc + 1 + int(in.K)); err != nil {
					return err
				}
				continue
			}
			if err := next(pc + 1 + int(in.Jt)); err != nil {
				return err
			}
			if err := next(pc + 1 + int(in.Jf)); err != nil {
				return err
			}
			continue
		case clsRET:
			continue
		}
		if pc == n-1 {
			return fmt.Errorf("pc %d: the program does not end with a return", pc)
		}
		if err := next(pc + 1); err != nil {
			return err
		}
	}
	if raw[n-1].Op&0x07 != clsRET {
		return errors.New("the last instruction is not a return")
	}
	return nil
}

// FuzzCompile: no expression makes Compile panic; errors are always
// positioned *SyntaxErrors (or the link-type error); every program
// assembles, passes the kernel's checks, runs in the VM on any bytes, and
// gives the same verdict as our interpreter and as the unoptimized
// program.
func FuzzCompile(f *testing.F) {
	seedPkts := [][]byte{
		nil,
		ethTCP([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1234, 80, 0x02),
		ethTCP([4]byte{192, 168, 1, 103}, [4]byte{10, 0, 0, 2}, 80, 443, 0x12)[:40],
	}
	seedPkts = append(seedPkts, fuzzSeedCaptures(f)...)
	extra := []string{
		"", "tcp prot 80", "port 80 and", "(((tcp)))", "not not not ip", "host (1.2.3.4 or not 5.6.7.8)",
		"tcp[tcp[tcp[0]]] = 1", "-(-(-len)) = 1", "len % (len - len) = 0", "vlan and vlan and vlan and ip",
		"ether[0:4] & 0xffffff00 = 0x01005e00", "ip6 net ::/0", "net 0.0.0.0/0", "portrange 65535-0",
		`\tcp`, "icmp6[icmp6type] = icmp6-neighborsolicit", "1:2:3:4:5:6:7:8", "a:b:c:d:e:f",
	}
	for i, e := range append(append([]string{}, diffExprs...), extra...) {
		f.Add(e, uint8(i), seedPkts[i%len(seedPkts)])
	}
	f.Fuzz(func(t *testing.T, expr string, linkSel uint8, pkt []byte) {
		if len(expr) > 4096 {
			return // long inputs only slow the fuzzer down
		}
		lt := fuzzLinks[int(linkSel)%len(fuzzLinks)]
		p, err := Compile(expr, lt, 0)
		if err != nil {
			var se *SyntaxError
			switch {
			case errors.Is(err, ErrLinkType):
			case !errors.As(err, &se):
				t.Fatalf("Compile(%q, %d): got %T %v, want a *SyntaxError", expr, lt, err, err)
			case se.Offset < 0 || se.Offset > len(expr):
				t.Fatalf("Compile(%q): error offset %d outside the expression", expr, se.Offset)
			default:
				_ = se.Caret()
			}
			return
		}
		raw, err := bpf.Assemble(p.Instructions())
		if err != nil {
			t.Fatalf("Compile(%q): program does not assemble: %v", expr, err)
		}
		if err := checkClassic(raw); err != nil {
			t.Fatalf("Compile(%q): the kernel would refuse the program: %v\n%s", expr, err, p)
		}
		vm := p.Match(pkt)
		if interp := run(raw, pkt, uint32(len(pkt))) > 0; interp != vm {
			t.Fatalf("Compile(%q) on %x: VM says %v, interpreter %v\n%s", expr, pkt, vm, interp, p)
		}
		plain, err := Compile(expr, lt, 0, withoutOptimizer())
		if err != nil {
			t.Fatalf("Compile(%q) without the optimizer: %v", expr, err)
		}
		if got := plain.Match(pkt); got != vm {
			t.Fatalf("Compile(%q) on %x: optimized %v, unoptimized %v\n%s\nvs\n%s", expr, pkt, vm, got, p, plain)
		}
		_ = p.String()
	})
}

// fuzzSeedCaptures returns the first packets of the test captures, so the
// fuzzer starts from real headers.
func fuzzSeedCaptures(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, c := range loadCaptures(t) {
		for i, pk := range c.packets {
			if i >= 2 {
				break
			}
			out = append(out, pk.data)
		}
	}
	return out
}
