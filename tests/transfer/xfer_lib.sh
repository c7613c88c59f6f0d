# tests/transfer/xfer_lib.sh: helpers for the image-transfer scripts, on
# top of tests/support/lib.sh (set -euo pipefail, $T, the EXIT trap that
# stops only the processes the script started, start_hoist, ...).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"
#
# Everything listens on 127.0.0.1; every wait is bounded. Each test gets a
# private DOCKER_CONFIG (never the user's credentials).

# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
XFER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOCKER_CONFIG="$T/docker-config"
mkdir -p "$DOCKER_CONFIG"
need skopeo jq curl python3 busybox-static openssl

# hx ARGS...: the hoist binary, quiet unless HOIST_VERBOSE=1.
hx() { "$HOIST" "$@"; }

# start_bg NAME PORTFILE CMD...: starts CMD in the background (tracked for
# the EXIT trap) and waits up to 10 s for it to write PORTFILE. Sets BG_PID.
start_bg() {
  local name=$1 portfile=$2 logf i
  shift 2
  logf="$T/$name.log"
  "$@" >"$logf" 2>&1 </dev/null &
  BG_PID=$!
  _PIDS+=("$BG_PID")
  _LOGS+=("$logf")
  for ((i = 0; i < 100; i++)); do
    [ -s "$portfile" ] && return 0
    kill -0 "$BG_PID" 2>/dev/null || { tail -n 20 "$logf" >&2; fail "$name exited during startup"; }
    sleep 0.1
  done
  fail "$name wrote no port file within 10 s"
}

# make_ca DIR: a CA and a server certificate for 127.0.0.1/localhost signed
# by it: DIR/ca.pem, DIR/server.pem, DIR/server.key. Also a second,
# unrelated CA: DIR/other-ca.pem.
make_ca() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=hoist test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || fail "openssl: CA"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || fail "openssl: CSR"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" >/dev/null 2>&1 || fail "openssl: sign"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
    -keyout "$d/other-ca.key" -out "$d/other-ca.pem" >/dev/null 2>&1 || fail "openssl: other CA"
}

# make_image DIR TAG SIZES_KIB [SEED]: an image with one layer per size.
make_image() {
  /usr/bin/python3 "$XFER_DIR/make_image.py" "$@" >/dev/null || fail "make_image.py $*"
}

# base_images: $BASE (busybox, one platform) and $MULTI (2-platform index).
base_images() {
  BASE="$T/base"
  MULTI="$T/multi"
  if ! { bash "$TESTDATA/make-base-image.sh" "$BASE" latest &&
    bash "$TESTDATA/make-multiarch-index.sh" "$MULTI" latest; } >"$T/make.log" 2>&1; then
    cat "$T/make.log" >&2
    fail "making the base images failed"
  fi
}

# expect_fail WANT_EXIT PATTERN CMD...: CMD exits WANT_EXIT and its stderr
# matches PATTERN (grep -E). Leaves stderr in $T/last.err.
expect_fail() {
  local want=$1 pattern=$2 rc=0
  shift 2
  "$@" >"$T/last.out" 2>"$T/last.err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/last.err" >&2; fail "exit $rc, want $want: $*"; }
  grep -Eq -- "$pattern" "$T/last.err" || { cat "$T/last.err" >&2; fail "stderr lacks /$pattern/: $*"; }
}

# no_secret SECRET FILE...: none of the files contains SECRET.
no_secret() {
  local s=$1 f
  shift
  for f in "$@"; do
    ! grep -qF -- "$s" "$f" || fail "$f contains a credential"
  done
}

# lib.sh named the script after this file; name it after the test.
SCRIPT_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
