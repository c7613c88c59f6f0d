#!/usr/bin/env bash
# The buildah/podman dialect: what buildah builds and BuildKit refuses
# builds with hoist too, and is reported once per use as a BuildahExtension
# check; `--strict` refuses each as BuildKit does, with BuildKit's message.
#   - FROM naming a stage in other letter case (BuildKit's issue #2003);
#   - COPY --from=$ARG, expanded with the stage's ARGs;
#   - RUN --mount options z, Z, relabel=, U (accepted and ignored);
#   - RUN --mount=type=tmpfs,tmpcopyup: the tmpfs starts with the target's
#     contents, and nothing written there reaches the layer.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

start_registry
push_base
mkdir -p "$T/ctx"
cat >"$T/ctx/Dockerfile" <<'DF'
ARG BASE
FROM ${BASE} AS Base_Stage
RUN mkdir -p /data && echo seed > /data/seed.txt

FROM Base_Stage
ARG SRC=base_stage
COPY --from=$SRC /data/seed.txt /copied.txt
RUN --mount=type=cache,target=/cache,z --mount=type=bind,target=/mnt,Z,relabel=private true
RUN --mount=type=cache,target=/cache2,U true
RUN --mount=type=tmpfs,target=/data,tmpcopyup cat /data/seed.txt > /seen.txt && echo new > /data/new.txt
DF

hb "$T/build.log" --build-arg "BASE=$BASE" -o "oci:$T/img:1" "$T/ctx" >/dev/null

# Each use is reported once, at its line.
once() { # LINE TEXT
  local n
  n=$(grep -c "Dockerfile:$1: BuildahExtension: .*$2" "$T/build.log" || true)
  [ "$n" = 1 ] || { cat "$T/build.log" >&2; fail "line $1: '$2' reported $n times, not once"; }
}
once 5 "FROM Base_Stage names stage \"base_stage\" in other letter case"
once 7 "COPY --from=\\\$SRC expands variables.*\"base_stage\""
once 8 "option 'z' is a buildah/podman extension"
once 8 "option 'Z' is a buildah/podman extension"
once 8 "option 'relabel=private' is a buildah/podman extension"
once 9 "option 'U' is a buildah/podman extension"
once 10 "option 'tmpcopyup' is a buildah/podman extension"
n=$(grep -c "BuildahExtension" "$T/build.log" || true)
[ "$n" = 7 ] || { cat "$T/build.log" >&2; fail "$n BuildahExtension reports, want 7"; }

m=$(layout_blob "$T/img" "$(layout_digest "$T/img" 1)")
layer() { layout_blob "$T/img" "$(jq -r ".layers[$1].digest" "$m")"; }
n=$(jq '.layers | length' "$m")
all=$(for ((i = 0; i < n; i++)); do layer_listing "$T/img" 1 "$i"; done)
# The final stage is built on Base_Stage: /data/seed.txt is in its layers.
grep -qE ' data/seed\.txt$' <<<"$all" || fail "the base stage's /data/seed.txt is missing"
content() { # PATH: the file as the last layer that has it holds it
  local i
  for ((i = n - 1; i >= 0; i--)); do
    if tar -tf "$(layer "$i")" | grep -qx "$1"; then
      tar -xOf "$(layer "$i")" "$1"
      return
    fi
  done
  fail "no layer has $1"
}
expect "copied from the stage" "$(content copied.txt)" seed
expect "the tmpfs's copy-up" "$(content seen.txt)" seed
! grep -qE ' data/new\.txt$' <<<"$all" || fail "a file written in the tmpfs reached a layer"
! grep -qE ' (cache|cache2|mnt)/.' <<<"$all" || fail "a mount's contents reached a layer"

# --strict: each is refused as BuildKit refuses it.
strict() { # NAME EXPECTED-MESSAGE DOCKERFILE-LINES...
  local name=$1 want=$2
  shift 2
  printf '%s\n' "$@" >"$T/ctx/Dockerfile.$name"
  if "$HOIST" build --strict --progress plain -f "$T/ctx/Dockerfile.$name" \
    --build-arg "BASE=$BASE" -o "oci:$T/strict-$name:1" "$T/ctx" >/dev/null 2>"$T/$name.err"; then
    fail "--strict built $name"
  fi
  grep -qF -- "$want" "$T/$name.err" || fail "--strict $name: $(cat "$T/$name.err")"
  # The same from the parser alone, which exits 1 for an invalid file.
  local rc=0
  "$HOIST" dockerfile parse --strict --build-arg "BASE=$BASE" "$T/ctx/Dockerfile.$name" \
    >/dev/null 2>"$T/$name.parse.err" || rc=$?
  expect "dockerfile parse --strict exit ($name)" "$rc" 1
  grep -qF -- "$want" "$T/$name.parse.err" || fail "parse --strict $name: $(cat "$T/$name.parse.err")"
  # And without --strict the parser accepts it.
  "$HOIST" dockerfile parse --build-arg "BASE=$BASE" "$T/ctx/Dockerfile.$name" >/dev/null 2>&1 ||
    fail "dockerfile parse refused $name without --strict"
}
strict case 'Dockerfile.case:3:6: failed to parse stage name "Base_Stage": invalid reference format: repository name (library/Base_Stage) must be lowercase' \
  'ARG BASE' 'FROM ${BASE} AS Base_Stage' 'FROM Base_Stage' 'RUN true'
strict from 'Dockerfile.from:5:6: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround' \
  'ARG BASE' 'FROM ${BASE} AS base' 'FROM ${BASE}' 'ARG SRC=base' 'COPY --from=$SRC /bin/sh /x'
strict z "Dockerfile.z:3:13: invalid field 'z' must be a key=value pair" \
  'ARG BASE' 'FROM ${BASE}' 'RUN --mount=type=cache,target=/c,z true'
strict bigz "Dockerfile.bigz:3:13: invalid field 'Z' must be a key=value pair" \
  'ARG BASE' 'FROM ${BASE}' 'RUN --mount=type=cache,target=/c,Z true'
strict u "Dockerfile.u:3:13: invalid field 'U' must be a key=value pair" \
  'ARG BASE' 'FROM ${BASE}' 'RUN --mount=type=cache,target=/c,U true'
strict relabel "Dockerfile.relabel:3:13: unexpected key 'relabel' in 'relabel=shared'" \
  'ARG BASE' 'FROM ${BASE}' 'RUN --mount=type=bind,target=/c,relabel=shared true'
strict tmpcopyup "Dockerfile.tmpcopyup:3:13: invalid field 'tmpcopyup' must be a key=value pair" \
  'ARG BASE' 'FROM ${BASE}' 'RUN --mount=type=tmpfs,target=/tmp,tmpcopyup true'

# What buildah refuses too stays an error without --strict.
printf 'ARG BASE\nFROM ${BASE}\nRUN --mount=type=cache,target=/c,tmpcopyup true\n' >"$T/ctx/Dockerfile.notmpfs"
if "$HOIST" dockerfile parse --build-arg "BASE=$BASE" "$T/ctx/Dockerfile.notmpfs" >/dev/null 2>"$T/notmpfs.err"; then
  fail "tmpcopyup on a cache mount was accepted"
fi
grep -qF "unexpected key 'tmpcopyup' for mount type 'cache'" "$T/notmpfs.err" || fail "tmpcopyup on cache: $(cat "$T/notmpfs.err")"
printf 'ARG BASE\nFROM ${BASE}\nRUN --mount=type=bind,target=/c,relabel=yes true\n' >"$T/ctx/Dockerfile.badrelabel"
if "$HOIST" dockerfile parse --build-arg "BASE=$BASE" "$T/ctx/Dockerfile.badrelabel" >/dev/null 2>"$T/badrelabel.err"; then
  fail "relabel=yes was accepted"
fi
grep -qF "invalid value for relabel: yes" "$T/badrelabel.err" || fail "relabel=yes: $(cat "$T/badrelabel.err")"
log "OK"
