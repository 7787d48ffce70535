#!/usr/bin/env python3
"""Traffic peers for the end-to-end tests: small, deterministic clients and servers.

Every client prints one JSON line on stdout: its pid and the local endpoints it used, so the
test can find its flows in the agent's records. Servers run until killed.
"""
import argparse
import json
import os
import socket
import struct
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def recv_exact(sock, n):
    got = 0
    while got < n:
        chunk = sock.recv(min(65536, n - got))
        if not chunk:
            break
        got += len(chunk)
    return got


def tcp_server(args):
    """Per connection: read a 16-byte header "SEND RECV" sizes, read SEND bytes, answer RECV
    bytes, then close first (so the server side, not the client, holds TIME_WAIT)."""
    srv = socket.socket(family_of(args.bind), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(64)
    print(json.dumps({"pid": os.getpid(), "ready": True}), flush=True)
    while True:
        conn, _ = srv.accept()
        while True:
            hdr = conn.recv(16, socket.MSG_WAITALL)
            if len(hdr) < 16:
                break
            want_in, want_out = int(hdr[:8]), int(hdr[8:])
            recv_exact(conn, want_in)
            conn.sendall(b"s" * want_out)
            if want_out == 0 and want_in == 0:
                break
        conn.close()


def udp_echo(args):
    srv = socket.socket(family_of(args.bind), socket.SOCK_DGRAM)
    srv.bind((args.bind, args.port))
    print(json.dumps({"pid": os.getpid(), "ready": True}), flush=True)
    while True:
        data, peer = srv.recvfrom(65536)
        srv.sendto(data, peer)


def udp_sink(args):
    """Receives and never answers: a silent DNS server."""
    srv = socket.socket(family_of(args.bind), socket.SOCK_DGRAM)
    srv.bind((args.bind, args.port))
    print(json.dumps({"pid": os.getpid(), "ready": True}), flush=True)
    while True:
        srv.recvfrom(65536)


def tcp_client(args):
    """Sends `bursts` requests of (send, recv) bytes over one connection, `gap` seconds apart,
    then a zero request that makes the server close first."""
    s = socket.socket(family_of(args.host), socket.SOCK_STREAM)
    s.settimeout(10)
    if args.sport:
        # a given local port, as a client reusing its port would (SO_REUSEADDR: the earlier
        # connection on it may linger in a closing state)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if ":" in args.host else "0.0.0.0", args.sport))
    refused = None
    if args.refused_first:
        # a connect() the peer refuses first, then the real one on the same socket; blocking,
        # so that the kernel resets the socket for another connect() (a non-blocking one that
        # failed leaves it connecting: ECONNABORTED)
        s.settimeout(None)
        try:
            s.connect((args.host, args.refused_first))
            sys.exit("port %d did not refuse" % args.refused_first)
        except ConnectionRefusedError:
            refused = s.getsockname()[1]
        s.settimeout(10)
    s.connect((args.host, args.port))
    local = s.getsockname()
    for i in range(args.bursts):
        if i:
            time.sleep(args.gap)
        s.sendall(b"%08d%08d" % (args.send, args.recv) + b"c" * args.send)
        if recv_exact(s, args.recv) != args.recv:
            sys.exit("short read")
    if args.abort:
        # an abortive close: SO_LINGER 0 makes close() send an RST instead of a FIN
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        s.sendall(b"%08d%08d" % (0, 0))
        # wait for the server's FIN so this side ends in LAST_ACK, not TIME_WAIT
        s.settimeout(10)
        while s.recv(65536):
            pass
    s.close()
    out = {"pid": os.getpid(), "addr": local[0], "port": local[1]}
    if refused is not None:
        out["refused_port"] = refused
    print(json.dumps(out), flush=True)


def udp_client(args):
    """Sends `count` datagrams of `size` bytes and waits for each echo (unless --no-reply)."""
    s = socket.socket(family_of(args.host), socket.SOCK_DGRAM)
    s.settimeout(5)
    if args.sport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if ":" in args.host else "0.0.0.0", args.sport))
    s.connect((args.host, args.port))
    local = s.getsockname()
    for _ in range(args.count):
        s.send(b"u" * args.size)
        if not args.no_reply:
            s.recv(65536)
        if args.gap:
            time.sleep(args.gap)
    s.close()
    print(json.dumps({"pid": os.getpid(), "addr": local[0], "port": local[1]}), flush=True)


def held_client(args):
    """Opens a TCP connection (unless tcp_port is 0) and a connected UDP socket, prints their ports, then waits for a
    byte on stdin before it uses them: sockets older than whatever starts in between. Then
    `count` requests of (send, recv) bytes on each, a zero request that makes the TCP server
    close first, and a last JSON line. With --fork, a child process holds the same sockets
    during the wait (it exits with them unused). With --unbound, a UDP socket never bound or
    connected is held too, unused."""
    t = None
    if args.tcp_port:  # 0: a UDP socket only
        t = socket.socket(family_of(args.host), socket.SOCK_STREAM)
        t.settimeout(10)
        t.connect((args.host, args.tcp_port))
    u = socket.socket(family_of(args.host), socket.SOCK_DGRAM)
    u.settimeout(5)
    u.connect((args.host, args.udp_port))
    # never bound nor connected: in no socket table, so the walk cannot reach it
    unbound = socket.socket(family_of(args.host), socket.SOCK_DGRAM) if args.unbound else None
    child = 0
    if args.fork:
        child = os.fork()
        if child == 0:
            os.read(0, 1)
            os._exit(0)
    print(json.dumps({"pid": os.getpid(), "child": child,
                      "tcp_port": t.getsockname()[1] if t else 0,
                      "udp_port": u.getsockname()[1]}), flush=True)
    os.read(0, 1)  # one byte each for this process and the child, unbuffered
    for _ in range(args.count):
        if t:
            t.sendall(b"%08d%08d" % (args.send, args.recv) + b"c" * args.send)
            if recv_exact(t, args.recv) != args.recv:
                sys.exit("short read")
        u.send(b"u" * args.send)
        u.recv(65536)
    if t:
        t.sendall(b"%08d%08d" % (0, 0))
        recv_exact(t, 1)  # the server closes first
        t.close()
    u.close()
    if unbound:
        unbound.close()
    if child:
        os.waitpid(child, 0)
    print(json.dumps({"done": True}), flush=True)


def udp_spray(args):
    """One datagram from each of `count` fresh sockets: `count` distinct flows."""
    ports = []
    for _ in range(args.count):
        s = socket.socket(family_of(args.host), socket.SOCK_DGRAM)
        s.sendto(b"x" * args.size, (args.host, args.port))
        ports.append(s.getsockname()[1])
        s.close()
    print(json.dumps({"pid": os.getpid(), "ports": ports}), flush=True)


def udp_burst(args):
    """`count` datagrams from one socket, as fast as Python sends them, no reply awaited."""
    s = socket.socket(family_of(args.host), socket.SOCK_DGRAM)
    s.connect((args.host, args.port))
    payload = b"b" * args.size
    for _ in range(args.count):
        s.send(payload)
    print(json.dumps({"pid": os.getpid(), "port": s.getsockname()[1]}), flush=True)
    s.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("tcp-server")
    a.add_argument("bind")
    a.add_argument("port", type=int)
    a.set_defaults(fn=tcp_server)
    a = sub.add_parser("udp-echo")
    a.add_argument("bind")
    a.add_argument("port", type=int)
    a.set_defaults(fn=udp_echo)
    a = sub.add_parser("udp-sink")
    a.add_argument("bind")
    a.add_argument("port", type=int)
    a.set_defaults(fn=udp_sink)
    a = sub.add_parser("tcp-client")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--send", type=int, default=0)
    a.add_argument("--recv", type=int, default=0)
    a.add_argument("--bursts", type=int, default=1)
    a.add_argument("--gap", type=float, default=0)
    a.add_argument("--sport", type=int, default=0, help="local port (default: any)")
    a.add_argument("--abort", action="store_true", help="end with an RST (SO_LINGER 0)")
    a.add_argument("--refused-first", type=int, default=0, metavar="PORT",
                   help="connect() to this closed port first, on the same socket")
    a.set_defaults(fn=tcp_client)
    a = sub.add_parser("udp-client")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--count", type=int, default=1)
    a.add_argument("--size", type=int, default=100)
    a.add_argument("--no-reply", action="store_true")
    a.add_argument("--gap", type=float, default=0, help="seconds between datagrams")
    a.add_argument("--sport", type=int, default=0, help="local port (default: any)")
    a.set_defaults(fn=udp_client)
    a = sub.add_parser("held-client")
    a.add_argument("host")
    a.add_argument("tcp_port", type=int)
    a.add_argument("udp_port", type=int)
    a.add_argument("--count", type=int, default=3)
    a.add_argument("--send", type=int, default=1000)
    a.add_argument("--recv", type=int, default=2000)
    a.add_argument("--fork", action="store_true")
    a.add_argument("--unbound", action="store_true",
                   help="also hold a UDP socket that is never bound or connected")
    a.set_defaults(fn=held_client)
    a = sub.add_parser("udp-spray")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--count", type=int, default=1)
    a.add_argument("--size", type=int, default=10)
    a.set_defaults(fn=udp_spray)
    a = sub.add_parser("udp-burst")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--count", type=int, default=1)
    a.add_argument("--size", type=int, default=100)
    a.set_defaults(fn=udp_burst)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
