#!/usr/bin/env bash
# `hoist registry serve --htpasswd --access-policy`: an auth matrix over the
# endpoints x {anonymous, wrong password, pull-only user, push user, delete
# user, a user who may push elsewhere only}, each with its exact status
# (401 with a Basic challenge when not signed in, 403 DENIED when signed in
# without the right); storage unchanged by every refused request; the
# catalog filtered to what the caller may pull; a mount from a repository
# the caller may not pull becomes a plain upload; and real clients (hoist
# login + copy, skopeo) pushing and pulling with credentials.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl jq skopeo apache2-utils busybox-static
export DOCKER_CONFIG="$T/docker-config" HOIST_HOME="$T/hoist-home"
mkdir -p "$DOCKER_CONFIG"

pw=$T/htpasswd
htpasswd -B -b -c "$pw" puller pull-pw 2>/dev/null
htpasswd -B -b "$pw" pusher push-pw 2>/dev/null
htpasswd -B -b "$pw" deleter delete-pw 2>/dev/null
htpasswd -B -b "$pw" outsider out-pw 2>/dev/null
cat >"$T/policy.yaml" <<'EOF'
groups:
  writers: [pusher, deleter]
repositories:
  - match: "public/*"
    pull: [anonymous]
    push: ["@writers", outsider]
    delete: [deleter]
  - match: "*"
    pull: [puller, "@writers"]
    push: ["@writers"]
    delete: [deleter]
EOF
# A bad policy or htpasswd file stops the registry at start, naming it.
printf 'repositories:\n  - match: "*"\n    pull: ["@nobody"]\n' >"$T/bad-policy.yaml"
if "$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/x" --access-policy "$T/bad-policy.yaml" \
  >"$T/bad.log" 2>&1 </dev/null; then fail "a bad policy was accepted"; fi
grep -q 'unknown group @nobody' "$T/bad.log" || fail "bad policy message: $(cat "$T/bad.log")"
printf 'plain:{SHA}abc\n' >"$T/bad-htpasswd"
if "$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/x" --htpasswd "$T/bad-htpasswd" \
  >"$T/bad2.log" 2>&1 </dev/null; then fail "a non-bcrypt htpasswd was accepted"; fi
grep -q 'is not bcrypt' "$T/bad2.log" || fail "bad htpasswd message: $(cat "$T/bad2.log")"

# start_hoist with the access flags (lib.sh's start_hoist takes none).
addr_file="$T/hoist.addr"
"$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/root" --addr-file "$addr_file" \
  --htpasswd "$pw" --access-policy "$T/policy.yaml" --log-level warn >"$T/hoist.log" 2>&1 </dev/null &
_PIDS+=("$!")
_LOGS+=("$T/hoist.log")
for _ in $(seq 100); do [ -s "$addr_file" ] && break; sleep 0.1; done
REG=$(cat "$addr_file")
[ -n "$REG" ] || fail "the registry did not start"

# Seed: the base image in team/app:1 and public/app:1, as deleter, through
# hoist login + hoist copy (Basic, as a client learns it from the challenge).
bash "$TESTDATA/make-base-image.sh" "$T/base" 1 >"$T/base.log" 2>&1 || fail "make-base-image.sh"
echo wrong | "$HOIST" login "$REG" -u deleter --password-stdin >"$T/login-bad" 2>&1 &&
  fail "hoist login with a wrong password succeeded"
echo delete-pw | "$HOIST" login "$REG" -u deleter --password-stdin >"$T/login" 2>&1 ||
  { cat "$T/login" >&2; fail "hoist login"; }
for r in team/app:1 public/app:1 team/del:1; do
  "$HOIST" copy -q "oci:$T/base:1" "$REG/$r" >/dev/null || fail "hoist copy to $r as deleter"
done
"$HOIST" logout "$REG" >/dev/null

MAN=$(skopeo inspect --raw --tls-verify=false --creds puller:pull-pw "docker://$REG/team/app:1")
MDIG=sha256:$(printf '%s' "$MAN" | sha256sum | cut -d' ' -f1)
CFG=$(jq -r .config.digest <<<"$MAN")
LAYER=$(jq -r '.layers[0].digest' <<<"$MAN")
MTYPE=$(jq -r .mediaType <<<"$MAN")
DEL_MDIG=$(curl -sI -u deleter:delete-pw -H "Accept: $MTYPE" "http://$REG/v2/team/del/manifests/1" |
  tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')

cred() { # identity -> curl arguments
  case $1 in
    anonymous) ;;
    wrong) echo "-u pusher:not-the-password" ;;
    puller) echo "-u puller:pull-pw" ;;
    pusher) echo "-u pusher:push-pw" ;;
    deleter) echo "-u deleter:delete-pw" ;;
    outsider) echo "-u outsider:out-pw" ;;
  esac
}
snapshot() { (cd "$T/root" && find . -printf '%p %s %y\n' | sort | sha256sum); }

CHECKED=0
# check IDENTITY WANT METHOD PATH [curl args...]: the status, the error
# code and challenge of refusals, and no storage change when refused.
check() {
  local who=$1 want=$2 method=$3 path=$4 before after code body
  shift 4
  before=$(snapshot)
  local verb=(-X "$method")
  [ "$method" = HEAD ] && verb=(-I)  # no body follows a HEAD's Content-Length
  # shellcheck disable=SC2046
  code=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${verb[@]}" $(cred "$who") \
    "$@" "http://$REG$path")
  [ "$code" = "$want" ] || fail "$who $method $path: $code, want $want: $(head -c 300 "$T/body")"
  case $want in
    401)
      grep -qi '^WWW-Authenticate: Basic realm="hoist"' "$T/headers" || fail "$who $method $path: no Basic challenge"
      [ "$method" = HEAD ] || jq -e '.errors[0].code == "UNAUTHORIZED"' "$T/body" >/dev/null ||
        fail "$who $method $path: body $(cat "$T/body")" ;;
    403)
      [ "$method" = HEAD ] || jq -e '.errors[0].code == "DENIED"' "$T/body" >/dev/null ||
        fail "$who $method $path: body $(cat "$T/body")" ;;
  esac
  if [[ $want == 40[13] ]]; then
    after=$(snapshot)
    [ "$before" = "$after" ] || fail "$who $method $path was refused ($want) but storage changed"
  fi
  CHECKED=$((CHECKED + 1))
}

M="-H Accept:$MTYPE"
put_manifest=(-H "Content-Type: $MTYPE" --data-binary "$MAN")
# endpoint                                   anonymous wrong puller pusher deleter outsider
while read -r method path wants; do
  read -r -a w <<<"$wants"
  i=0
  for who in anonymous wrong puller pusher deleter outsider; do
    case $method in
      PUTM) check "$who" "${w[$i]}" PUT "$path" "${put_manifest[@]}" ;;
      *) check "$who" "${w[$i]}" "$method" "$path" $M ;;
    esac
    i=$((i + 1))
  done
done <<EOF
GET /v2/ 401 401 200 200 200 200
GET /v2/team/app/tags/list 401 401 200 200 200 403
GET /v2/team/app/manifests/1 401 401 200 200 200 403
HEAD /v2/team/app/manifests/1 401 401 200 200 200 403
GET /v2/team/app/blobs/$CFG 401 401 200 200 200 403
HEAD /v2/team/app/blobs/$LAYER 401 401 200 200 200 403
GET /v2/team/app/referrers/$MDIG 401 401 200 200 200 403
GET /v2/public/app/manifests/1 200 401 200 200 200 200
GET /v2/public/app/tags/list 200 401 200 200 200 200
POST /v2/team/app/blobs/uploads/ 401 401 403 202 202 403
POST /v2/public/app/blobs/uploads/ 401 401 403 202 202 202
PUTM /v2/team/app/manifests/copy 401 401 403 201 201 403
DELETE /v2/team/app/manifests/copy 401 401 403 403 202 403
DELETE /v2/public/app/blobs/$CFG 401 401 403 403 202 403
EOF
# The upload sessions opened above, and their follow-ups.
loc=$(curl -s -D - -o /dev/null -X POST -u pusher:push-pw "http://$REG/v2/team/app/blobs/uploads/" |
  tr -d '\r' | sed -n 's/^Location: //p')
for who in anonymous wrong puller outsider; do
  want=401
  [[ $who == puller || $who == outsider ]] && want=403
  check "$who" "$want" PATCH "$loc" --data-binary abc -H 'Content-Type: application/octet-stream'
  check "$who" "$want" PUT "$loc?digest=sha256:$(printf abc | sha256sum | cut -d' ' -f1)"
  check "$who" "$want" DELETE "$loc"
done
# The session is pusher's: deleter may push to team/app too, but not
# through pusher's session.
check deleter 403 PATCH "$loc" --data-binary abc -H 'Content-Type: application/octet-stream'
grep -q 'belongs to another user' "$T/body" || fail "foreign session message: $(cat "$T/body")"
check deleter 403 DELETE "$loc"
check pusher 204 DELETE "$loc"
check deleter 202 DELETE "/v2/team/del/manifests/$DEL_MDIG"
log "$CHECKED requests checked against the matrix"

# The catalog lists only what the caller may pull.
cat_of() { curl -s $(cred "$1") "http://$REG/v2/_catalog" | jq -c .repositories; }
[ "$(cat_of anonymous)" = '["public/app"]' ] || fail "anonymous catalog: $(cat_of anonymous)"
[ "$(cat_of outsider)" = '["public/app"]' ] || fail "outsider catalog: $(cat_of outsider)"
[ "$(cat_of puller)" = '["public/app","team/app","team/del"]' ] || fail "puller catalog: $(cat_of puller)"

# Mounts: from a repository the caller may pull, a mount (201); else a
# plain upload session (202), and the blob is not linked.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -u pusher:push-pw \
  "http://$REG/v2/public/new/blobs/uploads/?mount=$LAYER&from=team/app")
[ "$code" = 201 ] || fail "pusher's mount from team/app: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -u outsider:out-pw \
  "http://$REG/v2/public/other/blobs/uploads/?mount=$LAYER&from=team/app")
[ "$code" = 202 ] || fail "outsider's mount from team/app (no pull there): $code, want 202"
code=$(curl -s -o /dev/null -w '%{http_code}' -I -u outsider:out-pw "http://$REG/v2/public/other/blobs/$LAYER")
[ "$code" = 404 ] || fail "outsider's refused mount linked the blob ($code)"

# Real clients with credentials: skopeo both ways, and a refused push.
sko copy --dest-tls-verify=false --dest-creds pusher:push-pw "oci:$T/base:1" \
  "docker://$REG/team/skopeo:1" >/dev/null || fail "skopeo push as pusher"
sko copy --src-tls-verify=false --src-creds puller:pull-pw "docker://$REG/team/skopeo:1" \
  "oci:$T/back:1" >/dev/null || fail "skopeo pull as puller"
if sko copy --dest-tls-verify=false --dest-creds puller:pull-pw "oci:$T/base:1" \
  "docker://$REG/team/refused:1" >"$T/refused.log" 2>&1; then fail "skopeo push as puller succeeded"; fi
curl -s -u deleter:delete-pw "http://$REG/v2/_catalog" | jq -e '.repositories | index("team/refused") | not' >/dev/null ||
  fail "a refused push left a repository"
log "OK"
