# shellcheck shell=bash
# bench/lib/http.sh — registry client helpers, sourced by bench/registry.sh.
#
# Adapted from the project's shared peer script
# (the shared folder's bench/registry-bench.sh, 2026-11-26): the same requests (POST
# session, PUT ?digest= with `curl -T` and no `Expect:`, PATCH with
# Content-Range following each Location), but every response status is
# checked, and an unexpected one is written, with the exact request, to
# $ANOMALIES instead of only failing.
#
# Uses (and the caller exports, for `xargs bash -c`):
#   URL        http://127.0.0.1:PORT of the registry under test
#   REG        its short name (hoist | distribution), for the anomaly log
#   SCRATCH    a directory for per-process response files
#   ANOMALIES  file that collects unexpected responses

anomaly() { # message...
  echo "[bench] ANOMALY $REG: $*" >&2
  echo "$REG: $*" >>"$ANOMALIES"
}

# Location may be absolute or relative; make it absolute.
absloc() { case "$1" in http://*|https://*) echo "$1" ;; /*) echo "$URL$1" ;; *) echo "$URL/$1" ;; esac; }
addq() { case "$1" in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }
hdr_location() { awk 'tolower($1)=="location:"{print $2}' | tail -1; }

# req WANT METHOD URL [curl options...]
# One request; prints the response headers (CR stripped) on stdout. Any other
# status than WANT, or a transport error, is an anomaly and returns 1.
req() {
  local want=$1 method=$2 url=$3; shift 3
  local t=$SCRATCH/req.$BASHPID code rc=0
  code=$(curl -sS -X "$method" -D "$t.h" -o "$t.b" -w '%{http_code}' "$@" "$url" 2>"$t.e") || rc=$?
  if [ "$rc" != 0 ] || [ "$code" != "$want" ]; then
    anomaly "$method ${url#"$URL"} [curl $*] -> HTTP ${code:-none} (want $want, curl exit $rc)" \
      "body: $(head -c 400 "$t.b" 2>/dev/null | tr -d '\r\n')" "$(head -c 200 "$t.e" 2>/dev/null | tr -d '\r\n')"
    rm -f "$t.h" "$t.b" "$t.e"
    return 1
  fi
  tr -d '\r' <"$t.h"
  rm -f "$t.h" "$t.b" "$t.e"
}

start_upload() { # repo -> absolute upload URL
  local h loc
  h=$(req 202 POST "$URL/v2/$1/blobs/uploads/" -H 'Content-Length: 0') || return 1
  loc=$(hdr_location <<<"$h")
  [ -n "$loc" ] || { anomaly "POST /v2/$1/blobs/uploads/ -> 202 without Location"; return 1; }
  absloc "$loc"
}

push_mono() { # repo file digest: POST, then PUT ?digest= with the whole body
  local loc
  loc=$(start_upload "$1") || return 1
  req 201 PUT "$(addq "$loc" "digest=$3")" -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -T "$2" >/dev/null
}

# push_chunked REPO DIGEST FILE:SIZE...: POST, one PATCH per chunk with
# Content-Range (following each Location), PUT ?digest=. Between the curl
# runs only shell builtins (no $(...), stat, awk or tr): on a VM where a
# fork costs ~5 ms, the helper processes of the first version took ~60 ms
# per chunk, as much as a registry's own work on a 64 MiB chunk, and hid
# the registries' difference (same for every registry under test).
push_chunked() {
  local repo=$1 dg=$2; shift 2
  local loc off=0 sz end c file code line rc t=$SCRATCH/chunk.$BASHPID
  loc=$(start_upload "$repo") || return 1
  for c in "$@"; do
    file=${c%:*} sz=${c##*:} end=$((off + sz - 1)) rc=0
    curl -sS -X PATCH -D "$t.h" -o "$t.b" -w '%{http_code}' -H 'Expect:' \
      -H 'Content-Type: application/octet-stream' -H "Content-Range: $off-$end" -T "$file" \
      "$loc" >"$t.code" 2>"$t.e" || rc=$?
    code=; read -r code <"$t.code" || true  # no newline after %{http_code}
    if [ "$rc" != 0 ] || [ "$code" != 202 ]; then
      anomaly "PATCH ${loc#"$URL"} (Content-Range $off-$end) -> HTTP ${code:-none} (want 202, curl exit $rc)"
      return 1
    fi
    loc=
    while IFS= read -r line; do
      line=${line%$'\r'}
      case ${line,,} in location:*) loc=${line#*:} loc=${loc# } ;; esac
    done <"$t.h"
    [ -n "$loc" ] || { anomaly "PATCH (Content-Range $off-$end) -> 202 without Location"; return 1; }
    case $loc in http://* | https://*) ;; /*) loc=$URL$loc ;; *) loc=$URL/$loc ;; esac
    off=$((end + 1))
  done
  req 201 PUT "$(addq "$loc" "digest=$dg")" -H 'Content-Type: application/octet-stream' \
    -H 'Content-Length: 0' >/dev/null
}

blob_exists() { # repo digest
  [ "$(curl -s -o /dev/null -w '%{http_code}' -I "$URL/v2/$1/blobs/$2")" = 200 ]
}
