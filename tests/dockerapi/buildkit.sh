#!/usr/bin/env bash
# Docker's BuildKit client against `hoist engine` (no dockerd): the CLI opens
# a session (POST /session, HTTP/2 with the engine as gRPC client), the
# engine pulls the Dockerfile, .dockerignore and context over it (fsutil's
# DiffCopy) and streams BuildKit's progress (moby.buildkit.trace). Checked:
# plain progress as the CLI prints it; .dockerignore with a re-include;
# modes and symbolic links through the sync; a rebuild moving no file and
# reusing every step; one changed file moving alone; -f outside the context;
# -q and --iidfile; a failing RUN and a Dockerfile error (exit 1, the
# message, no image); requests the engine refuses.
source "$(dirname "${BASH_SOURCE[0]}")/dockerapi_lib.sh"
DOCKER_BK=$("$HOIST_SOURCE_DIR/scripts/docker-buildkit-client.sh") ||
  fail "no docker client with built-in BuildKit"

start_registry
push_base
start_engine

# bk OUT ARGS...: the BuildKit client (DOCKER_BUILDKIT=1) with its output in
# OUT; sets DK_RC. bk_ok fails unless it exits 0.
bk() {
  local out=$1
  shift
  DK_RC=0
  DOCKER_BUILDKIT=1 timeout 300 "$DOCKER_BK" "$@" >"$out" 2>&1 </dev/null || DK_RC=$?
}
bk_ok() {
  bk "$@"
  [ "$DK_RC" = 0 ] || { cat "$1" >&2; fail "docker ${*:2} (BuildKit) exited $DK_RC"; }
}
# saved IMAGE: a directory holding IMAGE's docker save, unpacked.
saved() {
  local dir="$T/saved-$RANDOM"
  mkdir -p "$dir"
  dk_ok "$dir.out" save -o "$dir/i.tar" "$1"
  tar -xf "$dir/i.tar" -C "$dir"
  echo "$dir"
}
# image_file IMAGE PATH: PATH's content in IMAGE's layers.
image_file() {
  local dir
  dir=$(saved "$1")
  for l in $(jq -r '.[0].Layers[]' "$dir/manifest.json"); do
    tar -xOf "$dir/$l" "$2" 2>/dev/null || true
  done
}
# image_entry IMAGE PATH: PATH's line in `tar -tv` of the layer that has it.
image_entry() {
  local dir
  dir=$(saved "$1")
  for l in $(jq -r '.[0].Layers[]' "$dir/manifest.json"); do
    tar -tvf "$dir/$l" "$2" 2>/dev/null || true
  done
}

ctx="$T/ctx"
mkdir -p "$ctx/ignored" "$ctx/bin"
echo "from the context" >"$ctx/note.txt"
echo "never sent" >"$ctx/secret.txt"
echo "left out" >"$ctx/ignored/a.txt"
echo "kept" >"$ctx/ignored/keep.txt"
printf '#!/bin/sh\necho tool\n' >"$ctx/bin/tool"
chmod 0755 "$ctx/bin/tool"
ln -s tool "$ctx/bin/tool-link"
printf 'secret.txt\nignored\n!ignored/keep.txt\n' >"$ctx/.dockerignore"
cat >"$ctx/Dockerfile" <<'EOF2'
ARG BASE
FROM ${BASE} AS build
ARG MSG=default
RUN mkdir /out && echo "$MSG" > /out/msg
COPY . /ctx/

FROM ${BASE} AS runtime
COPY --from=build /out/ /app/
COPY --from=build /ctx/ /app/ctx/
CMD ["cat", "/app/msg"]

FROM runtime AS broken
RUN echo about to fail && exit 7
EOF2

# ---- a build, as the CLI shows it --------------------------------------------
bk_ok "$T/b1" build --progress=plain -t bk:1 --build-arg "BASE=$BASE" --build-arg MSG=hello \
  --target runtime "$ctx"
expect_in "$T/b1" "[internal] load .dockerignore"
expect_in "$T/b1" "transferring context: "
expect_in "$T/b1" "RUN mkdir /out"
grep -Eq '^#[0-9]+ DONE [0-9.]+s$' "$T/b1" || { cat "$T/b1" >&2; fail "no DONE lines"; }
expect_not_in "$T/b1" "exit 7"   # --target runtime: the broken stage never ran
expect_not_in "$T/b1" "GOAWAY"   # the session ends the CLI's way, quietly
dk_ok "$T/inspect1" image inspect --format '{{.Id}}' bk:1
id1=$(cat "$T/inspect1")
[[ $id1 == sha256:* ]] || fail "bk:1 not stored: $id1"

# What reached the image: .dockerignore applied (with its re-include),
# modes and links as in the context.
[ "$(image_file bk:1 app/msg)" = hello ] || fail "build arg MSG"
[ "$(image_file bk:1 app/ctx/note.txt)" = "from the context" ] || fail "note.txt"
[ -z "$(image_file bk:1 app/ctx/secret.txt)" ] || fail "secret.txt was sent despite .dockerignore"
[ -z "$(image_file bk:1 app/ctx/ignored/a.txt)" ] || fail "ignored/a.txt was sent"
[ "$(image_file bk:1 app/ctx/ignored/keep.txt)" = kept ] || fail "!ignored/keep.txt was not sent"
image_entry bk:1 app/ctx/bin/tool | grep -q '^-rwxr-xr-x' || fail "bin/tool lost its mode"
image_entry bk:1 app/ctx/bin/tool-link | grep -q -- '-> tool$' || fail "bin/tool-link is not a link"

# ---- a rebuild: no file moves, every step is reused --------------------------
bk_ok "$T/b2" build --progress=plain -t bk:1 --build-arg "BASE=$BASE" --build-arg MSG=hello \
  --target runtime "$ctx"
grep -Eq 'transferring context: 0 file\(s\) written \(0 B\), [0-9]+ unchanged, 0 removed' "$T/b2" ||
  { cat "$T/b2" >&2; fail "the rebuild moved files"; }
grep -A2 -F 'RUN mkdir /out' "$T/b2" | grep -q CACHED || { cat "$T/b2" >&2; fail "RUN ran again"; }
dk_ok "$T/inspect2" image inspect --format '{{.Id}}' bk:1
[ "$(cat "$T/inspect2")" = "$id1" ] || fail "the rebuild made another image"

# ---- one file changed: it alone moves; a removed file leaves the mirror -----
echo "changed" >"$ctx/note.txt"
touch -d '2020-01-01' "$ctx/note.txt"
rm "$ctx/bin/tool-link"
bk_ok "$T/b3" build --progress=plain -t bk:2 --build-arg "BASE=$BASE" --build-arg MSG=hello \
  --target runtime "$ctx"
grep -Eq 'transferring context: 1 file\(s\) written \(8 B\), [0-9]+ unchanged, 1 removed' "$T/b3" ||
  { cat "$T/b3" >&2; fail "the change did not move one file"; }
[ "$(image_file bk:2 app/ctx/note.txt)" = changed ] || fail "the changed note.txt"
[ -z "$(image_entry bk:2 app/ctx/bin/tool-link)" ] || fail "the removed link is still there"

# ---- -f outside the context; -q and --iidfile --------------------------------
mkdir -p "$T/elsewhere"
printf 'ARG BASE\nFROM ${BASE}\nCOPY note.txt /n\n' >"$T/elsewhere/Other.Dockerfile"
bk_ok "$T/q" build -q --iidfile "$T/iid" -f "$T/elsewhere/Other.Dockerfile" \
  --build-arg "BASE=$BASE" "$ctx"
grep -Eq '^sha256:[0-9a-f]{64}$' "$T/q" || { cat "$T/q" >&2; fail "-q printed more than the ID"; }
[ "$(cat "$T/iid")" = "$(cat "$T/q")" ] || fail "--iidfile $(cat "$T/iid") != $(cat "$T/q")"
dk_ok "$T/inspect-q" image inspect --format '{{.Id}}' "$(cat "$T/iid")"

# ---- failures: exit 1, the message, nothing stored ---------------------------
dk_ok "$T/before" images -a -q --no-trunc
bk "$T/fail" build --progress=plain -t bk:broken --build-arg "BASE=$BASE" --target broken "$ctx"
[ "$DK_RC" = 1 ] || { cat "$T/fail" >&2; fail "a failing RUN exited $DK_RC"; }
expect_in "$T/fail" "about to fail"
grep -Eq '^#[0-9]+ ERROR: .*exit.*7' "$T/fail" || { cat "$T/fail" >&2; fail "no ERROR line"; }
dk "$T/noimg" image inspect bk:broken
[ "$DK_RC" != 0 ] || fail "a failed build stored bk:broken"

printf 'FROM scratch\nCOPY\n' >"$T/elsewhere/Bad.Dockerfile"
bk "$T/bad" build -f "$T/elsewhere/Bad.Dockerfile" "$ctx"
[ "$DK_RC" = 1 ] || { cat "$T/bad" >&2; fail "a bad Dockerfile exited $DK_RC"; }
expect_in "$T/bad" "Bad.Dockerfile:2"
dk_ok "$T/after" images -a -q --no-trunc
# The failed builds added no image (the -q build above is in both lists).
[ "$(sort "$T/before")" = "$(sort "$T/after")" ] || fail "failed builds changed the images"

# ---- requests the engine refuses ---------------------------------------------
out=$(api POST '/v1.41/build?version=2&remote=upload-request')
[[ $out == *'"message"'*$'\n400' ]] || fail "upload-request: $out"
out=$(api POST '/v1.41/build?version=2&remote=client-session')
[[ $out == *"no build session"*$'\n400' ]] || fail "no session: $out"
out=$(api POST /session)
[[ $out == *"Upgrade: h2c"*$'\n400' ]] || fail "a session without Upgrade: $out"
out=$(api POST /session -H 'Connection: Upgrade' -H 'Upgrade: h2c')
[[ $out == *"X-Docker-Expose-Session-Uuid"*$'\n400' ]] || fail "a session without an ID: $out"

# The engine answers /_ping as dockerd with BuildKit does.
curl -sI --unix-socket "${DOCKER_HOST#unix://}" http://docker/_ping | tr -d '\r' >"$T/ping"
expect_in "$T/ping" "Builder-Version: 2"

# Without its plugin (hoist-buildkit.so beside hoist), the engine offers the
# classic builder only, and a BuildKit build says why it cannot run.
with_plugin=$DOCKER_HOST
REG='' ENGINE_NAME=plain HOIST_BUILDKIT_PLUGIN="$T/missing.so" start_engine
DOCKER_HOST=$with_plugin
curl -sI --unix-socket "$T/plain.sock" http://docker/_ping | tr -d '\r' >"$T/ping1"
expect_in "$T/ping1" "Builder-Version: 1"
DOCKER_HOST="unix://$T/plain.sock" bk "$T/noplugin" build -q --build-arg "BASE=$BASE" "$ctx"
[ "$DK_RC" != 0 ] || fail "a BuildKit build without the plugin exited 0"
# The CLI opens its session and starts the build at once; whichever refusal
# comes back first is what it prints: the session's 501, or the build's
# message.
grep -Eq 'received 501|BuildKit builds are not available here' "$T/noplugin" ||
  { cat "$T/noplugin" >&2; fail "a BuildKit build without the plugin: no refusal printed"; }
curl -s --unix-socket "$T/plain.sock" -X POST -H 'Connection: Upgrade' -H 'Upgrade: h2c' \
  -H 'X-Docker-Expose-Session-Uuid: s1' -w '\n%{http_code}' http://docker/session >"$T/nosession"
expect_in "$T/nosession" "BuildKit builds are not available here"
expect_in "$T/nosession" "missing.so"
[ "$(tail -n 1 "$T/nosession")" = 501 ] || fail "POST /session without the plugin: $(cat "$T/nosession")"
log "OK"
