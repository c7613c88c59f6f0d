#!/usr/bin/env bash
# A fixed port that is taken: the registry start is retried with
# exponential backoff, then reported; when the port frees up during the
# retries, the registry starts on it.
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

PORT=$(free_port)
# hold_port SECONDS: something listening on $PORT for that long.
hold_port() {
  python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("ok", flush=True); time.sleep(float(sys.argv[2]))' \
    "$PORT" "$1" >"$T/hold.out" 2>&1 &
  HOLD_PID=$!
  _PIDS+=("$HOLD_PID")
  for ((i = 0; i < 50; i++)); do grep -q ok "$T/hold.out" 2>/dev/null && return 0; sleep 0.1; done
  fail "could not hold port $PORT"
}

hold_port 60
printf 'registry: {port: %s}\nbuild: {retries: 2, backoff: 100ms}\n' "$PORT" >"$P/hoist.yaml"
up "$T/taken.out" -d
cat "$T/taken.out" >&2
expect "exit code with the port taken" "$UP_RC" 1
expect "attempts" "$(grep -c '^\[up\] registry: starting' "$T/taken.out")" 3
grep -q '^\[up\] retry: registry start failed: .*Address already in use.*; attempt 2 in 100ms$' "$T/taken.out" ||
  fail "no first retry line"
grep -q '; attempt 3 in 200ms$' "$T/taken.out" || fail "the backoff did not double"
grep -q "^\[up\] failed: the registry did not start on 127.0.0.1:$PORT after 3 attempt(s): " "$T/taken.out" ||
  fail "no final failure line"
expect "state pid" "$(state_get .registry.pid)" 0
stop_pid "$HOLD_PID"

# Freed during the retries: the port is released once the first retry is
# announced, and a later attempt gets it (0.5 + 1 + 2 + 4 s of backoff).
hold_port 60
printf 'registry: {port: %s}\nbuild: {retries: 4, backoff: 500ms}\n' "$PORT" >"$P/hoist.yaml"
"$HOIST" up -d -f "$P/hoist.yaml" >"$T/freed.out" 2>&1 </dev/null &
UP_PID=$!
_PIDS+=("$UP_PID")
for ((i = 0; i < 300; i++)); do
  grep -q '^\[up\] retry: registry start failed' "$T/freed.out" && break
  _running "$UP_PID" || break
  sleep 0.05
done
grep -q '^\[up\] retry: registry start failed' "$T/freed.out" || { cat "$T/freed.out" >&2; fail "no retry while the port was taken"; }
stop_pid "$HOLD_PID"
rc=0
wait "$UP_PID" || rc=$?
_forget_pid "$UP_PID"
track_registry
cat "$T/freed.out" >&2
expect "exit code once the port is free" "$rc" 0
expect "address" "$(state_get .registry.address)" "127.0.0.1:$PORT"
expect "GET /v2/" "$(http_code "http://127.0.0.1:$PORT/v2/")" 200
"$HOIST" down -f "$P/hoist.yaml" >/dev/null
log "OK"
