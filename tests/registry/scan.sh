#!/usr/bin/env bash
# `serve --scan-db DIR --scan-interval D`: the registry scans what it stores
# against an OSV feed written here. Images are built here offline (FROM
# scratch: a dpkg status file and os-release); the registry runs with
# htpasswd. Checked: the findings per tag and severity in /metrics (promtool
# lints them), the JSON at /v2/<name>/_hoist/scan/<digest> (pull access:
# anonymous callers are refused), a feed changed while serving rescores on
# the next pass, a deleted tag leaves the counts, a feed that cannot be
# read stops the start, and the web UI shows the findings in Chromium.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl jq prometheus apache2-utils
export DOCKER_CONFIG="$T/docker-config" HOIST_HOME="$T/hoist-home"
mkdir -p "$DOCKER_CONFIG" "$T/feed" "$T/img"
cd "$T"

record() { # FILE ID SOURCE FIXED CVSS_VECTOR
  printf '{"id":"%s","modified":"2026-01-01T00:00:00Z","summary":"test %s","severity":[{"type":"CVSS_V3","score":"%s"}],"affected":[{"package":{"ecosystem":"Debian:12","name":"%s"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"%s"}]}]}]}\n' \
    "$2" "$2" "$5" "$3" "$4" >"$T/feed/$1"
}
record a.json CVE-2099-1000 glibc 2.36-9+deb12u7 "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
record b.json CVE-2099-1001 zlib 1:1.2.13.dfsg-2 "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"
printf 'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n' >img/status
printf 'ID=debian\nVERSION_ID="12"\n' >img/os-release
printf 'FROM scratch\nCOPY os-release /etc/os-release\nCOPY status /var/lib/dpkg/status\n' >img/Dockerfile

log "a feed that cannot be read stops the start"
echo 'not json' >"$T/bad.json"
mkdir -p "$T/badfeed" && cp "$T/bad.json" "$T/badfeed/"
rc=0
"$HOIST" registry serve --addr 127.0.0.1:0 --root "$T/r0" --scan-db "$T/badfeed" >"$T/bad.log" 2>&1 || rc=$?
expect "serve with a bad feed" "$rc" 1
grep -q "bad.json: not an OSV record" "$T/bad.log" || fail "bad feed: $(cat "$T/bad.log")"

htpasswd -B -b -c "$T/htpasswd" alice s3cret 2>/dev/null
serve_registry main --htpasswd "$T/htpasswd" --scan-db "$T/feed" --scan-interval 1s --log-level info
echo s3cret | "$HOIST" login "$REG" -u alice --password-stdin >/dev/null 2>&1 || fail "hoist login"
DIGEST=$("$HOIST" build -q -t "$REG/app/deb:1" --push img) || fail "build --push"

# metric NAME_AND_LABELS: its value in /metrics, empty when absent.
metric() {
  curl -sf -u alice:s3cret "http://$REG/metrics" | awk -v k="$1" '$1 == k {print $2}' || true
}
# await_metric NAME_AND_LABELS WANT: up to 30 s for the value.
await_metric() {
  local i got=
  for ((i = 0; i < 300; i++)); do
    got=$(metric "$1")
    [ "$got" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 is '$got' after 30 s, want $2"
}
CRIT='hoist_registry_vulnerabilities{repository="app/deb",tag="1",severity="CRITICAL"}'
MED='hoist_registry_vulnerabilities{repository="app/deb",tag="1",severity="MEDIUM"}'
await_metric "$CRIT" 1
expect "medium findings" "$(metric "$MED")" 1
curl -sf -u alice:s3cret "http://$REG/metrics" >"$T/metrics.txt"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.log" 2>&1 || fail "promtool: $(cat "$T/promtool.log")"
[ "$(metric hoist_registry_scanned_images)" -ge 1 ] || fail "scanned images: $(metric hoist_registry_scanned_images)"

log "the findings as JSON, with pull access only"
expect "anonymous scan report" "$(http_code "http://$REG/v2/app/deb/_hoist/scan/$DIGEST")" 401
curl -sf -u alice:s3cret "http://$REG/v2/app/deb/_hoist/scan/$DIGEST" >"$T/report.json" || fail "GET the scan report"
expect "os" "$(jq -r .os "$T/report.json")" "debian 12"
expect "packages" "$(jq -r .packages "$T/report.json")" 2
expect "findings" "$(jq -r '[.findings[] | "\(.id):\(.severity):\(.package):\(.fixed)"] | join(" ")' "$T/report.json")" \
  "CVE-2099-1000:CRITICAL:libc6:2.36-9+deb12u7 CVE-2099-1001:MEDIUM:zlib1g:1:1.2.13.dfsg-2"
expect "unknown digest" "$(http_code -u alice:s3cret "http://$REG/v2/app/deb/_hoist/scan/sha256:$(printf '%064d' 0)")" 404

log "the web UI shows them (Chromium)"
need_playwright
printf '{"summary":"debian 12, 2 packages: 1 critical, 1 medium","findings":["CRITICAL CVE-2099-1000 libc6 2.36-9+deb12u7","MEDIUM CVE-2099-1001 zlib1g 1:1.2.13.dfsg-2"]}' >"$T/ui-expect.json"
timeout 120 node "$UI_DIR/scan.test.mjs" "http://$REG" alice s3cret app/deb 1 "$T/ui-expect.json" >"$T/ui.log" 2>&1 ||
  fail "the UI: $(cat "$T/ui.log")"

log "a feed changed while serving rescores on the next pass"
rm "$T/feed/a.json"
await_metric "$CRIT" 0
expect "medium findings after the change" "$(metric "$MED")" 1

log "a deleted tag leaves the counts"
curl -sf -u alice:s3cret -X DELETE "http://$REG/v2/app/deb/manifests/1" -o /dev/null || fail "delete tag"
for ((i = 0; i < 300; i++)); do
  [ -z "$(metric "$MED")" ] && break
  sleep 0.1
done
[ -z "$(metric "$MED")" ] || fail "the deleted tag still has counts"
log "ok"
