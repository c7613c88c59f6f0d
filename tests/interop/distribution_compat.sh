#!/usr/bin/env bash
# distribution_compat: the on-disk layout is shared with CNCF distribution
# (Debian's docker-registry 2.8) both ways.
#  (a) skopeo pushes into docker-registry on ROOT1; hoist then serves ROOT1:
#      pulls by tag and digest are byte-identical, tags list and _catalog
#      answer, blobs HEAD; hoist adds a tag and docker-registry serves it.
#  (b) skopeo (and a chunked curl PATCH upload) push into hoist on ROOT2;
#      docker-registry then serves ROOT2: pulls by tag and digest are
#      byte-identical and every blob HEADs with its size and digest.
#  (c) an upload session's hash state, kept by docker-registry after a
#      PATCH, is taken up by hoist (no byte read again).
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need skopeo jq curl python3 busybox-static docker-registry

BASE="$T/base"
MULTI="$T/multi"
if ! { bash "$TESTDATA/make-base-image.sh" "$BASE" latest &&
  bash "$TESTDATA/make-multiarch-index.sh" "$MULTI" latest; } >"$T/make.log" 2>&1; then
  cat "$T/make.log" >&2
  fail "making the test images failed"
fi
BASE_DIGEST=$(layout_digest "$BASE" latest)
MULTI_DIGEST=$(layout_digest "$MULTI" latest)

# layout_leaves LAYOUT DIGEST: the config and layer blobs under DIGEST (what
# a registry links as blobs of the repository; manifests are not).
layout_leaves() {
  local d
  for d in $(layout_walk "$1" "$2"); do
    jq -e 'has("manifests") or has("layers")' "$(layout_blob "$1" "$d")" >/dev/null 2>&1 || echo "$d"
  done | sort -u
}

# push ADDR: the base image as test/busybox:1, the index as multi/busybox:v1.
push_images() {
  sko copy -q --dest-tls-verify=false "oci:$BASE:latest" "docker://$1/test/busybox:1" ||
    fail "skopeo push of the base image to $1 failed"
  sko copy -q --all --dest-tls-verify=false "oci:$MULTI:latest" "docker://$1/multi/busybox:v1" ||
    fail "skopeo push --all of the index to $1 failed"
}

# pull_check ADDR NAME: pull both images by tag and by digest from ADDR and
# compare every byte with the source layouts; HEAD every config and layer.
pull_check() {
  local addr=$1 name=$2 d
  sko copy -q --src-tls-verify=false "docker://$addr/test/busybox:1" "oci:$T/$name-tag:x" ||
    fail "$name: pull test/busybox:1 failed"
  compare_layouts "$BASE" latest "$T/$name-tag" x
  sko copy -q --src-tls-verify=false "docker://$addr/test/busybox@$BASE_DIGEST" "oci:$T/$name-dig:x" ||
    fail "$name: pull test/busybox@$BASE_DIGEST failed"
  compare_layouts "$BASE" latest "$T/$name-dig" x
  sko copy -q --all --src-tls-verify=false "docker://$addr/multi/busybox:v1" "oci:$T/$name-mtag:x" ||
    fail "$name: pull --all multi/busybox:v1 failed"
  compare_layouts "$MULTI" latest "$T/$name-mtag" x
  sko copy -q --all --src-tls-verify=false "docker://$addr/multi/busybox@$MULTI_DIGEST" \
    "oci:$T/$name-mdig:x" || fail "$name: pull --all multi/busybox@$MULTI_DIGEST failed"
  compare_layouts "$MULTI" latest "$T/$name-mdig" x
  sko inspect --raw --tls-verify=false "docker://$addr/multi/busybox:v1" >"$T/$name-raw.json" ||
    fail "$name: inspect --raw multi/busybox:v1 failed"
  cmp -s "$T/$name-raw.json" "$(layout_blob "$MULTI" "$MULTI_DIGEST")" || fail "$name: index bytes differ"
  for d in $(layout_leaves "$BASE" "$BASE_DIGEST"); do
    check_blob_head "$addr" test/busybox "$d" "$(stat -c %s "$(layout_blob "$BASE" "$d")")"
  done
  for d in $(layout_leaves "$MULTI" "$MULTI_DIGEST"); do
    check_blob_head "$addr" multi/busybox "$d" "$(stat -c %s "$(layout_blob "$MULTI" "$d")")"
  done
  rm -rf "$T/$name"-*
}

# check_lists ADDR TAGS: tags lists (order aside: distribution 2.8 lists
# in directory order) and _catalog.
check_lists() {
  local addr=$1
  expect "tags of test/busybox on $addr" \
    "$(curl -sf "http://$addr/v2/test/busybox/tags/list" | jq -c '.tags |= sort')" \
    "{\"name\":\"test/busybox\",\"tags\":$2}"
  expect "tags of multi/busybox on $addr" \
    "$(curl -sf "http://$addr/v2/multi/busybox/tags/list" | jq -c .)" \
    '{"name":"multi/busybox","tags":["v1"]}'
  curl -sf "http://$addr/v2/_catalog" >"$T/catalog.json" || fail "GET /v2/_catalog on $addr failed"
  for r in multi/busybox test/busybox; do
    jq -e --arg r "$r" '.repositories | index($r)' "$T/catalog.json" >/dev/null ||
      fail "_catalog on $addr lacks $r: $(cat "$T/catalog.json")"
  done
}

# --- (a) distribution writes, hoist reads --------------------------------
ROOT1="$T/root1"
start_distribution "$(free_port)" "$ROOT1"
push_images "$DIST_ADDR"
pull_check "$DIST_ADDR" dist-self   # the peer agrees with itself first
check_lists "$DIST_ADDR" '["1"]'
curl -sf "http://$DIST_ADDR/v2/_catalog" >"$T/catalog-dist1.json"
# An upload session begun on docker-registry, to be finished by hoist (the
# session state lives on disk: _uploads/<uuid>/data).
head -c $((2 * 1024 * 1024 + 777)) /dev/urandom >"$T/handover.bin"
HANDOVER_DIGEST="sha256:$(sha256_of "$T/handover.bin")"
head -c $((1024 * 1024)) "$T/handover.bin" >"$T/handover.1"
tail -c +$((1024 * 1024 + 1)) "$T/handover.bin" >"$T/handover.2"
url=$(upload_start "$DIST_ADDR" handover/blob)
url=$(upload_patch "$DIST_ADDR" "$url" "$T/handover.1" 0)
stop_pid "$DIST_PID"

log "(a) hoist serves the root written by docker-registry"
start_hoist "$ROOT1"
pull_check "$HOIST_ADDR" a-hoist
check_lists "$HOIST_ADDR" '["1"]'
expect "_catalog of hoist vs docker-registry on ROOT1" \
  "$(curl -sf "http://$HOIST_ADDR/v2/_catalog" | jq -c .)" "$(jq -c . "$T/catalog-dist1.json")"

# hoist finishes the session docker-registry began.
upath=${url#http://*/}
url="http://$HOIST_ADDR/${upath%%\?*}"
h="$T/handover.h"
expect "(a) GET on docker-registry's upload session via hoist" \
  "$(curl -s -o /dev/null -D "$h" -w '%{http_code}' "$url")" 204
expect "(a) Range of docker-registry's upload session via hoist" "$(header "$h" Range)" "0-$((1024 * 1024 - 1))"
url=$(upload_patch "$HOIST_ADDR" "$url" "$T/handover.2" $((1024 * 1024)))
upload_finish "$url" "$HANDOVER_DIGEST"
check_blob_get "$HOIST_ADDR" handover/blob "$HANDOVER_DIGEST" "$T/handover.bin"

# hoist adds a tag to distribution's tree; distribution must serve it.
sko copy -q --dest-tls-verify=false "oci:$BASE:latest" "docker://$HOIST_ADDR/test/busybox:2" ||
  fail "(a) push of tag 2 into hoist over ROOT1 failed"
stop_pid "$HOIST_PID"
start_distribution "$(free_port)" "$ROOT1"
check_lists "$DIST_ADDR" '["1","2"]'
expect "(a) tag 2 via docker-registry" \
  "$(sko inspect --tls-verify=false "docker://$DIST_ADDR/test/busybox:2" | jq -r .Digest)" "$BASE_DIGEST"
check_blob_head "$DIST_ADDR" handover/blob "$HANDOVER_DIGEST" "$(stat -c %s "$T/handover.bin")"
stop_pid "$DIST_PID"
expect "(a) blobs in ROOT1" "$(check_blob_tree "$ROOT1")" 7

# --- (b) hoist writes, distribution reads --------------------------------
ROOT2="$T/root2"
start_hoist "$ROOT2"
push_images "$HOIST_ADDR"

log "(b) chunked upload with curl PATCH into hoist"
head -c $((3 * 1024 * 1024 + 12345)) /dev/urandom >"$T/chunked.bin"
CHUNKED_DIGEST="sha256:$(sha256_of "$T/chunked.bin")"
split -b 1M -d "$T/chunked.bin" "$T/chunk."
url=$(upload_start "$HOIST_ADDR" chunked/blob)
off=0
for c in "$T"/chunk.*; do
  url=$(upload_patch "$HOIST_ADDR" "$url" "$c" "$off")
  off=$((off + $(stat -c %s "$c")))
done
code=$(http_code "$url")
expect "GET upload status before the final PUT" "$code" 204
upload_finish "$url" "$CHUNKED_DIGEST"
check_blob_head "$HOIST_ADDR" chunked/blob "$CHUNKED_DIGEST" "$off"
curl -sf "http://$HOIST_ADDR/v2/_catalog" >"$T/catalog-hoist2.json"
stop_pid "$HOIST_PID"

log "(b) docker-registry serves the root written by hoist"
start_distribution "$(free_port)" "$ROOT2"
pull_check "$DIST_ADDR" b-dist
check_lists "$DIST_ADDR" '["1"]'
check_blob_head "$DIST_ADDR" chunked/blob "$CHUNKED_DIGEST" "$off"
check_blob_get "$DIST_ADDR" chunked/blob "$CHUNKED_DIGEST" "$T/chunked.bin"
# The upload left no session behind that distribution would see.
[ -z "$(find "$ROOT2/docker/registry/v2/repositories" -path '*/_uploads/*' 2>/dev/null)" ] ||
  fail "(b) finished uploads left _uploads entries behind"
expect "(b) blobs in ROOT2" "$(check_blob_tree "$ROOT2")" 7
# On one root both registries list the same repositories, except that
# distribution 2.8 also counts a repository holding blobs but no manifest
# (it looks for _layers; distribution v3 and hoist look for _manifests):
# here chunked/blob.
curl -sf "http://$DIST_ADDR/v2/_catalog" >"$T/catalog-dist2.json"
expect "repositories hoist lists on ROOT2 that docker-registry does not" \
  "$(jq -c --slurpfile d "$T/catalog-dist2.json" '.repositories - $d[0].repositories' "$T/catalog-hoist2.json")" '[]'
expect "repositories docker-registry lists on ROOT2 that hoist does not" \
  "$(jq -c --slurpfile h "$T/catalog-hoist2.json" '.repositories - $h[0].repositories' "$T/catalog-dist2.json")" \
  '["chunked/blob"]'
stop_pid "$DIST_PID"

# --- (c) a session's hash state goes across, both ways ----------------------
# After a PATCH both registries keep the hash state in
# _uploads/<uuid>/hashstates/sha256/<offset>, in Go's MarshalBinary form.
# hoist finishes distribution's session from that state: the first chunk's
# bytes on disk are spoiled before it does, so reading them again would
# give another digest (a separate root: its blob is wrong on purpose).
ROOT3="$T/root3"
spoil_first_byte() { printf '\377' | dd of="$1" bs=1 seek=0 count=1 conv=notrunc status=none; }
# handover FROM_ADDR FROM_PID: starts a session on FROM, PATCHes the first
# MiB, stops FROM, spoils the data, finishes on hoist.
handover() {
  local from=$1 from_pid=$2 repo=handover/spoiled url upath state
  url=$(upload_start "$from" "$repo")
  url=$(upload_patch "$from" "$url" "$T/handover.1" 0)
  stop_pid "$from_pid"
  upath=${url#http://*/}
  upath=${upath%%\?*}
  state="$ROOT3/docker/registry/v2/repositories/$repo/_uploads/${upath##*/}/hashstates/sha256/$((1024 * 1024))"
  [ -s "$state" ] || fail "(c) no hash state after the PATCH on $from: $(find "$ROOT3" -path '*_uploads*' | head)"
  expect "(c) hash state form" "$(head -c 4 "$state" | od -An -c | tr -d ' ')" 'sha003'
  spoil_first_byte "$ROOT3/docker/registry/v2/repositories/$repo/_uploads/${upath##*/}/data"
  start_hoist "$ROOT3"
  url=$(upload_patch "$HOIST_ADDR" "http://$HOIST_ADDR/$upath" "$T/handover.2" $((1024 * 1024)))
  upload_finish "$url" "$HANDOVER_DIGEST"
  stop_pid "$HOIST_PID"
}
log "(c) distribution's hash state, finished by hoist"
start_distribution "$(free_port)" "$ROOT3"
handover "$DIST_ADDR" "$DIST_PID"
# (The other way cannot be tried: distribution 2.8 takes a session only
# with the _state token it signed itself. hoist's states are in the same
# form, checked against Go's own in tests/unit/digest_test.cc.)
log "PASS"
