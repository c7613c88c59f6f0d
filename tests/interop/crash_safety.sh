#!/usr/bin/env bash
# crash_safety: kill -9 the registry in the middle of uploads, restart it on
# the same root, and require that no partial blob is ever visible, nothing
# corrupt is served, and an interrupted chunked upload resumes from the
# Range that GET on the session reports and completes with the right digest.
#  1. monolithic PUT of 512 MiB (curl --limit-rate), killed after ~1 s,
#     resumed; then a single-request POST ?digest= killed likewise;
#  2. chunked upload of 256 MiB killed three times at different moments
#     (early in a PATCH, later in a PATCH, in the body of a final PUT that
#     carries the last chunk), resumed from the reported Range after each
#     restart; then a kill during the digest check of the final PUT.
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl jq python3

ROOT="$T/root"
V2="$ROOT/docker/registry/v2"
MiB=$((1024 * 1024))

# start_bg VAR OUT CMD...: run CMD in the background with stdout to OUT and
# this function's stdin (without job control bash would give it /dev/null),
# register its PID for cleanup, store it in VAR.
start_bg() {
  local var=$1 out=$2
  shift 2
  "$@" <&0 >"$out" &
  printf -v "$var" '%s' "$!"
  _PIDS+=("$!")
}

# wait_bg PID: its exit status (reaps it).
wait_bg() {
  local rc=0
  wait "$1" 2>/dev/null || rc=$?
  _forget_pid "$1"
  return "$rc"
}

# here URL: URL moved to the current hoist (a restart picks a new port).
here() { local rest=${1#http://}; echo "http://$HOIST_ADDR/${rest#*/}"; }
curl_pid=  # set by start_bg
upload_id() { local u=${1%%\?*}; echo "${u##*/}"; }
upload_data() { echo "$V2/repositories/$1/_uploads/$2/data"; }
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# wait_size FILE BYTES WHAT: up to 20 s for FILE to hold at least BYTES.
wait_size() {
  local i
  for ((i = 0; i < 200; i++)); do
    [ "$(file_size "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "$3: the upload data reached only $(file_size "$1") of $2 bytes within 20 s (is the body streamed to storage?)"
}

# upload_status URL: "204 <offset>" or "404 -" from GET on the session.
upload_status() {
  local h="$T/status.h" code range
  code=$(curl -s -o /dev/null -D "$h" -w '%{http_code}' --max-time 30 "$1") || true
  case $code in
    204)
      range=$(header "$h" Range)
      [[ $range =~ ^0-([0-9]+)$ ]] || fail "GET upload status: 204 with Range '$range'"
      echo "204 $((BASH_REMATCH[1] + 1))"
      ;;
    404) echo "404 -" ;;
    *) fail "GET upload status: $code, want 204 or 404" ;;
  esac
}

# check_no_blob REPO DIGEST: not visible in REPO, no data file in the tree.
check_no_blob() {
  expect "HEAD $2 in $1 after the crash" \
    "$(http_code -I "http://$HOIST_ADDR/v2/$1/blobs/$2")" 404
  [ ! -e "$(registry_blob_data "$ROOT" "$2")" ] ||
    fail "a data file for the unfinished blob $2 exists after the crash"
}

# check_prefix FILE SRC: FILE holds the first bytes of SRC exactly.
check_prefix() {
  local n
  n=$(file_size "$1")
  cmp -s -n "$n" "$1" "$2" || fail "upload data after the crash is not a prefix of the source ($n bytes)"
}

# send_from METHOD URL SRC OFFSET [curl options...]: send SRC[OFFSET:] as
# one chunk with its Content-Range, streamed from stdin with a
# Content-Length (curl -T - would otherwise send it chunked); prints curl's
# HTTP code ("000" when the connection died).
send_from() {
  local method=$1 url=$2 src=$3 off=$4 size
  shift 4
  size=$(file_size "$src")
  tail -c +$((off + 1)) "$src" | curl -s -o "$T/send.body" -w '%{http_code}' --max-time 300 \
    -X "$method" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    -H "Content-Range: $off-$((size - 1))" -H "Content-Length: $((size - off))" \
    -H 'Transfer-Encoding:' -T - "$@" "$url" || true
}

check_final_blob() {  # REPO DIGEST SIZE
  check_blob_head "$HOIST_ADDR" "$1" "$2" "$3"
  [ "sha256:$(sha256_of "$(registry_blob_data "$ROOT" "$2")")" = "$2" ] ||
    fail "blob $2 data file does not hash to its digest"
}

# --- 1. monolithic PUT killed after ~1 s --------------------------------
log "making 512 MiB of random data"
head -c $((512 * MiB)) /dev/urandom >"$T/big.bin"
BIG_SIZE=$(file_size "$T/big.bin")
BIG_DIGEST="sha256:$(sha256_of "$T/big.bin")"

start_hoist "$ROOT"
REPO=crash/mono
url=$(upload_start "$HOIST_ADDR" "$REPO")
id=$(upload_id "$url")
data=$(upload_data "$REPO" "$id")
start_bg curl_pid "$T/put.code" curl -s -o /dev/null -w '%{http_code}' --max-time 300 --limit-rate 64M \
  -X PUT -H 'Expect:' -H 'Content-Type: application/octet-stream' -T "$T/big.bin" \
  "$(with_query "$url" "digest=$BIG_DIGEST")"
wait_size "$data" $((16 * MiB)) "monolithic PUT"
sleep 0.5
kill9 "$HOIST_PID"
got=$(file_size "$data")
log "killed hoist mid-PUT with $got of $BIG_SIZE bytes stored"
[ "$got" -lt "$BIG_SIZE" ] || fail "the PUT had finished before the kill; lower --limit-rate"
wait_bg "$curl_pid" || true
[ "$(cat "$T/put.code")" != 201 ] || fail "curl PUT got 201 although the registry was killed mid-body"

start_hoist "$ROOT"
url=$(here "$url")
check_no_blob "$REPO" "$BIG_DIGEST"
st=$(upload_status "$url")
read -r code off <<<"$st"
log "after restart the session answers $code (offset $off)"
if [ "$code" = 204 ]; then
  expect "resumable offset = stored bytes" "$off" "$(file_size "$data")"
  check_prefix "$data" "$T/big.bin"
  # Resume: the rest as one PATCH, then close with the digest.
  expect "PATCH of the rest" "$(send_from PATCH "$url" "$T/big.bin" "$off")" 202
  upload_finish "$url" "$BIG_DIGEST"
else
  # Not resumable: a fresh monolithic upload must work.
  url=$(upload_start "$HOIST_ADDR" "$REPO")
  expect "fresh PUT" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Expect:' \
    -T "$T/big.bin" "$(with_query "$url" "digest=$BIG_DIGEST")")" 201
fi
check_final_blob "$REPO" "$BIG_DIGEST" "$BIG_SIZE"
log "blob tree intact: $(check_blob_tree "$ROOT") blob(s)"

# The same with a single-request upload (POST ?digest= with the body).
REPO=crash/single
# (stdin: with -T FILE curl would append FILE's name to the URL's "/")
start_bg curl_pid "$T/post.code" curl -s -o /dev/null -w '%{http_code}' --max-time 300 \
  --limit-rate 64M -X POST -H 'Expect:' -H 'Content-Type: application/octet-stream' \
  -H "Content-Length: $BIG_SIZE" -H 'Transfer-Encoding:' -T - \
  "http://$HOIST_ADDR/v2/$REPO/blobs/uploads/?digest=$BIG_DIGEST" <"$T/big.bin"
for ((i = 0; i < 200; i++)); do
  [ -n "$(find "$V2/repositories/$REPO/_uploads" -name data -size +16M 2>/dev/null)" ] && break
  sleep 0.1
done
[ "$i" -lt 200 ] || fail "single POST: no upload data grew past 16 MiB within 20 s"
kill9 "$HOIST_PID"
wait_bg "$curl_pid" || true
expect "curl's status for the killed POST" "$(cat "$T/post.code")" 000
start_hoist "$ROOT"
expect "HEAD of the interrupted single-POST blob" \
  "$(http_code -I "http://$HOIST_ADDR/v2/$REPO/blobs/$BIG_DIGEST")" 404
check_blob_head "$HOIST_ADDR" crash/mono "$BIG_DIGEST" "$BIG_SIZE"  # the other repo's link stays
log "blob tree intact: $(check_blob_tree "$ROOT") blob(s)"
rm -f "$T/big.bin"

# --- 2. chunked upload killed three times, resumed each time -------------
log "making 256 MiB of random data"
head -c $((256 * MiB)) /dev/urandom >"$T/chunked.bin"
CH_SIZE=$(file_size "$T/chunked.bin")
CH_DIGEST="sha256:$(sha256_of "$T/chunked.bin")"
REPO=crash/chunked
url=$(upload_start "$HOIST_ADDR" "$REPO")
id=$(upload_id "$url")
data=$(upload_data "$REPO" "$id")
# First chunk, uninterrupted.
head -c $((8 * MiB)) "$T/chunked.bin" >"$T/first.bin"
url=$(upload_patch "$HOIST_ADDR" "$url" "$T/first.bin" 0)
off=$((8 * MiB))

# Kills 1-3, each once the request has stored GROW more bytes: early and
# later in a throttled PATCH of the rest, then in a final PUT ?digest= that
# carries the rest as its body.
for kill_at in "PATCH $((1 * MiB))" "PATCH $((40 * MiB))" "PUT $((8 * MiB))"; do
  read -r method grow <<<"$kill_at"
  target=$url
  [ "$method" = PUT ] && target=$(with_query "$url" "digest=$CH_DIGEST")
  start_bg curl_pid "$T/send.code" send_from "$method" "$target" "$T/chunked.bin" "$off" \
    --limit-rate 32M
  wait_size "$data" $((off + grow)) "chunked $method"
  kill9 "$HOIST_PID"
  wait_bg "$curl_pid" || true
  stored=$(file_size "$data")
  log "killed hoist mid-$method at offset $stored (the $method began at $off)"
  [ "$stored" -lt "$CH_SIZE" ] || fail "the $method had finished before the kill"
  expect "curl's status for the killed $method" "$(cat "$T/send.code")" 000

  start_hoist "$ROOT"
  url=$(here "$url")
  check_no_blob "$REPO" "$CH_DIGEST"
  st=$(upload_status "$url")
  read -r code new_off <<<"$st"
  expect "GET upload status after the crash" "$code" 204
  expect "Range after the crash = stored bytes" "$new_off" "$stored"
  [ "$new_off" -gt "$off" ] || fail "no progress kept: offset $new_off, was $off"
  check_prefix "$data" "$T/chunked.bin"
  check_blob_tree "$ROOT" >/dev/null
  # A chunk that does not start at the reported offset is refused.
  expect "PATCH at a stale offset" \
    "$(head -c 10 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X PATCH \
      -H "Content-Range: $off-$((off + 9))" -H 'Content-Type: application/octet-stream' \
      --data-binary @- "$url")" 416
  off=$new_off
done

# Resume the rest without a kill.
expect "PATCH of the rest" "$(send_from PATCH "$url" "$T/chunked.bin" "$off")" 202
st=$(upload_status "$url")
read -r code off <<<"$st"
expect "offset before the final PUT" "$code $off" "204 $CH_SIZE"

# Best effort, kill 4: 50 ms into a bodiless final PUT, which a restarted
# registry (no cached hash) spends re-reading 256 MiB to verify the digest.
# Whether the kill lands before or after the commit, the blob must then be
# either complete and correct, or absent with the session resumable.
stop_pid "$HOIST_PID"
start_hoist "$ROOT"
url=$(here "$url")
start_bg curl_pid "$T/put.code" curl -s -o /dev/null -w '%{http_code}' --max-time 120 -X PUT \
  -H 'Content-Length: 0' "$(with_query "$url" "digest=$CH_DIGEST")"
sleep 0.05
kill9 "$HOIST_PID"
wait_bg "$curl_pid" || true
put_code=$(cat "$T/put.code")
log "killed hoist during the final PUT (curl saw '$put_code')"
start_hoist "$ROOT"
url=$(here "$url")
st=$(upload_status "$url")
read -r code off <<<"$st"
head_code=$(http_code -I "http://$HOIST_ADDR/v2/$REPO/blobs/$CH_DIGEST")
log "after restart: session $code, blob HEAD $head_code"
blob_file=$(registry_blob_data "$ROOT" "$CH_DIGEST")
if [ "$head_code" = 200 ]; then
  expect "session of a blob that is visible" "$code" 404
elif [ "$code" = 204 ]; then
  expect "offset kept" "$off" "$CH_SIZE"
  upload_finish "$url" "$CH_DIGEST"
elif [ -f "$blob_file" ]; then
  # Crash between moving the data into the blob tree and linking it into
  # the repository: nothing partial is visible; the client uploads again.
  log "note: blob stored but not linked and session gone; uploading again"
  [ "sha256:$(sha256_of "$blob_file")" = "$CH_DIGEST" ] || fail "unlinked blob data is corrupt"
  expect "POST ?digest= re-upload" "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' --data-binary @"$T/chunked.bin" \
    "http://$HOIST_ADDR/v2/$REPO/blobs/uploads/?digest=$CH_DIGEST")" 201
else
  fail "after a kill in the final PUT the data is lost: no blob (HEAD $head_code), no file, session $code"
fi
check_final_blob "$REPO" "$CH_DIGEST" "$CH_SIZE"
check_blob_get "$HOIST_ADDR" "$REPO" "$CH_DIGEST" "$T/chunked.bin"
expect "upload session after completion" "$(http_code "$url")" 404

# Nothing corrupt anywhere, and no upload session left behind.
n=$(check_blob_tree "$ROOT")
expect "blobs in the root" "$n" 2
left=$(find "$V2/repositories" -path '*/_uploads/*' -name data | wc -l)
# (the interrupted single POST leaves its session: its client never learnt
# the URL, and purging stale uploads is the registry's job, not a restart's)
expect "upload sessions left" "$left" 1
log "PASS"
