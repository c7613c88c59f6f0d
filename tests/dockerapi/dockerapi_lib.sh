# shellcheck shell=bash
# tests/dockerapi/dockerapi_lib.sh: helpers for the `hoist engine` scripts, on
# top of tests/engine/engine_lib.sh (a private store, DOCKER_CONFIG,
# start_registry, push_base, the EXIT trap that stops only the processes
# the script started).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/dockerapi_lib.sh"
#
# The docker CLI is the client under test: the machine's, else Debian's
# docker.io package (only its client is used; no dockerd is started).

# shellcheck source-path=SCRIPTDIR source=../engine/engine_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../engine/engine_lib.sh"
SCRIPT_NAME=$(basename "$0" .sh)
command -v docker >/dev/null || need docker.io
command -v docker >/dev/null || fail "no docker CLI after installing docker.io"
# The classic builder API (POST /build), which hoist engine serves.
export DOCKER_BUILDKIT=0
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

# start_engine [ARGS...]: `hoist engine` on a unix socket in $T (with
# --registry $REG when REG is set); sets ENGINE_PID and DOCKER_HOST. Its
# files are $T/$ENGINE_NAME.{sock,addr,log,out} (ENGINE_NAME: engine).
start_engine() {
  local name=${ENGINE_NAME:-engine} i
  local sock="$T/$name.sock" addr_file="$T/$name.addr" logf="$T/$name.log"
  local reg=()
  [ -n "${REG:-}" ] && reg=(--registry "$REG")
  rm -f "$addr_file"
  "$HOIST" engine --socket "$sock" "${reg[@]}" --addr-file "$addr_file" "$@" \
    >"$T/$name.out" 2>"$logf" </dev/null &
  ENGINE_PID=$!
  _PIDS+=("$ENGINE_PID")
  _LOGS+=("$logf")
  for ((i = 0; i < 100; i++)); do
    [ -s "$addr_file" ] && break
    kill -0 "$ENGINE_PID" 2>/dev/null || { cat "$logf" >&2; fail "hoist engine exited during startup"; }
    sleep 0.1
  done
  [ -s "$addr_file" ] || fail "hoist engine wrote no --addr-file within 10 s"
  [ "$(cat "$addr_file")" = "unix://$sock" ] || fail "engine address: $(cat "$addr_file")"
  [ "$(head -n 1 "$T/$name.out")" = "unix://$sock" ] || fail "engine's first stdout line"
  export DOCKER_HOST="unix://$sock"
  log "hoist engine PID $ENGINE_PID on $DOCKER_HOST"
}

# dk OUT ARGS...: `docker ARGS...` with stdout+stderr in OUT; sets DK_RC.
dk() {
  local out=$1
  shift
  DK_RC=0
  timeout 300 docker "$@" >"$out" 2>&1 </dev/null || DK_RC=$?
}

# dk_ok OUT ARGS...: as dk, failing the script (showing OUT) unless exit 0.
dk_ok() {
  dk "$@"
  [ "$DK_RC" = 0 ] || { cat "$1" >&2; fail "docker ${*:2} exited $DK_RC"; }
}

# api METHOD PATH [CURL_ARGS...]: a raw Engine API request on the socket;
# prints the body, then the status on a last line of its own.
api() {
  local method=$1 path=$2
  shift 2
  curl -s --max-time 60 --unix-socket "${DOCKER_HOST#unix://}" -X "$method" \
    -w '\n%{http_code}' "$@" "http://docker$path"
}

# expect_in FILE TEXT: FILE contains TEXT (fixed string).
expect_in() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "expected '$2' in $(basename "$1")"; }; }
expect_not_in() { ! grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "did not expect '$2' in $(basename "$1")"; }; }
