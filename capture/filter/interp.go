package filter

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// Classic BPF opcode fields (linux/filter.h, net/bpf.h).
const (
	clsLD, clsLDX, clsST, clsSTX, clsALU, clsJMP, clsRET, clsMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07

	szW, szH, szB = 0x00, 0x08, 0x10

	modeIMM, modeABS, modeIND, modeMEM, modeLEN, modeMSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xa0

	srcX = 0x08

	jmpJA, jmpJEQ, jmpJGT, jmpJGE, jmpJSET = 0x00, 0x10, 0x20, 0x30, 0x40

	// ancillaryBase is SKF_AD_OFF: absolute loads at or above it read
	// packet metadata, not packet bytes.
	ancillaryBase = 0xfffff000
)

// run interprets raw on a packet whose captured bytes are pkt and whose
// original length is wireLen, with the kernel's semantics: a load outside
// pkt or a division by zero returns 0. The packet type (for a prefix made
// by PrependLoopbackOutgoingDrop) reads as PACKET_HOST, as no file has
// outgoing packets to drop.
func run(raw []bpf.RawInstruction, pkt []byte, wireLen uint32) uint32 {
	var a, x uint32
	var mem [scratchSlots]uint32
	load := func(off uint64, size int) (uint32, bool) {
		if off+uint64(size) > uint64(len(pkt)) {
			return 0, false
		}
		switch size {
		case 4:
			return binary.BigEndian.Uint32(pkt[off:]), true
		case 2:
			return uint32(binary.BigEndian.Uint16(pkt[off:])), true
		}
		return uint32(pkt[off]), true
	}
	sizeOf := func(op uint16) int {
		switch op & 0x18 {
		case szH:
			return 2
		case szB:
			return 1
		}
		return 4
	}
	for pc := 0; pc < len(raw); pc++ {
		in := raw[pc]
		k := in.K
		var ok bool
		switch in.Op & 0x07 {
		case clsLD:
			switch in.Op & 0xe0 {
			case modeIMM:
				a = k
			case modeABS:
				if k >= ancillaryBase {
					a = 0 // SKF_AD_PKTTYPE and the rest: nothing from a file
					break
				}
				if a, ok = load(uint64(k), sizeOf(in.Op)); !ok {
					return 0
				}
			case modeIND:
				if a, ok = load(uint64(x)+uint64(k), sizeOf(in.Op)); !ok {
					return 0
				}
			case modeMEM:
				a = mem[k%scratchSlots]
			case modeLEN:
				a = wireLen
			default:
				return 0
			}
		case clsLDX:
			switch in.Op & 0xe0 {
			case modeIMM:
				x = k
			case modeMEM:
				x = mem[k%scratchSlots]
			case modeLEN:
				x = wireLen
			case modeMSH:
				b, ok := load(uint64(k), 1)
				if !ok {
					return 0
				}
				x = 4 * (b & 0x0f)
			default:
				return 0
			}
		case clsST:
			mem[k%scratchSlots] = a
		case clsSTX:
			mem[k%scratchSlots] = x
		case clsALU:
			v := k
			if in.Op&srcX != 0 {
				v = x
			}
			op := bpf.ALUOp(in.Op & 0xf0)
			if op == 0x80 { // neg
				a = -a
				break
			}
			if r, ok := foldALU(op, a, v); ok {
				a = r
			} else {
				return 0 // division or modulus by zero
			}
		case clsJMP:
			if in.Op&0xf0 == jmpJA {
				pc += int(k)
				break
			}
			v := k
			if in.Op&srcX != 0 {
				v = x
			}
			var t bool
			switch in.Op & 0xf0 {
			case jmpJEQ:
				t = a == v
			case jmpJGT:
				t = a > v
			case jmpJGE:
				t = a >= v
			case jmpJSET:
				t = a&v != 0
			default:
				return 0
			}
			if t {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case clsRET:
			switch in.Op & 0x18 {
			case 0x00:
				return k
			case 0x10:
				return a
			}
			return x
		case clsMISC:
			if in.Op&0xf8 == 0x80 {
				a = x
			} else {
				x = a
			}
		}
	}
	return 0
}

// image formats one instruction as tcpdump -d (libpcap's bpf_image) does.
func image(in bpf.RawInstruction, pc int) string {
	op, operand := "unimp", fmt.Sprintf("0x%x", in.Op)
	k := in.K
	size := map[uint16]string{szW: "", szH: "h", szB: "b"}[in.Op&0x18]
	switch in.Op & 0x07 {
	case clsLD:
		op = "ld" + size
		switch in.Op & 0xe0 {
		case modeIMM:
			op, operand = "ld", fmt.Sprintf("#0x%x", k)
		case modeABS:
			operand = fmt.Sprintf("[%d]", k)
			if k >= ancillaryBase {
				op, operand = "ld", map[uint32]string{ancillaryBase + 4: "#type"}[k]
				if operand == "" {
					operand = fmt.Sprintf("#ancillary+%d", k-ancillaryBase)
				}
			}
		case modeIND:
			operand = fmt.Sprintf("[x + %d]", k)
		case modeMEM:
			op, operand = "ld", fmt.Sprintf("M[%d]", k)
		case modeLEN:
			op, operand = "ld", "#pktlen"
		}
	case clsLDX:
		op = "ldx"
		switch in.Op & 0xe0 {
		case modeIMM:
			operand = fmt.Sprintf("#0x%x", k)
		case modeMEM:
			operand = fmt.Sprintf("M[%d]", k)
		case modeLEN:
			operand = "#pktlen"
		case modeMSH:
			op, operand = "ldxb", fmt.Sprintf("4*([%d]&0xf)", k)
		}
	case clsST:
		op, operand = "st", fmt.Sprintf("M[%d]", k)
	case clsSTX:
		op, operand = "stx", fmt.Sprintf("M[%d]", k)
	case clsALU:
		names := map[uint16]string{0x00: "add", 0x10: "sub", 0x20: "mul", 0x30: "div", 0x40: "or",
			0x50: "and", 0x60: "lsh", 0x70: "rsh", 0x80: "neg", 0x90: "mod", 0xa0: "xor"}
		op = names[in.Op&0xf0]
		switch {
		case in.Op&0xf0 == 0x80:
			operand = ""
		case in.Op&srcX != 0:
			operand = "x"
		case op == "and" || op == "or" || op == "xor":
			operand = fmt.Sprintf("#0x%x", k)
		default:
			operand = fmt.Sprintf("#%d", k)
		}
	case clsJMP:
		if in.Op&0xf0 == jmpJA {
			return fmt.Sprintf("(%03d) %-8s %d", pc, "ja", pc+1+int(k))
		}
		op = map[uint16]string{jmpJEQ: "jeq", jmpJGT: "jgt", jmpJGE: "jge", jmpJSET: "jset"}[in.Op&0xf0]
		operand = fmt.Sprintf("#0x%x", k)
		if in.Op&srcX != 0 {
			operand = "x"
		}
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", pc, op, operand, pc+1+int(in.Jt), pc+1+int(in.Jf))
	case clsRET:
		op = "ret"
		switch in.Op & 0x18 {
		case 0x00:
			operand = fmt.Sprintf("#%d", k)
		case 0x10:
			operand = "a"
		default:
			operand = "x"
		}
	case clsMISC:
		op, operand = "tax", ""
		if in.Op&0xf8 == 0x80 {
			op = "txa"
		}
	}
	return fmt.Sprintf("(%03d) %-8s %s", pc, op, operand)
}
