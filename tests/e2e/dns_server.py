#!/usr/bin/env python3
"""A small authoritative DNS server for the large-answer tests (issue 9), over UDP and TCP.

    dns_server.py BIND PORT

It answers A and AAAA questions for a few fixed names with many records each, written by hand
here so that the test controls every octet (dnsmasq reorders and caps what it sends):

    a<N>.many.test     A     N records, N in 1..1000 (addresses from the documentation ranges)
    aaaa<N>.many.test  AAAA  N records, N in 1..2300 (2001:db8:6::/48; 2300 fill 64 KiB)

Owner names are compressed to the question (RFC 1035 §4.1.4). Over UDP, the answer is sent whole
when it fits the client's EDNS(0) UDP size (512 without EDNS), however large: a 16 KiB datagram
leaves in IP fragments. When it does not fit, the response has TC set and no answers (RFC 2181
§9), so the client retries over TCP. The same names under whole.test instead of many.test are
always sent whole over UDP, up to 64 KiB, whatever the client advertised (dig 9.18 asks for
1232 when told more than 16384; with +ignore it takes what comes). Every other name is NXDOMAIN. Prints one JSON line when
ready, then serves until killed.
"""
import json
import os
import socket
import struct
import sys
import threading

TTL = 300


def a_addresses(n):
    """N IPv4 addresses from the three documentation /24s (RFC 5737). Only 767 of them are
    used before the last: the first N-1 cycle over them, and the last, 198.51.100.200, appears
    only at position N, so a name learnt for it proves the whole answer was read."""
    pool = ["192.0.2.%d" % i for i in range(3, 255)]
    pool += ["198.51.100.%d" % i for i in range(3, 255) if i != 200]
    pool += ["203.0.113.%d" % i for i in range(1, 255)]
    return [pool[i % len(pool)] for i in range(n - 1)] + ["198.51.100.200"]


def aaaa_addresses(n):
    return ["2001:db8:6::%x" % (i + 1) for i in range(n)]


def records_for(qname, qtype):
    """(rtype, [rdata]) for a question, or None for NXDOMAIN."""
    labels = qname.lower().split(".")
    if len(labels) != 3 or labels[1:] not in (["many", "test"], ["whole", "test"]):
        return None
    head = labels[0]
    try:
        if head.startswith("aaaa"):
            n = int(head[4:])
            if not 1 <= n <= 2300:
                return None
            return 28, ([socket.inet_pton(socket.AF_INET6, a) for a in aaaa_addresses(n)]
                        if qtype == 28 else [])
        if head.startswith("a"):
            n = int(head[1:])
            if not 1 <= n <= 1000:
                return None
            return 1, ([socket.inet_aton(a) for a in a_addresses(n)] if qtype == 1 else [])
    except ValueError:
        return None
    return None


def parse_question(msg):
    """(id, flags, qname, qtype, qend, edns_size or None) of a query."""
    qid, flags, qd, an, ns, ar = struct.unpack("!6H", msg[:12])
    pos, labels = 12, []
    while msg[pos]:
        n = msg[pos]
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii"))
        pos += 1 + n
    pos += 1
    qtype, _qclass = struct.unpack("!HH", msg[pos:pos + 4])
    qend = pos + 4
    edns = None
    if ar and len(msg) >= qend + 11 and msg[qend] == 0 and msg[qend + 1:qend + 3] == b"\x00\x29":
        edns = struct.unpack("!H", msg[qend + 3:qend + 5])[0]
    return qid, flags, ".".join(labels), qtype, qend, edns


def response(msg, udp):
    qid, flags, qname, qtype, qend, edns = parse_question(msg)
    found = records_for(qname, qtype)
    rd = flags & 0x0100
    question = msg[12:qend]
    opt = b"\x00\x00\x29" + struct.pack("!HIH", 4096, 0, 0) if edns is not None else b""
    if found is None:
        return struct.pack("!6H", qid, 0x8400 | rd | 3, 1, 0, 0, 1 if opt else 0) + question + opt
    rtype, rdatas = found
    answers = b"".join(struct.pack("!HHHIH", 0xc00c, rtype, 1, TTL, len(r)) + r for r in rdatas)
    whole = (struct.pack("!6H", qid, 0x8400 | rd, 1, len(rdatas), 0, 1 if opt else 0)
             + question + answers + opt)
    limit = 65535 if qname.lower().endswith(".whole.test") else max(512, edns or 512)
    if udp and len(whole) > limit:
        return struct.pack("!6H", qid, 0x8600 | rd, 1, 0, 0, 1 if opt else 0) + question + opt
    return whole


def serve_udp(sock):
    while True:
        msg, peer = sock.recvfrom(65535)
        try:
            sock.sendto(response(msg, True), peer)
        except (IndexError, struct.error, UnicodeDecodeError):
            pass


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def serve_tcp_conn(conn):
    with conn:
        while True:
            hdr = recv_exact(conn, 2)
            if hdr is None:
                return
            msg = recv_exact(conn, struct.unpack("!H", hdr)[0])
            if msg is None:
                return
            out = response(msg, False)
            conn.sendall(struct.pack("!H", len(out)) + out)


def serve_tcp(sock):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


def main():
    bind, port = sys.argv[1], int(sys.argv[2])
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    udp.bind((bind, port))
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((bind, port))
    tcp.listen(16)
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    print(json.dumps({"pid": os.getpid(), "ready": True}), flush=True)
    serve_tcp(tcp)


if __name__ == "__main__":
    main()
