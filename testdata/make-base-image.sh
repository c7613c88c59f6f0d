#!/usr/bin/env bash
# make-base-image.sh [--platforms LIST] OUTDIR [TAG]
#
# Builds, offline, a tiny busybox base image as an OCI image layout directory
# (oci-layout, index.json, blobs/sha256/...) from Debian's busybox-static:
#   - one gzip layer: /bin/busybox + applet symlinks, /etc/passwd, /etc/group, /tmp
#   - config: Env PATH, Cmd ["sh"], os linux, the platform's architecture
# The tar and gzip are byte-for-byte reproducible (mtime 0, uid/gid 0, sorted
# entries), so the digests only change when busybox-static changes.
#
# --platforms LIST   comma-separated os/arch[/variant] (default linux/amd64).
#   One platform: index.json names the image manifest under TAG.
#   Several: every platform gets its own config blob (and so its own
#   manifest) over the same busybox layer, and index.json names, under TAG,
#   an image index blob that lists them — the shape `skopeo copy --all`
#   reads and writes. The layer holds the host's busybox whatever the
#   platform says: only metadata differs, which is all a registry sees.
#
# Prints one line "manifest <digest> layer <digest> ..." (the digest under
# TAG first). Verifies the result with skopeo (and umoci for one platform)
# when they are present. Installs busybox-static, skopeo, umoci and jq with
# apt-get only when they are missing.
set -euo pipefail

PLATFORMS=linux/amd64
if [ "${1:-}" = --platforms ]; then
  PLATFORMS=${2:?--platforms needs a value}
  shift 2
fi
OUT=${1:?usage: make-base-image.sh [--platforms LIST] OUTDIR [TAG]}
TAG=${2:-latest}

have() { command -v "$1" >/dev/null 2>&1; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
apt_install() {
  [ "$(id -u)" = 0 ] || { echo "make-base-image: $* missing and not root" >&2; return 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
# No pipe into head: under pipefail busybox's SIGPIPE would fail the test
# and start an apt-get that races the dpkg lock with parallel tests.
is_busybox() { local help; help=$(/bin/busybox --help 2>&1 || true); [[ $help == BusyBox* ]]; }
if [ ! -x /bin/busybox ] || ! is_busybox || ! installed busybox-static; then
  apt_install busybox-static
fi
for p in skopeo umoci jq; do
  have "$p" || apt_install "$p" || true
done

rm -rf "$OUT"
mkdir -p "$OUT"

python3 - "$OUT" "$TAG" "$PLATFORMS" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile

out, tag, platforms = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
applets = ["sh", "ls", "cat", "echo", "mkdir", "cp", "rm", "wget", "sed", "grep",
           "tar", "gzip", "env", "id", "true", "false", "sleep",
           "mv", "ln", "chmod", "touch", "head", "tail", "wc", "find", "xargs",
           "sort", "uniq", "dd", "test", "[", "printf", "seq", "sha256sum", "du"]

def ti(name, typ=tarfile.REGTYPE, mode=0o644, size=0, link=""):
    t = tarfile.TarInfo(name)
    t.type, t.mode, t.size, t.linkname = typ, mode, size, link
    t.uid = t.gid = 0
    t.uname = t.gname = "root"
    t.mtime = 0
    return t

entries = []  # (TarInfo, bytes|None)
for d, m in [("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777),
             ("usr", 0o755), ("usr/bin", 0o755), ("var", 0o755), ("home", 0o755)]:
    entries.append((ti(d + "/", tarfile.DIRTYPE, m), None))
bb = open("/bin/busybox", "rb").read()
entries.append((ti("bin/busybox", mode=0o755, size=len(bb)), bb))
for a in sorted(applets):
    entries.append((ti("bin/" + a, tarfile.SYMTYPE, 0o777, link="busybox"), None))
passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
group = b"root:x:0:\nnogroup:x:65534:\n"
for n, data in [("etc/passwd", passwd), ("etc/group", group)]:
    entries.append((ti(n, size=len(data)), data))
entries.sort(key=lambda e: e[0].name)

raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
    for t, data in entries:
        tf.addfile(t, io.BytesIO(data) if data is not None else None)
tarbytes = raw.getvalue()
gzbuf = io.BytesIO()
with gzip.GzipFile(fileobj=gzbuf, mode="wb", compresslevel=6, mtime=0, filename="") as g:
    g.write(tarbytes)
gzbytes = gzbuf.getvalue()

blobdir = os.path.join(out, "blobs", "sha256")
os.makedirs(blobdir, exist_ok=True)
def put(b):
    h = hashlib.sha256(b).hexdigest()
    with open(os.path.join(blobdir, h), "wb") as f:
        f.write(b)
    return "sha256:" + h, len(b)

def canon(o):
    return json.dumps(o, separators=(",", ":"), sort_keys=True).encode()

def parse_platform(s):
    parts = s.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        sys.exit("make-base-image: bad platform %r (want os/arch[/variant])" % s)
    p = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        p["variant"] = parts[2]
    return p

layer_digest, layer_size = put(gzbytes)
diff_id = "sha256:" + hashlib.sha256(tarbytes).hexdigest()
created = "1970-01-01T00:00:00Z"

def image(platform):
    config = dict(platform)
    config.update({
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created,
                     "created_by": "make-base-image.sh: busybox-static rootfs"}],
    })
    cfg_digest, cfg_size = put(canon(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg_digest, "size": cfg_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer_digest, "size": layer_size}],
    }
    d, n = put(canon(manifest))
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": d, "size": n, "platform": platform}

children = [image(parse_platform(p)) for p in platforms]
if len(children) == 1:
    top = children[0]
else:
    index = {"schemaVersion": 2,
             "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": children}
    d, n = put(canon(index))
    top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": n}
top = dict(top, annotations={"org.opencontainers.image.ref.name": tag})
layout_index = {"schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [top]}
with open(os.path.join(out, "index.json"), "wb") as f:
    f.write(canon(layout_index))
with open(os.path.join(out, "oci-layout"), "wb") as f:
    f.write(canon({"imageLayoutVersion": "1.0.0"}))
print("manifest %s layer %s (%d bytes gz, %d bytes tar)%s" % (
    top["digest"], layer_digest, layer_size, len(tarbytes),
    "".join(" %s/%s=%s" % (c["platform"]["os"], c["platform"]["architecture"], c["digest"])
            for c in children) if len(children) > 1 else ""))
PY

# --- verification ---------------------------------------------------------
ok=1
if have skopeo; then
  if [[ $PLATFORMS == *,* ]]; then
    raw=$(skopeo inspect --raw "oci:$OUT:$TAG") || ok=0
    [ "$(jq -r '.manifests | length' <<<"${raw:-{\}}")" = "$(tr ',' '\n' <<<"$PLATFORMS" | wc -l)" ] || ok=0
    for p in ${PLATFORMS//,/ }; do
      arch=$(cut -d/ -f2 <<<"$p")
      got=$(skopeo --override-arch "$arch" inspect "oci:$OUT:$TAG" | jq -r .Architecture) || ok=0
      [ "$got" = "$arch" ] || ok=0
    done
  else
    skopeo inspect "oci:$OUT:$TAG" | jq -c '{Architecture,Os,Layers}' || ok=0
  fi
fi
if have umoci && [[ $PLATFORMS != *,* ]]; then
  umoci stat --image "$OUT:$TAG" >/dev/null || ok=0
fi
[ $ok = 1 ] || { echo "make-base-image: verification FAILED" >&2; exit 1; }
echo "make-base-image: OK -> oci:$OUT:$TAG"
