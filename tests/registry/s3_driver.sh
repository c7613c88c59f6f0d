#!/usr/bin/env bash
# The S3 storage driver on a real engine: a single-node Ceph cluster with a
# RADOS Gateway on loopback (scripts/ceph-rgw.sh, Debian's packages), a
# bucket made here with curl's SigV4; then the storage-driver suite that the
# filesystem and memory drivers pass (tests/unit/storage_driver_test.cc,
# built as s3_driver_tests), unchanged, against it.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl ceph-mon ceph-osd radosgw ceph-common
SUITE=${S3_DRIVER_TESTS:-$(dirname "$(dirname "$HOIST")")/tests/s3_driver_tests}
[ -x "$SUITE" ] || fail "no s3_driver_tests beside the hoist binary ($SUITE)"

CEPH="$T/ceph"
stop_ceph() { bash "$HOIST_SOURCE_DIR/scripts/ceph-rgw.sh" stop "$CEPH" --kill >/dev/null 2>&1 || true; }
trap 'rc=$?; stop_ceph; (exit $rc); _cleanup' EXIT
port=$(free_port)
bash "$HOIST_SOURCE_DIR/scripts/ceph-rgw.sh" start "$CEPH" "$port" >"$T/s3.env" 2>"$T/ceph.log" ||
  fail "Ceph did not start: $(tail -5 "$T/ceph.log")"
set -a
# shellcheck disable=SC1091
source "$T/s3.env"
set +a
export S3_BUCKET=hoist-driver-test
s3() {
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
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
log "the storage-driver suite passes on Ceph's radosgw"
