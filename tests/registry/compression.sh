#!/usr/bin/env bash
# JSON responses (manifests, tag lists, catalog, referrers, metrics) go out
# zstd- or gzip-encoded when the request's Accept-Encoding allows it (q-values
# honoured), and decode to the exact bytes the digest covers; HEAD and
# blobs are never encoded; skopeo (a Go client that asks for gzip) and
# hoist still read the image.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl jq zstd skopeo busybox-static
export DOCKER_CONFIG="$T/docker-config" HOIST_HOME="$T/hoist-home"
mkdir -p "$DOCKER_CONFIG"
cd "$T"
serve_registry main

# An image whose manifest is well over 1 KiB: twelve small layers.
layers=()
for i in $(seq 1 12); do
  printf 'layer %s\n' "$i" >"$T/layer$i"
  d=sha256:$(sha256sum "$T/layer$i" | cut -d' ' -f1)
  [ "$(http_code -X POST --data-binary @"$T/layer$i" -H 'Content-Type: application/octet-stream' \
    "http://$REG/v2/big/app/blobs/uploads/?digest=$d")" = 201 ] || fail "upload layer $i"
  layers+=("{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$d\",\"size\":$(stat -c %s "$T/layer$i")}")
done
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$T/config"
cd_=sha256:$(sha256sum "$T/config" | cut -d' ' -f1)
[ "$(http_code -X POST --data-binary @"$T/config" "http://$REG/v2/big/app/blobs/uploads/?digest=$cd_")" = 201 ] ||
  fail "upload config"
(
  IFS=,
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$cd_" "$(stat -c %s "$T/config")" "${layers[*]}"
) >"$T/manifest"
md=sha256:$(sha256sum "$T/manifest" | cut -d' ' -f1)
for t in $(seq -f 'release-%03g' 1 80); do
  [ "$(http_code -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$T/manifest" "http://$REG/v2/big/app/manifests/$t")" = 201 ] || fail "PUT tag $t"
done

# get NAME PATH ACCEPT_ENCODING: GET with that Accept-Encoding ("" sends
# none); body to $T/NAME.body, headers to $T/NAME.h.
get() {
  local args=(-s -o "$T/$1.body" -D "$T/$1.h" -w '%{http_code}')
  [ -n "$3" ] && args+=(-H "Accept-Encoding: $3")
  [ "$(curl "${args[@]}" "http://$REG$2")" = 200 ] || fail "GET $2 (Accept-Encoding: $3)"
}
decode() { # NAME CODING: the body, decoded
  case $2 in
    zstd) zstd -dc <"$T/$1.body" ;;
    gzip) gzip -dc <"$T/$1.body" ;;
    '') cat "$T/$1.body" ;;
  esac
}

for path in /v2/big/app/manifests/release-001 "/v2/big/app/manifests/$md" /v2/big/app/tags/list \
  "/v2/big/app/referrers/$md"; do
  get plain "$path" ""
  [ -z "$(header "$T/plain.h" Content-Encoding)" ] || fail "$path encoded without Accept-Encoding"
  for case_ in "zstd|zstd" "gzip|gzip" "gzip, zstd|zstd" "gzip;q=1, zstd;q=0.5|gzip" \
    "*;q=0.3|zstd" "br|" "gzip;q=0, zstd;q=0|" "identity|" "x-gzip|gzip" "zstd;q=0, *|gzip"; do
    ae=${case_%|*} want=${case_#*|}
    get enc "$path" "$ae"
    got=$(header "$T/enc.h" Content-Encoding)
    if [ "$path" = "/v2/big/app/referrers/$md" ] && [ "$(stat -c %s "$T/plain.body")" -lt 1024 ]; then
      want=""  # an empty referrers list is too small to be worth it
    fi
    expect "$path with Accept-Encoding '$ae': Content-Encoding" "$got" "$want"
    cmp -s <(decode enc "$want") "$T/plain.body" || fail "$path ($ae): decoded bytes differ"
    grep -qi '^vary: Accept-Encoding' "$T/enc.h" || fail "$path ($ae): no Vary: Accept-Encoding"
    expect "$path ($ae) Content-Length" "$(header "$T/enc.h" Content-Length)" "$(stat -c %s "$T/enc.body")"
  done
done
# The bytes a digest covers: the decoded manifest is the pushed one.
get enc /v2/big/app/manifests/release-001 zstd
expect "decoded manifest digest" "sha256:$(decode enc zstd | sha256sum | cut -d' ' -f1)" "$md"
expect "Docker-Content-Digest of the encoded answer" "$(header "$T/enc.h" Docker-Content-Digest)" "$md"
[ "$(stat -c %s "$T/enc.body")" -lt "$(stat -c %s "$T/manifest")" ] || fail "zstd did not shrink the manifest"
expect "the tag list, decoded" "$(decode enc zstd | jq -r .schemaVersion)" 2
get tags /v2/big/app/tags/list gzip
expect "tags in the gzip list" "$(decode tags gzip | jq '.tags | length')" 80
get cat /v2/_catalog gzip  # small: sent as is
expect "the catalog" "$(decode cat "$(header "$T/cat.h" Content-Encoding)" | jq -c .repositories)" '["big/app"]'

# HEAD: never encoded; its Content-Length is the manifest's size.
curl -s -I -o /dev/null -D "$T/head.h" -H 'Accept-Encoding: zstd, gzip' \
  "http://$REG/v2/big/app/manifests/release-001"
[ -z "$(header "$T/head.h" Content-Encoding)" ] || fail "HEAD was encoded"
expect "HEAD Content-Length" "$(header "$T/head.h" Content-Length)" "$(stat -c %s "$T/manifest")"
# Blobs: never encoded.
get blob "/v2/big/app/blobs/$cd_" "gzip, zstd"
[ -z "$(header "$T/blob.h" Content-Encoding)" ] || fail "a blob was encoded"
cmp -s "$T/blob.body" "$T/config" || fail "blob bytes differ"

# Real clients: skopeo (Go asks for gzip) and hoist read the image.
skopeo inspect --raw --tls-verify=false "docker://$REG/big/app:release-002" >"$T/skopeo.json" ||
  fail "skopeo inspect --raw"
cmp -s "$T/skopeo.json" "$T/manifest" || fail "skopeo got other manifest bytes"
"$HOIST" inspect --raw "$REG/big/app:release-003" >"$T/hoist.json" 2>"$T/hoist.err" ||
  fail "hoist inspect --raw: $(cat "$T/hoist.err")"
cmp -s "$T/hoist.json" "$T/manifest" || fail "hoist got other manifest bytes"
log "manifests, tags, catalog and referrers: zstd and gzip by Accept-Encoding, digests intact"
