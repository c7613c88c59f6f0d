#!/usr/bin/env bash
# docker push and docker pull through `hoist engine`: to hoist's registry
# and to Debian's docker-registry (CNCF distribution 2.8), by full name and
# through --registry for names without a registry host; RepoDigests match
# what the registries serve; X-Registry-Auth is checked.
source "$(dirname "${BASH_SOURCE[0]}")/dockerapi_lib.sh"
need docker-registry

start_registry
push_base
start_engine
dist_port=$(free_port)
start_distribution "$dist_port" "$T/dist"

ctx="$T/ctx"
mkdir -p "$ctx"
printf 'ARG BASE\nFROM ${BASE}\nRUN echo pushed > /p\n' >"$ctx/Dockerfile"
dk_ok "$T/build" build -t "$REG/team/app:1" --build-arg "BASE=$BASE" "$ctx"

# manifest_digest REGISTRY REPO TAG: what the registry serves for the tag.
manifest_digest() {
  curl -sf -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.index.v1+json' \
    "http://$1/v2/$2/manifests/$3" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

# ---- push to hoist's registry -------------------------------------------------
dk_ok "$T/push" push "$REG/team/app:1"
expect_in "$T/push" "The push refers to repository [$REG/team/app]"
pushed=$(sed -n 's/^1: digest: \(sha256:[0-9a-f]*\) size: [0-9]*$/\1/p' "$T/push")
[ -n "$pushed" ] || { cat "$T/push" >&2; fail "no '1: digest:' line"; }
[ "$(manifest_digest "$REG" team/app 1)" = "$pushed" ] || fail "registry digest != pushed digest"
dk_ok "$T/rd" image inspect --format '{{json .RepoDigests}}' "$REG/team/app:1"
expect_in "$T/rd" "$REG/team/app@$pushed"
# The registry holds a runnable image: its RUN layer has /p.
sko copy --src-tls-verify=false "docker://$REG/team/app:1" "oci:$T/pulled:1" >/dev/null
for l in $(jq -r '.layers[].digest' "$(layout_blob "$T/pulled" "$(layout_digest "$T/pulled" 1)")"); do
  tar -xOzf "$(layout_blob "$T/pulled" "$l")" p 2>/dev/null || true
done >"$T/p"
[ "$(cat "$T/p")" = pushed ] || fail "the pushed image has no /p with 'pushed'"

# ---- push to distribution 2.8 -------------------------------------------------
dk_ok "$T/tag" tag "$REG/team/app:1" "127.0.0.1:$dist_port/other/app:2"
dk_ok "$T/push2" push "127.0.0.1:$dist_port/other/app:2"
expect_in "$T/push2" "2: digest: $pushed"
[ "$(manifest_digest "127.0.0.1:$dist_port" other/app 2)" = "$pushed" ] ||
  fail "distribution serves another digest"

# ---- --registry: names without a registry host --------------------------------
dk_ok "$T/tag3" tag "$REG/team/app:1" myapp:3
dk_ok "$T/push3" push myapp:3
expect_in "$T/push3" "[$REG/library/myapp]"
[ "$(manifest_digest "$REG" library/myapp 3)" = "$pushed" ] || fail "--registry push"

# ---- docker pull ------------------------------------------------------------
dk_ok "$T/pull" pull "$BASE"
expect_in "$T/pull" "Status: Downloaded newer image for $BASE"
base_digest=$(manifest_digest "$REG" base/busybox 1)
expect_in "$T/pull" "Digest: $base_digest"
dk_ok "$T/pull-again" pull "$BASE"
expect_in "$T/pull-again" "Status: Image is up to date for $BASE"
dk_ok "$T/pulled-list" images --format '{{.Repository}}:{{.Tag}}' "$REG/base/busybox"
[ "$(cat "$T/pulled-list")" = "$REG/base/busybox:1" ] || fail "pulled image not listed: $(cat "$T/pulled-list")"
dk_ok "$T/pull-rd" image inspect --format '{{json .RepoDigests}}' "$BASE"
expect_in "$T/pull-rd" "$REG/base/busybox@$base_digest"
# Through --registry: "busybox-mirror:1" is $REG/library/busybox-mirror:1.
"$HOIST" copy --quiet "$BASE" "$REG/library/busybox-mirror:1" >/dev/null
dk_ok "$T/pull-mirror" pull busybox-mirror:1
expect_in "$T/pull-mirror" "Downloaded newer image for busybox-mirror:1"
dk_ok "$T/pull-mirror-inspect" image inspect busybox-mirror:1
# An image the registry lacks: docker's error, exit 1, nothing stored.
dk "$T/pull-none" pull "$REG/nothing/here:1"
[ "$DK_RC" = 1 ] || fail "pull of a missing image exited $DK_RC"
expect_in "$T/pull-none" "Error response from daemon"
dk "$T/none" image inspect "$REG/nothing/here:1"
[ "$DK_RC" != 0 ] || fail "a failed pull left an image"

# ---- X-Registry-Auth ----------------------------------------------------------
out=$(api POST "/v1.47/images/$REG/team/app:1/push" -H 'X-Registry-Auth: %%%not-base64%%%')
[ "$(tail -n 1 <<<"$out")" = 400 ] || fail "bad X-Registry-Auth: $out"
grep -q 'invalid X-Registry-Auth header' <<<"$out" || fail "bad X-Registry-Auth message: $out"
auth=$(printf '{"username":"u","password":"p","serveraddress":"%s"}' "$REG" | base64 -w0 | tr '+/' '-_')
out=$(api POST "/v1.47/images/create?fromImage=$REG/base/busybox&tag=1" -H "X-Registry-Auth: $auth")
[ "$(tail -n 1 <<<"$out")" = 200 ] || fail "pull with credentials: $out"
# docker login checks credentials against the registry (POST /auth).
docker login -u someone --password-stdin "$REG" <<<"secret" >"$T/login" 2>&1 ||
  { cat "$T/login" >&2; fail "docker login"; }
expect_in "$T/login" "Login Succeeded"
log "OK"
