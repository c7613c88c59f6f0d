#!/usr/bin/env bash
# Sparse image indexes: `skopeo copy --multi-arch index-only` pushes a
# two-platform index without its children. The spec's default refuses it
# (MANIFEST_BLOB_UNKNOWN); `--sparse-indexes` (validation.sparse_indexes)
# accepts it, and one platform copied after it makes a single-platform
# mirror that skopeo pulls; a platform list in the config
# (validation.manifests.indexes, as distribution 3) requires the listed
# platforms only; --sparse-manifests accepts an image whose layer is absent.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need skopeo jq curl python3 busybox-static
cd "$T"
bash "$TESTDATA/make-multiarch-index.sh" "$T/multi" latest >"$T/make.log" 2>&1 ||
  fail "make-multiarch-index.sh: $(cat "$T/make.log")"
INDEX=$(layout_blob "$T/multi" "$(layout_digest "$T/multi" latest)")
AMD64=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$INDEX")
ARM64=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' "$INDEX")

copy_amd64() { # the amd64 image alone, as its manifest's exact bytes
  sko copy -q --override-arch amd64 --dest-tls-verify=false "oci:$T/multi:latest" \
    "docker://$REG/mirror/busybox:amd64" >"$T/amd64.log" 2>&1 ||
    fail "copy of the amd64 image: $(cat "$T/amd64.log")"
  [ "$(http_code "http://$REG/v2/mirror/busybox/manifests/$AMD64")" = 200 ] ||
    fail "the amd64 manifest is not there by digest"
}
index_only() { # REG REPO: skopeo's index-only copy; its exit status
  sko copy -q --multi-arch index-only --dest-tls-verify=false "oci:$T/multi:latest" \
    "docker://$1/$2:latest" >"$T/copy.log" 2>&1
}

# The spec's default: every child must be there first.
serve_registry strict
if index_only "$REG" mirror/busybox; then fail "an index without its children was accepted"; fi
grep -q 'manifest blob unknown\|MANIFEST_BLOB_UNKNOWN\|unknown to the repository' "$T/copy.log" ||
  fail "the refusal does not say which blob: $(cat "$T/copy.log")"
[ "$(http_code "http://$REG/v2/mirror/busybox/tags/list")" = 404 ] || fail "a tag was left behind"
stop_pid "$REG_PID"

# --sparse-indexes: the index goes in alone; amd64 follows by digest.
serve_registry sparse --sparse-indexes
index_only "$REG" mirror/busybox || fail "index-only copy: $(cat "$T/copy.log")"
sko inspect --raw --tls-verify=false "docker://$REG/mirror/busybox:latest" >"$T/got-index.json" ||
  fail "skopeo inspect --raw"
cmp -s "$T/got-index.json" "$INDEX" || fail "the stored index differs from the pushed one"
[ "$(http_code "http://$REG/v2/mirror/busybox/manifests/$AMD64")" = 404 ] || fail "amd64 is there already?"
copy_amd64
# A client on amd64 pulls the mirror through the index; arm64 is absent.
sko copy -q --override-arch amd64 --src-tls-verify=false "docker://$REG/mirror/busybox:latest" \
  "oci:$T/pulled:amd64" >"$T/pull.log" 2>&1 || fail "pull of amd64 through the index: $(cat "$T/pull.log")"
[ "$(layout_digest "$T/pulled" amd64)" = "$AMD64" ] || fail "pulled another manifest than amd64's"
if sko copy -q --override-arch arm64 --src-tls-verify=false "docker://$REG/mirror/busybox:latest" \
  "oci:$T/pulled:arm64" >"$T/pull-arm.log" 2>&1; then
  fail "arm64 was pulled from a mirror that does not hold it"
fi
stop_pid "$REG_PID"

# A platform list: amd64 must be there, arm64 need not.
cat >"$T/list.yml" <<'EOF'
validation:
  manifests:
    indexes:
      platforms: list
      platformlist:
        - { os: linux, architecture: amd64 }
EOF
serve_registry listed --config "$T/list.yml"
if index_only "$REG" mirror/busybox; then fail "the listed platform was not required"; fi
copy_amd64
index_only "$REG" mirror/busybox || fail "index with amd64 present: $(cat "$T/copy.log")"
[ "$(http_code "http://$REG/v2/mirror/busybox/manifests/$ARM64")" = 404 ] || fail "arm64 is there?"
stop_pid "$REG_PID"

# Sparse image manifests (the conformance program's sparse data profile):
# a layer that was never pushed.
config='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
cd_=sha256:$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
missing=sha256:$(printf 'never pushed' | sha256sum | cut -d' ' -f1)
image="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"$cd_\",\"size\":${#config}},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$missing\",\"size\":12}]}"
put_sparse() { # REG: PUT the image with its config only; the status
  [ "$(http_code -X POST --data-binary "$config" "http://$1/v2/sparse/img/blobs/uploads/?digest=$cd_")" = 201 ] ||
    fail "config upload"
  http_code -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "$image" \
    "http://$1/v2/sparse/img/manifests/partial"
}
serve_registry indexes-only --sparse-indexes
expect "an image with a missing layer under --sparse-indexes" "$(put_sparse "$REG")" 400
stop_pid "$REG_PID"
serve_registry manifests --sparse-manifests
expect "an image with a missing layer under --sparse-manifests" "$(put_sparse "$REG")" 201
[ "$(http_code "http://$REG/v2/sparse/img/manifests/partial")" = 200 ] || fail "the sparse image is not served"
[ "$(http_code "http://$REG/v2/sparse/img/blobs/$missing")" = 404 ] || fail "the missing layer is there?"

# A bad policy is refused at start.
printf 'validation: { manifests: { indexes: { platforms: some } } }\n' >"$T/bad.yml"
if "$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/bad-root" --config "$T/bad.yml" >"$T/bad.log" 2>&1; then
  fail "a bad platforms value was accepted"
fi
grep -q 'platforms must be all|none|list' "$T/bad.log" || fail "bad policy message: $(cat "$T/bad.log")"
log "sparse indexes: refused by default, accepted with --sparse-indexes and for unlisted platforms"
