#!/usr/bin/env bash
# start-hoist.sh HOIST_BINARY DIR
#
# Starts `hoist registry serve` in the background on 127.0.0.1 (a free port
# that hoist picks), storage root DIR/root, quiet logging as in the peer
# method (level warn, access log off: the same as distribution's "error, no
# access log" in lib/start-distribution.sh, as far as hoist's levels go),
# waits until GET /v2/ answers 200, and prints "PID HOST:PORT" on stdout.
# Stop it with `kill PID` (SIGTERM drains and exits 0).
#
# Files: DIR/config.yml, DIR/addr (the --addr-file), DIR/registry.log
# (hoist's stdout and stderr).
# TLS_CERT and TLS_KEY (environment, PEM files): serve HTTPS with them; the
# readiness check then trusts CURL_CA_BUNDLE.
# S3_BUCKET (with S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY):
# the storage is that bucket instead of DIR/root; HOIST_S3_BLOB_CACHE=1 adds
# a local copy of pulled blobs in DIR/blob-cache.
set -euo pipefail

BIN=${1:?usage: start-hoist.sh HOIST_BINARY DIR}
DIR=${2:?usage: start-hoist.sh HOIST_BINARY DIR}
LEVEL=${HOIST_LOG_LEVEL:-warn}

mkdir -p "$DIR/root"
DIR=$(cd "$DIR" && pwd)
cat >"$DIR/config.yml" <<EOC
log: {accesslog: false, level: $LEVEL}
storage: {delete: true}
EOC
SCHEME=http
if [ -n "${TLS_CERT:-}" ]; then
  echo "http: {tls: {certificate: $TLS_CERT, key: $TLS_KEY}}" >>"$DIR/config.yml"
  SCHEME=https
fi
rm -f "$DIR/addr"
STORAGE=()
if [ -n "${S3_BUCKET:-}" ]; then
  STORAGE=(--storage s3 --s3-endpoint "$S3_ENDPOINT" --s3-bucket "$S3_BUCKET" --s3-region "$S3_REGION")
  [ "${HOIST_S3_BLOB_CACHE:-0}" = 1 ] && STORAGE+=(--s3-blob-cache "$DIR/blob-cache")
  export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
fi

setsid "$BIN" registry serve --addr 127.0.0.1:0 --root "$DIR/root" --config "$DIR/config.yml" \
  --addr-file "$DIR/addr" --log-level "$LEVEL" "${STORAGE[@]}" >>"$DIR/registry.log" 2>&1 </dev/null &
PID=$!

for _ in $(seq 1 100); do
  if [ -s "$DIR/addr" ]; then
    addr=$(head -1 "$DIR/addr" | tr -d '\r\n ')
    code=$(curl -s -o /dev/null -w '%{http_code}' "$SCHEME://$addr/v2/" 2>/dev/null || true)
    if [ "$code" = 200 ]; then
      if [ "$(cat "/proc/$PID/comm" 2>/dev/null)" != hoist ]; then
        c=$(pgrep -P "$PID" -x hoist 2>/dev/null | head -1 || true)
        [ -n "$c" ] && PID=$c
      fi
      echo "$PID $addr"; exit 0
    fi
  fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
echo "start-hoist: registry did not come up; log follows" >&2
tail -20 "$DIR/registry.log" >&2
kill "$PID" 2>/dev/null || true
exit 1
