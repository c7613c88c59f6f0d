#!/usr/bin/env bash
# The registry on a real S3 engine (a single-node Ceph cluster with a RADOS
# Gateway on loopback, scripts/ceph-rgw.sh):
#  1. the registry's HTTP integration tests (integration_tests, unchanged)
#     against S3-backed registries, each in a key prefix of its own; the GC
#     race test stays with the filesystem (its 5 ms sweeps walk the store);
#  2. the gateway going away mid-push: the client gets 503 UNAVAILABLE and
#     nothing is committed; it coming back needs no registry restart;
#  3. `hoist registry gc` on the bucket;
#  4. `hoist up` with its registry's storage in the bucket;
#  5. the same keys as distribution's S3 driver: a bucket docker-registry
#     (distribution 2.8) wrote is served by hoist, and the reverse;
#  6. the local blob copy (--s3-blob-cache) serves pulls and no collected blob.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl jq skopeo busybox-static docker-registry
SUITE=${INTEGRATION_TESTS:-$(dirname "$(dirname "$HOIST")")/tests/integration_tests}
[ -x "$SUITE" ] || fail "no integration_tests beside the hoist binary ($SUITE)"

start_ceph
CEPHCTL="$HOIST_SOURCE_DIR/scripts/ceph-rgw.sh"
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
s3 -X PUT "$S3_ENDPOINT/itest" -o /dev/null || fail "creating the integration tests' bucket"
s3 -X PUT "$S3_ENDPOINT/registry" -o /dev/null || fail "creating the registry's bucket"

# 1. The HTTP integration tests, on S3.
HOIST_ITEST_S3_ENDPOINT=$S3_ENDPOINT HOIST_ITEST_S3_BUCKET=itest HOIST_ITEST_S3_REGION=$S3_REGION \
  "$SUITE" '~[gc]' >"$T/suite.log" 2>&1 || { tail -80 "$T/suite.log" >&2; fail "the integration tests on S3"; }
grep -q 'All tests passed' "$T/suite.log" || fail "the integration tests did not all pass: $(tail -5 "$T/suite.log")"
log "integration tests on S3: $(grep 'All tests passed' "$T/suite.log")"
# They ran against S3: their repositories are keys in the bucket.
s3 "$S3_ENDPOINT/itest?list-type=2&max-keys=5" -o "$T/keys.xml" || fail "listing the bucket"
grep -q '<Key>tmp/hoist-itest-[^<]*/root/docker/registry/v2/' "$T/keys.xml" ||
  fail "no registry keys in the integration tests' bucket: $(head -c 500 "$T/keys.xml")"

# 2. The gateway goes away in the middle of a push.
serve_registry s3 --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket registry --s3-region "$S3_REGION"
pid=$REG_PID
head -c $((6 << 20)) /dev/urandom >"$T/c1"
head -c $((40 << 20)) /dev/urandom >"$T/c2"
cat "$T/c1" "$T/c2" >"$T/blob"
blob=sha256:$(sha256sum "$T/blob" | cut -d' ' -f1)
url=$(upload_start "$REG" gone/app)
url=$(upload_patch "$REG" "$url" "$T/c1" 0)
# The second chunk trickles in; the gateway is killed while it does.
curl -s -o "$T/patch.body" -w '%{http_code}' --max-time 120 --limit-rate 8M -X PATCH \
  -H 'Content-Type: application/octet-stream' -H "Content-Range: $((6 << 20))-$(((46 << 20) - 1))" \
  --data-binary @"$T/c2" "$url" >"$T/patch.code" &
curl_pid=$!
sleep 1.5
bash "$CEPHCTL" rgw-kill "$CEPH"
wait "$curl_pid" || true
expect "the PATCH the gateway left" "$(cat "$T/patch.code")" 503
grep -q '"UNAVAILABLE"' "$T/patch.body" || fail "no UNAVAILABLE in $(cat "$T/patch.body")"
grep -q "$S3_ENDPOINT" "$T/patch.body" && fail "the client is told the storage's endpoint"
# While it is away: every storage-bound request is 503, the commit included.
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Length: 0' "$(with_query "$url" "digest=$blob")")
expect "the commit while the gateway is away" "$code" 503
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/gone/app/tags/list")
expect "a tag list while the gateway is away" "$code" 503
kill -0 "$pid" || fail "the registry died with the gateway"
# It comes back: the same process goes on, and nothing of the failed
# requests is there: the upload holds the first chunk only, no blob.
bash "$CEPHCTL" rgw-start "$CEPH" 2>>"$T/ceph.log" || fail "radosgw did not come back"
code=$(curl -s -o /dev/null -D "$T/status.h" -w '%{http_code}' "$url")
expect "the upload's status after the gateway's return" "$code" 204
expect "the upload's offset after the failed PATCH" "$(header "$T/status.h" Range)" "0-$(((6 << 20) - 1))"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "http://$REG/v2/gone/app/blobs/$blob")
expect "the blob the failed commit named" "$code" 404
url=$(upload_patch "$REG" "$url" "$T/c2" $((6 << 20)))
upload_finish "$url" "$blob"
check_blob_get "$REG" gone/app "$blob" "$T/blob"
kill -0 "$pid" || fail "the registry restarted"

# 3. GC on the bucket: the blob no manifest names goes; the registry's
# answer for it becomes 404.
"$HOIST" registry gc --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket registry \
  --s3-region "$S3_REGION" --min-age 0 --json >"$T/gc.json" 2>"$T/gc.err" ||
  fail "gc on the bucket: $(cat "$T/gc.err")"
expect "blobs gc deleted" "$(jq -r .blobs_deleted "$T/gc.json")" 1
expect "bytes gc freed" "$(jq -r .bytes_freed "$T/gc.json")" $((46 << 20))
# The serving process learns of another's deletion within its cache TTL
# (--s3-cache-ttl, 1s by default).
sleep 1.2
code=$(curl -s -o /dev/null -w '%{http_code}' -I "http://$REG/v2/gone/app/blobs/$blob")
expect "the collected blob, after the cache TTL" "$code" 404
if "$HOIST" registry gc --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket absent \
  >"$T/gc-absent.log" 2>&1; then
  fail "gc ran on a missing bucket"
fi
grep -q NoSuchBucket "$T/gc-absent.log" || fail "gc does not say the bucket is missing: $(cat "$T/gc-absent.log")"

# 4. `hoist up`: registry.storage names the bucket; the image imported is
# there after `down` and a new `up` (nothing pushed again).
s3 -X PUT "$S3_ENDPOINT/hoist-up" -o /dev/null || fail "creating hoist up's bucket"
export HOIST_HOME="$T/hoist-home" DOCKER_CONFIG="$T/docker-config"
mkdir -p "$DOCKER_CONFIG" "$T/project"
bash "$TESTDATA/make-base-image.sh" "$T/project/base" >"$T/base.log" 2>&1 || fail "make-base-image.sh"
cat >"$T/project/hoist.yaml" <<YAML
registry:
  name: on-s3
  storage:
    s3: {endpoint: "$S3_ENDPOINT", bucket: hoist-up, region: "$S3_REGION", root_directory: project}
images:
  - name: busybox
    prefix: library
    source: oci:base
YAML
up_s3() { # OUT ARGS...
  local out=$1 rc=0 pid
  shift
  "$HOIST" up -f "$T/project/hoist.yaml" "$@" >"$out" 2>&1 </dev/null || rc=$?
  pid=$(jq -r '.registry.pid // 0' "$T/project/.hoist/state.json" 2>/dev/null || echo 0)
  [ "${pid:-0}" -gt 0 ] && _PIDS+=("$pid")
  [ "$rc" = 0 ] || { cat "$out" >&2; fail "hoist up $* exited $rc"; }
}
up_s3 "$T/up1.out" -d
grep -q '^\[up\] summary: 1 pushed (0 unchanged), 0 failed$' "$T/up1.out" || fail "first up: $(cat "$T/up1.out")"
expect "the state's storage" "$(jq -r .registry.storage "$T/project/.hoist/state.json")" "s3://hoist-up/project"
addr=$(jq -r .registry.address "$T/project/.hoist/state.json")
sko inspect --tls-verify=false "docker://$addr/library/busybox:latest" >"$T/inspect.json" ||
  fail "skopeo inspect through hoist up's registry"
s3 "$S3_ENDPOINT/hoist-up/project/docker/registry/v2/repositories/library/busybox/_manifests/tags/latest/current/link" \
  -o "$T/up-link" || fail "the tag is not in the bucket"
expect "the tag in the bucket" "$(cat "$T/up-link")" "$(jq -r .Digest "$T/inspect.json")"
[ ! -e "$T/project/.hoist/registry" ] || fail "hoist up made a storage directory beside the bucket"
"$HOIST" down -f "$T/project/hoist.yaml" >"$T/down.out" 2>&1 || fail "hoist down: $(cat "$T/down.out")"
up_s3 "$T/up2.out" -d
grep -q '^\[up\] summary: 1 pushed (1 unchanged), 0 failed$' "$T/up2.out" ||
  fail "second up over the same bucket: $(cat "$T/up2.out")"
"$HOIST" down -f "$T/project/hoist.yaml" >"$T/down2.out" 2>&1 || fail "hoist down: $(cat "$T/down2.out")"

# 5. distribution's keys. skopeo pushes the base image through
# docker-registry on a bucket of its own; hoist serves that bucket and the
# image comes back whole. And docker-registry serves hoist up's bucket.
s3 -X PUT "$S3_ENDPOINT/by-distribution" -o /dev/null || fail "creating distribution's bucket"
DIST_S3_BUCKET=by-distribution start_distribution "$(free_port)" "$T/dist-root"
sko copy -q --dest-tls-verify=false "oci:$T/project/base:latest" "docker://$DIST_ADDR/from/dist:1" \
  >"$T/dist-push.log" 2>&1 || fail "skopeo push to docker-registry on S3: $(cat "$T/dist-push.log")"
stop_pid "$DIST_PID"
serve_registry on-dist-bucket --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket by-distribution \
  --s3-region "$S3_REGION"
sko copy -q --src-tls-verify=false "docker://$REG/from/dist:1" "oci:$T/from-dist:1" \
  >"$T/dist-pull.log" 2>&1 || fail "hoist serving distribution's bucket: $(cat "$T/dist-pull.log")"
compare_layouts "$T/project/base" latest "$T/from-dist" 1
DIST_S3_BUCKET=hoist-up DIST_S3_ROOT=/project start_distribution "$(free_port)" "$T/dist-root2"
sko copy -q --src-tls-verify=false "docker://$DIST_ADDR/library/busybox:latest" "oci:$T/from-hoist:1" \
  >"$T/hoist-pull.log" 2>&1 || fail "docker-registry serving hoist's bucket: $(cat "$T/hoist-pull.log")"
compare_layouts "$T/project/base" latest "$T/from-hoist" 1

# 6. The local blob copy (--s3-blob-cache): a pull, or a push through this
# process, leaves a copy of the blob's bytes, which the next pull is served
# from; a GC by another process still makes the blob 404 here after the
# cache TTL, copy or not.
serve_registry s3-other --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket registry \
  --s3-region "$S3_REGION"
OTHER=$REG
serve_registry s3-copy --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket registry \
  --s3-region "$S3_REGION" --s3-blob-cache "$T/blob-copies" --s3-blob-cache-size 100MiB
head -c $((20 << 20)) /dev/urandom >"$T/copied"
copied=sha256:$(sha256sum "$T/copied" | cut -d' ' -f1)
url=$(upload_start "$OTHER" copy/app)
url=$(upload_patch "$OTHER" "$url" "$T/copied" 0)
upload_finish "$url" "$copied"
[ -z "$(find "$T/blob-copies" -type f)" ] || fail "a push through another process left a copy"
check_blob_get "$REG" copy/app "$copied" "$T/copied"
copy=$T/blob-copies/docker/registry/v2/blobs/sha256/${copied:7:2}/${copied#sha256:}/data
cmp -s "$copy" "$T/copied" || fail "no whole copy of the pulled blob at $copy: $(find "$T/blob-copies")"
check_blob_get "$REG" copy/app "$copied" "$T/copied"
expect "files in the blob cache" "$(find "$T/blob-copies" -type f | wc -l)" 1
# A push through this process (in two PATCHes) leaves a copy at its commit.
head -c $((12 << 20)) /dev/urandom >"$T/pushed"
pushed=sha256:$(sha256sum "$T/pushed" | cut -d' ' -f1)
head -c $((7 << 20)) "$T/pushed" >"$T/pushed.1"
tail -c +$(((7 << 20) + 1)) "$T/pushed" >"$T/pushed.2"
url=$(upload_start "$REG" copy/app)
url=$(upload_patch "$REG" "$url" "$T/pushed.1" 0)
url=$(upload_patch "$REG" "$url" "$T/pushed.2" $((7 << 20)))
upload_finish "$url" "$pushed"
copy=$T/blob-copies/docker/registry/v2/blobs/sha256/${pushed:7:2}/${pushed#sha256:}/data
cmp -s "$copy" "$T/pushed" || fail "no whole copy of the pushed blob at $copy: $(find "$T/blob-copies")"
expect "files in the blob cache after the push" "$(find "$T/blob-copies" -type f | wc -l)" 2
check_blob_get "$OTHER" copy/app "$pushed" "$T/pushed"
"$HOIST" registry gc --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket registry \
  --s3-region "$S3_REGION" --min-age 0 --json >"$T/gc2.json" 2>"$T/gc2.err" ||
  fail "gc on the bucket: $(cat "$T/gc2.err")"
expect "blobs the second gc deleted" "$(jq -r .blobs_deleted "$T/gc2.json")" 2
sleep 1.2
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/copy/app/blobs/$copied")
expect "a collected blob the cache holds a copy of, after the TTL" "$code" 404
log "integration tests on S3; 503 while the gateway is away, nothing committed, no restart; gc on the bucket; hoist up on S3; distribution's buckets and hoist's are one layout; pulls served from a local blob copy (of a pull or a push) until the blob is collected"
