#!/usr/bin/env bash
# sbom_scan: `hoist sbom` and `hoist scan` on images built here offline
# (FROM scratch: a dpkg status file, a distroless status.d entry and
# os-release; an apk installed database and Alpine's os-release; an
# rpmdb.sqlite that Debian's rpm writes from packages rpmbuild makes),
# read from hoist's registry and from an OCI layout:
#  - the SPDX 2.3 document lists exactly the packages put in the image,
#    with versions, purls, apk licences, the OS, DESCRIBES/CONTAINS;
#  - a small OSV feed written here: findings by source package and
#    release, "fixed" equal to the installed version not reported, ranges
#    with last_affected, exact versions, withdrawn records skipped,
#    severities from CVSS vectors, Debian urgency and database_specific;
#  - exit codes: --fail-on at and below the worst finding, bad feeds and
#    bad flags.
# shellcheck source-path=SCRIPTDIR source=xfer_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"
export HOIST_HOME="$T/hoist-home"
start_hoist "$T/root"
A=$HOIST_ADDR
cd "$T"

mkdir -p deb/status.d alp
cat >deb/status <<'DPKG'
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: GNU C Library: Shared libraries
 The standard libraries.

Package: libzstd1
Status: install ok installed
Architecture: amd64
Source: libzstd (1.5.4+dfsg2-5)
Version: 1.5.4+dfsg2-5+b1

Package: removed-one
Status: deinstall ok config-files
Architecture: all
Version: 9.9

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
DPKG
printf 'Package: foo\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n' >deb/status.d/foo
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' >deb/os-release
cat >deb/Dockerfile <<'DF'
FROM scratch
COPY os-release /usr/lib/os-release
COPY status /var/lib/dpkg/status
COPY status.d/foo /var/lib/dpkg/status.d/foo
DF
cat >alp/installed <<'APK'
C:Q1aaaa=
P:musl
V:1.2.4-r2
A:x86_64
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>

C:Q1bbbb=
P:libcrypto3
V:3.1.4-r1
A:x86_64
L:Apache-2.0
o:openssl
APK
printf 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME="Alpine Linux v3.18"\n' >alp/os-release
printf 'FROM scratch\nCOPY os-release /etc/os-release\nCOPY installed /lib/apk/db/installed\n' >alp/Dockerfile
hx build -q -t "$A/deb/x:1" --push deb >/dev/null
hx build -q -t "$A/alp/x:1" --push -o "oci:$T/alp-layout:1" alp >/dev/null

log "sbom: the packages put in, as SPDX 2.3"
hx sbom "$A/deb/x:1" >deb.spdx.json
jq -e . deb.spdx.json >/dev/null || fail "sbom output is not JSON"
expect "spdxVersion" "$(jq -r .spdxVersion deb.spdx.json)" SPDX-2.3
expect "dataLicense" "$(jq -r .dataLicense deb.spdx.json)" CC0-1.0
jq -e '.documentNamespace | startswith("urn:uuid:") and (contains("#") | not)' deb.spdx.json >/dev/null ||
  fail "documentNamespace: $(jq -r .documentNamespace deb.spdx.json)"
jq -e '.creationInfo.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' deb.spdx.json >/dev/null ||
  fail "creationInfo.created"
expect "packages (name=version)" \
  "$(jq -r '[.packages[] | select(.externalRefs) | "\(.name)=\(.versionInfo)"] | sort | join(" ")' deb.spdx.json)" \
  "base-files=12.4+deb12u5 foo=1.0-1 libc6=2.36-9+deb12u4 libzstd1=1.5.4+dfsg2-5+b1"
expect "libzstd1 purl" "$(jq -r '.packages[] | select(.name == "libzstd1") | .externalRefs[0].referenceLocator' deb.spdx.json)" \
  "pkg:deb/debian/libzstd1@1.5.4%2Bdfsg2-5%2Bb1?arch=amd64&distro=debian-12&upstream=libzstd%401.5.4%2Bdfsg2-5"
expect "purl category" "$(jq -r '[.packages[].externalRefs[]?.referenceCategory] | unique | join(",")' deb.spdx.json)" PACKAGE-MANAGER
expect "libc6 source" "$(jq -r '.packages[] | select(.name == "libc6") | .sourceInfo' deb.spdx.json)" \
  "built package from: glibc 2.36-9+deb12u4"
expect "OS package" "$(jq -r '.packages[] | select(.primaryPackagePurpose == "OPERATING_SYSTEM") | "\(.name) \(.versionInfo)"' deb.spdx.json)" "debian 12"
IMG=$(jq -r '.relationships[] | select(.relationshipType == "DESCRIBES") | .relatedSpdxElement' deb.spdx.json)
expect "the described element is the container" \
  "$(jq -r --arg i "$IMG" '.packages[] | select(.SPDXID == $i) | .primaryPackagePurpose' deb.spdx.json)" CONTAINER
expect "CONTAINS relationships" "$(jq '[.relationships[] | select(.relationshipType == "CONTAINS")] | length' deb.spdx.json)" 5
# Every package has what the SPDX 2.3 schema requires of it, and SPDX ids are unique and well-formed.
jq -e '[.packages[] | (.SPDXID | test("^SPDXRef-[A-Za-z0-9.-]+$")) and (.name | length > 0) and (.downloadLocation | length > 0)] | all' \
  deb.spdx.json >/dev/null || fail "a package lacks SPDXID, name or downloadLocation"
expect "unique SPDX ids" "$(jq '[.packages[].SPDXID] | (length == (unique | length))' deb.spdx.json)" true
# The SPDX 2.3 rules as a JSON schema, checked by ajv (npm).
need_node_tests
node "$UI_DIR/spdx-validate.mjs" deb.spdx.json >"$T/spdx.err" 2>&1 || fail "SPDX: $(cat "$T/spdx.err")"
jq '.packages[1].SPDXID = "SPDXRef-bad id" | .relationships[0].relationshipType = "OWNS"' deb.spdx.json >bad.spdx.json
if node "$UI_DIR/spdx-validate.mjs" bad.spdx.json >"$T/spdx-bad.err" 2>&1; then fail "the validator took a bad document"; fi
grep -q "relationshipType" "$T/spdx-bad.err" || fail "validator: $(cat "$T/spdx-bad.err")"
hx sbom "oci:$T/alp-layout:1" -o alp.spdx.json 2>/dev/null
node "$UI_DIR/spdx-validate.mjs" alp.spdx.json >"$T/spdx.err" 2>&1 || fail "SPDX (alpine): $(cat "$T/spdx.err")"
expect "apk licences" "$(jq -r '[.packages[] | select(.externalRefs) | "\(.name):\(.licenseDeclared)"] | sort | join(" ")' alp.spdx.json)" \
  "libcrypto3:Apache-2.0 musl:MIT"
expect "musl purl" "$(jq -r '.packages[] | select(.name == "musl") | .externalRefs[0].referenceLocator' alp.spdx.json)" \
  "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4"
expect "musl supplier" "$(jq -r '.packages[] | select(.name == "musl") | .supplier' alp.spdx.json)" \
  "Organization: Natanael Copa (ncopa@alpinelinux.org)"

log "rpm: the database rpm itself writes"
need rpm
mkdir -p rpm/SPECS rpmimg/db
spec() { # NAME VERSION RELEASE LICENSE [EPOCH]
  {
    printf 'Name: %s\nVersion: %s\nRelease: %s\nLicense: %s\nSummary: test package\nBuildArch: noarch\n' "$1" "$2" "$3" "$4"
    [ -z "${5:-}" ] || printf 'Epoch: %s\n' "$5"
    printf '%%description\nA test package.\n%%files\n'
  } >"rpm/SPECS/$1.spec"
  rpmbuild -bb --quiet --define "_topdir $T/rpm" "rpm/SPECS/$1.spec" >"$T/rpmbuild.log" 2>&1 ||
    fail "rpmbuild $1: $(cat "$T/rpmbuild.log")"
}
spec hello 1.2 3 MIT 1
spec world 2.0 1.fc40 "GPL-2.0-or-later"
rpm --dbpath "$T/rpmimg/db" --initdb
rpm --dbpath "$T/rpmimg/db" -i --justdb --nodeps --noscripts rpm/RPMS/noarch/*.rpm ||
  fail "rpm -i --justdb"
[ ! -e rpmimg/db/rpmdb.sqlite-wal ] || [ ! -s rpmimg/db/rpmdb.sqlite-wal ] || fail "rpm left a write-ahead log"
WANT_RPM=$(rpm --dbpath "$T/rpmimg/db" -qa --qf '%{NAME}=%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}:%{LICENSE}\n' | sort | tr '\n' ' ')
printf 'ID=fedora\nVERSION_ID=40\n' >rpmimg/os-release
printf 'FROM scratch\nCOPY os-release /etc/os-release\nCOPY db/rpmdb.sqlite /usr/lib/sysimage/rpm/rpmdb.sqlite\n' >rpmimg/Dockerfile
hx build -q -t "$A/rpm/x:1" --push rpmimg >/dev/null
hx sbom "$A/rpm/x:1" >rpm.spdx.json
node "$UI_DIR/spdx-validate.mjs" rpm.spdx.json >"$T/spdx.err" 2>&1 || fail "SPDX (rpm): $(cat "$T/spdx.err")"
expect "rpm packages (what rpm -qa says)" \
  "$(jq -r '[.packages[] | select(.externalRefs) | "\(.name)=\(.versionInfo):\(.licenseDeclared)"] | sort | join(" ")' rpm.spdx.json) " \
  "$WANT_RPM"
expect "hello purl" "$(jq -r '.packages[] | select(.name == "hello") | .externalRefs[0].referenceLocator' rpm.spdx.json)" \
  "pkg:rpm/fedora/hello@1.2-3?arch=noarch&distro=fedora-40&epoch=1"
echo "not sqlite" >rpmimg/db/rpmdb.sqlite
hx build -q -t "$A/rpm/broken:1" --push rpmimg >/dev/null
expect_fail 1 "/usr/lib/sysimage/rpm/rpmdb.sqlite: rpmdb.sqlite: (not an SQLite database|file is not a database)" \
  hx sbom "$A/rpm/broken:1"

log "build --sbom and sbom --attach: SPDX documents as OCI 1.1 referrers"
BUILT=$(hx build -q -t "$A/deb/x:2" --push --sbom deb)
curl -fsS "http://$A/v2/deb/x/referrers/$BUILT?artifactType=application/spdx%2Bjson" >refs.json
expect "SBOM referrers of the build" "$(jq '.manifests | length' refs.json)" 1
expect "referrer artifactType" "$(jq -r '.manifests[0].artifactType' refs.json)" application/spdx+json
curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$A/v2/deb/x/manifests/$(jq -r '.manifests[0].digest' refs.json)" >sbom-manifest.json
expect "empty config" "$(jq -r .config.digest sbom-manifest.json)" \
  sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
expect "subject" "$(jq -r .subject.digest sbom-manifest.json)" "$BUILT"
curl -fsS "http://$A/v2/deb/x/blobs/$(jq -r '.layers[0].digest' sbom-manifest.json)" >attached.spdx.json
expect "attached document's packages" \
  "$(jq -r '[.packages[] | select(.externalRefs) | .name] | sort | join(" ")' attached.spdx.json)" \
  "base-files foo libc6 libzstd1"
hx build -q -t "$A/deb/x:2" --push --sbom deb >/dev/null
curl -fsS "http://$A/v2/deb/x/referrers/$BUILT" >refs2.json
expect "a second build --sbom attaches nothing new" "$(jq '.manifests | length' refs2.json)" 1
hx sbom "$A/alp/x:1" --attach -o /dev/null 2>sbom-attach.err
# (-o onto a device writes to it: /dev/null stays the device.)
[ -c /dev/null ] || fail "-o /dev/null replaced the device node"
ALP=$(hx inspect "$A/alp/x:1" | jq -r .Digest)
grep -q "^attached to $A/alp/x@$ALP as sha256:" sbom-attach.err || fail "sbom --attach: $(cat sbom-attach.err)"
expect "alpine SBOM referrers" "$(curl -fsS "http://$A/v2/alp/x/referrers/$ALP" | jq '.manifests | length')" 1
expect_fail 2 "needs a registry image" hx sbom "oci:$T/alp-layout:1" --attach
expect_fail 2 "needs --push" hx build -q -t "$A/deb/x:3" --sbom deb

log "scan against an OSV feed written here"
mkdir -p feed/debian feed/alpine
osv() { # FILE JSON
  printf '%s\n' "$2" >"feed/$1"
}
osv debian/critical.json '{"id":"DEBIAN-CVE-2099-0001","modified":"2026-01-01T00:00:00Z","summary":"glibc overflow",
  "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u7"}]}]}]}'
osv debian/fixed-equal.json '{"id":"DEBIAN-CVE-2099-0002","modified":"2026-01-01T00:00:00Z",
  "affected":[{"package":{"ecosystem":"Debian:12","name":"libzstd"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.5.4+dfsg2-5"}]}]}]}'
osv debian/other-release.json '{"id":"DEBIAN-CVE-2099-0003","modified":"2026-01-01T00:00:00Z",
  "affected":[{"package":{"ecosystem":"Debian:11","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}'
osv debian/last-affected.json '{"id":"DEBIAN-CVE-2099-0004","modified":"2026-01-01T00:00:00Z",
  "affected":[{"package":{"ecosystem":"Debian:12","name":"base-files"},"ecosystem_specific":{"urgency":"low"},
  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"12.1"},{"last_affected":"12.4+deb12u5"}]}]}]}'
osv debian/exact.json '{"id":"DEBIAN-CVE-2099-0005","modified":"2026-01-01T00:00:00Z",
  "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"}],
  "affected":[{"package":{"ecosystem":"Debian","name":"foo"},"versions":["1.0-1"]}]}'
osv debian/withdrawn.json '{"id":"DEBIAN-CVE-2099-0006","modified":"2026-01-01T00:00:00Z","withdrawn":"2026-01-02T00:00:00Z",
  "affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}'
osv alpine/high.json '{"id":"ALPINE-CVE-2099-0007","modified":"2026-01-01T00:00:00Z","database_specific":{"severity":"HIGH"},
  "affected":[{"package":{"ecosystem":"Alpine:v3.18","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.1.4-r2"}]}]}]}'
osv alpine/fixed.json '{"id":"ALPINE-CVE-2099-0008","modified":"2026-01-01T00:00:00Z",
  "affected":[{"package":{"ecosystem":"Alpine:v3.18","name":"musl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2.4-r1"}]}]}]}'

rc=0
hx scan "$A/deb/x:1" --db feed --json >deb.scan.json || rc=$?
expect "scan exit without --fail-on" "$rc" 0
expect "debian findings" "$(jq -r '[.findings[] | "\(.id):\(.severity):\(.package):\(.fixed)"] | join(" ")' deb.scan.json)" \
  "DEBIAN-CVE-2099-0001:CRITICAL:libc6:2.36-9+deb12u7 DEBIAN-CVE-2099-0005:MEDIUM:foo: DEBIAN-CVE-2099-0004:LOW:base-files:"
expect "records loaded (withdrawn skipped)" "$(jq .records deb.scan.json)" 7
hx scan "$A/deb/x:1" --db feed >deb.scan.txt
grep -q "^$A/deb/x:1 (sha256:.*): debian 12, 4 packages, 3 findings (1 CRITICAL, 1 MEDIUM, 1 LOW)$" deb.scan.txt ||
  fail "scan report: $(cat deb.scan.txt)"
grep -Eq "^CRITICAL +DEBIAN-CVE-2099-0001 +libc6 +2.36-9\+deb12u4 +2.36-9\+deb12u7 +glibc overflow$" deb.scan.txt ||
  fail "scan report rows: $(cat deb.scan.txt)"
expect_fail 3 "findings at or above CRITICAL" hx scan "$A/deb/x:1" --db feed --fail-on critical
expect_fail 3 "at or above LOW" hx scan "$A/deb/x:1" --db feed --fail-on LOW
hx scan "oci:$T/alp-layout:1" --db feed --json >alp.scan.json
expect "alpine findings" "$(jq -r '[.findings[] | "\(.id):\(.severity):\(.package):\(.fixed)"] | join(" ")' alp.scan.json)" \
  "ALPINE-CVE-2099-0007:HIGH:libcrypto3:3.1.4-r2"
hx scan "$A/alp/x:1" --db feed --fail-on CRITICAL >/dev/null || fail "HIGH only: --fail-on CRITICAL must pass"
expect_fail 3 "at or above HIGH" hx scan "$A/alp/x:1" --db feed --fail-on high

log "bad input"
expect_fail 2 "is not a directory" hx scan "$A/deb/x:1" --db "$T/absent"
expect_fail 2 "a severity is" hx scan "$A/deb/x:1" --db feed --fail-on severe
echo '{"summary":"no id"}' >feed/debian/broken.json
expect_fail 2 "broken.json: not an OSV record" hx scan "$A/deb/x:1" --db feed
rm feed/debian/broken.json
expect_fail 1 "" hx sbom "$A/absent/x:1"
log "ok"
