#!/usr/bin/env bash
# The registry's web UI (/ui/) in a real browser: Debian's Chromium driven by
# playwright-core (tests/ui/ui.test.mjs), against registries that this
# script fills and whose contents it knows from the OCI layouts it pushed:
#   - Basic auth with an access policy (admin does everything, reader only
#     pulls): a two-platform index, an image whose config has labels and an
#     empty_layer history entry, and an SPDX referrer of it. The reader signs
#     in (after a wrong password), pages through the catalog, searches,
#     walks repository -> tag -> platform -> layers, config and history,
#     the referrer, the pull commands and Copy; is refused a deletion; the
#     admin deletes a tag, and the API agrees that it is gone.
#   - bearer tokens issued by the registry (/token): sign in, list, a
#     refused and an allowed deletion.
#   - no accounts and deletion disabled: the list without signing in, and
#     the registry's 405 shown.
# Screenshots go to $HOIST_UI_SCREENSHOTS (default: ui-screenshots in the
# build directory).
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need chromium skopeo jq curl apache2-utils openssl busybox-static python3
SHOTS=${HOIST_UI_SCREENSHOTS:-$(dirname "$(dirname "$HOIST")")/ui-screenshots}
need_playwright

# --- images -----------------------------------------------------------------
bash "$TESTDATA/make-multiarch-index.sh" "$T/multi" latest >"$T/make-multi.log" 2>&1 ||
  fail "make-multiarch-index.sh: $(cat "$T/make-multi.log")"
bash "$TESTDATA/make-base-image.sh" "$T/plain" 1 >"$T/make-plain.log" 2>&1 ||
  fail "make-base-image.sh: $(cat "$T/make-plain.log")"

# put_blob LAYOUT FILE: FILE into LAYOUT's blobs; prints its digest.
put_blob() {
  local d
  d=sha256:$(sha256_of "$2")
  cp "$2" "$(layout_blob "$1" "$d")"
  echo "$d"
}
# The plain image gets a config with what the UI must show (and escape):
# a label holding markup, a user, an entrypoint, and an empty_layer entry.
PLAIN_OLD=$(layout_blob "$T/plain" "$(layout_digest "$T/plain" 1)")
jq -c '.config.Labels = {"org.opencontainers.image.title": "plain <b>busybox</b>"}
  | .config.User = "nobody" | .config.Entrypoint = ["/bin/sh", "-c"]
  | .history += [{created: "1970-01-01T00:00:00Z", created_by: "/bin/sh -c #(nop)  CMD [\"sh\"]", empty_layer: true}]' \
  "$(layout_blob "$T/plain" "$(jq -r .config.digest "$PLAIN_OLD")")" >"$T/plain-config.json"
CFG=$(put_blob "$T/plain" "$T/plain-config.json")
jq -c --arg d "$CFG" --argjson n "$(stat -c %s "$T/plain-config.json")" '.config.digest = $d | .config.size = $n' \
  "$PLAIN_OLD" >"$T/plain-manifest.json"
PLAIN=$(put_blob "$T/plain" "$T/plain-manifest.json")
jq -c --arg d "$PLAIN" --argjson n "$(stat -c %s "$T/plain-manifest.json")" \
  '.manifests[0].digest = $d | .manifests[0].size = $n' "$T/plain/index.json" >"$T/index.json"
mv "$T/index.json" "$T/plain/index.json"

# Users and who may do what.
PW=$T/htpasswd
htpasswd -B -b -c "$PW" admin admin-pw 2>/dev/null
htpasswd -B -b "$PW" reader reader-pw 2>/dev/null
cat >"$T/policy.yaml" <<'YAML'
repositories:
  - match: "*"
    pull: [admin, reader]
    push: [admin]
    delete: [admin]
YAML

# push REG CREDS: the index, the plain image under 1 and old, and a third
# repository (so a search has something to leave out).
push() {
  local creds=(--dest-creds "$2")
  [ "$2" = none ] && creds=()
  sko copy -q --all --dest-tls-verify=false "${creds[@]}" "oci:$T/multi:latest" \
    "docker://$1/multi/busybox:latest" >"$T/push.log" 2>&1 || fail "push of the index: $(cat "$T/push.log")"
  for r in plain/busybox:1 plain/busybox:old tools/shell:1; do
    sko copy -q --dest-tls-verify=false "${creds[@]}" "oci:$T/plain:1" "docker://$1/$r" >"$T/push.log" 2>&1 ||
      fail "push of $r: $(cat "$T/push.log")"
  done
}

# attach_sbom REG: an SPDX document as a referrer of the plain image (an
# OCI artifact manifest with artifactType and subject), pushed as admin.
attach_sbom() {
  local up code
  printf '{"spdxVersion":"SPDX-2.3","name":"plain busybox"}' >"$T/sbom.json"
  printf '{}' >"$T/empty.json"
  SBOM_BLOB=sha256:$(sha256_of "$T/sbom.json")
  for f in sbom.json empty.json; do
    code=$(http_code -u admin:admin-pw -X POST -H 'Content-Type: application/octet-stream' \
      --data-binary @"$T/$f" "http://$1/v2/plain/busybox/blobs/uploads/?digest=sha256:$(sha256_of "$T/$f")")
    [ "$code" = 201 ] || fail "upload of $f: HTTP $code"
  done
  jq -cn --arg sbom "$SBOM_BLOB" --argjson n "$(stat -c %s "$T/sbom.json")" --arg subj "$PLAIN" \
    --argjson sn "$(stat -c %s "$T/plain-manifest.json")" --arg empty "sha256:$(sha256_of "$T/empty.json")" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: "application/spdx+json",
      config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $empty, size: 2},
      layers: [{mediaType: "application/spdx+json", digest: $sbom, size: $n}],
      subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $subj, size: $sn},
      annotations: {"org.opencontainers.image.created": "2024-05-01T12:00:00Z"}}' >"$T/sbom-manifest.json"
  SBOM=sha256:$(sha256_of "$T/sbom-manifest.json")
  up=$(curl -s -o "$T/put.body" -w '%{http_code}' --max-time 30 -u admin:admin-pw -X PUT \
    -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$T/sbom-manifest.json" \
    "http://$1/v2/plain/busybox/manifests/$SBOM") || true
  [ "$up" = 201 ] || fail "PUT of the SBOM manifest: HTTP $up: $(cat "$T/put.body")"
  curl -sf --max-time 30 -u reader:reader-pw "http://$1/v2/plain/busybox/referrers/$PLAIN" |
    jq -e --arg d "$SBOM" '[.manifests[] | select(.digest == $d and .artifactType == "application/spdx+json")]
      | length == 1' >/dev/null || fail "the registry does not list the SBOM as a referrer of $PLAIN"
}

# tags REG CREDS REPO: the tag list as one JSON line; CREDS user:password,
# bearer:user:password (a token from the registry's /token first) or none.
tags() {
  local auth=()
  case $2 in
    none) ;;
    bearer:*)
      auth=(-H "Authorization: Bearer $(curl -sf --max-time 30 -u "${2#bearer:}" \
        "http://$1/token?service=hoist-ui&scope=repository:$3:pull" | jq -r .token)") ;;
    *) auth=(-u "$2") ;;
  esac
  curl -sf --max-time 30 "${auth[@]}" "http://$1/v2/$3/tags/list" | jq -c .tags
}

# --- what the browser must find -------------------------------------------
INDEX=$(layout_digest "$T/multi" latest)
INDEX_JSON=$(layout_blob "$T/multi" "$INDEX")
AMD64=$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' "$INDEX_JSON")
AMD64_JSON=$(layout_blob "$T/multi" "$AMD64")
# An index's total: its platforms' configs and layers, each blob once.
INDEX_TOTAL=$(for c in $(jq -r '.manifests[].digest' "$INDEX_JSON"); do
  jq -r '.config, .layers[] | "\(.digest) \(.size)"' "$(layout_blob "$T/multi" "$c")"
done | sort -u | awk '{ s += $2 } END { print s }')

serve_registry basic --log-level warn --htpasswd "$PW" --access-policy "$T/policy.yaml"
BASIC=$REG
push "$BASIC" admin:admin-pw
attach_sbom "$BASIC"

mkdir -p "$T/pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=hoist ui test token signer" \
  -keyout "$T/pki/key.pem" -out "$T/pki/cert.pem" 2>/dev/null || fail "openssl: token signer"
serve_registry token --log-level warn --htpasswd "$PW" --access-policy "$T/policy.yaml" --token-service hoist-ui \
  --token-issuer hoist-ui-test --token-cert-bundle "$T/pki/cert.pem" --token-key "$T/pki/key.pem"
TOKEN=$REG
push "$TOKEN" admin:admin-pw

printf 'storage: { delete: false }\n' >"$T/nodelete.yaml"
serve_registry open --log-level warn --config "$T/nodelete.yaml"
OPEN=$REG
push "$OPEN" none

jq -n --arg basic "$BASIC" --arg token "$TOKEN" --arg open "$OPEN" --arg shots "$SHOTS" \
  --arg index "$INDEX" --arg amd64 "$AMD64" --arg plain "$PLAIN" --arg sbom "$SBOM" \
  --argjson sbomSize "$(stat -c %s "$T/sbom-manifest.json")" --argjson indexTotal "$INDEX_TOTAL" \
  --slurpfile indexJson "$INDEX_JSON" --slurpfile amd64Json "$AMD64_JSON" \
  --slurpfile amd64Config "$(layout_blob "$T/multi" "$(jq -r .config.digest "$AMD64_JSON")")" \
  --slurpfile plainJson "$T/plain-manifest.json" --slurpfile plainConfig "$T/plain-config.json" '{
    registries: {basic: $basic, token: $token, open: $open}, shots: $shots,
    users: {admin: "admin-pw", reader: "reader-pw"},
    repositories: ["multi/busybox", "plain/busybox", "tools/shell"],
    index: {digest: $index, json: $indexJson[0], total: $indexTotal},
    amd64: {digest: $amd64, json: $amd64Json[0], config: $amd64Config[0]},
    plain: {digest: $plain, json: $plainJson[0], config: $plainConfig[0]},
    sbom: {digest: $sbom, size: $sbomSize, artifactType: "application/spdx+json"}}' >"$T/expect.json"
jq -e '.index.json.manifests | length == 2' "$T/expect.json" >/dev/null || fail "the index is not two platforms"

mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png # none left over from an earlier run
log "browser run against $BASIC (basic), $TOKEN (token), $OPEN (no accounts)"
started=$SECONDS
timeout 180 node "$UI_DIR/ui.test.mjs" "$T/expect.json" 2>&1 | tee "$T/node.log" >&2 ||
  fail "the browser test failed (see above)"
grep -q '^ui.test: OK' "$T/node.log" || fail "the browser test did not finish"
log "browser run took $((SECONDS - started)) s"

# --- the API agrees with what the browser did -------------------------------
expect "plain/busybox tags after the reader's refused and the admin's deletion" \
  "$(tags "$BASIC" reader:reader-pw plain/busybox)" '["1"]'
[ "$(http_code -u admin:admin-pw -I "http://$BASIC/v2/plain/busybox/manifests/old")" = 404 ] ||
  fail "plain/busybox:old still answers"
[ "$(http_code -u admin:admin-pw -I "http://$BASIC/v2/plain/busybox/manifests/$PLAIN")" = 200 ] ||
  fail "deleting the tag old removed the manifest that tag 1 names"
expect "token registry's plain/busybox tags" "$(tags "$TOKEN" bearer:reader:reader-pw plain/busybox)" '["1"]'
expect "open registry's plain/busybox tags (deletion disabled)" "$(tags "$OPEN" none plain/busybox)" '["1","old"]'

for f in "$SHOTS"/*.png; do log "screenshot: $f"; done
log "OK"
