#!/usr/bin/env bash
# Multi-platform builds (`--platform linux/amd64,linux/arm64`): one image per
# platform, each from its own base manifest, with its own TARGETARCH files
# and RUN output, under one OCI image index; pushed, written to a layout,
# and read back with skopeo. A rebuild is all cached.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

start_registry
# A 2-platform busybox index (the same host busybox under both platforms:
# RUN works for both without an emulator).
bash "$TESTDATA/make-base-image.sh" --platforms linux/amd64,linux/arm64 "$T/base" 1 \
  >"$T/make-base.log" 2>&1 || { cat "$T/make-base.log" >&2; fail "make-base-image.sh failed"; }
"$HOIST" copy --quiet "oci:$T/base:1" "$REG/base/multi:1" >/dev/null || fail "could not push the base index"

ctx=$BUILD_TESTDATA/platforms
top=$(hb "$T/build.log" --platform linux/amd64,linux/arm64 --build-arg "BASE=$REG/base/multi:1" \
  -t "$REG/app/multi:1" --push --output "oci:$T/out:1" "$ctx")
grep -q ' 4 step(s) run, 0 cached' "$T/build.log" || fail "want 2 steps per platform: $(tail -n 1 "$T/build.log")"

# The registry holds an index with one manifest per platform, in order.
raw=$(skopeo inspect --tls-verify=false --raw "docker://$REG/app/multi:1")
expect "index media type" "$(jq -r .mediaType <<<"$raw")" "application/vnd.oci.image.index.v1+json"
expect "registry digest" "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)" "$top"
expect "platforms" "$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")' <<<"$raw")" \
  "linux/amd64,linux/arm64"

for arch in amd64 arm64; do
  cfg=$(skopeo inspect --tls-verify=false --override-arch "$arch" --config "docker://$REG/app/multi:1")
  expect "$arch config architecture" "$(jq -r .architecture <<<"$cfg")" "$arch"
  expect "$arch config os" "$(jq -r .os <<<"$cfg")" "linux"
  # The image's own layers: the base's busybox layer, then COPY and RUN.
  dg=$(jq -r --arg a "$arch" '.manifests[] | select(.platform.architecture == $a) | .digest' <<<"$raw")
  m=$(skopeo inspect --tls-verify=false --raw "docker://$REG/app/multi@$dg")
  expect "$arch layers" "$(jq '.layers | length' <<<"$m")" 3
  mkdir -p "$T/l-$arch"
  skopeo copy --quiet --src-tls-verify=false --override-arch "$arch" \
    "docker://$REG/app/multi:1" "dir:$T/l-$arch" || fail "skopeo copy of $arch failed"
  copy_layer=$(jq -r '.layers[1].digest' <<<"$m")
  run_layer=$(jq -r '.layers[2].digest' <<<"$m")
  expect "$arch COPY layer" "$(tar -xzOf "$T/l-$arch/${copy_layer#sha256:}" app)" "built for $arch"
  expect "$arch RUN layer" "$(tar -xzOf "$T/l-$arch/${run_layer#sha256:}" platform)" "linux/$arch"
done

# The layout got the same index.
expect "layout index" "$(jq -r '.manifests[0].digest' "$T/out/index.json")" "$top"
expect "layout index media type" "$(jq -r '.manifests[0].mediaType' "$T/out/index.json")" \
  "application/vnd.oci.image.index.v1+json"

# Everything is cached the second time, and the index is the same.
again=$(hb "$T/again.log" --platform linux/amd64,linux/arm64 --build-arg "BASE=$REG/base/multi:1" "$ctx")
expect "rebuilt index" "$again" "$top"
grep -q ' 0 step(s) run, 4 cached' "$T/again.log" || fail "the rebuild ran steps: $(tail -n 1 "$T/again.log")"

# One platform alone gives that platform's manifest, not an index.
one=$(hb "$T/one.log" --platform linux/arm64 --build-arg "BASE=$REG/base/multi:1" "$ctx")
expect "single-platform build is the index's arm64 entry" "$one" \
  "$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' <<<"$raw")"

# docker-archive output without -t (it once read the missing tag).
hb "$T/archive.log" --platform linux/arm64 --build-arg "BASE=$REG/base/multi:1" \
  --output "docker-archive:$T/one.tar" "$ctx" >/dev/null
expect "docker-archive image" "$(skopeo inspect --config "docker-archive:$T/one.tar" | jq -r .architecture)" arm64

# A platform named twice is a usage error.
set +e
"$HOIST" build --platform linux/amd64,linux/amd64 "$ctx" >/dev/null 2>"$T/twice.err"
rc=$?
set -e
expect "exit code for a repeated platform" "$rc" 2
grep -q 'linux/amd64 is listed twice' "$T/twice.err" || fail "no clear error: $(cat "$T/twice.err")"
echo "ok: multi-platform index $top"
