#!/usr/bin/env bash
# Upload-session limits of `hoist registry serve`: --max-uploads caps the
# sessions open at once (beyond it POST answers 429 TOOMANYREQUESTS, and a
# slot comes back when a session completes, is cancelled or expires);
# --upload-idle expires a session no request has touched for that long,
# while the server runs, and spares one that keeps receiving chunks;
# sessions left by an earlier run count against the limit after a restart.
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl jq

start() { # ROOT FLAGS...: (re)start the registry; sets R
  start_hoist "$@"
  R="http://$HOIST_ADDR"
}
post() { # REPO -> the Location of a new session, or FAIL:<status>
  local h code
  h=$(curl -s -D - -o "$T/post.body" -X POST "$R/v2/$1/blobs/uploads/" | tr -d '\r')
  code=$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' <<<"$h")
  if [ "$code" = 202 ]; then sed -n 's/^Location: //p' <<<"$h"; else echo "FAIL:$code"; fi
}
status_of() { curl -s -o /dev/null -w '%{http_code}' "$R$1"; }

start "$T/root" --max-uploads 3 --upload-idle 2
a=$(post lim/a) && b=$(post lim/b) && c=$(post lim/c)
for l in "$a" "$b" "$c"; do [[ $l == /v2/* ]] || fail "a session within the limit was refused: $l"; done
[ "$(post lim/d)" = FAIL:429 ] || fail "a fourth session was not refused with 429"
jq -e '.errors[0].code == "TOOMANYREQUESTS"' "$T/post.body" >/dev/null || fail "429 body: $(cat "$T/post.body")"
# Completing and cancelling give slots back.
data=hello
digest=sha256:$(printf %s "$data" | sha256sum | cut -d' ' -f1)
sep='?'
[[ $a == *\?* ]] && sep='&'
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "$data" \
  -H 'Content-Type: application/octet-stream' "$R$a${sep}digest=$digest")
[ "$code" = 201 ] || fail "completing a session: $code"
a=$(post lim/a)
[[ $a == /v2/* ]] || fail "no slot after a completed upload: $a"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$R$b")" = 204 ] || fail "cancel"
b=$(post lim/b)
[[ $b == /v2/* ]] || fail "no slot after a cancelled upload: $b"
[ "$(post lim/e)" = FAIL:429 ] || fail "the limit no longer holds"

# Idle expiry while serving: c and b sit idle; a keeps receiving chunks.
expired=0
for ((i = 0; i < 120; i++)); do
  off=$(curl -s -D - -o /dev/null -X PATCH --data-binary x -H 'Content-Type: application/octet-stream' \
    "$R$a" | tr -d '\r' | sed -n 's/^Location: //p')
  [ -n "$off" ] && a=$off
  [ "$(status_of "$b")" = 404 ] && [ "$(status_of "$c")" = 404 ] && { expired=1; break; }
  sleep 0.5
done
[ "$expired" = 1 ] || fail "idle sessions did not expire within 60 s"
[ "$(status_of "$a")" = 204 ] || fail "the busy session expired too: $(status_of "$a")"
jq -e '.errors[0].code == "BLOB_UPLOAD_UNKNOWN"' <(curl -s "$R$b") >/dev/null || fail "an expired session's error code"
d=$(post lim/d)
[[ $d == /v2/* ]] || fail "no slot after idle sessions expired: $d"
stop_pid "$HOIST_PID"

# A restart counts the sessions the last run left.
start "$T/root2" --upload-idle 3600
for r in x y z; do [[ $(post "left/$r") == /v2/* ]] || fail "session left/$r"; done
stop_pid "$HOIST_PID"
start "$T/root2" --max-uploads 3 --upload-idle 3600
[ "$(post left/w)" = FAIL:429 ] || fail "sessions from before the restart were not counted"
log "OK"
