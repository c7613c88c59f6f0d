# shellcheck shell=bash
# tests/engine/engine_lib.sh: helpers for the build scripts, on top of
# tests/support/lib.sh (set -euo pipefail, $T, the EXIT trap that stops
# only the processes the script started, start_hoist, ...).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"
#
# Each script gets a private store (HOIST_HOME) and DOCKER_CONFIG; all
# traffic stays on 127.0.0.1; every wait is bounded.

# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
SCRIPT_NAME=$(basename "$0" .sh)  # lib.sh took this file's name
need skopeo umoci jq curl python3 busybox-static git tar gzip zstd
export HOIST_HOME="$T/hoist-home"
export DOCKER_CONFIG="$T/docker-config"
mkdir -p "$DOCKER_CONFIG"
unset SOURCE_DATE_EPOCH
# shellcheck disable=SC2034  # for the scripts that source this file
BUILD_TESTDATA="$TESTDATA/build"

# start_registry: hoist's registry with its access log; sets REG
# (127.0.0.1:PORT) and REG_LOG.
start_registry() {
  HOIST_LOG_LEVEL=info start_hoist "$T/registry"
  REG=$HOIST_ADDR
  REG_LOG="$T/hoist.$_SERIAL.log"
}

# push_base: the offline busybox image (testdata/make-base-image.sh) in
# the registry as $REG/base/busybox:1; sets BASE.
push_base() {
  bash "$TESTDATA/make-base-image.sh" "$T/base-layout" 1 >"$T/make-base.log" 2>&1 ||
    { cat "$T/make-base.log" >&2; fail "make-base-image.sh failed"; }
  "$HOIST" copy --quiet "oci:$T/base-layout:1" "$REG/base/busybox:1" >/dev/null ||
    fail "could not push the base image"
  # shellcheck disable=SC2034  # for the scripts that source this file
  BASE="$REG/base/busybox:1"
}

# uploads: blob upload requests (POST/PATCH/PUT .../blobs/uploads) the
# registry has answered so far.
uploads() {
  local n
  n=$(grep -cE 'method=(POST|PATCH|PUT) uri=/v2/[^ ]*/blobs/uploads' "$REG_LOG" || true)
  echo "${n:-0}"
}

# hb LOG ARGS...: `hoist build ARGS...` with plain progress into LOG
# (stdout: the digest). Fails the script, showing LOG, when the build fails.
hb() {
  local logf=$1
  shift
  "$HOIST" build --progress plain "$@" 2>"$logf" || {
    tail -n 40 "$logf" >&2
    fail "hoist build $* failed"
  }
}

# start_http DIR: a loopback HTTP server for DIR (python3 -m http.server);
# sets HTTP_URL.
start_http() {
  local dir=$1 port logf i
  port=$(free_port)
  logf="$T/http.$port.log"
  python3 -m http.server --bind 127.0.0.1 --directory "$dir" "$port" >"$logf" 2>&1 </dev/null &
  _PIDS+=("$!")
  _LOGS+=("$logf")
  HTTP_URL="http://127.0.0.1:$port"
  for ((i = 0; i < 100; i++)); do
    [ "$(http_code "$HTTP_URL/")" = 200 ] && return 0
    sleep 0.1
  done
  fail "the HTTP server on $port did not answer within 10 s"
}

# config_of REF: the image config as stored (skopeo inspect --raw --config;
# without --raw skopeo drops the Docker fields Healthcheck, Shell, OnBuild).
config_of() {
  sko inspect --tls-verify=false --raw --config "docker://$1" || fail "skopeo inspect --raw --config $1 failed"
}

# layer_listing LAYOUT TAG N: `tar -tvf` (numeric owners) of layer N (0-based)
# of the image TAG in the OCI layout.
layer_listing() {
  local m blob
  m=$(layout_blob "$1" "$(layout_digest "$1" "$2")")
  blob=$(layout_blob "$1" "$(jq -r ".layers[$3].digest" "$m")")
  tar --numeric-owner -tvf "$blob" || fail "tar cannot read layer $3 of $1:$2"
}
