#!/usr/bin/env bash
# The real docker CLI against `hoist engine` (no dockerd): version and info,
# a classic-builder multi-stage build with RUN, build args and --target,
# images (--format, --filter), inspect, history, tag, save | load with the
# same IDs, rmi, image prune. Each command is checked for its output and for
# its effect on the store.
source "$(dirname "${BASH_SOURCE[0]}")/dockerapi_lib.sh"

start_registry
push_base
start_engine

# ---- negotiation ------------------------------------------------------------
dk_ok "$T/version" version --format '{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}'
want_version=$("$HOIST" --version | awk '{print $2}')
[ "$(cat "$T/version")" = "$want_version 1.47 linux" ] || fail "docker version: $(cat "$T/version")"
dk_ok "$T/info" info --format '{{.Images}} {{.Containers}} {{.OSType}}'
[ "$(cat "$T/info")" = "0 0 linux" ] || fail "docker info: $(cat "$T/info")"
# Any API version prefix the CLI may pin.
out=$(api GET /v1.41/_ping)
[ "$out" = $'OK\n200' ] || fail "/v1.41/_ping: $out"

# ---- docker build: multi-stage, RUN, --build-arg, --target ------------------
ctx="$T/ctx"
mkdir -p "$ctx"
echo "from the context" >"$ctx/note.txt"
cat >"$ctx/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE} AS build
ARG MSG=default
RUN mkdir /out && echo "$MSG" > /out/msg && wc -c < /out/msg > /out/len
COPY note.txt /out/

FROM ${BASE} AS runtime
LABEL org.example.role=runtime
COPY --from=build /out/ /app/
ENV GREETING=hi
WORKDIR /app
CMD ["cat", "/app/msg"]

FROM runtime AS broken
RUN exit 7
EOF
dk_ok "$T/build" build -t app:1 -t app:latest --build-arg "BASE=$BASE" --build-arg MSG=hello \
  --target runtime "$ctx"
expect_in "$T/build" "Successfully built "
expect_in "$T/build" "Successfully tagged app:1"
expect_in "$T/build" "Successfully tagged app:latest"
expect_in "$T/build" "RUN mkdir /out"
expect_not_in "$T/build" "exit 7"  # --target runtime: the broken stage never ran
short_id=$(sed -n 's/^Successfully built \([0-9a-f]\{12\}\)$/\1/p' "$T/build")
[ -n "$short_id" ] || fail "no image ID in the build output"

# ---- docker images ----------------------------------------------------------
dk_ok "$T/images" images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
expect_in "$T/images" "app:1 $short_id"
expect_in "$T/images" "app:latest $short_id"
dk_ok "$T/images-f" images --filter "label=org.example.role=runtime" --format '{{.Repository}}:{{.Tag}}'
[ "$(sort "$T/images-f" | tr '\n' ' ')" = "app:1 app:latest " ] ||
  fail "images --filter label: $(cat "$T/images-f")"
dk_ok "$T/images-r" images --filter reference='app:1' --format '{{.Repository}}:{{.Tag}}'
[ "$(cat "$T/images-r")" = "app:1" ] || fail "images --filter reference: $(cat "$T/images-r")"
dk_ok "$T/images-plain" images
expect_in "$T/images-plain" "REPOSITORY"

# ---- docker inspect (as docker shapes it) -----------------------------------
dk_ok "$T/inspect" inspect app:1
id=$(jq -r '.[0].Id' "$T/inspect")
[[ $id == sha256:$short_id* ]] || fail "inspect Id $id does not start with $short_id"
[ "$(jq -r '.[0].Config.Labels["org.example.role"]' "$T/inspect")" = runtime ] || fail "inspect labels"
[ "$(jq -r '.[0].Config.WorkingDir' "$T/inspect")" = /app ] || fail "inspect WorkingDir"
[ "$(jq -c '.[0].Config.Cmd' "$T/inspect")" = '["cat","/app/msg"]' ] || fail "inspect Cmd"
jq -e '.[0].Config.Env | index("GREETING=hi")' "$T/inspect" >/dev/null || fail "inspect Env"
[ "$(jq -r '.[0].Os' "$T/inspect")" = linux ] || fail "inspect Os"
[ -n "$(jq -r '.[0].Architecture' "$T/inspect")" ] || fail "inspect Architecture"
[ "$(jq -r '.[0].RootFS.Type' "$T/inspect")" = layers ] || fail "inspect RootFS"
jq -e '.[0].RepoTags | index("app:1") and index("app:latest")' "$T/inspect" >/dev/null ||
  fail "inspect RepoTags"
jq -e '.[0].Size > 0' "$T/inspect" >/dev/null || fail "inspect Size"
# The ID is the digest of the image config the store holds.
cfg_blob="$HOIST_HOME/store/blobs/sha256/${id#sha256:}"
[ -f "$cfg_blob" ] || fail "no config blob $id in the store"
[ "sha256:$(sha256sum "$cfg_blob" | cut -d' ' -f1)" = "$id" ] || fail "config blob digest"
base_layers=$(skopeo inspect --tls-verify=false "docker://$BASE" | jq '.Layers | length')
# (WORKDIR /app makes no layer: COPY made /app.)
[ "$(jq '.[0].RootFS.Layers | length' "$T/inspect")" = $((base_layers + 1)) ] ||
  fail "RootFS.Layers: want the base's and COPY's"
dk_ok "$T/inspect-f" image inspect --format '{{.Config.WorkingDir}}' "$short_id"
[ "$(cat "$T/inspect-f")" = /app ] || fail "image inspect by short ID"

# ---- docker history -----------------------------------------------------------
dk_ok "$T/history" history --no-trunc --format '{{.CreatedBy}}|{{.Size}}' app:1
head -n 1 "$T/history" | grep -q 'CMD \["cat" "/app/msg"\]\|CMD \["cat", "/app/msg"\]\|CMD \[' ||
  fail "history's newest entry is not the CMD: $(head -n 1 "$T/history")"
expect_in "$T/history" "COPY /out/ /app/"
expect_in "$T/history" "LABEL org.example.role=runtime"

# ---- what the image holds: docker save, then the layers -----------------------
dk_ok "$T/save.out" save -o "$T/app.tar" app:1
mkdir -p "$T/saved"
tar -xf "$T/app.tar" -C "$T/saved"
[ "$(jq -r '.[0].RepoTags[0]' "$T/saved/manifest.json")" = app:1 ] || fail "save: RepoTags"
: >"$T/files"
for l in $(jq -r '.[0].Layers[]' "$T/saved/manifest.json"); do
  tar -xOzf "$T/saved/$l" app/msg 2>/dev/null >>"$T/files" || true
done
[ "$(cat "$T/files")" = hello ] || fail "the built /app/msg is '$(cat "$T/files")', not hello"
# The archive's config is the image ID.
cfg_path=$(jq -r '.[0].Config' "$T/saved/manifest.json")
[ "sha256:$(sha256sum "$T/saved/$cfg_path" | cut -d' ' -f1)" = "$id" ] || fail "save: config"

# ---- docker tag --------------------------------------------------------------
dk_ok "$T/tag" tag app:1 example.org/team/app:v2
dk_ok "$T/images2" images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
expect_in "$T/images2" "example.org/team/app:v2 $short_id"
dk "$T/tag-missing" tag no-such-image:1 x:1
[ "$DK_RC" != 0 ] || fail "tag of a missing image succeeded"
expect_in "$T/tag-missing" "No such image: no-such-image:1"

# ---- save | load round trip with identical IDs -----------------------------
dk_ok "$T/rmi-all" rmi app:1 app:latest example.org/team/app:v2
expect_in "$T/rmi-all" "Untagged: app:1"
expect_in "$T/rmi-all" "Deleted: $id"
dk "$T/gone" image inspect app:1
[ "$DK_RC" != 0 ] || fail "app:1 still there after rmi"
docker save app:1 >/dev/null 2>&1 && fail "save of a removed image succeeded"
dk_ok "$T/load" load -i "$T/app.tar"
expect_in "$T/load" "Loaded image: app:1"
dk_ok "$T/reloaded" image inspect --format '{{.Id}}' app:1
[ "$(cat "$T/reloaded")" = "$id" ] || fail "loaded ID $(cat "$T/reloaded") != $id"
# The same through a pipe, as `docker save | docker load` users write it.
docker save app:1 | docker load >"$T/load2" 2>&1 || { cat "$T/load2" >&2; fail "save | load"; }
expect_in "$T/load2" "Loaded image: app:1"

# ---- bases: a local image by its name, else through --registry -----------------
# docker's classic builder uses a local image of the FROM name without
# pulling; `docker pull` + `docker tag` make one that no registry holds.
dk_ok "$T/pull-base" pull "$BASE"
dk_ok "$T/tag-base" tag "$BASE" localbase:7
printf 'FROM localbase:7\nRUN echo local > /which\n' >"$T/Dockerfile.local"
mkdir -p "$T/ctx-local" && cp "$T/Dockerfile.local" "$T/ctx-local/Dockerfile"
dk_ok "$T/build-local" build -t fromlocal:1 "$T/ctx-local"
expect_in "$T/build-local" "Successfully tagged fromlocal:1"
# A Docker Hub name no local image has comes from --registry ($REG/library/...).
"$HOIST" copy --quiet "$BASE" "$REG/library/hubname:2" >/dev/null
printf 'FROM hubname:2\nRUN echo mirrored > /which\n' >"$T/ctx-local/Dockerfile"
dk_ok "$T/build-hub" build -t fromhub:1 "$T/ctx-local"
expect_in "$T/build-hub" "Successfully tagged fromhub:1"
grep -q "method=GET uri=/v2/library/hubname/manifests/2" "$REG_LOG" || fail "hubname:2 was not pulled from --registry"
# ---- several images in one archive: docker save a b | docker load -------------
# (GET /images/get?names=...): each image once, with the names asked for it.
dk_ok "$T/save-multi" save -o "$T/multi.tar" fromlocal:1 fromhub:1 localbase:7 "$BASE"
mkdir -p "$T/multi"
tar -xf "$T/multi.tar" -C "$T/multi"
expect "images in the archive" "$(jq length "$T/multi/manifest.json")" 3
expect "RepoTags" "$(jq -c '[.[].RepoTags | sort] | sort' "$T/multi/manifest.json")" \
  "$(jq -cn --arg b "$BASE" '[["fromhub:1"], ["fromlocal:1"], [$b, "localbase:7"] | sort] | sort')"
multi_ids=$(for n in fromlocal:1 fromhub:1 localbase:7; do docker image inspect --format '{{.Id}}' "$n"; done)
dk_ok "$T/rmi-multi" rmi fromlocal:1 fromhub:1 localbase:7 "$BASE"
dk_ok "$T/load-multi" load -i "$T/multi.tar"
for n in fromlocal:1 fromhub:1 localbase:7 "$BASE"; do expect_in "$T/load-multi" "Loaded image: $n"; done
expect "IDs after save | load" \
  "$(for n in fromlocal:1 fromhub:1 localbase:7; do docker image inspect --format '{{.Id}}' "$n"; done)" "$multi_ids"
dk_ok "$T/rmi-bases" rmi fromlocal:1 fromhub:1 localbase:7 "$BASE"

# ---- rmi and image prune -----------------------------------------------------
# A build without -t leaves an untagged image; rebuilding a tag leaves the
# old one dangling.
echo "v2" >"$ctx/note.txt"
dk_ok "$T/build-untagged" build --build-arg "BASE=$BASE" --target runtime -q "$ctx"
untagged=$(tail -n 1 "$T/build-untagged")
[[ $untagged == sha256:* ]] || fail "build -q printed '$untagged', not an image ID"
dk_ok "$T/dangling" images --filter dangling=true --format '{{.ID}}'
expect_in "$T/dangling" "${untagged:7:12}"
dk_ok "$T/prune" image prune -f
expect_in "$T/prune" "deleted: $untagged"
dk_ok "$T/dangling2" images --filter dangling=true -q
[ ! -s "$T/dangling2" ] || fail "dangling images after prune: $(cat "$T/dangling2")"
dk_ok "$T/still" image inspect --format '{{.Id}}' app:1
[ "$(cat "$T/still")" = "$id" ] || fail "prune removed a tagged image"
dk_ok "$T/rmi" rmi app:1
expect_in "$T/rmi" "Untagged: app:1"
dk_ok "$T/empty" images -q
[ ! -s "$T/empty" ] || fail "images left after rmi: $(cat "$T/empty")"
log "OK"
