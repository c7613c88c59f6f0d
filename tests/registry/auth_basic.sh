#!/usr/bin/env bash
# `hoist registry serve --htpasswd --access-policy`: an auth matrix over the
# endpoints x {anonymous, wrong password, pull-only user, push user, delete
# user, a user who may push elsewhere only}, each with its exact status
# (401 with a Basic challenge when not signed in, 403 DENIED when signed in
# without the right); storage unchanged by every refused request; the
# catalog filtered to what the caller may pull; a mount from a repository
# the caller may not pull becomes a plain upload; and real clients (hoist
# login + copy, skopeo) pushing and pulling with credentials.
# shellcheck source-path=SCRIPTDIR source=auth_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/auth_lib.sh"
need curl jq skopeo apache2-utils busybox-static
pw=$PW

# A bad policy or htpasswd file stops the registry at start, naming it.
printf 'repositories:\n  - match: "*"\n    pull: ["@nobody"]\n' >"$T/bad-policy.yaml"
if "$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/x" --access-policy "$T/bad-policy.yaml" \
  >"$T/bad.log" 2>&1 </dev/null; then fail "a bad policy was accepted"; fi
grep -q 'unknown group @nobody' "$T/bad.log" || fail "bad policy message: $(cat "$T/bad.log")"
printf 'plain:{SHA}abc\n' >"$T/bad-htpasswd"
if "$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/x" --htpasswd "$T/bad-htpasswd" \
  >"$T/bad2.log" 2>&1 </dev/null; then fail "a non-bcrypt htpasswd was accepted"; fi
grep -q 'is not bcrypt' "$T/bad2.log" || fail "bad htpasswd message: $(cat "$T/bad2.log")"

cred() { # identity -> curl arguments
  case $1 in
    anonymous) ;;
    wrong) echo "-u pusher:not-the-password" ;;
    *) echo "-u $1:$(password_of "$1")" ;;
  esac
}
CHALLENGE='Basic realm="hoist"'
serve_access basic --htpasswd "$pw" --access-policy "$POLICY"
seed_images

# endpoint                                   anonymous wrong puller pusher deleter outsider
run_matrix anonymous wrong puller pusher deleter outsider <<EOF
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
check_sessions
log "$CHECKED requests checked against the matrix"

check_catalog
check_mounts
check_clients
log "OK"
