#!/usr/bin/env bash
# Bad hoist.yaml files are refused before anything starts (exit 2), with
# errors naming the file, the line and the field; --help works everywhere.
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

# refuse WANT_SUBSTRING: `hoist up -d` on $P/hoist.yaml must exit 2 saying it.
refuse() {
  local rc=0
  "$HOIST" up -d -f "$P/hoist.yaml" >"$T/out" 2>"$T/err" || rc=$?
  expect "exit code for: $1" "$rc" 2
  grep -qF -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks: $1"; }
  [ -e "$P/.hoist/registry.pid" ] && fail "a registry was started for a bad file"
  return 0
}

printf 'registry:\n  port: 0\n  colour: blue\n' >"$P/hoist.yaml"
refuse "hoist up: $P/hoist.yaml:3:3: registry: unknown key \"colour\""
printf 'images:\n  - name: a\n    dockerfile: {context: ., dockerfile: X}\n' >"$P/hoist.yaml"
refuse "hoist.yaml:3:30: images[0].dockerfile: unknown key \"dockerfile\""
printf 'images:\n  - prefix: x\n    source: oci:y\n' >"$P/hoist.yaml"
refuse "hoist.yaml:2:5: images[0]: missing \"name\""
printf 'images:\n  - {name: a, source: "oci:x"}\n  - {name: a, source: "oci:y"}\n' >"$P/hoist.yaml"
refuse "hoist.yaml:3:5: images[1]: final reference <registry>/a:latest is also that of images[0] (line 2)"
printf 'build: {parallel: many}\n' >"$P/hoist.yaml"
refuse "hoist.yaml:1:19: build.parallel: want an integer from 1 to 64, got \"many\""
rm "$P/hoist.yaml"
refuse "hoist.yaml: no such file"

for cmd in up down status env; do
  "$HOIST" "$cmd" --help >"$T/help" || fail "hoist $cmd --help failed"
  grep -q -- '-f,--file' "$T/help" || fail "hoist $cmd --help lacks -f"
done
rc=0
"$HOIST" up --no-such-flag >/dev/null 2>&1 || rc=$?
expect "unknown flag" "$rc" 2
rc=0
"$HOIST" status -f "$P/hoist.yaml" >/dev/null 2>&1 || rc=$?
expect "status without state" "$rc" 1
log "OK"
