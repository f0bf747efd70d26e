// Package capture brings packets into connscope: it reads capture files
// (pcap and pcapng, plain or gzipped, from a path or stdin), decodes each
// packet into a model.Segment, and feeds segments to the tracker in
// batches. Live AF_PACKET capture and the capture-filter compiler
// (capture/filter) plug into the same Source and FilterFunc seams. It is
// the only package that imports gopacket.
//
// # Two ways to read
//
// The headless report uses the pull loop, the fastest path:
//
//	f, err := capture.Open(path) // "-" reads stdin
//	if err != nil { ... }        // one line naming the file
//	defer f.Close()
//	var seg model.Segment
//	for ctx.Err() == nil {
//		err := f.Next(&seg) // skips and counts packets without TCP
//		if err == capture.ErrIdle { continue } // no segment yet: check ctx, call again
//		if err == io.EOF { break }
//		if err != nil { ... } // *FileError: every segment before it was returned
//		table.Apply(seg)
//	}
//	stats := f.Stats()
//
// Next never runs for long without returning: after IdleAfter (4,096)
// packets in a row that gave no segment (other protocols, damage, packets
// the filter rejected, pcapng blocks that hold no packet) it returns
// ErrIdle, a File as a Live does when its read timeout passes. ErrIdle is
// not an error; a caller that checks its context on every return, ErrIdle
// included, notices a cancellation within those 4,096 packets (about 0.2
// ms) whatever the file holds. A pcap header followed by 4 GiB of zeros
// is 268 million empty records: checked only between segments, Ctrl-C
// would wait until the end of the file.
//
// The UI pipeline uses Run, which drains a Source on its own goroutine and
// sends batches (up to RunOptions.BatchSize, default 1024 segments, or
// whatever is pending every FlushEvery, default 50 ms) on a channel:
//
//	segs := make(chan []model.Segment, 64)
//	go func() { errc <- capture.Run(ctx, f, segs, capture.RunOptions{}); close(segs) }()
//
// Each batch sent belongs to the consumer; Run never touches it again. With
// RunOptions.Pool the consumer may hand a batch back (Pool.Put) once it is
// done with it, and Run reuses it instead of allocating. Run returns as
// soon as its context is cancelled; its reading goroutine stops at the
// next return of Next, so within IdleAfter packets.
//
// # Overload
//
// A file replay (RunOptions.Live false) blocks on a full channel, so a
// replay is complete and deterministic whatever the consumer's speed. A
// Live is a BatchSource: Run reads it a batch at a time on the calling
// goroutine and, live too, waits for a consumer that is behind, while the
// backlog waits in the kernel rings, which drop (SourceStats.KernelDrops)
// only once full: no CPU goes to reading and decoding packets only to drop
// them. Any other live source (Live true) never blocks: a batch that does
// not fit is dropped and its segments counted in SourceStats.QueueDrops.
// Every packet is counted exactly once in Stats:
// TCPFrames (segments produced), NonTCP (other protocols, TCP quoted in an
// ICMP error, IP fragments, packets of a pcapng interface whose link type we
// do not decode), DecodeErrors (malformed or cut before the TCP fields a
// segment needs), FilteredOut (rejected by the FilterFunc set with
// File.SetFilter).
//
// # What counts as a segment
//
// The goal is tshark 4.0's view: every frame tshark puts in a TCP stream
// becomes a Segment with the same addresses, ports and lengths, and no other
// frame does. This is checked frame by frame against tshark (testdata/golden)
// on the shared corpus and our fixtures. In particular:
//   - tunnels (GRE with any flags, PPTP, ERSPAN I/II/III, VXLAN,
//     VXLAN-GPE, Geneve, GTP-U, L2TPv2, Teredo, IP-in-IP of both versions,
//     MPLS, PPPoE, VLAN tags) are
//     followed to the innermost IP header that carries TCP, which gives the
//     addresses, TTL and IP ID;
//   - PayloadLen is the IP length minus the headers, bounded by the frame's
//     original length as in tshark (Ethernet padding never counts, a snaplen
//     cut never shrinks it; an IPv4 total length of 0, as written for TSO
//     super-segments, means the frame's length);
//   - a TCP header cut short by the snaplen still gives a segment from 16
//     captured bytes on (tshark assigns a stream from there), marked
//     HeaderCut, as is a bogus data offset (< 5) or a header longer than its
//     IP payload: tshark counts such frames in their stream but does not
//     analyse them;
//   - a TCP header quoted in an ICMP or ICMPv6 error is not a segment
//     (ResultICMPQuoted).
//
// IP fragments are not reassembled: a fragment is ResultFragment, counted
// as NonTCP. tshark reassembles (ip.defragment is on in the oracle), so a
// TCP segment split into IP fragments would be one segment in tshark and
// none here; no capture of the shared corpus has a fragment, and Linux
// never fragments TCP (it does path MTU discovery), so this is documented
// rather than implemented. Ethernet pseudowires under MPLS are not decoded
// either: tshark chooses between "control word" and "no control word" by
// looking MAC addresses up in its OUI database.
//
// # Why our own file reader
//
// gopacket's pcapgo was measured against a reader of our own (benchmarks
// BenchmarkRead_File and BenchmarkRead_Pcapgo on pcapgen captures of 91k
// packets, this 2-core machine, several runs under varying load): reading
// alone, ours takes 35-39 ns a packet on a headers-only capture against
// pcapgo's 50-76 ns, and 110-150 ns against 290-380 ns on full-size
// packets. Ours hands out slices of one large buffer (256 KiB,
// growing to 1 MiB for the largest records) with no copy per packet, and
// keeps timestamps as integer nanoseconds; pcapgo copies every packet out
// of a 4 KiB bufio.Reader and builds a time.Time for each. Beyond speed,
// pcapgo could not give what this package promises:
//   - the frame number and byte offset of the record a file is cut in
//     (pcapgo returns a bare io.ErrUnexpectedEOF);
//   - pcap versions before 2.4: pcapgo refuses the shared corpus's
//     ndpi-fuzz-2021-10-13.pcap (version 2.0, whose two length fields are
//     swapped, as libpcap and tshark know);
//   - one reader for pcap, pcapng and gzip of either (pcapgo.NewReader does
//     not know pcapng, NgReader does not un-gzip);
//   - bounded memory on hostile input: captured lengths above
//     MaxCaptureLength (256 KiB) and pcapng blocks above 16 MiB are refused
//     as corrupt, blocks we do not read are skipped without buffering, and
//     the number of interfaces is capped.
//
// The decoder is ours too: gopacket's layers have no NFLOG or ERSPAN III
// decoder, and its TCP layer rejects a header shorter than 20 bytes, one
// cut inside its options by the snaplen, or one with a data offset below
// 5, all frames that tshark still counts in their stream. Following
// tshark's length rules (the reported length shrunk by every IP, UDP and
// NFLOG length on the way in) is simplest in one small recursive decoder
// that works on the packet bytes in place. It keeps no state and never
// allocates.
//
// # Live capture
//
// Each interface is read through a TPACKET_V3 ring of our own, on
// x/sys/unix, rather than gopacket's afpacket: that one waits for a block
// in a blocking poll(2), which makes the runtime hand the reader's
// processor to another thread at every wait and keeps its monitor thread
// waking every 20 microseconds, and it takes a mutex and builds a
// time.Time per packet. Ours registers the non-blocking socket with the
// runtime's network poller, so an idle reader parks like a network read,
// and walks a block's packets without a call per packet. A reader decodes
// into batches of about a block and hands them to Next; when Next is
// behind it waits, and the backlog stays in the kernel ring, which drops,
// and counts, only once full. Next merges the readers in capture-time
// order, taking runs of packets from one reader while no other can hold
// an older one.
//
// LiveOptions.ReadersPerInterface opens several sockets on an interface in
// a PACKET_FANOUT_HASH group: the kernel hands each packet to one by a
// hash of its flow, the same in both directions (a test checks it), so a
// connection stays in one ring and in order, and reading and decoding use
// several cores. One reader is the default: it keeps up with the single
// flow table behind Next, which costs more per packet than reading and
// decoding together, and a second reader only takes CPU from it (see
// BENCHMARKS.md). Sharding the flow table by the same hash is what would
// make more readers pay.
//
// # Errors
//
// Open fails with one line naming the file: "open x.pcap: not a pcap or
// pcapng capture (starts with "hell")", "open x: is a directory, not a
// capture file", "open x.pcap: empty file, not a pcap or pcapng capture",
// "open x.pcap: link type 147 (USER0): not supported". Reading errors are
// *FileError values, e.g. "x.pcap: frame 1234 at byte 567890 is cut short
// (file truncated)"; they wrap ErrTruncated, ErrCorrupt, ErrUnsupported or
// the read error, and are sticky. Nothing in this package panics on any
// input (fuzzed: FuzzOpenAndRead, FuzzDecode).
//
// # Text from outside
//
// File and interface names come from users and from the kernel, where
// they may hold escape sequences. Every error message and LiveEvent of
// this package shows such a name in Go's quoted form ("x\x1b[2J.pcap")
// when it holds a control character, a bidirectional override or invalid
// UTF-8, and as it is otherwise, so printing an error cannot drive the
// terminal. The capture filter's errors spell out such characters the same
// way. Text the package hands on from a file, the command name of a -w
// owner comment (ParseOwnerComment), is plain text: escape sequences are
// removed whole and other control characters dropped, as the UI's
// sanitiser does; OwnerComment writes it so. The raw bytes of a packet and
// of its comment (Packet.Data, Packet.Comment, File.Comment) are the
// file's, unchecked, and LiveInterface.Name is the kernel's: whoever
// prints them sanitises them.
package capture
