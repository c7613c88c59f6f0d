#!/usr/bin/env bash
# Builds testdata/build/full (every instruction but RUN: three stages,
# COPY --from stage/index, --chown/--chmod, --link, ADD of a tar, a URL
# (with and without --checksum) and a git repository, heredocs, ONBUILD),
# pushes it to hoist's registry and checks the result with real tools:
# skopeo inspect --config for the config, umoci unpack for file contents,
# tar -tvf of the layers for modes and owners. Then the image's ONBUILD
# trigger runs in a child build, --target and the archive outputs work.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

start_registry
push_base

# The context: testdata/build/full plus an archive made here.
cp -a "$BUILD_TESTDATA/full" "$T/full"
python3 - "$T/full/archive.tar.gz" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as tf:
    d = tarfile.TarInfo("pkg"); d.type = tarfile.DIRTYPE; d.mode = 0o750; tf.addfile(d)
    data = b"from the archive\n"
    f = tarfile.TarInfo("pkg/data.txt"); f.size = len(data); f.mode = 0o600
    f.uid, f.gid = 123, 456
    tf.addfile(f, io.BytesIO(data))
PY
mkdir -p "$T/www"
printf 'fetched over http\n' >"$T/www/remote.txt"
start_http "$T/www"
REMOTE_SUM="sha256:$(sha256_of "$T/www/remote.txt")"
git init -q "$T/repo.git"
printf 'git readme\n' >"$T/repo.git/README"
git -C "$T/repo.git" add README
git -C "$T/repo.git" -c user.name=t -c user.email=t@t commit -q -m one
GIT_REPO="file://$T/repo.git"

ARGS=(--build-arg "BASE=$BASE" --build-arg "URL_BASE=$HTTP_URL" --build-arg "GIT_REPO=$GIT_REPO"
  --build-arg "REMOTE_SUM=$REMOTE_SUM")
IMG="$REG/test/full:1"
digest=$(hb "$T/build-full.log" "${ARGS[@]}" -t "$IMG" --push --iidfile "$T/iid" "$T/full")
[[ $digest == sha256:* ]] || fail "hoist build printed '$digest', not a digest"
expect "--iidfile" "$(cat "$T/iid")" "$digest"
grep -q '^#[0-9]* \[stage-2 [ 0-9]*/[0-9]*\] COPY --from=builder /opt/app /app$' "$T/build-full.log" ||
  fail "no BuildKit-style step line for COPY --from in the progress"
grep -q "^#[0-9]* pushing $IMG" "$T/build-full.log" || fail "no push step in the progress"
log "built and pushed $IMG = $digest"

# --- the config, as skopeo reads it from the registry ---
cfg=$(config_of "$IMG")
q() { jq -c "$1" <<<"$cfg"; }
expect "User" "$(q .config.User)" '"1000:1000"'
expect "WorkingDir" "$(q .config.WorkingDir)" '"/app"'
expect "Env" "$(q .config.Env)" \
  '["PATH=/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
expect "Labels" "$(q .config.Labels)" '{"org.opencontainers.image.title":"hoist full","version":"1.0"}'
expect "ExposedPorts" "$(q .config.ExposedPorts)" '{"53/udp":{},"8080/tcp":{}}'
expect "Volumes" "$(q .config.Volumes)" '{"/data":{}}'
expect "StopSignal" "$(q .config.StopSignal)" '"SIGINT"'
expect "Healthcheck" "$(q .config.Healthcheck)" \
  '{"Test":["CMD","/usr/local/bin/healthcheck"],"Interval":30000000000,"Timeout":5000000000,"Retries":2}'
expect "Shell" "$(q .config.Shell)" '["/bin/sh","-eu","-c"]'
expect "Entrypoint" "$(q .config.Entrypoint)" '["/app/bin/start"]'
expect "Cmd" "$(q .config.Cmd)" '["--serve"]'
expect "OnBuild" "$(q .config.OnBuild)" '["COPY . /onbuild/"]'
expect "author" "$(q .author)" '"hoist tests <tests@hoist.invalid>"'
expect "architecture" "$(q .architecture)" '"amd64"'
layers=$(q '.rootfs.diff_ids | length')
expect "non-empty history entries = layers" "$(q '[.history[] | select(.empty_layer != true)] | length')" "$layers"
expect "layers (base + 4 COPY; WORKDIR /app exists by then)" "$layers" 5
expect "last history entry" "$(q '.history[-1].created_by')" '"CMD [\"--serve\"]"'
q '.history[].created_by' >"$T/history"
for want in '"COPY /opt/app /app # buildkit"' '"COPY --chown=1000:1000 /opt/unpacked /data/unpacked # buildkit"' \
  '"COPY --chmod=755 bin/check /usr/local/bin/healthcheck # buildkit"' '"WORKDIR /app"' \
  '"USER 1000:1000"' '"ENV PATH=/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"' \
  '"EXPOSE map[53/udp:{} 8080/tcp:{}]"' '"STOPSIGNAL SIGINT"'; do
  grep -qxF "$want" "$T/history" || fail "history lacks $want"
done
expect "history comment" "$(q '[.history[-1].comment, .history[-1].empty_layer]')" '["buildkit.dockerfile.v0",true]'
expect "WORKDIR made no layer" "$(q '[.history[] | select(.created_by == "WORKDIR /app") | .empty_layer]')" '[true]'

# --- the files: umoci unpack of the pushed image ---
sko copy --src-tls-verify=false "docker://$IMG" "oci:$T/layout:full" >/dev/null || fail "skopeo copy failed"
umoci unpack --rootless --image "$T/layout:full" "$T/bundle" >/dev/null 2>"$T/umoci.log" ||
  { cat "$T/umoci.log" >&2; fail "umoci unpack failed"; }
R="$T/bundle/rootfs"
expect "conf" "$(cat "$R/app/conf/config.txt")" "listen=8080"
expect "src" "$(cat "$R/app/src/main.c")" "int main() { return 0; }"
expect "nested src" "$(cat "$R/app/src/lib/util.txt")" "lib"
[ ! -e "$R/app/src/main.o" ] || fail ".dockerignore'd src/main.o is in the image"
expect "heredoc" "$(cat "$R/app/heredoc.txt")" "version 1.0"
expect "unpacked tar" "$(cat "$R/data/unpacked/pkg/data.txt")" "from the archive"
expect "URL through a stage" "$(cat "$R/data/derived.txt")" "fetched over http"
expect "git" "$(cat "$R/data/README")" "git readme"
[ -x "$R/usr/local/bin/healthcheck" ] || fail "healthcheck is not executable"
[ -x "$R/bin/busybox" ] || fail "the base layer is missing"

# --- modes and owners: tar -tvf of each layer ---
: >"$T/listing"
for ((i = 0; i < layers; i++)); do layer_listing "$T/layout" full "$i" >>"$T/listing"; done
has() { grep -qE "$1" "$T/listing" || { cat "$T/listing" >&2; fail "no layer entry matches: $1"; }; }
has '^-rw-r----- 65534/65534 .* app/conf/config.txt$'     # --chown=nobody:nogroup --chmod=0640, kept by COPY --from
has '^-rwxr-xr-x 0/0 .* app/bin/start$'
has '^-rw------- 1000/1000 .* data/unpacked/pkg/data.txt$' # ADD unpacked, then COPY --from=0 --chown=1000:1000
has '^-rwxr-xr-x 0/0 .* usr/local/bin/healthcheck$'
has '^drwxr-xr-x 0/0 .* app/$'
log "config, files, modes and owners as expected"

# --- --target: the derived stage ran its base stage's ONBUILD ---
hb "$T/build-derived.log" "${ARGS[@]}" --target derived --output "oci:$T/derived:1" "$T/full" >/dev/null
dcfg=$(layout_blob "$T/derived" "$(jq -r .config.digest "$(layout_blob "$T/derived" "$(layout_digest "$T/derived" 1)")")")
expect "derived label from ONBUILD" "$(jq -r '.config.Labels["stage.onbuild"]' "$dcfg")" "ran"
expect "derived WorkingDir" "$(jq -r .config.WorkingDir "$dcfg")" "/opt/app"

# --- an image's ONBUILD trigger runs first in a child build ---
cp -a "$BUILD_TESTDATA/onbuild-child" "$T/child"
hb "$T/build-child.log" --build-arg "BASE=$IMG" -t "$REG/test/child:1" --push "$T/child" >/dev/null
grep -q 'ONBUILD COPY . /onbuild/' "$T/build-child.log" || fail "the trigger did not show in the progress"
ccfg=$(config_of "$REG/test/child:1")
expect "child OnBuild" "$(jq -c .config.OnBuild <<<"$ccfg")" "null"
expect "child label" "$(jq -r .config.Labels.child <<<"$ccfg")" "yes"
sko copy --src-tls-verify=false "docker://$REG/test/child:1" "oci:$T/layout:child" >/dev/null
n=$(jq '.rootfs.diff_ids | length' <<<"$ccfg")
layer_listing "$T/layout" child $((n - 1)) >"$T/child-listing"
grep -qE ' onbuild/child.txt$' "$T/child-listing" || fail "the ONBUILD COPY layer lacks child.txt"

# --- archive outputs that other tools read ---
hb "$T/build-archive.log" "${ARGS[@]}" -t "$REG/test/full:1" \
  --output "docker-archive:$T/image.tar" "$T/full" >/dev/null
sko inspect "docker-archive:$T/image.tar" | jq -e '.Layers | length == 5' >/dev/null ||
  fail "skopeo cannot read the docker-archive output"
hb "$T/build-ociarchive.log" "${ARGS[@]}" --output "oci-archive:$T/image-oci.tar:v1" "$T/full" >/dev/null
sko inspect "oci-archive:$T/image-oci.tar:v1" | jq -e '.Layers | length == 5' >/dev/null ||
  fail "skopeo cannot read the oci-archive output"

# --- --print-plan still plans without building ---
"$HOIST" build --print-plan --build-arg "BASE=$BASE" "$T/full" >"$T/plan.txt" || fail "--print-plan failed"
grep -q 'target: \[2\]' "$T/plan.txt" || fail "--print-plan output changed"
log "OK"
