#!/usr/bin/env bash
# Shared by the auth matrix tests (auth_basic.sh, auth_token.sh): the
# users and the policy, the seeded images, and `check`, which sends one
# request as one identity and asserts its status, the refusal's error code
# and challenge, and that a refused request changed nothing in storage.
#
# A script sets, before `check`:
#   REG        the registry under test (host:port, plain HTTP)
#   ROOT       its storage root
#   CHALLENGE  an extended regex the WWW-Authenticate of a 401 must match
#   cred       a function: IDENTITY METHOD PATH -> curl arguments
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
export DOCKER_CONFIG="$T/docker-config" HOIST_HOME="$T/hoist-home"
mkdir -p "$DOCKER_CONFIG"

# Users: puller pulls everything; pusher and deleter (@writers) push, and
# deleter deletes; outsider may only push to public/*.
PW=$T/htpasswd
htpasswd -B -b -c "$PW" puller pull-pw 2>/dev/null
htpasswd -B -b "$PW" pusher push-pw 2>/dev/null
htpasswd -B -b "$PW" deleter delete-pw 2>/dev/null
htpasswd -B -b "$PW" outsider out-pw 2>/dev/null
POLICY=$T/policy.yaml
cat >"$POLICY" <<'YAML'
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
YAML
password_of() {
  case $1 in
    puller) echo pull-pw ;;
    pusher) echo push-pw ;;
    deleter) echo delete-pw ;;
    outsider) echo out-pw ;;
  esac
}

# serve_access NAME FLAGS...: hoist's registry with these access flags.
serve_access() {
  local name=$1
  shift
  serve_registry "$name" --log-level warn "$@"
}

# seed_images: the base image in team/app:1, public/app:1 and team/del:1
# (through `hoist login` as deleter, and `hoist copy`), then the facts
# the matrix needs: MAN, MDIG, CFG, LAYER, MTYPE, DEL_MDIG.
seed_images() {
  bash "$TESTDATA/make-base-image.sh" "$T/base" 1 >"$T/base.log" 2>&1 || fail "make-base-image.sh"
  echo wrong | "$HOIST" login "$REG" -u deleter --password-stdin >"$T/login-bad" 2>&1 &&
    fail "hoist login with a wrong password succeeded"
  echo delete-pw | "$HOIST" login "$REG" -u deleter --password-stdin >"$T/login" 2>&1 ||
    { cat "$T/login" >&2; fail "hoist login"; }
  for r in team/app:1 public/app:1 team/del:1; do
    "$HOIST" copy -q "oci:$T/base:1" "$REG/$r" >/dev/null || fail "hoist copy to $r as deleter"
  done
  MAN=$(skopeo inspect --raw --tls-verify=false --creds puller:pull-pw "docker://$REG/team/app:1")
  MDIG=sha256:$(printf '%s' "$MAN" | sha256sum | cut -d' ' -f1)
  CFG=$(jq -r .config.digest <<<"$MAN")
  LAYER=$(jq -r '.layers[0].digest' <<<"$MAN")
  MTYPE=$(jq -r .mediaType <<<"$MAN")
  # shellcheck disable=SC2046
  DEL_MDIG=$(curl -sI $(cred deleter HEAD /v2/team/del/manifests/1) -H "Accept: $MTYPE" \
    "http://$REG/v2/team/del/manifests/1" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
  [ -n "$DEL_MDIG" ] || fail "no digest for team/del:1"
  "$HOIST" logout "$REG" >/dev/null
}

snapshot() { (cd "$ROOT" && find . -printf '%p %s %y\n' | sort | sha256sum); }

CHECKED=0
# check IDENTITY WANT METHOD PATH [curl args...]
check() {
  local who=$1 want=$2 method=$3 path=$4 before after code
  shift 4
  before=$(snapshot)
  local verb=(-X "$method")
  [ "$method" = HEAD ] && verb=(-I) # no body follows a HEAD's Content-Length
  # shellcheck disable=SC2046
  code=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${verb[@]}" \
    $(cred "$who" "$method" "$path") "$@" "http://$REG$path")
  [ "$code" = "$want" ] || fail "$who $method $path: $code, want $want: $(head -c 300 "$T/body")"
  case $want in
    401)
      grep -Eqi "^WWW-Authenticate: $CHALLENGE" "$T/headers" ||
        fail "$who $method $path: challenge $(grep -i '^WWW-Authenticate' "$T/headers"), want $CHALLENGE"
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

# run_matrix IDENTITIES... < ROWS: each row "METHOD PATH STATUS..." with one
# status per identity; METHOD PUTM puts the seeded manifest.
run_matrix() {
  local method path wants w i who
  while read -r method path wants; do
    read -r -a w <<<"$wants"
    i=0
    for who in "$@"; do
      case $method in
        PUTM) check "$who" "${w[$i]}" PUT "$path" -H "Content-Type: $MTYPE" --data-binary "$MAN" ;;
        *) check "$who" "${w[$i]}" "$method" "$path" -H "Accept: $MTYPE" ;;
      esac
      i=$((i + 1))
    done
  done
}

# check_sessions: an upload session pusher opens, and its follow-ups by
# others: 401 or 403 for those who may not push, 403 for deleter (who may
# push to team/app, but not through pusher's session); then deleter
# deletes team/del's manifest.
check_sessions() {
  local loc who want
  # shellcheck disable=SC2046
  loc=$(curl -s -D - -o /dev/null -X POST $(cred pusher POST /v2/team/app/blobs/uploads/) \
    "http://$REG/v2/team/app/blobs/uploads/" | tr -d '\r' | sed -n 's/^Location: //p')
  [ -n "$loc" ] || fail "pusher could not open an upload session"
  for who in anonymous wrong puller outsider; do
    want=401
    [[ $who == puller || $who == outsider ]] && want=403
    check "$who" "$want" PATCH "$loc" --data-binary abc -H 'Content-Type: application/octet-stream'
    check "$who" "$want" PUT "$loc?digest=sha256:$(printf abc | sha256sum | cut -d' ' -f1)"
    check "$who" "$want" DELETE "$loc"
  done
  check deleter 403 PATCH "$loc" --data-binary abc -H 'Content-Type: application/octet-stream'
  grep -q 'belongs to another user' "$T/body" || fail "foreign session message: $(cat "$T/body")"
  check deleter 403 DELETE "$loc"
  check pusher 204 DELETE "$loc"
  check deleter 202 DELETE "/v2/team/del/manifests/$DEL_MDIG"
}

# check_catalog: the catalog lists only what the caller may pull.
check_catalog() {
  local who want got
  for who in anonymous outsider puller; do
    want='["public/app"]'
    [ "$who" = puller ] && want='["public/app","team/app","team/del"]'
    # shellcheck disable=SC2046
    got=$(curl -s $(cred "$who" GET /v2/_catalog) "http://$REG/v2/_catalog" | jq -c .repositories)
    [ "$got" = "$want" ] || fail "$who's catalog: $got, want $want"
  done
}

# check_mounts: from a repository the caller may pull, a mount (201);
# else a plain upload session (202), and the blob is not linked.
check_mounts() {
  local code path
  path="/v2/public/new/blobs/uploads/?mount=$LAYER&from=team/app"
  # shellcheck disable=SC2046
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST $(cred pusher POST "$path") "http://$REG$path")
  [ "$code" = 201 ] || fail "pusher's mount from team/app: $code"
  path="/v2/public/other/blobs/uploads/?mount=$LAYER&from=team/app"
  # shellcheck disable=SC2046
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST $(cred outsider POST "$path") "http://$REG$path")
  [ "$code" = 202 ] || fail "outsider's mount from team/app (no pull there): $code, want 202"
  path="/v2/public/other/blobs/$LAYER"
  # shellcheck disable=SC2046
  code=$(curl -s -o /dev/null -w '%{http_code}' -I $(cred outsider HEAD "$path") "http://$REG$path")
  [ "$code" = 404 ] || fail "outsider's refused mount linked the blob ($code)"
}

# check_clients: skopeo pushes and pulls with credentials; a push without
# the right is refused and leaves no repository behind.
check_clients() {
  sko copy --dest-tls-verify=false --dest-creds pusher:push-pw "oci:$T/base:1" \
    "docker://$REG/team/skopeo:1" >/dev/null || fail "skopeo push as pusher"
  sko copy --src-tls-verify=false --src-creds puller:pull-pw "docker://$REG/team/skopeo:1" \
    "oci:$T/back:1" >/dev/null || fail "skopeo pull as puller"
  [ "$(layout_digest "$T/base" 1)" = "$(layout_digest "$T/back" 1)" ] || fail "skopeo round trip digest"
  if sko copy --dest-tls-verify=false --dest-creds puller:pull-pw "oci:$T/base:1" \
    "docker://$REG/team/refused:1" >"$T/refused.log" 2>&1; then fail "skopeo push as puller succeeded"; fi
  [ ! -e "$ROOT/docker/registry/v2/repositories/team/refused" ] || fail "a refused push left a repository"
}
