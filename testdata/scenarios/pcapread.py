"""pcapread.py: a tiny reader for the classic pcap files tcpdump writes here
(Ethernet or Linux cooked link type, IPv4, TCP), and the grouping of their
segments into connections. Standard library only: the ground truth must not
depend on the tool it is used to test, nor on tshark.
"""

import gzip
import struct

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Pkt:
    """One TCP segment with the header fields the truth records."""

    __slots__ = ("frame", "ts", "src", "dst", "sport", "dport", "seq", "ack", "flags",
                 "win", "ttl", "ipid", "df", "optlen", "paylen", "opts")

    def flagstr(self):
        s = "".join(c for bit, c in ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P")) if self.flags & bit)
        return s + ("." if self.flags & ACK else "")

    @property
    def a(self):
        return "%s:%d" % (self.src, self.sport)

    @property
    def b(self):
        return "%s:%d" % (self.dst, self.dport)


def _ip(b):
    return "%d.%d.%d.%d" % tuple(b)


class Segments(list):
    """The TCP segments of a capture; frames counts every record and t0 is
    the first record's time."""
    frames = 0
    t0 = None


def read_pcap(path):
    """Return the TCP segments of a pcap file, frame numbers 1-based over
    every record (as tshark numbers them)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(end + "I", data, 20)[0]
    off, frame, out = 24, 0, Segments()
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(end + "IIII", data, off)
        off += 16
        rec = data[off:off + incl]
        off += incl
        frame += 1
        if out.t0 is None:
            out.t0 = sec + frac / (1e9 if nano else 1e6)
        out.frames = frame
        if linktype == 1:  # Ethernet
            if len(rec) < 14 or struct.unpack_from(">H", rec, 12)[0] != 0x0800:
                continue
            ip = rec[14:]
        elif linktype == 113:  # Linux cooked
            if len(rec) < 16 or struct.unpack_from(">H", rec, 14)[0] != 0x0800:
                continue
            ip = rec[16:]
        else:
            raise ValueError("%s: link type %d not supported" % (path, linktype))
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from(">H", ip, 2)[0]
        tcp = ip[ihl:]
        if len(tcp) < 20:
            continue
        p = Pkt()
        p.frame = frame
        p.ts = sec + frac / (1e9 if nano else 1e6)
        p.ipid = struct.unpack_from(">H", ip, 4)[0]
        p.df = bool(ip[6] & 0x40)
        p.ttl = ip[8]
        p.src, p.dst = _ip(ip[12:16]), _ip(ip[16:20])
        p.sport, p.dport, p.seq, p.ack = struct.unpack_from(">HHII", tcp, 0)
        doff = (tcp[12] >> 4) * 4
        p.flags = tcp[13]
        p.win = struct.unpack_from(">H", tcp, 14)[0]
        p.optlen = doff - 20
        p.paylen = total - ihl - doff
        p.opts = _options(tcp[20:doff])
        out.append(p)
    return out


def _options(b):
    """Option kinds present (2 MSS, 3 WS, 4 SACK-permitted, 5 SACK, 8 TS)."""
    kinds, i = [], 0
    while i < len(b):
        k = b[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(b) or b[i + 1] < 2:
            break
        kinds.append(k)
        i += b[i + 1]
    return kinds


class Flow:
    """The segments of one connection, split like tshark on a new-ISN SYN."""

    def __init__(self, first):
        self.pkts = [first]
        if first.flags & SYN and not first.flags & ACK:
            self.client, self.server = first.a, first.b
            self.isn = first.seq
            self.inferred = False
        else:
            # Mid-stream or refused without the SYN: the lower port serves.
            lo, hi = sorted([(first.sport, first.a), (first.dport, first.b)])
            self.server, self.client = lo[1], hi[1]
            self.isn = None
            self.inferred = True

    def role(self, p):
        return "client" if p.a == self.client else "server"

    def resets(self):
        out = []
        for p in self.pkts:
            if not p.flags & RST:
                continue
            out.append({
                "frame": p.frame, "from": p.a, "sender": self.role(p), "flags": p.flagstr(),
                "form": reset_form(p), "seq": p.seq, "ack": p.ack, "window": p.win,
                "ttl": p.ttl, "ip_id": p.ipid, "df": p.df, "options_len": p.optlen,
                "ttl_of_sender_other_packets": sorted({q.ttl for q in self.pkts
                                                       if q.a == p.a and not q.flags & RST}),
            })
        return out

    def summary(self):
        """Facts of the wire that the truth records for each flow."""
        per = {"client": {}, "server": {}}
        for role in per:
            mine = [p for p in self.pkts if self.role(p) == role]
            per[role] = {
                "packets": len(mine),
                "payload_bytes": sum(p.paylen for p in mine),
                "syn": sum(1 for p in mine if p.flags & SYN),
                "fin": sum(1 for p in mine if p.flags & FIN),
                "rst": sum(1 for p in mine if p.flags & RST),
                "zero_window": sum(1 for p in mine
                                   if p.win == 0 and not p.flags & (SYN | FIN | RST)),
                "first_fin_frame": next((p.frame for p in mine if p.flags & FIN), None),
            }
        return per


def reset_form(p):
    """Which Linux code path a RST's form fits (analysis spec §5.2)."""
    if p.ipid == 0 and p.win == 0 and p.optlen == 0 and p.df:
        return "stateless"
    if p.flags & ACK and p.win != 0:
        return "socket"
    return "other"


def flows(pkts):
    """Group segments into connections in order of their first packet."""
    live, out = {}, []
    for p in pkts:
        key = frozenset((p.a, p.b))
        f = live.get(key)
        pure_syn = p.flags & SYN and not p.flags & ACK
        if f is None or (pure_syn and p.seq != f.isn):
            f = Flow(p)
            live[key] = f
            out.append(f)
            continue
        f.pkts.append(p)
    for f in out:
        f.capture_end = pkts[-1].ts  # the capture's clock, for "until the end" figures
    return out
