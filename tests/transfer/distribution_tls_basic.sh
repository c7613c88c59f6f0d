#!/usr/bin/env bash
# distribution_tls_basic: hoist against Debian's docker-registry
# (distribution 2.8) with TLS from a CA this test makes and htpasswd Basic
# auth: TLS verification (system CAs only, a wrong CA, --ca-cert,
# --tls-verify=false), login/logout (wrong password: exit 1, no secret
# printed or stored), copies both ways between it and hoist's registry,
# multi-arch, skopeo inspect agreement, credential helpers.
# shellcheck source-path=SCRIPTDIR source=xfer_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"
need docker-registry apache2-utils

base_images
make_ca "$T/ca"
htpasswd -Bbn alice wonderland >"$T/htpasswd" || fail "htpasswd"
PORT=$(free_port)
start_distribution "$PORT" "$T/dist" "  tls:
    certificate: $T/ca/server.pem
    key: $T/ca/server.key" "auth:
  htpasswd:
    realm: hoist-test
    path: $T/htpasswd" https --cacert "$T/ca/ca.pem"
D=$DIST_ADDR
CA=(--ca-cert "$T/ca/ca.pem")
BASE_DIGEST=$(layout_digest "$BASE" latest)
MULTI_DIGEST=$(layout_digest "$MULTI" latest)

log "TLS: unknown CA, wrong CA, skipped verification"
expect_fail 1 'certificate|SSL' hx copy -q "oci:$BASE:latest" "$D/test/busybox:1"
expect_fail 1 'certificate|SSL' hx copy -q --ca-cert "$T/ca/other-ca.pem" "oci:$BASE:latest" "$D/test/busybox:1"
expect_fail 1 "requires authentication|hoist login|UNAUTHORIZED" \
  hx copy -q --tls-verify=false "oci:$BASE:latest" "$D/test/busybox:1"
expect_fail 1 "UNAUTHORIZED|hoist login" hx copy -q "${CA[@]}" "oci:$BASE:latest" "$D/test/busybox:1"

log "login: wrong password fails and nothing is stored or printed"
expect_fail 1 "login to $D failed" \
  bash -c 'printf "%s\n" "not-the-password" | "$0" login "$1" -u alice --password-stdin --ca-cert "$2"' \
  "$HOIST" "$D" "$T/ca/ca.pem"
no_secret not-the-password "$T/last.err" "$T/last.out"
[ ! -s "$DOCKER_CONFIG/config.json" ] || ! grep -q "$D" "$DOCKER_CONFIG/config.json" ||
  fail "a failed login stored credentials"
expect_fail 2 'username' hx login "$D" --password-stdin </dev/null
expect_fail 1 'certificate|SSL' bash -c 'echo wonderland | "$0" login "$1" -u alice --password-stdin' "$HOIST" "$D"

log "login, then copies both ways"
echo wonderland | hx login "$D" -u alice --password-stdin "${CA[@]}" 2>"$T/login.err" ||
  { cat "$T/login.err" >&2; fail "login failed"; }
no_secret wonderland "$T/login.err"
expect "stored auth" "$(jq -r --arg h "$D" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)" \
  "alice:wonderland"
[ "$(stat -c %a "$DOCKER_CONFIG/config.json")" = 600 ] || fail "config.json is not mode 600"
expect "push digest" "$(hx copy -q "${CA[@]}" "oci:$BASE:latest" "$D/test/busybox:1")" "$BASE_DIGEST"
hx copy -q "${CA[@]}" "$D/test/busybox:1" "oci:$T/o1:x" >/dev/null
compare_layouts "$BASE" latest "$T/o1" x
expect "index digest" "$(hx copy -q "${CA[@]}" "oci:$MULTI:latest" "$D/multi/busybox:v1")" "$MULTI_DIGEST"
hx copy -q --tls-verify=false "$D/multi/busybox:v1" "oci:$T/m1:x" >/dev/null
compare_layouts "$MULTI" latest "$T/m1" x
ARM_DIGEST=$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest' \
  "$(layout_blob "$MULTI" "$MULTI_DIGEST")")
expect "--platform digest" "$(hx copy -q "${CA[@]}" --platform linux/arm64 "$D/multi/busybox:v1" \
  "$D/arm/busybox:v1")" "$ARM_DIGEST"

log "hoist registry <-> docker-registry"
start_hoist "$T/hroot"
H=$HOIST_ADDR
hx copy -q "${CA[@]}" "$D/multi/busybox:v1" "$H/multi/busybox:v1" >/dev/null
hx copy -q "$H/multi/busybox:v1" "oci:$T/m2:x" >/dev/null
compare_layouts "$MULTI" latest "$T/m2" x
hx copy -q "${CA[@]}" "$H/multi/busybox:v1" "$D/back/busybox:v1" >/dev/null
hx copy -q "${CA[@]}" "$D/back/busybox:v1" "oci:$T/m3:x" >/dev/null
compare_layouts "$MULTI" latest "$T/m3" x

log "skopeo inspect agrees (with the same CA and credentials)"
mkdir -p "$T/certs" && cp "$T/ca/ca.pem" "$T/certs/ca.crt"
for ref in "$D/test/busybox:1" "$D/multi/busybox:v1"; do
  hx inspect "${CA[@]}" "$ref" | jq -S 'del(.LayersData)' >"$T/hi.json"
  sko inspect --cert-dir "$T/certs" --creds alice:wonderland "docker://$ref" |
    jq -S 'del(.LayersData)' >"$T/si.json"
  diff "$T/hi.json" "$T/si.json" >&2 || fail "inspect of $ref differs from skopeo's"
done
expect "tags" "$(hx tags "${CA[@]}" "$D/test/busybox")" 1
hx catalog "${CA[@]}" "$D" | grep -qx multi/busybox || fail "catalog lacks multi/busybox"

log "logout"
hx logout "$D" 2>/dev/null
expect "auths after logout" "$(jq -c --arg h "$D" '.auths[$h]' "$DOCKER_CONFIG/config.json")" null
expect_fail 1 "UNAUTHORIZED|hoist login" hx inspect "${CA[@]}" "$D/test/busybox:1"
hx logout "$D" 2>"$T/logout.err"
grep -q 'Not logged in' "$T/logout.err" || fail "second logout did not say 'Not logged in'"

log "credential helper (credHelpers)"
mkdir -p "$T/bin"
cat >"$T/bin/docker-credential-hoisttest" <<SH
#!/usr/bin/env bash
# A fake credential helper keeping one secret in a file.
store="$T/helper-store.json"
case "\$1" in
  get)  read -r url; [ -s "\$store" ] && jq -e --arg u "\$url" '.ServerURL == \$u' "\$store" >/dev/null &&
          { cat "\$store"; exit 0; }; echo "credentials not found in native keychain"; exit 1 ;;
  store) cat >"\$store" ;;
  erase) read -r url; rm -f "\$store" ;;
esac
SH
chmod +x "$T/bin/docker-credential-hoisttest"
jq -n --arg h "$D" '{credHelpers: {($h): "hoisttest"}}' >"$DOCKER_CONFIG/config.json"
echo wonderland | PATH="$T/bin:$PATH" hx login "$D" -u alice --password-stdin "${CA[@]}" 2>/dev/null ||
  fail "login through the helper failed"
expect "helper store" "$(jq -r .Secret "$T/helper-store.json")" wonderland
no_secret wonderland "$DOCKER_CONFIG/config.json"
PATH="$T/bin:$PATH" hx inspect "${CA[@]}" "$D/test/busybox:1" >/dev/null || fail "inspect through the helper failed"
PATH="$T/bin:$PATH" hx logout "$D" 2>/dev/null
[ ! -e "$T/helper-store.json" ] || fail "logout did not erase through the helper"
log "PASS"
