#!/usr/bin/env python3
"""bench/lib/drain-engine.py SOCKET: the floor of the classic builder API.

A stub Engine API on a unix socket that answers /_ping and, for POST
/build, reads the context the docker CLI sends (chunked), drops it, and
answers with a fixed image ID: what `docker build` costs the client and the
socket when the server does nothing at all. Not a test double: only
bench/engine.sh uses it, to show that floor beside hoist engine's figures.
"""
import os
import socket
import sys

path = sys.argv[1]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
srv.listen(16)
ID = b"sha256:" + b"0" * 64
while True:
    conn, _ = srv.accept()
    f = conn.makefile("rb", buffering=1 << 20)
    request = f.readline()
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if b"/build" in request and headers.get("transfer-encoding") == "chunked":
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                f.readline()
                break
            f.read(size)
            f.readline()
        body = b'{"aux":{"ID":"' + ID + b'"}}\r\n{"stream":"' + ID + b'\\n"}\r\n'
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    else:
        body = b"OK"
        head = b"HTTP/1.1 200 OK\r\nAPI-Version: 1.47\r\nContent-Type: text/plain\r\n"
    conn.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    conn.close()
