# tests/support/lib.sh: shared helpers for the interop scripts in
# tests/interop/. Source it first thing:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
#
# It turns on `set -euo pipefail`, makes a private temp dir $T (mktemp -d),
# and installs an EXIT trap that stops only the processes this script started
# (start_hoist, start_distribution) and removes $T (kept when KEEP_TMP=1).
# All traffic goes to 127.0.0.1; every wait loop is bounded.
#
# Environment: HOIST (required; the hoist binary), HOIST_SOURCE_DIR (the
# repository root; default: two levels above this file).

set -euo pipefail

# Loopback only: no proxy may see (or break) requests to 127.0.0.1.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

SCRIPT_NAME=$(basename "${BASH_SOURCE[-1]:-$0}" .sh)  # the script bash runs
HOIST_SOURCE_DIR=${HOIST_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck disable=SC2034  # for the scripts that source this file
TESTDATA="$HOIST_SOURCE_DIR/testdata"

log() { echo "[$SCRIPT_NAME] $*" >&2; }
fail() {
  echo "[$SCRIPT_NAME] FAIL: $*" >&2
  exit 1
}

[ -n "${HOIST:-}" ] || fail "HOIST is not set (path to the built hoist binary)"
[ -x "$HOIST" ] || fail "HOIST=$HOIST is not an executable"

T=$(mktemp -d "${TMPDIR:-/tmp}/hoist-$SCRIPT_NAME.XXXXXX")
_PIDS=()   # processes this script started and has not reaped yet
_LOGS=()   # their log files, shown when the script fails
_SERIAL=0

_forget_pid() {
  local keep=() p
  for p in "${_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  _PIDS=("${keep[@]}")
}

# _running PID: true while PID exists and is not a zombie.
_running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID: TERM, up to 10 s for it to exit, then KILL; reaps it.
# Only for PIDs this script started.
stop_pid() {
  local pid=$1 i
  if _running "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      _running "$pid" || break
      sleep 0.1
    done
    if _running "$pid"; then
      log "PID $pid ignored TERM for 10 s; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  _forget_pid "$pid"
}

# kill9 PID: SIGKILL (a crash, no chance to clean up), then reap.
kill9() {
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  _forget_pid "$1"
}

_cleanup() {
  local rc=$? p l
  trap - EXIT
  for p in "${_PIDS[@]}"; do stop_pid "$p"; done
  if [ "$rc" != 0 ]; then
    for l in "${_LOGS[@]}"; do
      [ -s "$l" ] || continue
      echo "----- last lines of $(basename "$l") -----" >&2
      # (distribution logs every 404 HEAD that a push makes as an error)
      grep -v -e 'err.code="blob unknown"' -e 'No HTTP secret provided' "$l" | tail -n 20 >&2
    done
    log "FAILED (exit $rc); temp dir $([ "${KEEP_TMP:-0}" = 1 ] && echo "kept: $T" || echo removed)"
  fi
  [ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"
  exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# need PKG...: apt-get install the Debian packages that are not installed
# (as root only; otherwise fail naming them).
need() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return 0
  [ "$(id -u)" = 0 ] || fail "missing packages (need root to install): ${missing[*]}"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    fail "apt-get install ${missing[*]} failed"
}

# need_node_tests: Node.js 20+ and tests/ui's npm packages (playwright-core,
# ajv; npm ci when one is missing). Sets UI_DIR.
need_node_tests() {
  UI_DIR=$HOIST_SOURCE_DIR/tests/ui
  command -v node >/dev/null && command -v npm >/dev/null || fail "node and npm (Node.js 20 or newer) are needed"
  [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || fail "Node.js $(node --version) is too old: playwright-core needs 20+"
  if [ ! -d "$UI_DIR/node_modules/playwright-core" ] || [ ! -d "$UI_DIR/node_modules/ajv" ]; then
    log "npm ci in tests/ui (playwright-core, ajv: the browser is Debian's)"
    (cd "$UI_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 240 npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1 ||
      fail "npm ci in tests/ui: $(tail -n 20 "$T/npm.log")"
  fi
}

# need_playwright: need_node_tests, and Debian's Chromium.
need_playwright() {
  need chromium
  need_node_tests
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_ceph: a single-node Ceph cluster with an S3 gateway on loopback in
# $CEPH ($T/ceph; scripts/ceph-rgw.sh, Debian's packages), stopped when the
# script exits, before the processes it started; exports S3_ENDPOINT,
# S3_ACCESS_KEY, S3_SECRET_KEY and S3_REGION.
start_ceph() {
  need curl ceph-mon ceph-osd radosgw ceph-common
  CEPH="$T/ceph"
  # (set +e: under set -e, `(exit $rc)` would end the trap before _cleanup
  # stops the registries; _cleanup reads the status from $?.)
  trap 'rc=$?; bash "$HOIST_SOURCE_DIR/scripts/ceph-rgw.sh" stop "$CEPH" --kill >/dev/null 2>&1; set +e; (exit $rc); _cleanup' EXIT
  bash "$HOIST_SOURCE_DIR/scripts/ceph-rgw.sh" start "$CEPH" "$(free_port)" >"$T/s3.env" 2>"$T/ceph.log" ||
    fail "Ceph did not start: $(tail -5 "$T/ceph.log")"
  set -a
  # shellcheck disable=SC1091
  source "$T/s3.env"
  set +a
}

# s3 CURL_ARGS...: curl signing for the gateway start_ceph started.
s3() {
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# http_code ARGS...: curl against loopback, prints only the HTTP status.
http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@" || true
}

# _wait_v2 URL PID LOG WHAT [CURL_ARGS...]: up to 60 s for GET URL/v2/ to
# answer 200 (or 401: a registry with auth is up too).
_wait_v2() {
  local url=$1 pid=$2 logf=$3 what=$4 i code
  shift 4
  for ((i = 0; i < 600; i++)); do
    code=$(http_code "$@" "$url/v2/")
    [ "$code" = 200 ] || [ "$code" = 401 ] && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$logf" >&2; fail "$what exited during startup"; }
    sleep 0.1
  done
  tail -n 20 "$logf" >&2
  fail "$what did not answer GET /v2/ with 200 within 60 s"
}

# start_hoist ROOT [FLAGS...]: `hoist registry serve` on 127.0.0.1:0 over
# ROOT with FLAGS; waits for its address file and GET /v2/ 200. Sets
# HOIST_PID and HOIST_ADDR (host:port).
start_hoist() {
  local root=$1 n addr_file logf i
  shift
  n=$((++_SERIAL))
  addr_file="$T/hoist.$n.addr"
  logf="$T/hoist.$n.log"
  "$HOIST" registry serve --addr 127.0.0.1:0 --root "$root" --addr-file "$addr_file" \
    --log-level "${HOIST_LOG_LEVEL:-warn}" "$@" >"$logf" 2>&1 </dev/null &
  HOIST_PID=$!
  _PIDS+=("$HOIST_PID")
  _LOGS+=("$logf")
  for ((i = 0; i < 600; i++)); do
    [ -s "$addr_file" ] && break
    kill -0 "$HOIST_PID" 2>/dev/null || { tail -n 20 "$logf" >&2; fail "hoist exited during startup"; }
    sleep 0.1
  done
  [ -s "$addr_file" ] || fail "hoist wrote no --addr-file within 60 s"
  HOIST_ADDR=$(head -n 1 "$addr_file")
  [[ $HOIST_ADDR == 127.0.0.1:* ]] || fail "hoist bound '$HOIST_ADDR', not 127.0.0.1:PORT"
  [ "$(head -n 1 "$logf")" = "$HOIST_ADDR" ] || fail "hoist's first stdout line is not its address"
  _wait_v2 "http://$HOIST_ADDR" "$HOIST_PID" "$logf" hoist
  log "hoist PID $HOIST_PID on $HOIST_ADDR root $root"
}

# test_ca DIR: a P-256 certificate authority for a test: DIR/ca.crt, ca.key.
test_ca() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=hoist-test-ca -keyout "$1/ca.key" -out "$1/ca.crt" 2>/dev/null || fail "openssl: CA"
}

# test_cert DIR NAME SUBJECT EXTENSIONS SERIAL: DIR/NAME.crt and NAME.key
# (P-256), issued by test_ca's CA in DIR with the given extension lines.
test_cert() {
  local d=$1 n=$2
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$3" \
    -keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null || fail "openssl: $n request"
  printf '%s\n' "$4" >"$d/$n.ext"
  openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -set_serial "$5" -days 2 \
    -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null || fail "openssl: $n certificate"
}

# serve_registry NAME FLAGS...: `hoist registry serve` on 127.0.0.1:0 over
# $T/root-NAME with FLAGS (TLS, auth: what GET /v2/ answers differs, so only
# the address file is waited for); sets REG (host:port), REG_PID and ROOT.
serve_registry() {
  local name=$1 i
  shift
  ROOT=$T/root-$name
  "$HOIST" registry serve --addr 127.0.0.1:0 --root "$ROOT" --addr-file "$T/$name.addr" "$@" \
    >"$T/$name.log" 2>&1 </dev/null &
  REG_PID=$!
  _PIDS+=("$REG_PID")
  _LOGS+=("$T/$name.log")
  for ((i = 0; i < 600; i++)); do
    [ -s "$T/$name.addr" ] && break
    kill -0 "$REG_PID" 2>/dev/null || fail "the $name registry exited: $(cat "$T/$name.log")"
    sleep 0.1
  done
  REG=$(cat "$T/$name.addr" 2>/dev/null || true)
  [ -n "$REG" ] || fail "the $name registry wrote no address within 60 s"
}

# start_distribution PORT ROOT [HTTP_YAML [TOP_YAML [SCHEME [CURL_ARGS...]]]]:
# Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1:PORT,
# filesystem storage at ROOT, delete enabled; HTTP_YAML is added under
# `http:` (e.g. tls, indented two spaces), TOP_YAML at the top (e.g. auth).
# With DIST_S3_BUCKET set: its S3 driver on that bucket of start_ceph's
# gateway instead (DIST_S3_ROOT: its rootdirectory; ROOT holds nothing).
# Waits until GET SCHEME://ADDR/v2/ answers 200 (or 401 with auth). Sets
# DIST_PID and DIST_ADDR.
start_distribution() {
  local port=$1 http_extra=${3:-} top_extra=${4:-} scheme=${5:-http} root n cfg logf storage
  mkdir -p "$2"
  root=$(cd "$2" && pwd)
  storage="  filesystem:
    rootdirectory: $root"
  if [ -n "${DIST_S3_BUCKET:-}" ]; then
    storage="  s3:
    accesskey: $S3_ACCESS_KEY
    secretkey: $S3_SECRET_KEY
    region: $S3_REGION
    regionendpoint: $S3_ENDPOINT
    bucket: $DIST_S3_BUCKET
    rootdirectory: ${DIST_S3_ROOT:-/}
    secure: false
    v4auth: true
  redirect:
    disable: true"
  fi
  n=$((++_SERIAL))
  cfg="$T/distribution.$n.yml"
  logf="$T/distribution.$n.log"
  cat >"$cfg" <<EOF
version: 0.1
log:
  level: ${REG_LOG_LEVEL:-warn}
  accesslog:
    disabled: true
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
$storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
$http_extra
$top_extra
EOF
  shift $(($# < 5 ? $# : 5))
  [ "$(http_code "$@" "$scheme://127.0.0.1:$port/v2/")" = 000 ] ||
    fail "something already listens on 127.0.0.1:$port"
  # (aws-sdk-go panics on AWS_CA_BUNDLE with distribution's own transport;
  # the gateway is plain HTTP on loopback.)
  env -u AWS_CA_BUNDLE docker-registry serve "$cfg" >"$logf" 2>&1 </dev/null &
  DIST_PID=$!
  _PIDS+=("$DIST_PID")
  _LOGS+=("$logf")
  DIST_ADDR="127.0.0.1:$port"
  _wait_v2 "$scheme://$DIST_ADDR" "$DIST_PID" "$logf" docker-registry "$@"
  log "docker-registry PID $DIST_PID on $scheme://$DIST_ADDR root $root"
}

# skopeo with no dependence on the host's signature policy.
sko() { skopeo --insecure-policy "$@"; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# layout_digest LAYOUT TAG: the digest index.json names under TAG.
layout_digest() {
  local d
  d=$(jq -r --arg t "$2" \
    '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest][0] // empty' \
    "$1/index.json") || fail "cannot read $1/index.json"
  [ -n "$d" ] || fail "$1/index.json has no entry for tag $2"
  echo "$d"
}

layout_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }

# layout_walk LAYOUT DIGEST: DIGEST and every digest reachable from it
# (index -> manifests -> config + layers), one per line.
layout_walk() {
  local layout=$1 d=$2 f c
  f=$(layout_blob "$layout" "$d")
  [ -f "$f" ] || fail "$layout lacks blob $d"
  echo "$d"
  if jq -e 'has("manifests")' "$f" >/dev/null 2>&1; then
    for c in $(jq -r '.manifests[].digest' "$f"); do layout_walk "$layout" "$c"; done
  else
    jq -r '.config.digest, .layers[].digest' "$f" || fail "$d in $layout is not a manifest"
  fi
}

# compare_layouts A TAG_A B TAG_B: the same digest under both tags, and every
# blob reachable from it present in both, byte-identical (cmp), and hashing
# to its own name.
compare_layouts() {
  local a=$1 ta=$2 b=$3 tb=$4 da db d fa fb n=0
  da=$(layout_digest "$a" "$ta")
  db=$(layout_digest "$b" "$tb")
  [ "$da" = "$db" ] || fail "top digest differs: $a:$ta is $da, $b:$tb is $db"
  local wa wb
  wa=$(layout_walk "$a" "$da" | sort -u)
  wb=$(layout_walk "$b" "$db" | sort -u)
  [ "$wa" = "$wb" ] || fail "blob sets differ between $a and $b"
  for d in $wa; do
    fa=$(layout_blob "$a" "$d")
    fb=$(layout_blob "$b" "$d")
    [ -f "$fb" ] || fail "blob $d is missing from $b"
    cmp -s "$fa" "$fb" || fail "blob $d differs between $a and $b"
    [ "sha256:$(sha256_of "$fb")" = "$d" ] || fail "blob $d in $b hashes to something else"
    n=$((n + 1))
  done
  log "layouts match: $da and $n blobs byte-identical"
}

# registry_blob_data ROOT DIGEST: the blob's data file in the registry:2 tree.
registry_blob_data() {
  local hex=${2#sha256:}
  echo "$1/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

# check_blob_tree ROOT: every blob data file under ROOT hashes to its name.
# Prints how many there are.
check_blob_tree() {
  local root=$1 f hex n=0
  local base="$root/docker/registry/v2/blobs/sha256"
  [ -d "$base" ] || { echo 0; return 0; }
  while IFS= read -r f; do
    hex=$(basename "$(dirname "$f")")
    [ "$(sha256_of "$f")" = "$hex" ] || fail "corrupt blob served from $f: content hash differs"
    n=$((n + 1))
  done < <(find "$base" -type f -name data)
  echo "$n"
}

# expect WHAT GOT WANT: fail unless equal.
expect() {
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# header FILE NAME: the value of the last NAME header in a `curl -D` dump.
header() {
  tr -d '\r' <"$1" | grep -i "^$2:" | tail -n 1 | cut -d' ' -f2- || true
}

# abs_url ADDR LOCATION: a Location header made absolute against ADDR.
abs_url() {
  case $2 in
    http://* | https://*) echo "$2" ;;
    /*) echo "http://$1$2" ;;
    *) fail "unexpected Location '$2'" ;;
  esac
}

# with_query URL K=V: URL with one more query parameter.
with_query() {
  case $1 in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac
}

# upload_start ADDR REPO: POST a new upload session (202); prints its URL.
upload_start() {
  local h="$T/upload-start.h" code loc
  code=$(curl -s -o /dev/null -D "$h" -w '%{http_code}' --max-time 30 -X POST \
    -H 'Content-Length: 0' "http://$1/v2/$2/blobs/uploads/") || true
  [ "$code" = 202 ] || fail "POST /v2/$2/blobs/uploads/ on $1: status $code, want 202"
  loc=$(header "$h" Location)
  [ -n "$loc" ] || fail "POST /v2/$2/blobs/uploads/: no Location"
  abs_url "$1" "$loc"
}

# upload_patch ADDR URL FILE START: PATCH FILE as the chunk at START (with
# Content-Range); requires 202 and Range "0-<START+size-1>". Prints the
# next upload URL.
upload_patch() {
  local addr=$1 url=$2 file=$3 start=$4 size end h="$T/upload-patch.h" code
  size=$(stat -c %s "$file")
  end=$((start + size - 1))
  code=$(curl -s -o "$T/upload-patch.body" -D "$h" -w '%{http_code}' --max-time 120 -X PATCH \
    -H 'Content-Type: application/octet-stream' -H "Content-Range: $start-$end" \
    --data-binary @"$file" "$url") || true
  [ "$code" = 202 ] || fail "PATCH $start-$end: status $code, want 202: $(head -c 300 "$T/upload-patch.body")"
  expect "Range after PATCH $start-$end" "$(header "$h" Range)" "0-$end"
  abs_url "$addr" "$(header "$h" Location)"
}

# upload_finish URL DIGEST: PUT ?digest= with no body; requires 201.
upload_finish() {
  local code
  code=$(curl -s -o "$T/upload-put.body" -w '%{http_code}' --max-time 120 -X PUT \
    -H 'Content-Length: 0' "$(with_query "$1" "digest=$2")") || true
  [ "$code" = 201 ] || fail "PUT ?digest=$2: status $code, want 201: $(head -c 300 "$T/upload-put.body")"
}

# check_blob_head ADDR REPO DIGEST SIZE: HEAD the blob: 200, its length and
# Docker-Content-Digest.
check_blob_head() {
  local h="$T/blob-head.h" code
  code=$(curl -s -I -o /dev/null -D "$h" -w '%{http_code}' --max-time 30 \
    "http://$1/v2/$2/blobs/$3") || true
  [ "$code" = 200 ] || fail "HEAD /v2/$2/blobs/$3 on $1: status $code, want 200"
  expect "HEAD $3 Content-Length on $1" "$(header "$h" Content-Length)" "$4"
  expect "HEAD $3 Docker-Content-Digest on $1" "$(header "$h" Docker-Content-Digest)" "$3"
}

# check_blob_get ADDR REPO DIGEST FILE: GET the blob; bytes equal FILE.
check_blob_get() {
  curl -sf --max-time 120 -o "$T/blob-get.data" "http://$1/v2/$2/blobs/$3" ||
    fail "GET /v2/$2/blobs/$3 on $1 failed"
  cmp -s "$T/blob-get.data" "$4" || fail "GET /v2/$2/blobs/$3 on $1: bytes differ"
  rm -f "$T/blob-get.data"
}
