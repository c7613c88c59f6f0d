#!/usr/bin/env bash
# The parallel limit: six command images with `parallel: 3` never run more
# than three jobs at once (from the JSON events' timestamps: a job runs from
# its "building" event to its "pushed" event); port 0 gives a free port.
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

make_base "$P/base"
{
  echo "registry: {port: 0}"
  echo "images:"
  for i in 1 2 3 4 5 6; do
    echo "  - name: img$i"
    echo "    command: {run: 'sleep 0.4; cp -r base/. \"\$HOIST_OUTPUT\"'}"
  done
  echo "build: {parallel: 3}"
} >"$P/hoist.yaml"

up_ok "$T/up.out" -d --json
[[ $(state_get .registry.address) =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "no address"
[ "$(state_get .registry.address | cut -d: -f2)" -gt 0 ] || fail "port 0 was not replaced"
# +1 at each start, -1 at each end; the running maximum.
max=$(grep '^{' "$T/up.out" | jq -s '
  [.[] | select(.event == "building") | {t: .ts_ms, d: 1}] +
  [.[] | select(.event == "pushed" or .event == "failed") | {t: .ts_ms, d: -1}]
  | sort_by(.t, .d) | reduce .[] as $e ({n: 0, max: 0};
      .n += $e.d | .max = ([.max, .n] | max)) | .max')
log "at most $max jobs at once"
[ "$max" -le 3 ] || fail "$max jobs ran at once, parallel is 3"
[ "$max" -ge 2 ] || fail "jobs did not run in parallel (max $max)"
expect "pushed" "$(count_events "$T/up.out" pushed)" 6
"$HOIST" down -f "$P/hoist.yaml" >/dev/null
log "OK"
