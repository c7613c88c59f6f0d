#!/usr/bin/env bash
# bearer_token: hoist against docker-registry (distribution 2.8) behind a
# Docker token server this test starts (token_server.py: RS256 JWTs that
# the registry checks against the test's certificate). Anonymous tokens
# (pull of public/*), login, one token per scope set for a whole copy,
# a refused push, wrong credentials (exit 1, no secret printed), a token
# the registry rejects is fetched again (refresh on 401), tags/catalog,
# skopeo inspect agreement.
# shellcheck source-path=SCRIPTDIR source=xfer_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"
need docker-registry python3-cryptography

base_images
make_image "$T/layers" v1 512,1024,256,768,128 3
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=hoist token signer" \
  -keyout "$T/signer.key" -out "$T/signer.pem" >/dev/null 2>&1 || fail "openssl: signer"
TOKLOG="$T/tokens.log"
CONTROL="$T/expire-next"
: >"$TOKLOG"
start_bg token-server "$T/token.port" /usr/bin/python3 "$XFER_DIR/token_server.py" "$T/token.port" \
  "$T/signer.key" "$T/signer.pem" "$TOKLOG" "$CONTROL"
REALM="http://127.0.0.1:$(cat "$T/token.port")/token"
PORT=$(free_port)
start_distribution "$PORT" "$T/dist" "" "auth:
  token:
    realm: $REALM
    service: hoist-test
    issuer: hoist-test-issuer
    rootcertbundle: $T/signer.pem" http
D=$DIST_ADDR
BASE_DIGEST=$(layout_digest "$BASE" latest)
LAYERS_DIGEST=$(layout_digest "$T/layers" v1)
tokens() { wc -l <"$TOKLOG"; }

log "anonymous: push refused with a clear message"
expect_fail 1 "UNAUTHORIZED|DENIED|requires authentication|hoist login" \
  hx copy -q "oci:$BASE:latest" "$D/public/busybox:1"

log "login; a whole copy needs one token"
echo wonderland | hx login "$D" -u alice --password-stdin 2>/dev/null || fail "login failed"
before=$(tokens)
expect "push digest" "$(hx copy -q --jobs 4 "oci:$T/layers:v1" "$D/private/layers:v1")" "$LAYERS_DIGEST"
expect "token requests for one push of 6 blobs" "$(($(tokens) - before))" 1
grep -q 'token 200 account=alice scope=repository:private/layers:pull,push' "$TOKLOG" ||
  fail "no pull,push token for alice: $(cat "$TOKLOG")"
hx copy -q "oci:$BASE:latest" "$D/public/busybox:1" >/dev/null
hx copy -q "$D/private/layers:v1" "oci:$T/o1:v1" >/dev/null
compare_layouts "$T/layers" v1 "$T/o1" v1

log "anonymous pull of public/*, refused for private/*"
mkdir -p "$T/anon"
DOCKER_CONFIG="$T/anon" hx copy -q "$D/public/busybox:1" "oci:$T/o2:x" >/dev/null ||
  fail "anonymous pull of public/busybox failed"
compare_layouts "$BASE" latest "$T/o2" x
grep -q 'token 200 account=- scope=repository:public/busybox:pull' "$TOKLOG" || fail "no anonymous token"
DOCKER_CONFIG="$T/anon" expect_fail 1 "UNAUTHORIZED|DENIED|hoist login" \
  hx copy -q "$D/private/layers:v1" "oci:$T/o3:x"
[ ! -e "$T/o3" ] || fail "a refused pull left oci:$T/o3 behind"

log "wrong credentials"
mkdir -p "$T/wrong"
jq -n --arg h "$D" --arg a "$(printf alice:bad-secret-123 | base64)" '{auths: {($h): {auth: $a}}}' \
  >"$T/wrong/config.json"
DOCKER_CONFIG="$T/wrong" expect_fail 1 "wrong username or password" \
  hx copy -q "$D/private/layers:v1" "oci:$T/o4:x"
no_secret bad-secret-123 "$T/last.err" "$T/last.out"
expect_fail 1 "login to $D failed" bash -c 'echo bad-secret-456 | "$0" login "$1" -u alice --password-stdin' \
  "$HOIST" "$D"
no_secret bad-secret-456 "$T/last.err" "$T/last.out" "$DOCKER_CONFIG/config.json"

log "a token the registry rejects is fetched again"
echo 1 >"$CONTROL"
before=$(tokens)
hx copy -q "oci:$BASE:latest" "$D/private/refresh:1" >/dev/null || fail "copy with an expired token failed"
expect "expired tokens issued" "$(tail -n +$((before + 1)) "$TOKLOG" | grep -c 'token 200 expired')" 1
expect "token requests (expired, then fresh)" "$(($(tokens) - before))" 2

log "tags, catalog, inspect"
expect "tags" "$(hx tags "$D/private/layers")" v1
hx catalog "$D" | grep -qx private/layers || fail "catalog lacks private/layers"
hx inspect "$D/private/layers:v1" | jq -S 'del(.LayersData)' >"$T/hi.json"
sko inspect --tls-verify=false --creds alice:wonderland "docker://$D/private/layers:v1" |
  jq -S 'del(.LayersData)' >"$T/si.json"
diff "$T/hi.json" "$T/si.json" >&2 || fail "inspect differs from skopeo's"
log "PASS"
