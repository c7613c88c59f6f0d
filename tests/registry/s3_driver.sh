#!/usr/bin/env bash
# The S3 storage driver on a real engine: a single-node Ceph cluster with a
# RADOS Gateway on loopback (scripts/ceph-rgw.sh, Debian's packages), a
# bucket made here with curl's SigV4; then the storage-driver suite that the
# filesystem and memory drivers pass (tests/unit/storage_driver_test.cc,
# built as s3_driver_tests), unchanged, against it.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
SUITE=${S3_DRIVER_TESTS:-$(dirname "$(dirname "$HOIST")")/tests/s3_driver_tests}
[ -x "$SUITE" ] || fail "no s3_driver_tests beside the hoist binary ($SUITE)"

start_ceph
export S3_BUCKET=hoist-driver-test
s3 -X PUT "$S3_ENDPOINT/$S3_BUCKET" -o /dev/null || fail "creating the bucket"

"$SUITE" --order lex >"$T/suite.log" 2>&1 || { tail -60 "$T/suite.log" >&2; fail "the driver suite on S3"; }
tail -2 "$T/suite.log" >&2
# A missing bucket and wrong keys are refused at once, naming what is wrong.
S3_BUCKET=no-such-bucket "$SUITE" "Driver: missing paths are kNotFound*" >"$T/nobucket.log" 2>&1 &&
  fail "a missing bucket was accepted"
grep -q 'NoSuchBucket' "$T/nobucket.log" || fail "the missing bucket is not named: $(tail -5 "$T/nobucket.log")"
S3_SECRET_KEY=wrong "$SUITE" "Driver: missing paths are kNotFound*" >"$T/badkey.log" 2>&1 &&
  fail "wrong keys were accepted"
grep -q 'SignatureDoesNotMatch\|AccessDenied\|InvalidAccessKeyId' "$T/badkey.log" ||
  fail "the wrong key is not said: $(tail -5 "$T/badkey.log")"

# The registry on the bucket: skopeo pushes an image in and pulls it back
# byte-identical; the keys are distribution's layout.
need skopeo busybox-static
bash "$TESTDATA/make-base-image.sh" "$T/base" 1 >"$T/base.log" 2>&1 || fail "make-base-image.sh"
s3 -X PUT "$S3_ENDPOINT/hoist-registry" -o /dev/null || fail "creating the registry's bucket"
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY serve_registry s3 \
  --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket hoist-registry --s3-region "$S3_REGION"
sko copy -q --dest-tls-verify=false "oci:$T/base:1" "docker://$REG/s3/busybox:1" >"$T/push.log" 2>&1 ||
  fail "skopeo push to the S3-backed registry: $(cat "$T/push.log")"
sko copy -q --src-tls-verify=false "docker://$REG/s3/busybox:1" "oci:$T/back:1" >"$T/pull.log" 2>&1 ||
  fail "skopeo pull from the S3-backed registry: $(cat "$T/pull.log")"
compare_layouts "$T/base" 1 "$T/back" 1
manifest=$(layout_digest "$T/base" 1)
s3 "$S3_ENDPOINT/hoist-registry/docker/registry/v2/repositories/s3/busybox/_manifests/tags/1/current/link" \
  -o "$T/link" || fail "the tag's link is not at distribution's key"
expect "the tag link in the bucket" "$(cat "$T/link")" "$manifest"
# Two registry processes on one bucket: a chunked upload alternates its
# PATCHes between them (the second goes on from the first's hash state and
# appended object), and the blob is read back through the other.
REG_A=$REG
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY serve_registry s3b \
  --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket hoist-registry --s3-region "$S3_REGION"
REG_B=$REG
# The image pushed through the first comes back whole through the second.
sko copy -q --src-tls-verify=false "docker://$REG_B/s3/busybox:1" "oci:$T/back-b:1" >"$T/pull-b.log" 2>&1 ||
  fail "skopeo pull through the second registry: $(cat "$T/pull-b.log")"
compare_layouts "$T/base" 1 "$T/back-b" 1
head -c $((13 * 1024 * 1024 + 321)) /dev/urandom >"$T/big.bin"
big=sha256:$(sha256sum "$T/big.bin" | cut -d' ' -f1)
split -b 3M -d "$T/big.bin" "$T/part."
url=$(upload_start "$REG_A" s3/shared)
off=0 n=0
for c in "$T"/part.*; do
  if ((n % 2 == 0)); then addr=$REG_A; else addr=$REG_B; fi
  url="http://$addr/${url#http://*/}"
  url=$(upload_patch "$addr" "$url" "$c" "$off")
  off=$((off + $(stat -c %s "$c"))) n=$((n + 1))
done
upload_finish "http://$REG_B/${url#http://*/}" "$big"
check_blob_get "$REG_A" s3/shared "$big" "$T/big.bin"
check_blob_head "$REG_B" s3/shared "$big" "$off"

# A missing bucket stops the start with a clear error.
if AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY "$HOIST" registry serve \
  --addr 127.0.0.1:0 --storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket absent-bucket >"$T/absent.log" 2>&1; then
  fail "serve started on a missing bucket"
fi
grep -q 'NoSuchBucket' "$T/absent.log" || fail "the missing bucket is not said: $(cat "$T/absent.log")"
log "the storage-driver suite passes on Ceph's radosgw; skopeo round trip; two processes share an upload"
