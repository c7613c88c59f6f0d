#!/usr/bin/env bash
# faults: copies through a loopback proxy (fault_proxy.py) that cuts blob
# downloads and uploads off midway and answers 503/429 at random, within
# fixed budgets: every copy still succeeds, downloads resume with Range,
# and the digests match end to end; blobs served by redirects are
# followed. Then wrong bytes (flipped by the proxy, or corrupted on the
# registry's disk) are rejected and nothing is written: no layout
# directory, no tag, no blob under the wrong digest.
# shellcheck source-path=SCRIPTDIR source=xfer_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"

make_image "$T/img" v1 3072,4096,2048,5120,1024 11
DIGEST=$(layout_digest "$T/img" v1)
start_hoist "$T/root1"
A=$HOIST_ADDR
start_hoist "$T/root2"
A2=$HOIST_ADDR
hx copy -q "oci:$T/img:v1" "$A/src/img:v1" >/dev/null

FLOG="$T/faults.log"
: >"$FLOG"
start_bg fault-proxy "$T/proxy.port" /usr/bin/python3 "$XFER_DIR/fault_proxy.py" "$T/proxy.port" "$A" "$FLOG" \
  --seed 7 --rate 0.5 --drops 5 --upload-drops 3 --statuses 8
P="127.0.0.1:$(cat "$T/proxy.port")"
FAST=(--retries 8)

log "download through the proxy: registry -> oci"
expect "digest" "$(hx copy -q "${FAST[@]}" "$P/src/img:v1" "oci:$T/o1:v1")" "$DIGEST"
compare_layouts "$T/img" v1 "$T/o1" v1

log "upload through the proxy: oci -> registry"
expect "digest" "$(hx copy -q "${FAST[@]}" --jobs 3 "oci:$T/img:v1" "$P/up/img:v1")" "$DIGEST"
hx copy -q "$A/up/img:v1" "oci:$T/o2:v1" >/dev/null
compare_layouts "$T/img" v1 "$T/o2" v1

log "registry -> registry with the proxy as source"
hx copy "${FAST[@]}" "$P/src/img:v1" "$A2/dst/img:v1" >"$T/rr.out" 2>"$T/rr.err" ||
  { cat "$T/rr.err" >&2; fail "registry -> registry through the proxy failed"; }
hx copy -q "$A2/dst/img:v1" "oci:$T/o3:v1" >/dev/null
compare_layouts "$T/img" v1 "$T/o3" v1
cat "$FLOG" >&2
grep -q '^drop download' "$FLOG" || fail "the proxy never cut a download off"
grep -q '^range bytes=[1-9]' "$FLOG" || fail "no download resumed with Range"
grep -q '^drop upload' "$FLOG" || fail "the proxy never cut an upload off"
grep -Eq '^status (503|429)' "$FLOG" || fail "the proxy never answered 503/429"

log "blobs served by redirects (307): to another origin, and by a relative reference"
start_bg redirect-proxy "$T/proxy3.port" /usr/bin/python3 "$XFER_DIR/fault_proxy.py" "$T/proxy3.port" "$A" \
  "$T/redirect.log" --redirect-blobs
P3="127.0.0.1:$(cat "$T/proxy3.port")"
expect "digest" "$(hx copy -q "$P3/src/img:v1" "oci:$T/o4:v1")" "$DIGEST"
compare_layouts "$T/img" v1 "$T/o4" v1
grep -q "^redirect GET .* -> http://$A/" "$T/redirect.log" || fail "no redirect to another origin"
grep -q '^redirected GET ' "$T/redirect.log" || fail "no relative redirect was followed"

log "wrong bytes from the proxy are rejected; nothing is written"
BAD=$(jq -r '.layers[2].digest' "$(layout_blob "$T/img" "$DIGEST")")
start_bg corrupt-proxy "$T/proxy2.port" /usr/bin/python3 "$XFER_DIR/fault_proxy.py" "$T/proxy2.port" "$A" \
  "$T/corrupt.log" --corrupt "$BAD"
P2="127.0.0.1:$(cat "$T/proxy2.port")"
expect_fail 1 "$BAD.*(wrong content|rejected)" hx copy -q "$P2/src/img:v1" "oci:$T/bad:v1"
[ ! -e "$T/bad" ] || fail "a rejected copy left oci:$T/bad behind"
[ -z "$(find "$T" -maxdepth 1 -name '*hoist-tmp*')" ] || fail "a rejected copy left a staging directory"
grep -q '^corrupt' "$T/corrupt.log" || fail "the proxy corrupted nothing"
expect_fail 1 "$BAD.*(wrong content|rejected)" hx copy -q "$P2/src/img:v1" "$A2/bad/img:v1"
expect_fail 1 "NAME_UNKNOWN|MANIFEST_UNKNOWN|404" hx inspect --raw "$A2/bad/img:v1"
expect "HEAD of the rejected blob" "$(http_code -I "http://$A2/v2/bad/img/blobs/$BAD")" 404
make_image "$T/other" keep 64 99
hx copy -q "oci:$T/other:keep" "oci:$T/existing:keep" >/dev/null
before=$(cat "$T/existing/index.json")
expect_fail 1 "rejected" hx copy -q "$P2/src/img:v1" "oci:$T/existing:new"
expect "index.json of an existing layout after a rejected copy" "$(cat "$T/existing/index.json")" "$before"
expect_fail 1 "rejected" hx copy -q "$P2/src/img:v1" "oci-archive:$T/bad.tar"
[ ! -e "$T/bad.tar" ] || fail "a rejected copy left $T/bad.tar behind"

log "a blob corrupted on the registry's disk is rejected"
CONFIG=$(jq -r '.config.digest' "$(layout_blob "$T/img" "$DIGEST")")
f=$(registry_blob_data "$T/root1" "$CONFIG")
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[5]^=1; open(p,"wb").write(b)' "$f"
expect_fail 1 "$CONFIG.*(wrong content|rejected)" hx copy -q "$A/src/img:v1" "oci:$T/bad2:v1"
[ ! -e "$T/bad2" ] || fail "a rejected copy left oci:$T/bad2 behind"
log "PASS"
