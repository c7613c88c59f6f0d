# shellcheck shell=bash
# bench/lib/run-registry.sh — sourced by bench scripts that push to one hoist
# registry for the whole run. `start_run_registry HOIST DIR` starts it with
# lib/start-hoist.sh on a fresh DIR, sets REG_PID and REGISTRY (host:port),
# and stops it when the script exits. The caller defines die().
REG_PID=
stop_run_registry() {
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
}
start_run_registry() { # HOIST DIR
  local started
  trap stop_run_registry EXIT
  rm -rf "$2"
  started=$(bash "$(dirname "${BASH_SOURCE[0]}")/start-hoist.sh" "$1" "$2") ||
    die "the registry did not start (see $2/registry.log)"
  read -r REG_PID REGISTRY <<<"$started"
}
