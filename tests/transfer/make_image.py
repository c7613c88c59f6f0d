#!/usr/bin/env python3
"""make_image.py OUTDIR TAG SIZE_KIB[,SIZE_KIB...] [SEED]

Writes, offline, an OCI image layout whose image TAG has one gzip layer per
size given (a tar holding one file of that many KiB of seeded random
bytes), an OCI config and manifest. Same arguments, same digests.
Prints the manifest digest.
"""
import gzip, hashlib, io, json, os, random, sys, tarfile

out, tag, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")]
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
rng = random.Random(seed)
blobdir = os.path.join(out, "blobs", "sha256")
os.makedirs(blobdir, exist_ok=True)


def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobdir, h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)


def canon(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True).encode()


layers, diff_ids = [], []
for i, kib in enumerate(sizes):
    payload = rng.randbytes(kib * 1024)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo(f"data/layer{i}.bin")
        ti.size, ti.mtime, ti.mode = len(payload), 0, 0o644
        tf.addfile(ti, io.BytesIO(payload))
    tarbytes = raw.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(tarbytes).hexdigest())
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", compresslevel=1, mtime=0, filename="") as g:
        g.write(tarbytes)
    d, n = put(gz.getvalue())
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})

config = {"created": "1970-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
          "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"made.by": "make_image.py"}},
          "rootfs": {"type": "layers", "diff_ids": diff_ids}}
cd, cn = put(canon(config))
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
            "layers": layers}
md, mn = put(canon(manifest))
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                        "size": mn, "annotations": {"org.opencontainers.image.ref.name": tag}}]}
with open(os.path.join(out, "index.json"), "wb") as f:
    f.write(canon(index))
with open(os.path.join(out, "oci-layout"), "wb") as f:
    f.write(canon({"imageLayoutVersion": "1.0.0"}))
print(md)
