#!/usr/bin/env bash
# Failure isolation: a broken Dockerfile, an unreachable source, a command
# that fails and a command that leaves no layout each fail with a clear
# reason (and a log file); an image depending on a failed one is not
# started; the other images are pushed; the exit code is 1 with a summary.
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

make_base "$P/base"
mkdir -p "$P/broken"
printf 'FROM scratch\nCOPY missing.txt /\n' >"$P/broken/Dockerfile"
DEAD_PORT=$(free_port)
cat >"$P/hoist.yaml" <<YAML
images:
  - name: good
    source: oci:base
  - name: broken
    dockerfile: {context: broken}
  - name: unreachable
    source: 127.0.0.1:$DEAD_PORT/nothing/here:1
  - name: exits
    command: {run: "echo about to fail; exit 3"}
  - name: empty
    command: {run: "true"}
  - name: after-broken
    depends_on: [broken]
    source: oci:base
  - name: good2
    prefix: more
    command: {run: 'cp -r base/. "\$HOIST_OUTPUT"'}
build: {parallel: 3, retries: 1, backoff: 100ms}
YAML

up "$T/up.out" -d --json
cat "$T/up.out" >&2
expect "exit code" "$UP_RC" 1
summary=$(events "$T/up.out" summary)
expect "pushed" "$(jq -r .pushed <<<"$summary")" 2
expect "failed" "$(jq -r .failed <<<"$summary")" 5
error_of() { state_get ".images[] | select(.name == \"$1\") | .error"; }
state_of() { state_get ".images[] | select(.name == \"$1\") | .state"; }
for n in good good2; do expect "$n" "$(state_of "$n")" pushed; done
for n in broken unreachable exits empty after-broken; do expect "$n" "$(state_of "$n")" failed; done

[[ $(error_of broken) == *"broken/Dockerfile:2"* ]] || fail "broken: $(error_of broken)"
[[ $(error_of broken) == *"missing.txt"* ]] || fail "broken: $(error_of broken)"
[[ $(error_of unreachable) == "source 127.0.0.1:$DEAD_PORT/nothing/here:1: "* ]] ||
  fail "unreachable: $(error_of unreachable)"
[[ $(error_of exits) == "command failed: exit status 3 (log: $P/.hoist/logs/exits.log)" ]] ||
  fail "exits: $(error_of exits)"
grep -q '^about to fail$' "$P/.hoist/logs/exits.log" || fail "the command's output is not in its log"
[[ $(error_of empty) == "the command left no usable OCI image layout in HOIST_OUTPUT: "* ]] ||
  fail "empty: $(error_of empty)"
expect "after-broken" "$(error_of after-broken)" "not started: it depends on broken, which failed"

REG=$(state_get .registry.address)
inspect "$REG/good:latest" >/dev/null || fail "good is not in the registry"
inspect "$REG/more/good2:latest" >/dev/null || fail "good2 is not in the registry"

# The text table lists the reasons.
"$HOIST" status -f "$P/hoist.yaml" >"$T/status.txt"
grep -q '^errors:$' "$T/status.txt" || fail "no errors in the table"
grep -q '^  exits: command failed: exit status 3' "$T/status.txt" || fail "table: exits"
"$HOIST" down -f "$P/hoist.yaml" >/dev/null
log "OK"
