# tests/up/up_lib.sh: helpers for the `hoist up` scripts, on top of
# tests/support/lib.sh (set -euo pipefail, $T, the EXIT trap that stops
# only the processes the script started).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"
#
# Each script gets a private content store (HOIST_HOME), DOCKER_CONFIG and
# project directory $P. Registries that `hoist up -d` leaves running are
# added to the processes the EXIT trap stops (by the PID in state.json).

# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
SCRIPT_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)  # the script, not this file
need skopeo jq curl python3 busybox-static
export HOIST_HOME="$T/hoist-home"
export DOCKER_CONFIG="$T/docker-config"
mkdir -p "$DOCKER_CONFIG"
unset SOURCE_DATE_EPOCH
P="$T/project"
mkdir -p "$P"

# state_get JQ: a value from $P/.hoist/state.json.
state_get() { jq -r "$1" "$P/.hoist/state.json"; }

# track_registry: let the EXIT trap stop the registry the state names.
track_registry() {
  local pid
  pid=$(state_get '.registry.pid' 2>/dev/null || echo 0)
  [ "${pid:-0}" -gt 0 ] && _PIDS+=("$pid")
  return 0
}

# up OUT ARGS...: `hoist up -f $P/hoist.yaml ARGS...` with its output in
# OUT; sets UP_RC; tracks the registry it leaves running.
up() {
  local out=$1
  shift
  UP_RC=0
  "$HOIST" up -f "$P/hoist.yaml" "$@" >"$out" 2>&1 </dev/null || UP_RC=$?
  track_registry
  log "hoist up $* -> exit $UP_RC"
}

# up_ok OUT ARGS...: as `up`, failing the script (showing OUT) unless exit 0.
up_ok() {
  up "$@"
  [ "$UP_RC" = 0 ] || { cat "$1" >&2; fail "hoist up ${*:2} exited $UP_RC"; }
}

# make_base DIR: the offline busybox image (testdata/make-base-image.sh) as
# an OCI layout.
make_base() {
  bash "$TESTDATA/make-base-image.sh" "$1" >"$T/make-base.log" 2>&1 ||
    { cat "$T/make-base.log" >&2; fail "make-base-image.sh failed"; }
}

# events OUT KIND: the JSON events of kind KIND in OUT (one per line).
events() { grep '^{' "$1" | jq -c --arg k "$2" 'select(.event == $k)'; }

# count_events OUT KIND [IMAGE]
count_events() {
  grep '^{' "$1" | jq -s --arg k "$2" --arg i "${3:-}" \
    '[.[] | select(.event == $k and ($i == "" or .image == $i))] | length'
}

# uploads: blob upload and manifest PUT requests the registry has logged.
writes() {
  local n
  n=$(grep -cE 'method=(POST|PATCH|PUT) uri=/v2/' "$P/.hoist/logs/registry.log" || true)
  echo "${n:-0}"
}

# inspect REF: skopeo inspect of a final reference (plain HTTP).
inspect() { sko inspect --tls-verify=false "docker://$1"; }
