package filter

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
)

// DefaultSnaplen is the value an accepting program returns when Compile is
// given a snaplen of 0: libpcap's maximum snapshot length.
const DefaultSnaplen = 262144

// MaxKernelInstructions is the longest program the kernel accepts
// (BPF_MAXINSNS). Longer programs still run in the VM.
const MaxKernelInstructions = 4096

// packetOutgoing is the kernel's PACKET_OUTGOING packet type.
const packetOutgoing = 4

// Program is a compiled capture filter. It is immutable and safe for
// concurrent use.
type Program struct {
	expr     string
	linkType uint16
	ins      []bpf.Instruction    // what the kernel runs (with any prefix)
	raw      []bpf.RawInstruction // ins assembled
	body     []bpf.Instruction    // ins without the packet-type prefix
	vm       *bpf.VM              // runs body
	usesLen  bool                 // body reads the packet length
}

// Option adjusts how Compile builds a program.
type Option func(*config)

type config struct {
	nullOrder    binary.ByteOrder
	dropOutgoing bool
	optimize     bool
}

// NullByteOrder sets the byte order of the 4-byte address family of BSD
// loopback (LINKTYPE 0) frames: the order of the machine that captured
// them. The default is this machine's order; for a file, pass the order it
// was written in (the order in which its pcap magic or pcapng byte-order
// magic reads correctly), as libpcap does.
func NullByteOrder(order binary.ByteOrder) Option {
	return func(c *config) { c.nullOrder = order }
}

// DropOutgoing prefixes the program with the packet-type test used on the
// loopback interface, where AF_PACKET delivers every packet twice (once
// outgoing, once incoming): outgoing packets are rejected before the
// filter runs. Match and MatchLen ignore the prefix.
func DropOutgoing() Option {
	return func(c *config) { c.dropOutgoing = true }
}

// withoutOptimizer keeps the generator's output as is; tests use it to
// check that optimizing never changes a verdict.
func withoutOptimizer() Option {
	return func(c *config) { c.optimize = false }
}

// Compile compiles a pcap-filter expression for a link type (a LINKTYPE_
// value). An accepted packet makes the program return snaplen (0 means
// DefaultSnaplen), which the kernel uses as the number of bytes to keep.
// An empty expression accepts every packet, whatever the link type.
func Compile(expr string, linkType uint16, snaplen uint32, opts ...Option) (*Program, error) {
	cfg := config{nullOrder: binary.NativeEndian, optimize: true}
	for _, o := range opts {
		o(&cfg)
	}
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	ast, err := parse(expr)
	if err != nil {
		return nil, err
	}
	link, ok := linkFor(linkType)
	if !ok && ast != nil { // accepting everything needs no header layout
		return nil, fmt.Errorf("capture filter %q: link type %d: %w", expr, linkType, ErrLinkType)
	}
	g := &gen{src: expr, link: link, offLT: link.offLinkType, offNL: link.offNL, nullOrder: cfg.nullOrder}
	f := fragTrue
	if ast != nil {
		if f, err = g.expr(ast); err != nil {
			return nil, err
		}
	}
	root := g.finish(f, snaplen)
	if cfg.optimize {
		root = optimize(root)
	}
	body := layout(root)
	ins := body
	if cfg.dropOutgoing {
		ins = PrependLoopbackOutgoingDrop(body)
	}
	return newProgram(expr, linkType, ins, body)
}

func newProgram(expr string, linkType uint16, ins, body []bpf.Instruction) (*Program, error) {
	raw, err := bpf.Assemble(ins)
	if err != nil {
		return nil, fmt.Errorf("capture filter %q: assemble: %w", expr, err)
	}
	vm, err := bpf.NewVM(body)
	if err != nil {
		return nil, fmt.Errorf("capture filter %q: %w", expr, err)
	}
	p := &Program{expr: expr, linkType: linkType, ins: ins, raw: raw, body: body, vm: vm}
	for _, in := range body {
		if ext, ok := in.(bpf.LoadExtension); ok && ext.Num == bpf.ExtLen {
			p.usesLen = true
		}
	}
	return p, nil
}

// PrependLoopbackOutgoingDrop returns ins with a three-instruction prefix
// that rejects packets the kernel marks PACKET_OUTGOING (ld type; jeq #4;
// ret #0). Jumps in classic BPF are relative, so ins needs no change.
func PrependLoopbackOutgoingDrop(ins []bpf.Instruction) []bpf.Instruction {
	out := make([]bpf.Instruction, 0, len(ins)+3)
	out = append(out,
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	)
	return append(out, ins...)
}

// Expr returns the expression the program was compiled from.
func (p *Program) Expr() string { return p.expr }

// LinkType returns the LINKTYPE_ value the program was compiled for.
func (p *Program) LinkType() uint16 { return p.linkType }

// Instructions returns the program, including any packet-type prefix.
func (p *Program) Instructions() []bpf.Instruction {
	return append([]bpf.Instruction(nil), p.ins...)
}

// Raw returns the assembled program for SO_ATTACH_FILTER.
func (p *Program) Raw() []bpf.RawInstruction {
	return append([]bpf.RawInstruction(nil), p.raw...)
}

// Match runs the program in the VM on the captured bytes of one packet and
// reports whether the filter accepts it. It does not allocate. `len` is
// len(pkt); see MatchLen for truncated captures.
func (p *Program) Match(pkt []byte) bool {
	n, err := p.vm.Run(pkt)
	return err == nil && n > 0
}

// MatchLen is Match for a packet whose original length on the wire was
// wireLen, of which pkt holds the captured part: `len`, `less` and
// `greater` then see wireLen, as in libpcap.
func (p *Program) MatchLen(pkt []byte, wireLen int) bool {
	if !p.usesLen || wireLen == len(pkt) {
		return p.Match(pkt)
	}
	return run(p.raw[len(p.raw)-len(p.body):], pkt, uint32(wireLen)) > 0
}

// String lists the program in the style of `tcpdump -d`, for --debug.
func (p *Program) String() string {
	var sb strings.Builder
	for i, r := range p.raw {
		sb.WriteString(image(r, i))
		sb.WriteByte('\n')
	}
	return sb.String()
}
