#!/usr/bin/env python3
"""fault_proxy.py PORT_FILE UPSTREAM LOG [options]

A reverse proxy on 127.0.0.1 (port 0) in front of the registry at
UPSTREAM (host:port) that misbehaves on purpose, within bounds:

  --seed N          random seed (default 1)
  --rate P          chance that a request gets a fault (default 0.3)
  --drops N         at most N blob GETs cut off after part of their body
  --upload-drops N  at most N PATCH uploads cut off after part of their body
  --statuses N      at most N requests answered 503 or 429 (Retry-After 0 or 1)
  --corrupt DIGEST  every GET of this blob has one byte flipped
  --redirect-blobs  every GET and HEAD of a blob is answered 307, as
                    registries serving blobs from storage do: in turn to
                    the registry itself (another origin) and back here by a
                    relative reference (marked ?redirected=1)

Each fault and each Range request is appended to LOG as one line. Writes
the bound port to PORT_FILE; stops on SIGTERM. Request bodies are
expected with Content-Length (as hoist sends them).
"""
import argparse, http.client, os, random, re, signal, socket, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("port_file")
ap.add_argument("upstream")
ap.add_argument("log")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--rate", type=float, default=0.3)
ap.add_argument("--drops", type=int, default=0)
ap.add_argument("--upload-drops", type=int, default=0)
ap.add_argument("--statuses", type=int, default=0)
ap.add_argument("--corrupt", default="")
ap.add_argument("--redirect-blobs", action="store_true")
args = ap.parse_args()

rng = random.Random(args.seed)
lock = threading.Lock()
budget = {"drops": args.drops, "upload-drops": args.upload_drops, "statuses": args.statuses}
redirects = [0]
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
BLOB_GET = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$")


def log(line):
    with lock, open(args.log, "a") as f:
        f.write(line + "\n")


def take(kind):
    with lock:
        if budget[kind] > 0 and rng.random() < args.rate:
            budget[kind] -= 1
            return True
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def body_len(self):
        return int(self.headers.get("Content-Length") or 0)

    def handle_any(self):
        method, path = self.command, self.path
        n = self.body_len()
        if take("statuses"):
            self.rfile.read(n)
            code = rng.choice([503, 429])
            retry = rng.choice(["0", "1"])
            log(f"status {code} retry-after={retry} {method} {path}")
            self.send_response(code)
            self.send_header("Retry-After", retry)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        blob = BLOB_GET.match(path.split("?")[0])
        if args.redirect_blobs and blob and method in ("GET", "HEAD") and "redirected=1" not in path:
            with lock:
                redirects[0] += 1
                away = redirects[0] % 2 == 1
            loc = f"http://{args.upstream}{path}" if away else f"./{blob.group(1)}?redirected=1"
            self.rfile.read(n)
            log(f"redirect {method} {path} -> {loc}")
            self.send_response(307)
            self.send_header("Location", loc)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "redirected=1" in path:
            log(f"redirected {method} {path}")
        up = http.client.HTTPConnection(args.upstream, timeout=60)
        up.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in HOP:
                up.putheader(k, v)
        up.endheaders()
        if "Range" in self.headers:
            log(f"range {self.headers['Range']} {path}")
        cut = rng.randint(1, n - 1) if method == "PATCH" and n > 1 and take("upload-drops") else -1
        left = n
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            if 0 <= cut < n - left + len(chunk):
                log(f"drop upload {method} {path} after {cut} of {n} bytes")
                up.close()
                return self.drop()
            up.send(chunk)
            left -= len(chunk)
        resp = up.getresponse()
        m = BLOB_GET.match(path.split("?")[0]) if method == "GET" else None
        self.send_response(resp.status, resp.reason)
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP]
        length = resp.getheader("Content-Length")
        if method == "HEAD" or resp.status in (204, 304):
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            up.close()
            return
        if length is None:  # upstream chunked: buffer (small JSON bodies only)
            data = resp.read()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(data))))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            up.close()
            return
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        total = int(length)
        cut = rng.randint(1, total - 1) if m and resp.status in (200, 206) and total > 1 and take("drops") else -1
        flip = total // 2 if m and args.corrupt and m.group(1) == args.corrupt else -1
        if flip >= 0:
            log(f"corrupt {path}")
        sent = 0
        while sent < total:
            chunk = resp.read(min(total - sent, 1 << 16))
            if not chunk:
                break
            if 0 <= flip - sent < len(chunk):
                b = bytearray(chunk)
                b[flip - sent] ^= 0xFF
                chunk = bytes(b)
            if 0 <= cut < sent + len(chunk):
                self.wfile.write(chunk[: cut - sent])
                self.wfile.flush()
                log(f"drop download {path} after {cut} of {total} bytes")
                up.close()
                return self.drop()
            self.wfile.write(chunk)
            sent += len(chunk)
        up.close()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
