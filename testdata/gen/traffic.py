#!/usr/bin/env python3
"""Real kernel TCP traffic for connscope's capture fixtures.

  traffic.py serve ADDR PORT        accept connections until killed
  traffic.py talk ADDR PORT REFUSED run the client scenarios, then exit

The server answers each line with "ok <n>\\n"; the line "reset" makes it
close with SO_LINGER 0 (an abortive close: RST from ESTABLISHED).

Client scenarios, in order:
  1. handshake, three request/answer exchanges (one bigger than an
     Ethernet MTU, so it spans several segments), then a FIN close;
  2. a connection to REFUSED, where nothing listens (SYN answered by RST);
  3. a connection the server resets after one exchange.
Standard library only.
"""
import socket
import struct
import sys
import threading
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def handle(conn):
    with conn:
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return  # peer closed: close our side too (FIN)
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line == b"reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    return
                conn.sendall(b"ok %d\n" % len(line))


def serve(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    print("listening", flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def exchange(c, line):
    c.sendall(line + b"\n")
    got = b""
    while not got.endswith(b"\n"):
        data = c.recv(4096)
        if not data:
            break
        got += data
    return got


def talk(addr, port, refused):
    fam = family(addr)
    with socket.create_connection((addr, port)) as c:
        for line in (b"hello", b"x" * 3000, b"bye"):
            exchange(c, line)
            time.sleep(0.01)
    time.sleep(0.05)
    try:
        socket.create_connection((addr, refused), timeout=2).close()
        sys.exit("connection to the refused port succeeded")
    except ConnectionRefusedError:
        pass
    time.sleep(0.05)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.connect((addr, port))
    exchange(c, b"one")
    c.sendall(b"reset\n")
    try:
        while c.recv(4096):
            pass
    except ConnectionResetError:
        pass
    c.close()
    time.sleep(0.1)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "talk":
        talk(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
