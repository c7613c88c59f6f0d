#!/usr/bin/env bash
# `hoist engine` on bad input and on what it does not do: a failing RUN as
# the docker CLI prints it (exit 1); docker run / ps fail with hoist's
# message, never a hang; a malformed or truncated tar context, an unknown
# image, a Dockerfile outside the context, a bad archive to load: clear
# errors, and nothing half-stored.
source "$(dirname "${BASH_SOURCE[0]}")/dockerapi_lib.sh"

start_registry
push_base
start_engine

images_now() { docker images -a -q --no-trunc | sort; }
before=$(images_now)

# ---- a failing RUN --------------------------------------------------------------
ctx="$T/ctx"
mkdir -p "$ctx"
printf 'ARG BASE\nFROM ${BASE}\nRUN echo starting && exit 3\n' >"$ctx/Dockerfile"
dk "$T/fail" build -t broken:1 --build-arg "BASE=$BASE" "$ctx"
[ "$DK_RC" = 1 ] || { cat "$T/fail" >&2; fail "a failing build exited $DK_RC, not 1"; }
expect_in "$T/fail" "starting"
expect_in "$T/fail" "Dockerfile:3"
expect_in "$T/fail" "did not complete successfully: exit code: 3"
[ "$(images_now)" = "$before" ] || fail "a failed build stored an image"

# A Dockerfile error names the line.
printf 'FROM scratch\nCOPY missing.txt /\n' >"$ctx/Dockerfile"
dk "$T/fail2" build "$ctx"
[ "$DK_RC" = 1 ] || fail "COPY of a missing file exited $DK_RC"
expect_in "$T/fail2" "Dockerfile:2"
expect_in "$T/fail2" "missing.txt"

# ---- containers: a clear message, at once --------------------------------------
for cmd in "run --rm $BASE true" "ps" "create $BASE" "exec x true" "network ls" "volume ls"; do
  # shellcheck disable=SC2086
  dk "$T/nc" $cmd
  [ "$DK_RC" != 0 ] || fail "docker $cmd succeeded"
  expect_in "$T/nc" "runs no containers"
done
# docker inspect of an image still works (container look-ups are 404s).
docker pull -q "$BASE" >/dev/null
dk_ok "$T/insp" inspect --format '{{.Os}}' "$BASE"
[ "$(cat "$T/insp")" = linux ] || fail "docker inspect of an image: $(cat "$T/insp")"
before=$(images_now)

# ---- unknown images --------------------------------------------------------------
dk "$T/unknown" image inspect nope:1
[ "$DK_RC" = 1 ] || fail "inspect of an unknown image exited $DK_RC"
expect_in "$T/unknown" "No such image: nope:1"
dk "$T/unknown-rmi" rmi nope:1
expect_in "$T/unknown-rmi" "No such image: nope:1"
dk "$T/unknown-push" push "$REG/nope:1"
[ "$DK_RC" = 1 ] || fail "push of an unknown image exited $DK_RC"
expect_in "$T/unknown-push" "An image does not exist locally with the tag"
out=$(api GET /v1.47/images/nope:1/history)
[ "$(tail -n 1 <<<"$out")" = 404 ] || fail "history of an unknown image: $out"

# ---- malformed and truncated contexts -------------------------------------------
printf 'FROM scratch\nCOPY a /a\n' >"$ctx/Dockerfile"
echo a >"$ctx/a"
tar -C "$ctx" -cf "$T/good.tar" Dockerfile a
out=$(api POST '/v1.47/build?t=ok:1' -H 'Content-Type: application/x-tar' --data-binary @"$T/good.tar")
[ "$(tail -n 1 <<<"$out")" = 200 ] || fail "the good context: $out"
grep -q '"aux":{"ID":"sha256:' <<<"$out" || fail "no aux ID: $out"
ok_id=$(docker image inspect --format '{{.Id}}' ok:1)
before=$(images_now)
head -c 1000 "$T/good.tar" >"$T/truncated.tar"
out=$(api POST '/v1.47/build?t=trunc:1' -H 'Content-Type: application/x-tar' --data-binary @"$T/truncated.tar")
[ "$(tail -n 1 <<<"$out")" = 400 ] || fail "a truncated context: $out"
grep -q '"message":"invalid build context' <<<"$out" || fail "truncated context message: $out"
head -c 3000 /dev/urandom >"$T/garbage.tar"
out=$(api POST '/v1.47/build?t=garbage:1' -H 'Content-Type: application/x-tar' --data-binary @"$T/garbage.tar")
[ "$(tail -n 1 <<<"$out")" = 400 ] || fail "a garbage context: $out"
# A body cut short in transit (chunked, connection closed mid-way).
python3 - "${DOCKER_HOST#unix://}" "$T/good.tar" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
body = open(sys.argv[2], "rb").read()
s.sendall(b"POST /v1.47/build?t=cut:1 HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n"
          b"Content-Type: application/x-tar\r\n\r\n")
half = body[: len(body) // 2]
s.sendall(b"%x\r\n" % len(half) + half + b"\r\n")
s.close()
EOF
# A Dockerfile outside the context.
out=$(api POST '/v1.47/build?t=out:1&dockerfile=../Dockerfile' -H 'Content-Type: application/x-tar' --data-binary @"$T/good.tar")
[ "$(tail -n 1 <<<"$out")" = 400 ] || fail "a Dockerfile outside the context: $out"
grep -q 'must be inside the build context' <<<"$out" || fail "outside message: $out"
out=$(api POST '/v1.47/build?t=missing:1&dockerfile=Nope' -H 'Content-Type: application/x-tar' --data-binary @"$T/good.tar")
[ "$(tail -n 1 <<<"$out")" = 400 ] || fail "a missing Dockerfile: $out"
sleep 0.5
[ "$(images_now)" = "$before" ] || fail "bad contexts stored images"
for n in trunc:1 garbage:1 cut:1 out:1 missing:1; do
  dk "$T/x" image inspect "$n"
  [ "$DK_RC" != 0 ] || fail "$n exists after a failed build"
done
[ "$(docker image inspect --format '{{.Id}}' ok:1)" = "$ok_id" ] || fail "ok:1 changed"
# No work directory of the failed requests is left behind.
[ -z "$(ls -A "$HOIST_HOME/store/work" 2>/dev/null | grep '^engine-' || true)" ] ||
  fail "engine work directories left: $(ls "$HOIST_HOME/store/work")"

# ---- bad archives to load ---------------------------------------------------------
dk "$T/load-bad" load -i "$T/garbage.tar"
[ "$DK_RC" = 1 ] || fail "load of garbage exited $DK_RC"
expect_in "$T/load-bad" "invalid image archive"
printf '[{"Config":"nope.json","RepoTags":["x:1"],"Layers":[]}]' >"$T/manifest.json"
tar -C "$T" -cf "$T/bad-image.tar" manifest.json
dk "$T/load-bad2" load -i "$T/bad-image.tar"
[ "$DK_RC" = 1 ] || fail "load of a bad image exited $DK_RC"
[ "$(images_now)" = "$before" ] || fail "a bad load stored an image"

# ---- unknown endpoints and raw protocol errors -----------------------------------
out=$(api GET /v1.47/containers/json)
[ "$(tail -n 1 <<<"$out")" = 501 ] || fail "/containers/json: $out"
grep -q '"message":"hoist engine builds and stores images; it runs no containers' <<<"$out" ||
  fail "/containers/json message: $out"
out=$(printf 'GET /_ping HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab' |
  python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read())
s.settimeout(10); print(s.recv(200).split(b"\r\n")[0].decode())' "${DOCKER_HOST#unix://}")
[ "$out" = "HTTP/1.1 400 Bad Request" ] || fail "conflicting Content-Length: $out"
log "OK"
