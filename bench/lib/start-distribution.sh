#!/usr/bin/env bash
# start-distribution.sh PORT DATADIR
#
# Copied from the project's shared peer scripts
# (the shared folder's bench/start-distribution.sh, 2026-11-26), unchanged in
# behaviour, so that hoist's bench/ runs without that folder.
#
# Starts Debian's docker-registry (CNCF distribution 2.8.x) in the background on
# 127.0.0.1:PORT with filesystem storage at DATADIR and delete enabled, no auth,
# waits until GET /v2/ answers 200, and prints the registry PID on stdout (only
# the PID, so `PID=$(start-distribution.sh 5000 /tmp/reg)` works).
# Stop it with `kill PID`.
#
# The config is written to DATADIR/config.yml, the log to DATADIR/registry.log
# (distribution itself only uses DATADIR/docker/registry/v2/).
# Env knobs:
#   TLS_CERT, TLS_KEY (PEM files): serve HTTPS (http.tls); the readiness
#                      check then trusts CURL_CA_BUNDLE
#   REG_LOG_LEVEL   (default: error)   distribution log level
#   REG_ACCESSLOG   (default: off)     "on" to keep per-request access logs
#   S3_BUCKET (with S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY, S3_SECRET_KEY):
#                   the s3 driver on that bucket instead of the filesystem
#                   (hoist's addition; redirects off, as hoist serves bytes itself)
set -euo pipefail

PORT=${1:?usage: start-distribution.sh PORT DATADIR}
DATA=${2:?usage: start-distribution.sh PORT DATADIR}
LEVEL=${REG_LOG_LEVEL:-error}
ACCESS_DISABLED=true
[ "${REG_ACCESSLOG:-off}" = on ] && ACCESS_DISABLED=false

if ! command -v docker-registry >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry curl >/dev/null
fi

mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)
cat >"$DATA/config.yml" <<EOC
version: 0.1
log:
  level: $LEVEL
  accesslog:
    disabled: $ACCESS_DISABLED
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
$(if [ -n "${S3_BUCKET:-}" ]; then
  printf '  s3:\n    accesskey: %s\n    secretkey: %s\n    region: %s\n    regionendpoint: %s\n    bucket: %s\n    secure: false\n    v4auth: true\n  redirect:\n    disable: true\n' \
    "$S3_ACCESS_KEY" "$S3_SECRET_KEY" "$S3_REGION" "$S3_ENDPOINT" "$S3_BUCKET"
else
  printf '  filesystem:\n    rootdirectory: %s\n' "$DATA"
fi)
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$PORT
  headers:
    X-Content-Type-Options: [nosniff]
EOC
SCHEME=http
if [ -n "${TLS_CERT:-}" ]; then
  printf '  tls:\n    certificate: %s\n    key: %s\n' "$TLS_CERT" "$TLS_KEY" >>"$DATA/config.yml"
  SCHEME=https
fi

if curl -s -o /dev/null "$SCHEME://127.0.0.1:$PORT/v2/" 2>/dev/null; then
  echo "start-distribution: something already listens on 127.0.0.1:$PORT" >&2
  exit 1
fi

# setsid: own session, so a Ctrl-C in the terminal reaches only the caller,
# which stops the registry itself; the PID printed is the registry process
# (setsid execs in place when it is not a process-group leader).
# (aws-sdk-go refuses AWS_CA_BUNDLE with distribution's own transport and
# panics; the gateway is plain HTTP on loopback, no CA is needed.)
[ -n "${S3_BUCKET:-}" ] && unset AWS_CA_BUNDLE
setsid docker-registry serve "$DATA/config.yml" >>"$DATA/registry.log" 2>&1 </dev/null &
PID=$!

for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$SCHEME://127.0.0.1:$PORT/v2/" 2>/dev/null || true)
  if [ "$code" = 200 ]; then
    # if setsid had to fork, report the registry child instead
    if [ "$(cat "/proc/$PID/comm" 2>/dev/null)" != docker-registry ]; then
      c=$(pgrep -P "$PID" -x docker-registry 2>/dev/null | head -1 || true)
      [ -n "$c" ] && PID=$c
    fi
    echo "$PID"; exit 0
  fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
echo "start-distribution: registry did not come up; log follows" >&2
tail -20 "$DATA/registry.log" >&2
kill "$PID" 2>/dev/null || true
exit 1
