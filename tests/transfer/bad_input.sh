#!/usr/bin/env bash
# bad_input: malformed references and places, bad flags (exit 2), unknown
# hosts, closed ports, missing images and layouts (exit 1); every message
# names what was wrong, and no credential is ever printed.
# shellcheck source-path=SCRIPTDIR source=xfer_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"

base_images
start_hoist "$T/root"
A=$HOIST_ADDR
hx copy -q "oci:$BASE:latest" "$A/test/busybox:1" >/dev/null

log "usage errors exit 2"
expect_fail 2 'lowercase' hx copy -q "$A/UPPER/x:1" "oci:$T/x"
expect_fail 2 'invalid reference "a:b:c"' hx inspect a:b:c
expect_fail 2 'invalid tag' hx copy -q "busybox:bad!tag" "oci:$T/x"
expect_fail 2 'invalid digest|digest' hx inspect "$A/test/busybox@sha256:xyz"
expect_fail 2 'missing path' hx copy -q "oci:" "oci:$T/x"
expect_fail 2 '"dir" transport is not supported' hx copy -q "dir:/tmp" "oci:$T/x"
expect_fail 2 'invalid platform' hx copy -q --platform linux "$A/test/busybox:1" "oci:$T/x"
expect_fail 2 'jobs' hx copy -q --jobs 0 "$A/test/busybox:1" "oci:$T/x"
expect_fail 2 'required' hx copy -q "$A/test/busybox:1"
expect_fail 2 'push takes a local image' hx push "$A/test/busybox:1" "$A/other/busybox:1"
expect_fail 2 'invalid registry host' hx catalog 'bad host'
expect_fail 2 'not an OCI image layout' hx copy -q "$A/test/busybox:1" "oci:$TESTDATA"
[ ! -e "$T/x" ] || fail "a refused command wrote oci:$T/x"

log "failures exit 1 and name the problem"
expect_fail 1 'resolve host.*nonexistent\.invalid|nonexistent\.invalid.*resolve' \
  hx copy -q "nonexistent.invalid/x:1" "oci:$T/x"
PORT=$(free_port)
expect_fail 1 "cannot reach registry 127.0.0.1:$PORT" hx inspect --retries 1 "127.0.0.1:$PORT/x:1"
expect_fail 1 'test/busybox:nope.*404.*MANIFEST_UNKNOWN' hx copy -q "$A/test/busybox:nope" "oci:$T/x"
expect_fail 1 "no/such.*(NAME_UNKNOWN|MANIFEST_UNKNOWN)" hx inspect "$A/no/such:1"
expect_fail 1 'not an OCI image layout' hx copy -q "oci:$T/missing:1" "$A/x/y:1"
expect_fail 1 'no image tagged "nope"' hx copy -q "oci:$BASE:nope" "$A/x/y:1"
expect_fail 1 'open' hx copy -q "oci-archive:$T/missing.tar" "$A/x/y:1"
[ ! -e "$T/x" ] || fail "a failed command wrote oci:$T/x"
hx copy --json "$A/test/busybox:nope" "oci:$T/x" >"$T/err.jsonl" 2>/dev/null && fail "copy of a missing tag succeeded"
expect "JSON error event" "$(jq -r 'select(.event == "error") | .code' "$T/err.jsonl")" MANIFEST_UNKNOWN

log "credentials never show"
expect_fail 1 'login to nonexistent.invalid failed' \
  bash -c 'echo hunter2-secret | "$0" login nonexistent.invalid -u bob --password-stdin' "$HOIST"
no_secret hunter2-secret "$T/last.err" "$T/last.out"
expect_fail 1 'login' hx login "127.0.0.1:$PORT" -u bob -p hunter3-secret --retries 0
no_secret hunter3-secret "$T/last.err" "$T/last.out"
log "PASS"
