#!/usr/bin/env bash
# skopeo_roundtrip: push the busybox base image (OCI layout) into hoist with
# skopeo, inspect it, pull it back by tag and by digest, and require the
# manifest and every blob to come back byte-for-byte.
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need skopeo jq curl python3 busybox-static

BASE="$T/base"
bash "$TESTDATA/make-base-image.sh" "$BASE" latest >"$T/make-base.log" ||
  { cat "$T/make-base.log" >&2; fail "make-base-image.sh failed"; }
DIGEST=$(layout_digest "$BASE" latest)
MANIFEST=$(layout_blob "$BASE" "$DIGEST")

start_hoist "$T/root"
REF="docker://$HOIST_ADDR/test/busybox"

log "push oci:$BASE:latest -> $REF:1"
sko copy -q --dest-tls-verify=false "oci:$BASE:latest" "$REF:1" || fail "skopeo copy into hoist failed"

sko inspect --tls-verify=false "$REF:1" >"$T/inspect.json" || fail "skopeo inspect failed"
expect "inspect Digest" "$(jq -r .Digest "$T/inspect.json")" "$DIGEST"
expect "inspect Architecture" "$(jq -r .Architecture "$T/inspect.json")" amd64
expect "inspect Os" "$(jq -r .Os "$T/inspect.json")" linux
expect "inspect Layers" "$(jq -c .Layers "$T/inspect.json")" "$(jq -c '[.layers[].digest]' "$MANIFEST")"

sko inspect --raw --tls-verify=false "$REF:1" >"$T/raw.json" || fail "skopeo inspect --raw failed"
cmp -s "$T/raw.json" "$MANIFEST" || fail "skopeo inspect --raw is not the pushed manifest bytes"
sko inspect --raw --config --tls-verify=false "$REF:1" >"$T/config.json" ||
  fail "skopeo inspect --config failed"
cmp -s "$T/config.json" "$(layout_blob "$BASE" "$(jq -r .config.digest "$MANIFEST")")" ||
  fail "skopeo inspect --raw --config is not the pushed config bytes"

# The registry's own view: tag list, manifest media type and digest header.
expect "tags list" "$(curl -sf "http://$HOIST_ADDR/v2/test/busybox/tags/list" | jq -c .tags)" '["1"]'
hdrs=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$HOIST_ADDR/v2/test/busybox/manifests/1" | tr -d '\r') || fail "HEAD manifest failed"
grep -qix "docker-content-digest: $DIGEST" <<<"$hdrs" || fail "HEAD manifest: no Docker-Content-Digest $DIGEST"
grep -qix 'content-type: application/vnd.oci.image.manifest.v1+json' <<<"$hdrs" ||
  fail "HEAD manifest: wrong Content-Type"

log "pull $REF:1 -> oci:OUT:latest"
sko copy -q --src-tls-verify=false "$REF:1" "oci:$T/out:latest" || fail "skopeo copy from hoist failed"
compare_layouts "$BASE" latest "$T/out" latest

log "pull $REF@$DIGEST"
sko copy -q --src-tls-verify=false "$REF@$DIGEST" "oci:$T/out-digest:pinned" ||
  fail "skopeo copy by digest failed"
compare_layouts "$BASE" latest "$T/out-digest" pinned
sko inspect --raw --tls-verify=false "$REF@$DIGEST" >"$T/raw-digest.json" ||
  fail "skopeo inspect --raw by digest failed"
cmp -s "$T/raw-digest.json" "$MANIFEST" || fail "manifest by digest differs from the pushed bytes"

# By digest into a new repository (cross-repo: registry to registry), then
# a second push of the same image must be a no-op that keeps the digest.
log "copy registry -> registry by digest, and re-push"
sko copy -q --src-tls-verify=false --dest-tls-verify=false "$REF@$DIGEST" \
  "docker://$HOIST_ADDR/other/busybox:copied" || fail "registry-to-registry copy failed"
expect "copied digest" \
  "$(sko inspect --tls-verify=false "docker://$HOIST_ADDR/other/busybox:copied" | jq -r .Digest)" "$DIGEST"
sko copy -q --dest-tls-verify=false "oci:$BASE:latest" "$REF:1" || fail "second push failed"
expect "digest after re-push" "$(sko inspect --tls-verify=false "$REF:1" | jq -r .Digest)" "$DIGEST"
expect "catalog" "$(curl -sf "http://$HOIST_ADDR/v2/_catalog" | jq -c .repositories)" \
  '["other/busybox","test/busybox"]'

# Docker schema 2: skopeo converts the manifest on push; hoist must keep
# and serve it under its Docker media type.
log "push --format v2s2 (Docker schema 2 manifest)"
sko copy -q --format v2s2 --dest-tls-verify=false "oci:$BASE:latest" "$REF:v2s2" ||
  fail "skopeo copy --format v2s2 failed"
sko copy -q --src-tls-verify=false "$REF:v2s2" "dir:$T/v2s2" || fail "pull of the v2s2 image failed"
expect "v2s2 mediaType" "$(jq -r .mediaType "$T/v2s2/manifest.json")" \
  application/vnd.docker.distribution.manifest.v2+json
D2="sha256:$(sha256_of "$T/v2s2/manifest.json")"
expect "v2s2 digest" "$(sko inspect --tls-verify=false "$REF:v2s2" | jq -r .Digest)" "$D2"
ctype=$(curl -sf -o /dev/null -w '%{content_type}' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "http://$HOIST_ADDR/v2/test/busybox/manifests/v2s2") || fail "GET v2s2 manifest failed"
expect "v2s2 Content-Type" "$ctype" application/vnd.docker.distribution.manifest.v2+json
for d in $(jq -r '.config.digest, .layers[].digest' "$T/v2s2/manifest.json"); do
  cmp -s "$T/v2s2/${d#sha256:}" "$(layout_blob "$BASE" "$d")" || fail "v2s2 blob $d differs"
done

n=$(check_blob_tree "$T/root")
expect "blobs in the registry (OCI and Docker manifests, config, layer)" "$n" 4
log "PASS"
