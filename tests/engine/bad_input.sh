#!/usr/bin/env bash
# Bad input: a missing context file, COPY ../file (clamped to the context
# root as BuildKit does, so "/file" is what is missing there), an
# unknown stage, an unknown --chown user, a failing RUN (its exit code and
# output tail), a
# corrupt base layer and a base blob corrupted in the registry — each a
# clear error naming the Dockerfile line, exit 1, nothing pushed. Usage
# errors exit 2.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

start_registry
push_base
cp -a "$BUILD_TESTDATA/bad" "$T/ctx"
printf 'outside the context\n' >"$T/outside.txt"

# bad NAME LINE TEXT [BASE]: building Dockerfile.NAME fails with exit 1,
# its error names Dockerfile.NAME:LINE and contains TEXT, and the
# repository bad/NAME does not exist.
bad() {
  local name=$1 line=$2 text=$3 base=${4:-$BASE} rc=0
  "$HOIST" build --progress plain -f "$T/ctx/Dockerfile.$name" --build-arg "BASE=$base" \
    -t "$REG/bad/$name:1" --push "$T/ctx" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
  expect "exit code for $name" "$rc" 1
  grep -q "Dockerfile.$name:$line:" "$T/$name.err" ||
    { cat "$T/$name.err" >&2; fail "$name: the error does not name line $line"; }
  grep -qF -- "$text" "$T/$name.err" || { cat "$T/$name.err" >&2; fail "$name: the error lacks '$text'"; }
  [ ! -s "$T/$name.out" ] || fail "$name: printed a digest: $(cat "$T/$name.out")"
  expect "$name: tags pushed" "$(http_code "http://$REG/v2/bad/$name/tags/list")" 404
  log "$name: $(grep -m1 "Dockerfile.$name:$line:" "$T/$name.err")"
}

bad missing 4 "missing.txt"
bad outside 4 '"/outside.txt": not found'
bad unknown-stage 6 'no stage or image named "biuld"'
bad bad-chown 3 "nosuchuser"
bad run 4 'process "/bin/sh -c echo \"first line of output\"; echo \"the reason it failed\" >&2; exit 3" did not complete successfully: exit code: 3'
grep -qF "> the reason it failed" "$T/run.err" || { cat "$T/run.err" >&2; fail "run: the output tail is not in the error"; }

# A base image whose layer is not a tar (valid gzip, right digest).
python3 - "$T/corrupt-layout" <<'PY'
import gzip, hashlib, json, os, sys
out = sys.argv[1]
os.makedirs(out + "/blobs/sha256")
def put(b):
    h = hashlib.sha256(b).hexdigest()
    open(out + "/blobs/sha256/" + h, "wb").write(b)
    return {"digest": "sha256:" + h, "size": len(b)}
raw = b"this is not a tar archive, just text " * 40
layer = put(gzip.compress(raw, mtime=0))
cfg = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}).encode())
man = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
                      "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]}).encode())
json.dump({"schemaVersion": 2, "manifests": [dict(man, mediaType="application/vnd.oci.image.manifest.v1+json",
           annotations={"org.opencontainers.image.ref.name": "1"})]}, open(out + "/index.json", "w"))
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
"$HOIST" copy --quiet "oci:$T/corrupt-layout:1" "$REG/base/corrupt:1" >/dev/null || fail "push of the corrupt base failed"
bad corrupt-base 3 "layer sha256:" "$REG/base/corrupt:1"

# A base blob whose bytes the registry no longer serves right: the pull
# fails verification, naming the FROM line.
"$HOIST" copy --quiet "oci:$T/base-layout:1" "$REG/base/tampered:1" >/dev/null
layer=$(jq -r '.layers[0].digest' "$(layout_blob "$T/base-layout" "$(layout_digest "$T/base-layout" 1)")")
data=$(registry_blob_data "$T/registry" "$layer")
[ -f "$data" ] || fail "no blob file $data"
export HOIST_HOME="$T/hoist-home-2"  # an empty store: the pull must fetch the blob
printf 'tampered' | dd of="$data" bs=1 seek=100 conv=notrunc status=none
bad corrupt-base 2 "sha256" "$REG/base/tampered:1"

# Usage errors: exit 2, nothing built.
usage() {
  local rc=0
  "$HOIST" build "$@" >/dev/null 2>"$T/usage.err" || rc=$?
  expect "exit code of hoist build $*" "$rc" 2
}
usage --push "$T/ctx"
usage --compression lz4 -t "$REG/bad/x:1" "$T/ctx"
usage --compression-level 42 "$T/ctx"
usage --output "$REG/bad/x:1" "$T/ctx"
usage --progress fancy "$T/ctx"
usage --platform linux/amd64,linux/arm64 "$T/ctx"
usage --source-date-epoch yesterday "$T/ctx"
usage "$T/no-such-context"
usage -f "$T/ctx/Dockerfile.none" "$T/ctx"
expect "catalog after all failures" "$(curl -s "http://$REG/v2/_catalog" | jq -c .repositories)" \
  '["base/busybox","base/corrupt","base/tampered"]'
log "OK"
