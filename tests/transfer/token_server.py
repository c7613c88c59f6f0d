#!/usr/bin/env python3
"""token_server.py PORT_FILE KEY_PEM CERT_PEM LOG [CONTROL]

A Docker token server (distribution's "token" auth) on 127.0.0.1, port 0:
GET /token?service=&scope=... answers {"token", "access_token",
"expires_in"} with an RS256 JWT that docker-registry (2.8) verifies via the
x5c header against its rootcertbundle (CERT_PEM).

Accounts: alice / wonderland. With good Basic credentials every action
asked for is granted; anonymous requests get "pull" on public/* only;
wrong credentials get 401. When the file CONTROL holds a number N > 0,
the next N tokens issued are already expired (while claiming expires_in
300), so a client has to notice the registry's 401 and fetch again. Each request appends one line
to LOG. Writes the bound port to PORT_FILE. Stops on SIGTERM.
"""
import base64, json, signal, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

port_file, key_pem, cert_pem, log_path = sys.argv[1:5]
control = sys.argv[5] if len(sys.argv) > 5 else ""
USERS = {"alice": "wonderland"}
ISSUER, SERVICE = "hoist-test-issuer", "hoist-test"

key = serialization.load_pem_private_key(open(key_pem, "rb").read(), password=None)
cert = x509.load_pem_x509_certificate(open(cert_pem, "rb").read())
x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
lock = threading.Lock()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if USERS.get(u) != p:
                self.log("401", u, q)
                return self.reply(401, {"details": "bad credentials"},
                                  {"WWW-Authenticate": 'Basic realm="token"'})
            user = u
        access = []
        for scope in q.get("scope", []):
            for s in scope.split(" "):
                parts = s.split(":")
                if len(parts) < 3:
                    continue
                typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
                if user is None:
                    actions = [a for a in actions if a == "pull" and name.startswith("public/")]
                access.append({"type": typ, "name": name, "actions": actions})
        now = int(time.time())
        with lock:
            try:
                left = int(open(control).read().strip() or 0) if control else 0
            except (OSError, ValueError):
                left = 0
            expired = left > 0
            if expired:
                with open(control, "w") as f:
                    f.write(str(left - 1))
        exp = now - 3600 if expired else now + 300
        claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": exp,
                  "nbf": now - 3700, "iat": now - 3700, "jti": str(time.time_ns()), "access": access}
        token = sign(claims)
        self.log("200" + (" expired" if expired else ""), user, q)
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300})

    def log(self, status, user, q):
        with lock, open(log_path, "a") as f:
            f.write(f"token {status} account={user or '-'} scope={' '.join(q.get('scope', []))}\n")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
