#!/usr/bin/env bash
# multiarch_index: a 2-platform OCI image index (linux/amd64 + linux/arm64)
# through hoist with `skopeo copy --all` and back: the index bytes, both
# child manifests and every blob must be identical; `skopeo inspect --raw`
# returns the index with its media type; a single-platform copy
# (--override-arch arm64) works too.
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need skopeo jq curl python3 busybox-static

IDX="$T/multi"
bash "$TESTDATA/make-multiarch-index.sh" "$IDX" latest >"$T/make.log" ||
  { cat "$T/make.log" >&2; fail "make-multiarch-index.sh failed"; }
INDEX_DIGEST=$(layout_digest "$IDX" latest)
INDEX=$(layout_blob "$IDX" "$INDEX_DIGEST")
expect "platforms in the index" "$(jq -c '[.manifests[].platform.architecture]' "$INDEX")" \
  '["amd64","arm64"]'
AMD64=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$INDEX")
ARM64=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$INDEX")

start_hoist "$T/root"
REPO="$HOIST_ADDR/multi/busybox"

log "push --all oci:$IDX:latest -> docker://$REPO:v1"
sko copy -q --all --dest-tls-verify=false "oci:$IDX:latest" "docker://$REPO:v1" ||
  fail "skopeo copy --all into hoist failed"

sko inspect --raw --tls-verify=false "docker://$REPO:v1" >"$T/raw-index.json" ||
  fail "skopeo inspect --raw failed"
cmp -s "$T/raw-index.json" "$INDEX" || fail "skopeo inspect --raw is not the pushed index bytes"
expect "index mediaType (body)" "$(jq -r .mediaType "$T/raw-index.json")" \
  application/vnd.oci.image.index.v1+json
ctype=$(curl -sf -o /dev/null -w '%{content_type}' \
  -H 'Accept: application/vnd.oci.image.index.v1+json' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$HOIST_ADDR/v2/multi/busybox/manifests/v1") || fail "GET index by tag failed"
expect "index Content-Type" "$ctype" application/vnd.oci.image.index.v1+json
curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' \
  "http://$HOIST_ADDR/v2/multi/busybox/manifests/$INDEX_DIGEST" -o "$T/curl-index.json" ||
  fail "GET index by digest failed"
cmp -s "$T/curl-index.json" "$INDEX" || fail "GET index by digest: bytes differ"

# Each child by digest: exact bytes, and what skopeo reports per platform.
for pair in "amd64 $AMD64" "arm64 $ARM64"; do
  read -r arch digest <<<"$pair"
  set -- "$arch" "$digest"
  sko inspect --raw --tls-verify=false "docker://$REPO@$2" >"$T/child-$1.json" ||
    fail "inspect child $1 by digest failed"
  cmp -s "$T/child-$1.json" "$(layout_blob "$IDX" "$2")" || fail "child manifest $1 differs"
  got=$(sko --override-arch "$1" inspect --tls-verify=false "docker://$REPO:v1") ||
    fail "skopeo --override-arch $1 inspect failed"
  # skopeo reports the digest of what the tag names (the index) and the
  # chosen platform's config and layers.
  expect "inspect $1 Digest" "$(jq -r .Digest <<<"$got")" "$INDEX_DIGEST"
  expect "inspect $1 Layers" "$(jq -c .Layers <<<"$got")" \
    "$(jq -c '[.layers[].digest]' "$(layout_blob "$IDX" "$2")")"
  expect "inspect $1 Architecture" "$(jq -r .Architecture <<<"$got")" "$1"
done

log "pull --all docker://$REPO:v1 -> oci:OUT:latest"
sko copy -q --all --src-tls-verify=false "docker://$REPO:v1" "oci:$T/out:latest" ||
  fail "skopeo copy --all from hoist failed"
compare_layouts "$IDX" latest "$T/out" latest

log "pull --all by digest docker://$REPO@$INDEX_DIGEST"
sko copy -q --all --src-tls-verify=false "docker://$REPO@$INDEX_DIGEST" "oci:$T/out-d:pinned" ||
  fail "skopeo copy --all by digest failed"
compare_layouts "$IDX" latest "$T/out-d" pinned

# Single platform out of the index: only the arm64 image, as a plain manifest.
log "copy --override-arch arm64 (single platform) registry -> registry and -> layout"
sko --override-arch arm64 copy -q --src-tls-verify=false --dest-tls-verify=false \
  "docker://$REPO:v1" "docker://$HOIST_ADDR/single/busybox:arm64" ||
  fail "skopeo copy --override-arch arm64 (registry to registry) failed"
got=$(sko inspect --tls-verify=false "docker://$HOIST_ADDR/single/busybox:arm64")
expect "single arm64 Digest" "$(jq -r .Digest <<<"$got")" "$ARM64"
expect "single arm64 Architecture" "$(jq -r .Architecture <<<"$got")" arm64
sko inspect --raw --tls-verify=false "docker://$HOIST_ADDR/single/busybox:arm64" >"$T/single.json"
cmp -s "$T/single.json" "$(layout_blob "$IDX" "$ARM64")" || fail "single arm64 manifest bytes differ"

sko --override-arch arm64 copy -q --src-tls-verify=false "docker://$REPO:v1" "oci:$T/arm:arm64" ||
  fail "skopeo copy --override-arch arm64 (to a layout) failed"
expect "arm64 layout digest" "$(layout_digest "$T/arm" arm64)" "$ARM64"
for d in $(layout_walk "$IDX" "$ARM64"); do
  cmp -s "$(layout_blob "$IDX" "$d")" "$(layout_blob "$T/arm" "$d")" || fail "arm64 blob $d differs"
done

# Single platform push of the amd64 image from the layout's index.
sko --override-arch amd64 copy -q --dest-tls-verify=false "oci:$IDX:latest" \
  "docker://$HOIST_ADDR/single/busybox:amd64" || fail "single-platform push from the index failed"
expect "single amd64 Digest" \
  "$(sko inspect --tls-verify=false "docker://$HOIST_ADDR/single/busybox:amd64" | jq -r .Digest)" "$AMD64"

expect "tags of single/busybox" \
  "$(curl -sf "http://$HOIST_ADDR/v2/single/busybox/tags/list" | jq -c .tags)" '["amd64","arm64"]'
n=$(check_blob_tree "$T/root")
expect "blobs in the registry (1 layer, 2 configs, 2 manifests, 1 index)" "$n" 6
log "PASS"
