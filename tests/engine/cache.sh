#!/usr/bin/env bash
# The build cache: a second build with no change runs no step and uploads
# nothing (counted in the registry's access log); changing one COPY source
# reruns only that step and the ones after it; --no-cache reruns all but
# gives the same image; `hoist cache prune` empties the cache but keeps
# what local images use.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

start_registry
push_base
cp -a "$BUILD_TESTDATA/cache" "$T/ctx"
IMG="$REG/test/cache:1"
ARGS=(--build-arg "BASE=$BASE" -t "$IMG" --push)

# steps LOG: "RUN CACHED" counts from the summary line.
steps() { sed -n 's/^built sha256:[0-9a-f]* in [0-9.]*s: \([0-9]*\) step(s) run, \([0-9]*\) cached$/\1 \2/p' "$1"; }
# state JSONLOG TEXT: the final event (done/cached) of the step whose name contains TEXT.
state() {
  jq -r --arg t "$2" 'select(.name? != null and (.name | contains($t)) and (.event == "done" or .event == "cached")) | .event' "$1" | tail -n 1
}

u0=$(uploads)
d1=$(hb "$T/b1.log" "${ARGS[@]}" "$T/ctx")
expect "cold build steps" "$(steps "$T/b1.log")" "3 0"
u1=$(uploads)
[ "$u1" -gt "$u0" ] || fail "the cold build uploaded nothing"
log "cold: $d1, $((u1 - u0)) upload request(s)"

d2=$(hb "$T/b2.log" "${ARGS[@]}" "$T/ctx")
expect "no-op rebuild digest" "$d2" "$d1"
expect "no-op rebuild steps" "$(steps "$T/b2.log")" "0 3"
[ "$(grep -c '^#[0-9]* CACHED$' "$T/b2.log")" -ge 3 ] || fail "no CACHED lines in the progress"
expect "upload requests of the no-op rebuild" "$(uploads)" "$u1"
grep -q ' 0 blob(s) uploaded' "$T/b2.log" || fail "the push summary does not say 0 uploaded"

# One source changes: its step and the later ones run, the earlier one not.
printf 'b changed\n' >"$T/ctx/b.txt"
"$HOIST" build --progress json "${ARGS[@]}" "$T/ctx" >"$T/b3.json" 2>"$T/b3.err" ||
  { cat "$T/b3.err" >&2; fail "the rebuild after a change failed"; }
expect "COPY a.txt" "$(state "$T/b3.json" "COPY a.txt /a.txt")" "cached"
expect "COPY b.txt" "$(state "$T/b3.json" "COPY b.txt /b.txt")" "done"
expect "COPY c/" "$(state "$T/b3.json" "COPY c/ /c/")" "done"
d3=$(jq -r 'select(.event == "result") | .manifest' "$T/b3.json")
[ "$d3" != "$d1" ] || fail "the change did not change the image"
expect "result event" "$(jq -c 'select(.event == "result") | [.steps_run, .steps_cached]' "$T/b3.json")" "[2,1]"
u3=$(uploads)
[ "$u3" -gt "$u1" ] || fail "the changed build uploaded nothing"
# b.txt's new layer and the config go up; the base, a.txt's layer and c/'s
# (rebuilt, but to the same bytes) are there already.
expect "pushed event" "$(jq -c 'select(.event == "pushed") | [.uploaded, .skipped]' "$T/b3.json")" "[2,3]"

# --no-cache: every step runs, the image is the same, nothing new uploaded.
d4=$(hb "$T/b4.log" "${ARGS[@]}" --no-cache "$T/ctx")
expect "--no-cache digest" "$d4" "$d3"
expect "--no-cache steps" "$(steps "$T/b4.log")" "3 0"
expect "upload requests of the --no-cache build" "$(uploads)" "$u3"

# Moving a line does not invalidate the cache (keys hold no positions).
sed -i 's/^ENV STEP=2$/# a comment line\nENV STEP=2/' "$T/ctx/Dockerfile"
hb "$T/b5.log" "${ARGS[@]}" "$T/ctx" >/dev/null
expect "steps after a comment was added" "$(steps "$T/b5.log")" "0 3"

# An image kept in the local store under its -t name is pushed later with
# `hoist push NAME REF`.
d7=$(hb "$T/b7.log" --build-arg "BASE=$BASE" -t localhost/kept/app:1 "$T/ctx")
expect "kept image" "$d7" "$d3"
pushed=$("$HOIST" push -q localhost/kept/app:1 "$REG/test/later:1") || fail "hoist push NAME REF failed"
expect "hoist push of the kept image" "$pushed" "$d3"
expect "digest in the registry" "$(sko inspect --tls-verify=false "docker://$REG/test/later:1" | jq -r .Digest)" "$d3"
"$HOIST" push -q localhost/not/built:1 "$REG/test/none:1" >/dev/null 2>&1 && fail "pushed an image nobody built"

# prune: records and unreferenced blobs go; the tagged image stays whole.
"$HOIST" cache prune --all --json >"$T/prune.json" || fail "cache prune failed"
[ "$(jq .records_removed "$T/prune.json")" -ge 4 ] || fail "prune removed too little: $(cat "$T/prune.json")"
jq -e --arg n "$IMG" '.images[$n].digest' "$HOIST_HOME/store/images.json" >/dev/null ||
  fail "images.json lost $IMG"
d6=$(hb "$T/b6.log" "${ARGS[@]}" "$T/ctx")
expect "steps after prune --all" "$(steps "$T/b6.log")" "3 0"
expect "digest after prune" "$d6" "$d3"
"$HOIST" cache prune --keep-storage 1 >"$T/prune2.txt" || fail "cache prune --keep-storage failed"
grep -q '^removed [1-9][0-9]* cache record' "$T/prune2.txt" || fail "--keep-storage evicted nothing: $(cat "$T/prune2.txt")"
"$HOIST" cache prune --keep-storage nonsense >/dev/null 2>&1 && fail "a bad --keep-storage was accepted"
log "OK"
