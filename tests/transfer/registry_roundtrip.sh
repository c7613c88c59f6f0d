#!/usr/bin/env bash
# registry_roundtrip: hoist copy/pull/push/inspect/tags/catalog against
# hoist's own registry (two processes), with digests identical end to end:
#   oci -> registry -> registry (other host, then same host: mount) -> oci,
#   oci-archive and docker-archive round trips (skopeo reads both),
#   multi-arch index whole and with --platform, a multi-layer image with
#   --jobs, a second copy that transfers nothing, skopeo inspect agreement,
#   progress output (plain when piped, -q, --json).
# shellcheck source-path=SCRIPTDIR source=xfer_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"

base_images
make_image "$T/layers" v1 1024,3072,512,2048 7
start_hoist "$T/root1"
A1=$HOIST_ADDR
start_hoist "$T/root2"
A2=$HOIST_ADDR
BASE_DIGEST=$(layout_digest "$BASE" latest)
MULTI_DIGEST=$(layout_digest "$MULTI" latest)
LAYERS_DIGEST=$(layout_digest "$T/layers" v1)

log "oci -> registry -> oci"
expect "digest printed by copy" "$(hx copy -q "oci:$BASE:latest" "$A1/test/busybox:1")" "$BASE_DIGEST"
hx copy -q "$A1/test/busybox:1" "oci:$T/o1:x" >/dev/null
compare_layouts "$BASE" latest "$T/o1" x

log "registry -> another registry (streamed), then back"
hx copy -q "docker://$A1/test/busybox:1" "docker://$A2/copy/busybox:1" >/dev/null
sko inspect --raw --tls-verify=false "docker://$A2/copy/busybox:1" >"$T/raw2.json"
cmp -s "$T/raw2.json" "$(layout_blob "$BASE" "$BASE_DIGEST")" || fail "manifest bytes differ on $A2"
hx copy -q "$A2/copy/busybox:1" "oci:$T/o2:x" >/dev/null
compare_layouts "$BASE" latest "$T/o2" x

log "same registry, other repository: blobs are mounted"
hx copy --json "$A1/test/busybox:1" "$A1/mounted/busybox:1" >"$T/mount.jsonl"
jq -e . "$T/mount.jsonl" >/dev/null || fail "--json output is not JSON lines"
expect "mounted blobs" "$(jq -s '[.[] | select(.event == "blob" and .status == "mounted")] | length' "$T/mount.jsonl")" 2
expect "digest in done event" "$(jq -r 'select(.event == "done") | .digest' "$T/mount.jsonl")" "$BASE_DIGEST"

log "a second copy transfers nothing"
hx copy --json "$A1/test/busybox:1" "$A2/copy/busybox:1" >"$T/again.jsonl"
expect "blobs copied the second time" "$(jq -r 'select(.event == "done") | .blobsCopied' "$T/again.jsonl")" 0
expect "bytes copied the second time" "$(jq -r 'select(.event == "done") | .bytesCopied' "$T/again.jsonl")" 0

log "skopeo inspect agrees with hoist inspect"
for ref in "$A1/test/busybox:1" "$A2/copy/busybox:1"; do
  hx inspect "$ref" | jq -S 'del(.LayersData)' >"$T/hi.json"
  sko inspect --tls-verify=false "docker://$ref" | jq -S 'del(.LayersData)' >"$T/si.json"
  diff "$T/hi.json" "$T/si.json" >&2 || fail "inspect of $ref differs from skopeo's"
done
hx inspect --raw "$A1/test/busybox:1" >"$T/raw1.json"
cmp -s "$T/raw1.json" "$(layout_blob "$BASE" "$BASE_DIGEST")" || fail "inspect --raw bytes differ"
CONFIG_DIGEST=$(jq -r .config.digest "$T/raw1.json")
hx inspect --config --raw "$A1/test/busybox:1" >"$T/config.json"
cmp -s "$T/config.json" "$(layout_blob "$BASE" "$CONFIG_DIGEST")" || fail "inspect --config --raw bytes differ"
expect "inspect of an oci layout" "$(hx inspect "oci:$BASE:latest" | jq -r .Digest)" "$BASE_DIGEST"

log "oci-archive round trip"
hx copy -q "$A1/test/busybox:1" "oci-archive:$T/img.oci.tar:v1" >/dev/null
[ -z "$(ls "$T" | grep 'hoist-tmp' || true)" ] || fail "staging left behind"
hx copy -q "oci-archive:$T/img.oci.tar:v1" "$A2/fromarchive/oci:1" >/dev/null
hx copy -q "$A2/fromarchive/oci:1" "oci:$T/o3:x" >/dev/null
compare_layouts "$BASE" latest "$T/o3" x
sko copy -q "oci-archive:$T/img.oci.tar:v1" "oci:$T/o3s:x" || fail "skopeo cannot read hoist's oci-archive"
compare_layouts "$BASE" latest "$T/o3s" x

log "docker-archive round trip"
hx copy -q "$A1/test/busybox:1" "docker-archive:$T/img.docker.tar:busybox:1" >/dev/null
tar -xOf "$T/img.docker.tar" manifest.json >"$T/docker-manifest.json" || fail "no manifest.json in the docker archive"
expect "RepoTags" "$(jq -c '.[0].RepoTags' "$T/docker-manifest.json")" '["busybox:1"]'
expect "Config" "$(jq -r '.[0].Config' "$T/docker-manifest.json")" "blobs/sha256/${CONFIG_DIGEST#sha256:}"
hx copy -q "docker-archive:$T/img.docker.tar" "$A2/fromarchive/docker:1" >/dev/null
hx copy -q "$A2/fromarchive/docker:1" "oci:$T/o4:x" >/dev/null
compare_layouts "$BASE" latest "$T/o4" x
sko copy -q "docker-archive:$T/img.docker.tar" "oci:$T/o4s:x" || fail "skopeo cannot read hoist's docker-archive"
# (skopeo rewrites the config when it converts; the layers' diff IDs, which
# `docker load` checks, must be the same)
SK_CONFIG=$(jq -r .config.digest "$(layout_blob "$T/o4s" "$(layout_digest "$T/o4s" x)")")
expect "diff IDs via skopeo" "$(jq -cS .rootfs "$(layout_blob "$T/o4s" "$SK_CONFIG")")" \
  "$(jq -cS .rootfs "$(layout_blob "$BASE" "$CONFIG_DIGEST")")"
log "a docker-archive written by skopeo (legacy layout) is read"
sko copy -q --src-tls-verify=false "docker://$A1/test/busybox:1" "docker-archive:$T/sk.tar:busybox:sk" ||
  fail "skopeo could not write a docker-archive"
D=$(hx copy -q "docker-archive:$T/sk.tar" "$A2/fromskopeo/busybox:1")
hx inspect "$A2/fromskopeo/busybox:1" | jq -e --arg c "$CONFIG_DIGEST" '.Os == "linux"' >/dev/null ||
  fail "image from skopeo's docker-archive is not inspectable"
expect "skopeo's docker-archive config survives" \
  "$(hx inspect --raw "$A2/fromskopeo/busybox:1" | jq -r .config.digest)" "$CONFIG_DIGEST"
[ -n "$D" ] || fail "no digest printed"

log "multi-arch index: whole, and one platform"
expect "index digest" "$(hx copy -q "oci:$MULTI:latest" "$A1/multi/busybox:v1")" "$MULTI_DIGEST"
hx copy -q "$A1/multi/busybox:v1" "$A2/multi/busybox:v1" >/dev/null
hx copy -q "$A2/multi/busybox:v1" "oci:$T/m1:x" >/dev/null
compare_layouts "$MULTI" latest "$T/m1" x
ARM_DIGEST=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' \
  "$(layout_blob "$MULTI" "$MULTI_DIGEST")")
expect "--platform linux/arm64/v8 digest" \
  "$(hx copy -q --platform linux/arm64/v8 "$A1/multi/busybox:v1" "$A2/arm/busybox:v1")" "$ARM_DIGEST"
expect "arm64 image on $A2" "$(sko inspect --tls-verify=false "docker://$A2/arm/busybox:v1" --override-arch arm64 | jq -r .Digest)" "$ARM_DIGEST"
expect "arm64 config" "$(hx inspect "$A2/arm/busybox:v1" | jq -r .Architecture)" arm64
expect_fail 1 'no image for linux/s390x' hx copy -q --platform linux/s390x "$A1/multi/busybox:v1" "oci:$T/none:x"
[ ! -e "$T/none" ] || fail "a failed copy left oci:$T/none behind"
hx inspect "$A1/multi/busybox:v1" | jq -S 'del(.LayersData)' >"$T/hi.json"
sko inspect --tls-verify=false "docker://$A1/multi/busybox:v1" | jq -S 'del(.LayersData)' >"$T/si.json"
diff "$T/hi.json" "$T/si.json" >&2 || fail "inspect of the index differs from skopeo's"
hx copy -q "$A1/multi/busybox:v1" "oci-archive:$T/multi.tar" >/dev/null
hx copy -q "oci-archive:$T/multi.tar" "oci:$T/m2:x" >/dev/null
compare_layouts "$MULTI" latest "$T/m2" x

log "multi-layer image, push and pull, --jobs"
expect "push digest" "$(hx push -q --jobs 2 "oci:$T/layers:v1" "$A1/layers/img:v1")" "$LAYERS_DIGEST"
hx pull -q --jobs 3 "$A1/layers/img:v1" --output "oci:$T/pulled:v1" >/dev/null
compare_layouts "$T/layers" v1 "$T/pulled" v1
hx pull -q "$A1/layers/img:v1" --output "oci:$T/pulled2" >/dev/null
expect "pull --output without a tag names the image by the reference's tag" \
  "$(layout_digest "$T/pulled2" v1)" "$LAYERS_DIGEST"
mkdir -p "$T/cwd"
(cd "$T/cwd" && "$HOIST" pull -q "$A1/layers/img:v1" >/dev/null) || fail "pull with the default output failed"
expect "default pull store" "$(layout_digest "$T/cwd/.hoist/images" "$A1/layers/img:v1")" "$LAYERS_DIGEST"
hx copy "$A1/layers/img:v1" "$A2/layers/img:v1" >"$T/plain.out" 2>"$T/plain.err"
grep -q '^Copying blob sha256:' "$T/plain.err" || fail "no plain progress lines when piped"
expect "stdout of a copy" "$(cat "$T/plain.out")" "$LAYERS_DIGEST"
hx copy -q "$A1/layers/img:v1" "oci:$T/quiet:v1" >"$T/q.out" 2>"$T/q.err"
[ ! -s "$T/q.err" ] || fail "-q printed on stderr: $(cat "$T/q.err")"

log "tags and catalog"
hx copy -q "$A1/test/busybox:1" "$A1/test/busybox:2" >/dev/null
expect "tags" "$(hx tags "$A1/test/busybox" | sort | tr '\n' ' ')" "1 2 "
expect "tags --json" "$(hx tags --json "$A1/test/busybox")" '["1","2"]'
hx catalog "$A1" >"$T/catalog.txt"
for r in layers/img mounted/busybox multi/busybox test/busybox; do
  grep -qx "$r" "$T/catalog.txt" || fail "catalog lacks $r: $(cat "$T/catalog.txt")"
done
expect_fail 1 'NAME_UNKNOWN|not known|404' hx tags "$A1/no/such"
log "PASS"
