#!/usr/bin/env bash
# `hoist up -d` end to end: a file with an import (an OCI layout made by
# testdata/make-base-image.sh), a command image (the same maker writing a
# two-platform index into HOIST_OUTPUT) and a multi-stage Dockerfile image
# (no RUN) built FROM the imported image through ${REGISTRY}. Then:
# skopeo reads every final reference back; `status --json` and `env` agree;
# a second `up -d` reuses the registry and writes nothing ("unchanged");
# `down` stops it; `up -d` again starts a new one over the same storage,
# and the images are still there (nothing pushed, nothing rebuilt).
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

make_base "$P/base"
mkdir -p "$P/app"
echo "hello from hoist up" >"$P/app/hello.txt"
cat >"$P/app/Dockerfile" <<'DF'
ARG BASE
FROM ${BASE} AS build
WORKDIR /src
COPY hello.txt greeting.txt

FROM ${BASE}
COPY --from=build /src/greeting.txt /app/greeting.txt
ENV GREETING=hi
LABEL org.example.test=lifecycle
CMD ["cat", "/app/greeting.txt"]
DF
cat >"$P/hoist.yaml" <<YAML
registry:
  name: test
  port: 0
images:
  - name: busybox
    prefix: library
    source: oci:base
  - name: multi
    prefix: tools
    tag: "2"
    command:
      run: bash "$TESTDATA/make-base-image.sh" --platforms linux/amd64,linux/arm64 "\$HOIST_OUTPUT" latest
  - name: app
    prefix: your/custom/prefix
    depends_on: [busybox]
    dockerfile:
      context: app
      args:
        BASE: \${REGISTRY}/library/busybox:latest
build: {parallel: 3, retries: 2, backoff: 200ms}
YAML

# --- first up -------------------------------------------------------------
up_ok "$T/up1.out" -d
cat "$T/up1.out" >&2
grep -q '^\[up\] endpoint: 127.0.0.1:[0-9]* (pid [0-9]*)$' "$T/up1.out" || fail "no endpoint line"
grep -q '^\[up\] ready: ' "$T/up1.out" || fail "no ready line"
grep -q '^\[busybox\] importing: from oci:base$' "$T/up1.out" || fail "no importing line"
grep -q '^\[app\] building: app/Dockerfile$' "$T/up1.out" || fail "no building line for app"
grep -q '^\[up\] summary: 3 pushed (0 unchanged), 0 failed$' "$T/up1.out" || fail "summary"
# The Dockerfile image started after its dependency was pushed.
[ "$(grep -n '^\[busybox\] pushed' "$T/up1.out" | cut -d: -f1)" -lt \
  "$(grep -n '^\[app\] building' "$T/up1.out" | cut -d: -f1)" ] || fail "app built before busybox was pushed"

REG=$(state_get .registry.address)
PID1=$(state_get .registry.pid)
[[ $REG == 127.0.0.1:* ]] || fail "registry address '$REG'"
expect "hoist env" "$("$HOIST" env -f "$P/hoist.yaml")" "REGISTRY=$REG"
expect "pid file" "$(cat "$P/.hoist/registry.pid")" "$PID1"
expect "registry cmdline" "$(tr '\0' ' ' </proc/"$PID1"/cmdline | cut -d' ' -f2-3)" "registry serve"
expect "GET /v2/" "$(http_code "http://$REG/v2/")" 200

# --- the images, read back ------------------------------------------------
status_json=$("$HOIST" status -f "$P/hoist.yaml" --json)
expect "status running" "$(jq -r .registry.running <<<"$status_json")" true
for name in busybox multi app; do
  rec=$(jq -c --arg n "$name" '.images[] | select(.name == $n)' <<<"$status_json")
  expect "$name state" "$(jq -r .state <<<"$rec")" pushed
  [ -s "$(jq -r .log <<<"$rec")" ] || fail "$name has no log file"
done
ref_of() { jq -r --arg n "$1" '.images[] | select(.name == $n) | .reference' <<<"$status_json"; }
digest_of() { jq -r --arg n "$1" '.images[] | select(.name == $n) | .digest' <<<"$status_json"; }
expect "busybox reference" "$(ref_of busybox)" "$REG/library/busybox:latest"
expect "multi reference" "$(ref_of multi)" "$REG/tools/multi:2"
expect "app reference" "$(ref_of app)" "$REG/your/custom/prefix/app:latest"

expect "busybox digest" "$(inspect "$(ref_of busybox)" | jq -r .Digest)" "$(digest_of busybox)"
expect "busybox is the layout's image" "$(digest_of busybox)" "$(layout_digest "$P/base" latest)"
raw=$(sko inspect --tls-verify=false --raw "docker://$(ref_of multi)")
expect "multi is an index" "$(jq -r .mediaType <<<"$raw")" application/vnd.oci.image.index.v1+json
expect "multi platforms" "$(jq -r '[.manifests[].platform.architecture] | sort | join(",")' <<<"$raw")" amd64,arm64
app_info=$(inspect "$(ref_of app)")
expect "app digest" "$(jq -r .Digest <<<"$app_info")" "$(digest_of app)"
expect "app layers" "$(jq -r '.Layers | length' <<<"$app_info")" 2
expect "app base layer" "$(jq -r '.Layers[0]' <<<"$app_info")" \
  "$(inspect "$(ref_of busybox)" | jq -r '.Layers[0]')"
expect "app label" "$(jq -r '.Labels["org.example.test"]' <<<"$app_info")" lifecycle
jq -e '.Env | index("GREETING=hi")' <<<"$app_info" >/dev/null || fail "app lacks GREETING=hi"
# The file the multi-stage build copied, pulled back.
sko copy --src-tls-verify=false "docker://$(ref_of app)" "oci:$T/app-layout:app" >/dev/null
top=$(layout_blob "$T/app-layout" "$(layout_digest "$T/app-layout" app)")
layer=$(layout_blob "$T/app-layout" "$(jq -r '.layers[1].digest' "$top")")
expect "app/greeting.txt" "$(tar -xzOf "$layer" app/greeting.txt)" "hello from hoist up"

table=$("$HOIST" status -f "$P/hoist.yaml")
grep -q "^registry \"test\": $REG (pid $PID1, running)" <<<"$table" || fail "status table: $table"
[ "$(grep -c ' pushed ' <<<"$table")" = 3 ] || fail "status table lacks 3 pushed rows: $table"

# --- up again: same registry, nothing written ------------------------------
before=$(writes)
up_ok "$T/up2.out" -d --json
expect "reused" "$(count_events "$T/up2.out" reused)" 1
expect "unchanged" "$(count_events "$T/up2.out" unchanged)" 3
expect "pushed" "$(count_events "$T/up2.out" pushed)" 0
expect "registry pid after up 2" "$(state_get .registry.pid)" "$PID1"
expect "registry writes during up 2" "$(writes)" "$before"
app_msg=$(events "$T/up2.out" unchanged | jq -r 'select(.image == "app") | .message')
[[ $app_msg == *"(0 step(s) run, "* ]] || fail "app was rebuilt on the second up: $app_msg"

# --- down, then up over the same storage -------------------------------------
"$HOIST" down -f "$P/hoist.yaml" >"$T/down.out" || fail "hoist down failed"
grep -q '^\[up\] stopped: ' "$T/down.out" || fail "no stopped line"
for ((i = 0; i < 50; i++)); do _running "$PID1" || break; sleep 0.1; done
_running "$PID1" && fail "registry $PID1 still runs after hoist down"
expect "state pid after down" "$(state_get .registry.pid)" 0
[ -e "$P/.hoist/registry.pid" ] && fail "pid file left after down"
"$HOIST" env -f "$P/hoist.yaml" >/dev/null 2>&1 && fail "hoist env succeeded with no registry"
"$HOIST" down -f "$P/hoist.yaml" >/dev/null || fail "a second hoist down must succeed"

up_ok "$T/up3.out" -d --json
PID2=$(state_get .registry.pid)
[ "$PID2" != "$PID1" ] || fail "no new registry after down"
expect "registry events after down" "$(count_events "$T/up3.out" registry)" 1
expect "unchanged after restart" "$(count_events "$T/up3.out" unchanged)" 3
app_msg=$(events "$T/up3.out" unchanged | jq -r 'select(.image == "app") | .message')
[[ $app_msg == *"(0 step(s) run, "* ]] || fail "app was rebuilt after the restart: $app_msg"
REG2=$(state_get .registry.address)
expect "busybox after restart" "$(inspect "$REG2/library/busybox:latest" | jq -r .Digest)" \
  "$(digest_of busybox)"
"$HOIST" down -f "$P/hoist.yaml" >/dev/null
log "OK"
