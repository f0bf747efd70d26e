"""relay.py: the router's hand on a connection's FIN, for the keep-alive
race orderings that depend on where the server's FIN is when the client's
request leaves.

Run by lab.py in the router namespace with one JSON argument:

    {"client_if": "c0", "server_if": "s0", "client_mac": "aa:..",
     "server": "10.77.2.2", "client": "10.77.1.2",
     "flows": [{"sport": 8080, "dport": 40002, "release": "on-client-data"},
               {"sport": 8080, "dport": 40003, "release": "after-server-data", "after_s": 2.056}]}

For each listed flow the router's own forwarding of server-to-client
segments is dropped by nftables (lab.py adds the rule), and this program
forwards them instead, through AF_PACKET sockets, exactly as the kernel
would (TTL - 1, checksums recomputed, MACs of the client link). It
forwards at once until the server's first FIN; from the FIN on it holds
the flow's segments and releases them in order:

  on-client-data     when the client's next data segment of the flow passes
                     the router (the request and the FIN then cross);
  after-server-data  at a fixed time after the server's last data segment
                     before the FIN (a FIN delayed on its way).

It prints JSON events (ready, held, released) with their times, and ends
when stdin closes or says "exit". Standard library only.
"""

import json
import select
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
PACKET_HOST = 0
FIN = 0x01


def emit(ev, **kw):
    kw["ev"], kw["t"] = ev, time.time()
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def parse(frame):
    """(src, dst, sport, dport, flags, paylen) of an IPv4/TCP frame, or None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    if ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    tcp = ip[ihl:]
    sport, dport = struct.unpack_from("!HH", tcp, 0)
    doff = (tcp[12] >> 4) * 4
    return (socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), sport, dport, tcp[13],
            total - ihl - doff)


def forward(frame, src_mac, dst_mac):
    """The frame as the router's IP forwarding would send it on: new MACs,
    TTL - 1, IP and TCP checksums computed (the veth may have left the TCP
    checksum to an offload that a packet socket does not perform)."""
    ip = bytearray(frame[14:])
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    ip = ip[:total]
    ip[8] -= 1
    ip[10:12] = b"\0\0"
    ip[10:12] = struct.pack("!H", csum(bytes(ip[:ihl])))
    tcp = bytearray(ip[ihl:])
    tcp[16:18] = b"\0\0"
    pseudo = bytes(ip[12:20]) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp[16:18] = struct.pack("!H", csum(pseudo + bytes(tcp)))
    return dst_mac + src_mac + b"\x08\x00" + bytes(ip[:ihl]) + bytes(tcp)


def main():
    cfg = json.loads(sys.argv[1])
    with open("/sys/class/net/%s/address" % cfg["client_if"]) as f:
        c0_mac = mac(f.read().strip())
    cli_mac = mac(cfg["client_mac"])
    srv_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    srv_sock.bind((cfg["server_if"], 0))
    cli_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    cli_sock.bind((cfg["client_if"], 0))
    flows = {f["dport"]: dict(f, state="pass", queue=[], last_data=None, release_at=None)
             for f in cfg["flows"]}
    emit("ready", pid=__import__("os").getpid())

    def release(fl, why):
        for fr in fl["queue"]:
            cli_sock.send(fr)
        emit("released", dport=fl["dport"], segments=len(fl["queue"]), why=why)
        fl["queue"], fl["state"] = [], "passed"

    while True:
        timeout = None
        pending = [f["release_at"] for f in flows.values() if f["state"] == "hold" and f["release_at"]]
        if pending:
            timeout = max(0.0, min(pending) - time.time())
        r, _, _ = select.select([srv_sock, cli_sock, sys.stdin], [], [], timeout)
        for fl in flows.values():
            if fl["state"] == "hold" and fl["release_at"] and time.time() >= fl["release_at"]:
                release(fl, "timer")
        if sys.stdin in r:
            line = sys.stdin.readline()
            if not line or line.strip() == "exit":
                return
        if srv_sock in r:
            frame, addr = srv_sock.recvfrom(65535)
            p = parse(frame) if addr[2] == PACKET_HOST else None
            if p and p[0] == cfg["server"] and p[3] in flows and p[2] == flows[p[3]]["sport"]:
                fl = flows[p[3]]
                out = forward(frame, c0_mac, cli_mac)
                if fl["state"] == "pass" and p[4] & FIN:
                    fl["state"] = "hold"
                    if fl["release"] == "after-server-data" and fl["last_data"] is not None:
                        fl["release_at"] = fl["last_data"] + fl["after_s"]
                    emit("held", dport=p[3], release_at=fl["release_at"])
                if fl["state"] == "hold":
                    fl["queue"].append(out)
                else:
                    if p[5] > 0:
                        fl["last_data"] = time.time()
                    cli_sock.send(out)
        if cli_sock in r:
            frame, addr = cli_sock.recvfrom(65535)
            p = parse(frame) if addr[2] == PACKET_HOST else None
            if p and p[0] == cfg["client"] and p[2] in flows and p[5] > 0:
                fl = flows[p[2]]
                if fl["state"] == "hold" and fl["release"] == "on-client-data":
                    release(fl, "client data passed")


if __name__ == "__main__":
    main()
