#!/usr/bin/env bash
# Bearer-token authentication (distribution's token specification):
#   - hoist's registry issuing its own tokens at /token (RS256 here) from
#     the htpasswd file and the access policy: the auth matrix over the
#     endpoints x {anonymous, wrong password, forged token, expired token,
#     token for another repository, puller, pusher, deleter, outsider},
#     each a client's whole dance (token for the scope, then the request),
#     with exact statuses, challenges (invalid_token, insufficient_scope)
#     and storage unchanged by refusals; the catalog, mounts, sessions;
#     the token endpoint itself (GET, the OAuth2 password grant, wrong
#     passwords, malformed scopes); skopeo, hoist copy and hoist build
#     --push with tokens;
#   - an ES256 issuer over TLS with a test CA: hoist login + copy and
#     skopeo push and pull through it;
#   - Debian's docker-registry (distribution 2.8) configured with
#     `auth: token` against hoist's issuer accepts its tokens.
# shellcheck source-path=SCRIPTDIR source=auth_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/auth_lib.sh"
need curl jq skopeo apache2-utils busybox-static openssl docker-registry

mkdir -p "$T/pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=hoist token signer" \
  -keyout "$T/pki/rsa.key" -out "$T/pki/rsa.crt" 2>/dev/null || fail "openssl: RSA signer"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=somebody else" \
  -keyout "$T/pki/forger.key" -out "$T/pki/forger.crt" 2>/dev/null || fail "openssl: forger"
SERVICE=hoist-test
ISSUER=hoist-test-issuer

# Bad token settings stop the registry at start, naming what is missing.
if "$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/x" --token-key "$T/pki/rsa.key" \
  >"$T/bad.log" 2>&1 </dev/null; then fail "a token key without a bundle was accepted"; fi
grep -q 'needs --token-service' "$T/bad.log" || fail "message: $(cat "$T/bad.log")"
if "$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/x" --token-service s --token-issuer i \
  --token-cert-bundle "$T/pki/forger.crt" --token-key "$T/pki/rsa.key" >"$T/bad2.log" 2>&1 </dev/null; then
  fail "a signing key whose certificate is not in the bundle was accepted"
fi
grep -q 'its certificate is not in' "$T/bad2.log" || fail "message: $(cat "$T/bad2.log")"

serve_access token --htpasswd "$PW" --access-policy "$POLICY" --token-service "$SERVICE" \
  --token-issuer "$ISSUER" --token-cert-bundle "$T/pki/rsa.crt" --token-key "$T/pki/rsa.key" \
  --token-expiration 600
REALM="http://$REG/token"

b64url() { basenc --base64url -w0 | tr -d '='; }
jwt_part() { # TOKEN N: the Nth part of a JWT, decoded (base64url without padding)
  local s
  s=$(cut -d. -f"$2" <<<"$1" | tr '_-' '/+')
  while ((${#s} % 4)); do s+='='; done
  base64 -d <<<"$s"
}
# mint KEY CERT SUBJECT EXP ACCESS-JSON: an RS256 token made here with
# openssl (not by hoist): an expired one, or one signed by another key.
mint() {
  local header payload sig
  header=$(jq -cn --arg c "$(openssl x509 -in "$2" -outform DER | base64 -w0)" \
    '{alg: "RS256", typ: "JWT", x5c: [$c]}' | b64url)
  payload=$(jq -cn --arg iss "$ISSUER" --arg aud "$SERVICE" --arg sub "$3" --argjson exp "$4" \
    --argjson access "$5" '{iss: $iss, aud: $aud, sub: $sub, exp: $exp, nbf: ($exp - 7200),
      iat: ($exp - 7200), access: $access}' | b64url)
  sig=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$1" -binary | b64url)
  printf '%s.%s.%s' "$header" "$payload" "$sig"
}
all_access='[{"type":"repository","name":"team/app","actions":["pull","push","delete"]},
  {"type":"repository","name":"public/app","actions":["pull","push","delete"]}]'

# scope_of METHOD PATH: what a client asks the realm for, from the challenge.
scope_of() {
  local method=$1 path=${2%%\?*} name action=pull from
  case $path in
    /v2/) return ;;
    /v2/_catalog) echo "registry:catalog:*"; return ;;
  esac
  name=${path#/v2/}
  name=${name%%/@(tags|manifests|blobs|referrers)/*}
  case $method in
    GET | HEAD) action=pull ;;
    DELETE) [[ $path == */uploads/* ]] && action=pull,push || action=delete ;;
    *) action=pull,push ;;
  esac
  echo "repository:$name:$action"
  if [[ $2 == *from=* ]]; then
    from=${2##*from=}
    echo "repository:${from%%&*}:pull"
  fi
}
shopt -s extglob

# token USER PASSWORD SCOPES...: a token from the realm ("" for anonymous).
token() {
  local user=$1 pass=$2 args=() s
  shift 2
  [ -n "$user" ] && args=(-u "$user:$pass")
  for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
  curl -sfG "${args[@]}" --data-urlencode "service=$SERVICE" "$REALM" | jq -r .token
}

cred() { # identity method path -> curl arguments, as a client gets them
  local scopes tok
  mapfile -t scopes < <(scope_of "$2" "$3")
  case $1 in
    anonymous) tok=$(token "" "" "${scopes[@]}") ;;
    wrong) # the realm refuses the password: the request goes without a token
      [ "$(curl -s -o /dev/null -w '%{http_code}' -u pusher:nope "$REALM?service=$SERVICE")" = 401 ] ||
        fail "the realm accepted a wrong password"
      return ;;
    forged) tok=$(mint "$T/pki/forger.key" "$T/pki/forger.crt" deleter $(($(date +%s) + 600)) "$all_access") ;;
    expired) tok=$(mint "$T/pki/rsa.key" "$T/pki/rsa.crt" deleter $(($(date +%s) - 3600)) "$all_access") ;;
    otherrepo) tok=$(token deleter delete-pw "repository:team/other:pull,push,delete") ;;
    *) tok=$(token "$1" "$(password_of "$1")" "${scopes[@]}") ;;
  esac
  [ -n "$tok" ] && [ "$tok" != null ] || fail "no token for $1 ($2 $3)"
  echo "--oauth2-bearer $tok"  # Authorization: Bearer, in words without spaces
}
CHALLENGE="Bearer realm=\"$REALM\",service=\"$SERVICE\""
seed_images

# identity:  anonymous wrong forged expired otherrepo puller pusher deleter outsider
run_matrix anonymous wrong forged expired otherrepo puller pusher deleter outsider <<EOF
GET /v2/ 200 401 401 401 200 200 200 200 200
GET /v2/team/app/tags/list 401 401 401 401 401 200 200 200 403
GET /v2/team/app/manifests/1 401 401 401 401 401 200 200 200 403
HEAD /v2/team/app/manifests/1 401 401 401 401 401 200 200 200 403
GET /v2/team/app/blobs/$CFG 401 401 401 401 401 200 200 200 403
HEAD /v2/team/app/blobs/$LAYER 401 401 401 401 401 200 200 200 403
GET /v2/team/app/referrers/$MDIG 401 401 401 401 401 200 200 200 403
GET /v2/public/app/manifests/1 200 401 401 401 401 200 200 200 200
GET /v2/public/app/tags/list 200 401 401 401 401 200 200 200 200
POST /v2/team/app/blobs/uploads/ 401 401 401 401 401 403 202 202 403
POST /v2/public/app/blobs/uploads/ 401 401 401 401 401 403 202 202 202
PUTM /v2/team/app/manifests/copy 401 401 401 401 401 403 201 201 403
DELETE /v2/team/app/manifests/copy 401 401 401 401 401 403 403 202 403
DELETE /v2/public/app/blobs/$CFG 401 401 401 401 401 403 403 202 403
EOF
check_sessions
log "$CHECKED requests checked against the matrix"

# The challenges say why (RFC 6750 §3.1) and what to ask for.
hdr() { # identity method path -> the WWW-Authenticate of the answer
  # shellcheck disable=SC2046
  curl -s -o /dev/null -D - -X "$2" $(cred "$1" "$2" "$3") "http://$REG$3" | tr -d '\r' |
    sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p'
}
want="Bearer realm=\"$REALM\",service=\"$SERVICE\",scope=\"repository:team/app:pull\""
[ "$(hdr wrong GET /v2/team/app/tags/list)" = "$want" ] || fail "no-token challenge: $(hdr wrong GET /v2/team/app/tags/list)"
[ "$(hdr expired GET /v2/team/app/tags/list)" = "$want,error=\"invalid_token\"" ] ||
  fail "expired-token challenge: $(hdr expired GET /v2/team/app/tags/list)"
[ "$(hdr otherrepo GET /v2/team/app/tags/list)" = "$want,error=\"insufficient_scope\"" ] ||
  fail "other-repository challenge: $(hdr otherrepo GET /v2/team/app/tags/list)"
[[ $(hdr anonymous POST /v2/team/app/blobs/uploads/) == *'scope="repository:team/app:pull,push"'* ]] ||
  fail "push challenge: $(hdr anonymous POST /v2/team/app/blobs/uploads/)"

check_catalog
check_mounts

# The token endpoint itself.
code=$(curl -s -o "$T/tok.json" -D "$T/tok.h" -w '%{http_code}' -u pusher:nope "$REALM?service=$SERVICE")
[ "$code" = 401 ] || fail "wrong password at the realm: $code"
grep -qi '^WWW-Authenticate: Basic' "$T/tok.h" || fail "the realm's 401 has no Basic challenge"
code=$(curl -s -o "$T/tok.json" -w '%{http_code}' -u pusher:push-pw "$REALM?service=$SERVICE&scope=nonsense")
[ "$code" = 400 ] || fail "a malformed scope: $code, want 400"
curl -s -u puller:pull-pw "$REALM?service=$SERVICE&scope=repository:team/app:pull,push,delete" >"$T/tok.json"
jq -e '.expires_in == 600 and (.token == .access_token) and (.issued_at | test("Z$"))' "$T/tok.json" >/dev/null ||
  fail "token answer: $(cat "$T/tok.json")"
granted=$(jwt_part "$(jq -r .token "$T/tok.json")" 2 | jq -c .access)
[ "$granted" = '[{"actions":["pull"],"name":"team/app","type":"repository"}]' ] ||
  fail "puller was granted $granted, want pull only"
# The OAuth2 password grant (containerd's first try).
tok=$(curl -s -X POST --data-urlencode grant_type=password --data-urlencode username=pusher \
  --data-urlencode password=push-pw --data-urlencode "service=$SERVICE" \
  --data-urlencode "scope=repository:team/app:pull" "$REALM" | jq -r .access_token)
[ "$(curl -s -o /dev/null -w '%{http_code}' --oauth2-bearer "$tok" "http://$REG/v2/team/app/tags/list")" = 200 ] ||
  fail "a token from the password grant was refused"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d grant_type=password -d username=pusher \
  -d password=nope "$REALM")
[ "$code" = 401 ] || fail "the password grant with a wrong password: $code"

check_clients
# hoist itself: login, push and pull with tokens.
echo push-pw | "$HOIST" login "$REG" -u pusher --password-stdin >"$T/login.log" 2>&1 ||
  fail "hoist login (token): $(cat "$T/login.log")"
"$HOIST" copy -q "oci:$T/base:1" "$REG/team/hoist:1" >/dev/null || fail "hoist copy push with tokens"
"$HOIST" copy -q "$REG/team/hoist:1" "oci:$T/hback:1" >/dev/null || fail "hoist copy pull with tokens"
[ "$(layout_digest "$T/base" 1)" = "$(layout_digest "$T/hback" 1)" ] || fail "hoist round trip digest"
# hoist build: FROM an image there, pushed there, tokens both ways.
mkdir -p "$T/ctx"
printf 'FROM %s\nCOPY f /f\n' "$REG/team/hoist:1" >"$T/ctx/Dockerfile"
echo built-with-tokens >"$T/ctx/f"
"$HOIST" build --progress plain -t "$REG/team/built:1" --push "$T/ctx" 2>"$T/build.log" ||
  fail "hoist build --push with tokens: $(tail -5 "$T/build.log")"
tok=$(token puller pull-pw repository:team/built:pull)
[ "$(curl -s -o /dev/null -w '%{http_code}' --oauth2-bearer "$tok" "http://$REG/v2/team/built/manifests/1")" = 200 ] ||
  fail "the built image is not in the registry"
"$HOIST" logout "$REG" >/dev/null
stop_pid "$REG_PID"

# An ES256 issuer over TLS, with a CA made here.
test_ca "$T/pki"
test_cert "$T/pki" server /CN=127.0.0.1 "subjectAltName=IP:127.0.0.1" 7
cd "$T/pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=hoist ES256 signer" \
  -keyout es.key -out es.crt 2>/dev/null
cd "$T"
serve_access tls --tls-cert "$T/pki/server.crt" --tls-key "$T/pki/server.key" --htpasswd "$PW" \
  --access-policy "$POLICY" --token-service "$SERVICE" --token-issuer "$ISSUER" \
  --token-cert-bundle "$T/pki/es.crt" --token-key "$T/pki/es.key"
TREG=$REG
alg=$(jwt_part "$(curl -s --cacert "$T/pki/ca.crt" -u pusher:push-pw "https://$TREG/token?service=$SERVICE" |
  jq -r .token)" 1 | jq -r .alg)
[ "$alg" = ES256 ] || fail "the EC issuer signs with $alg, want ES256"
echo push-pw | "$HOIST" login "$TREG" -u pusher --password-stdin --ca-cert "$T/pki/ca.crt" >"$T/login2.log" 2>&1 ||
  fail "hoist login over TLS with tokens: $(cat "$T/login2.log")"
"$HOIST" copy -q --ca-cert "$T/pki/ca.crt" "oci:$T/base:1" "$TREG/team/tls:1" >/dev/null ||
  fail "hoist copy push over TLS with tokens"
"$HOIST" copy -q --ca-cert "$T/pki/ca.crt" "$TREG/team/tls:1" "oci:$T/tback:1" >/dev/null ||
  fail "hoist copy pull over TLS with tokens"
mkdir -p "$T/certs.d" && cp "$T/pki/ca.crt" "$T/certs.d/ca.crt"
sko copy --dest-cert-dir "$T/certs.d" --dest-creds pusher:push-pw "oci:$T/base:1" \
  "docker://$TREG/team/sko-tls:1" >/dev/null || fail "skopeo push over TLS with tokens"
sko copy --src-cert-dir "$T/certs.d" --src-creds puller:pull-pw "docker://$TREG/team/sko-tls:1" \
  "oci:$T/sback:1" >/dev/null || fail "skopeo pull over TLS with tokens"
[ "$(layout_digest "$T/base" 1)" = "$(layout_digest "$T/sback" 1)" ] || fail "skopeo TLS round trip"

# distribution 2.8 trusting hoist's issuer: its tokens work there too.
PORT=$(free_port)
start_distribution "$PORT" "$T/dist" "" "auth:
  token:
    realm: https://$TREG/token
    service: $SERVICE
    issuer: $ISSUER
    rootcertbundle: $T/pki/es.crt"
D=$DIST_ADDR
tok=$(curl -s --cacert "$T/pki/ca.crt" -u puller:pull-pw \
  "https://$TREG/token?service=$SERVICE&scope=repository:team/dist:pull" | jq -r .token)
code=$(curl -s -o "$T/dist.body" -w '%{http_code}' --oauth2-bearer "$tok" "http://$D/v2/")
[ "$code" = 200 ] || fail "distribution refused hoist's token: $code $(cat "$T/dist.body")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --oauth2-bearer "$tok" "http://$D/v2/team/dist/blobs/uploads/")
[ "$code" = 401 ] || fail "distribution let a pull token push: $code"
sko copy --dest-tls-verify=false --dest-creds pusher:push-pw "oci:$T/base:1" \
  "docker://$D/team/dist:1" >"$T/dist-push.log" 2>&1 ||
  fail "skopeo push to distribution with hoist's tokens: $(tail -3 "$T/dist-push.log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' --oauth2-bearer "$tok" "http://$D/v2/team/dist/tags/list")" = 200 ] ||
  fail "distribution refused hoist's pull token on team/dist"
if sko copy --dest-tls-verify=false --dest-creds puller:pull-pw "oci:$T/base:1" \
  "docker://$D/team/dist-refused:1" >"$T/dist-refused.log" 2>&1; then
  fail "a puller pushed to distribution"
fi
echo push-pw | "$HOIST" login "$D" -u pusher --password-stdin --ca-cert "$T/pki/ca.crt" >"$T/login3.log" 2>&1 ||
  fail "hoist login to distribution with hoist's tokens: $(cat "$T/login3.log")"
"$HOIST" copy -q --ca-cert "$T/pki/ca.crt" "oci:$T/base:1" "$D/team/dist-hoist:1" >/dev/null ||
  fail "hoist copy to distribution with hoist's tokens"
log "OK"
