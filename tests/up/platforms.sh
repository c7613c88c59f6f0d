#!/usr/bin/env bash
# `hoist up` with a multi-platform Dockerfile image (platform:
# linux/amd64,linux/arm64): built FROM a two-platform base index made by a
# command image, pushed as an OCI image index whose entries carry each
# platform's own COPY; a second `up -d` changes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

mkdir -p "$P/app/files/amd64" "$P/app/files/arm64"
echo "for amd64" >"$P/app/files/amd64/app"
echo "for arm64" >"$P/app/files/arm64/app"
cat >"$P/app/Dockerfile" <<'DF'
ARG BASE
FROM ${BASE}
ARG TARGETARCH
COPY files/${TARGETARCH}/app /app
DF
cat >"$P/hoist.yaml" <<YAML
registry: {name: test, port: 0}
images:
  - name: base
    prefix: library
    command:
      run: bash "$TESTDATA/make-base-image.sh" --platforms linux/amd64,linux/arm64 "\$HOIST_OUTPUT" latest
  - name: app
    depends_on: [base]
    dockerfile:
      context: app
      args: {BASE: "\${REGISTRY}/library/base:latest"}
      platform: linux/amd64,linux/arm64
build: {parallel: 2, retries: 1, backoff: 200ms}
YAML

up_ok "$T/up1.out" -d
grep -q '^\[up\] summary: 2 pushed (0 unchanged), 0 failed$' "$T/up1.out" || fail "summary: $(tail -n 3 "$T/up1.out")"
grep -q '^\[app\] pushed: .*(2 step(s) run, 0 cached' "$T/up1.out" || fail "app did not run one COPY per platform"
REG=$(state_get .registry.address)
repo=$REG/app
ref=$repo:latest
raw=$(sko inspect --tls-verify=false --raw "docker://$ref")
expect "app is an index" "$(jq -r .mediaType <<<"$raw")" application/vnd.oci.image.index.v1+json
expect "app platforms" "$(jq -r '[.manifests[].platform.architecture] | join(",")' <<<"$raw")" amd64,arm64
expect "status digest" "$(jq -r '.images[] | select(.name == "app") | .digest' "$P/.hoist/state.json")" \
  "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)"
for arch in amd64 arm64; do
  dg=$(jq -r --arg a "$arch" '.manifests[] | select(.platform.architecture == $a) | .digest' <<<"$raw")
  sko copy --quiet --src-tls-verify=false "docker://$repo@$dg" "dir:$T/$arch" >/dev/null
  m=$(sko inspect --tls-verify=false --raw "docker://$repo@$dg")
  expect "$arch config" "$(jq -r .architecture "$T/$arch/$(jq -r '.config.digest | sub("sha256:"; "")' <<<"$m")")" "$arch"
  top=$(jq -r '.layers[-1].digest | sub("sha256:"; "")' <<<"$m")
  expect "$arch /app" "$(tar -xzOf "$T/$arch/$top" app)" "for $arch"
done

before=$(writes)
up_ok "$T/up2.out" -d --json
expect "unchanged" "$(count_events "$T/up2.out" unchanged)" 2
expect "registry writes during up 2" "$(writes)" "$before"
"$HOIST" down -f "$P/hoist.yaml" >/dev/null || fail "hoist down failed"
echo "ok: multi-platform image $ref"
