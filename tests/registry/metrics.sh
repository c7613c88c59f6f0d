#!/usr/bin/env bash
# /metrics scraped by a real Prometheus (Debian's, on loopback, started
# here): the registry runs with htpasswd and GC while serving; Prometheus
# signs in with basic_auth; its HTTP API then shows counters that moved
# with this script's own traffic (a push by hoist, HEADs and GETs by curl,
# a refused request) and the storage and GC gauges, which must agree with
# the storage root. promtool lints the exposition text.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl jq prometheus apache2-utils busybox-static
export DOCKER_CONFIG="$T/docker-config" HOIST_HOME="$T/hoist-home"
mkdir -p "$DOCKER_CONFIG"
cd "$T"

htpasswd -B -b -c "$T/htpasswd" scraper s3cret 2>/dev/null
serve_registry main --htpasswd "$T/htpasswd" --gc-interval 1s --log-level info

# Access: anonymous callers get a challenge; signed-in ones the text.
[ "$(http_code "http://$REG/metrics")" = 401 ] || fail "/metrics answered an anonymous caller"
curl -sf -u scraper:s3cret -D "$T/headers" "http://$REG/metrics" -o "$T/first.txt" ||
  fail "GET /metrics with credentials"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers" ||
  fail "Content-Type: $(grep -i content-type "$T/headers")"
promtool check metrics <"$T/first.txt" >"$T/promtool.log" 2>&1 ||
  fail "promtool check metrics: $(cat "$T/promtool.log")"

# Traffic: a push of an image, HEADs that find nothing, a refused push.
bash "$TESTDATA/make-base-image.sh" "$T/base" 1 >"$T/base.log" 2>&1 || fail "make-base-image.sh"
echo s3cret | "$HOIST" login "$REG" -u scraper --password-stdin >/dev/null 2>&1 || fail "hoist login"
"$HOIST" copy -q "oci:$T/base:1" "$REG/metrics/busybox:1" >/dev/null || fail "hoist copy"
missing=sha256:$(printf '%064d' 0)
for _ in 1 2 3; do
  [ "$(http_code -u scraper:s3cret -I "http://$REG/v2/metrics/busybox/blobs/$missing")" = 404 ] ||
    fail "HEAD of a missing blob"
done
[ "$(http_code -X PUT "http://$REG/v2/metrics/busybox/manifests/anon")" = 401 ] ||
  fail "an anonymous PUT was not refused"
# What the access log says happened, to hold the counters against.
upload_puts=$(grep -c 'method=PUT uri="/v2/metrics/busybox/blobs/uploads/[^ ]* status=201' "$T/main.log" || true)
[ "$upload_puts" -ge 2 ] || fail "the access log shows $upload_puts upload PUTs (config and layer expected)"

# Prometheus, scraping every second with basic_auth.
port=$(free_port)
cat >"$T/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: hoist
    basic_auth: { username: scraper, password: s3cret }
    static_configs: [ { targets: ["$REG"] } ]
EOF
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
  --web.listen-address="127.0.0.1:$port" >"$T/prometheus.log" 2>&1 </dev/null &
_PIDS+=($!)
_LOGS+=("$T/prometheus.log")
PROM=http://127.0.0.1:$port

# query PROMQL: the first result's value ("" when none yet).
query() {
  curl -sf --get "$PROM/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // ""' 2>/dev/null || true
}
# await PROMQL WANT: waits (at most 60 s) until the query gives WANT.
await() {
  local i v=
  for ((i = 0; i < 120; i++)); do
    v=$(query "$1")
    [ "$v" = "$2" ] && return 0
    sleep 0.5
  done
  fail "Prometheus: $1 = '$v', want $2"
}

# await_any PROMQL: waits (at most 60 s) until the query gives any sample
# (a comparison keeps a sample only where it holds).
await_any() {
  local i
  for ((i = 0; i < 120; i++)); do
    [ -n "$(query "$1")" ] && return 0
    sleep 0.5
  done
  fail "Prometheus: $1 gave nothing in 60 s"
}

await 'up{job="hoist"}' 1
# The push: one manifest PUT (201), the layers' and config's uploads.
await 'sum(hoist_registry_http_requests_total{method="PUT",route="manifest",code="201"})' 1
await 'sum(hoist_registry_http_requests_total{method="PUT",route="upload",code="201"})' "$upload_puts"
v=$(query 'sum(hoist_registry_http_requests_total{method="HEAD",route="blob",code="404"})')
[ "${v:-0}" -ge 3 ] || fail "HEAD 404s counted: $v, want >= 3"
await 'sum(hoist_registry_http_requests_total{method="PUT",route="manifest",code="401"})' 1
# Bytes in: at least the layers' sizes (the blobs in the storage root).
blob_bytes=$(find "$ROOT/docker/registry/v2/blobs" -name data -printf '%s\n' | awk '{s+=$1} END {print s}')
blob_count=$(find "$ROOT/docker/registry/v2/blobs" -name data | wc -l)
v=$(query 'sum(hoist_registry_http_request_body_bytes_total)')
[ "${v%.*}" -ge "$blob_bytes" ] || fail "request bytes counted: $v, want >= $blob_bytes"
# Latency histogram: every counted manifest PUT is in a bucket.
await 'sum(hoist_registry_http_request_duration_seconds_count{method="PUT",route="manifest"})' 2
# Storage and GC gauges agree with the root (the walk is at most 15 s old).
await 'hoist_registry_blobs' "$blob_count"
await 'hoist_registry_storage_bytes' "$blob_bytes"
await 'hoist_registry_manifests' 1
await 'hoist_registry_repositories' 1
await_any 'hoist_registry_gc_runs_total > 0'
await 'hoist_registry_build_info{version!=""}' 1
grep -q 'garbage collected blobs_deleted=' "$T/main.log" || fail "no GC run was logged"
log "scraped by Prometheus: $blob_count blobs, $blob_bytes bytes, $upload_puts uploads, $(query 'hoist_registry_gc_runs_total') GC runs"
