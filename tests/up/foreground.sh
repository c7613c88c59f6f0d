#!/usr/bin/env bash
# `hoist up` without -d: the registry serves in the foreground after the
# images are pushed; SIGINT (Ctrl-C) or SIGTERM stops it cleanly and the
# state says so. A second `hoist up` meanwhile is refused (the lock).
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

make_base "$P/base"
printf 'images:\n  - {name: busybox, source: "oci:base"}\n' >"$P/hoist.yaml"

for sig in INT TERM; do
  "$HOIST" up -f "$P/hoist.yaml" >"$T/fg.$sig.out" 2>&1 </dev/null &
  UP_PID=$!
  _PIDS+=("$UP_PID")
  for ((i = 0; i < 300; i++)); do
    grep -q '^\[up\] serving: ' "$T/fg.$sig.out" && break
    _running "$UP_PID" || { cat "$T/fg.$sig.out" >&2; fail "hoist up exited early"; }
    sleep 0.1
  done
  grep -q '^\[up\] serving: ' "$T/fg.$sig.out" || fail "hoist up did not reach serving"
  REG_PID=$(state_get .registry.pid)
  _PIDS+=("$REG_PID")
  _running "$REG_PID" || fail "no registry while serving"
  expect "GET /v2/ while serving" "$(http_code "http://$(state_get .registry.address)/v2/")" 200
  if [ "$sig" = INT ]; then
    rc=0
    "$HOIST" up -f "$P/hoist.yaml" -d >"$T/second.out" 2>&1 || rc=$?
    expect "a second up while one runs" "$rc" 1
    grep -q 'another `hoist up` is running' "$T/second.out" || fail "no lock message"
  fi
  kill -"$sig" "$UP_PID"
  rc=0
  wait "$UP_PID" || rc=$?
  _forget_pid "$UP_PID"
  expect "exit code after SIG$sig" "$rc" 0
  _running "$REG_PID" && fail "the registry survived SIG$sig"
  grep -q '^\[up\] stopped: ' "$T/fg.$sig.out" || fail "no stopped line after SIG$sig"
  expect "state pid after SIG$sig" "$(state_get .registry.pid)" 0
done
log "OK"
