#!/usr/bin/env python3
"""An independent implementation of the sigstore encrypted key format, for
tests: PyNaCl's secretbox and hashlib's scrypt (not hoist's libsodium and
OpenSSL calls), the `cryptography` package for the keys.

  cosign_keys.py open KEYFILE PASSPHRASE OUT_PEM    decrypt to a PKCS#8 PEM
  cosign_keys.py seal IN_PEM PASSPHRASE N LABEL OUT write an encrypted key
  cosign_keys.py pub IN_PEM OUT_PUB                 the PKIX public key PEM
"""
import base64
import hashlib
import json
import os
import sys

import nacl.secret
from cryptography.hazmat.primitives import serialization


def pem_body(text):
    lines = text.strip().splitlines()
    label = lines[0][len("-----BEGIN "):-len("-----")]
    return label, base64.b64decode("".join(lines[1:-1]))


def scrypt(passphrase, salt, n, r, p):
    return hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=256 << 20, dklen=32)


def open_key(path, passphrase, out):
    label, body = pem_body(open(path).read())
    assert label in ("ENCRYPTED COSIGN PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY"), label
    doc = json.loads(body)
    assert doc["kdf"]["name"] == "scrypt" and doc["cipher"]["name"] == "nacl/secretbox"
    prm = doc["kdf"]["params"]
    key = scrypt(passphrase, base64.b64decode(doc["kdf"]["salt"]), prm["N"], prm["r"], prm["p"])
    der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(doc["ciphertext"]),
                                             base64.b64decode(doc["cipher"]["nonce"]))
    k = serialization.load_der_private_key(der, password=None)
    open(out, "wb").write(k.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))


def seal_key(in_pem, passphrase, n, label, out):
    k = serialization.load_pem_private_key(open(in_pem, "rb").read(), password=None)
    der = k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    box = nacl.secret.SecretBox(scrypt(passphrase, salt, n, 8, 1)).encrypt(der, nonce).ciphertext
    doc = {"kdf": {"name": "scrypt", "params": {"N": n, "r": 8, "p": 1},
                   "salt": base64.b64encode(salt).decode()},
           "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
           "ciphertext": base64.b64encode(box).decode()}
    b64 = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    open(out, "w").write("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label))


def public(in_pem, out):
    k = serialization.load_pem_private_key(open(in_pem, "rb").read(), password=None)
    open(out, "wb").write(k.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "open":
        open_key(*args)
    elif cmd == "seal":
        seal_key(args[0], args[1], int(args[2]), args[3], args[4])
    elif cmd == "pub":
        public(*args)
    else:
        sys.exit("unknown command " + cmd)
