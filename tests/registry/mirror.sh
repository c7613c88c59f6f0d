#!/usr/bin/env bash
# The pull-through mirror (`serve --proxy-upstream`), with Debian's
# docker-registry (distribution 2.8) as the upstream on loopback, behind
# htpasswd: the first pull goes upstream (its blobs and manifests land in
# the mirror's storage), a second pull works with the upstream stopped; a
# tag moved upstream is seen after the TTL; a blob corrupted upstream is
# refused (the client gets a short body, never a whole one) and not
# stored; pushes and deletes are refused with UNSUPPORTED.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need docker-registry skopeo curl jq apache2-utils busybox-static python3
cd "$T"
bash "$TESTDATA/make-base-image.sh" "$T/base" 1 >"$T/base.log" 2>&1 || fail "make-base-image.sh"
bash "$TESTDATA/make-multiarch-index.sh" "$T/multi" latest >"$T/multi.log" 2>&1 ||
  fail "make-multiarch-index.sh"

# The upstream: distribution with a user.
htpasswd -B -b -c "$T/up.htpasswd" mirror pullpass 2>/dev/null
UP_PORT=$(free_port)
start_distribution "$UP_PORT" "$T/up-root" "" "auth:
  htpasswd:
    realm: upstream
    path: $T/up.htpasswd"
UP=$DIST_ADDR
UP_PID=$DIST_PID
up_copy() { sko copy -q --dest-creds mirror:pullpass --dest-tls-verify=false "$@" >/dev/null; }
up_copy "oci:$T/base:1" "docker://$UP/tools/busybox:1" || fail "push to the upstream"
up_copy --all "oci:$T/multi:latest" "docker://$UP/multi/busybox:latest" || fail "push the index upstream"
up_copy "oci:$T/base:1" "docker://$UP/tools/other:1" || fail "push another repository upstream"

serve_registry mirror --proxy-upstream "http://$UP" --proxy-username mirror \
  --proxy-tag-ttl 1s --log-level info
pull() { # REF DEST: skopeo pulls REF (a path on the mirror) into an OCI layout
  sko copy -q --src-tls-verify=false "docker://$REG/$1" "oci:$T/$2" >"$T/pull.log" 2>&1
}
# Without the password (HOIST_PROXY_PASSWORD not set) the upstream says 401.
pull tools/busybox:1 nopass:1 && fail "pulled through a mirror that has no upstream password"
stop_pid "$REG_PID"
HOIST_PROXY_PASSWORD=pullpass serve_registry mirror2 --proxy-upstream "http://$UP" \
  --proxy-username mirror --proxy-tag-ttl 1s --log-level info

# First pull: upstream. The bytes are the pushed ones.
pull tools/busybox:1 first:1 || fail "first pull through the mirror: $(cat "$T/pull.log")"
compare_layouts "$T/base" 1 "$T/first" 1
grep -q 'mirrored manifest' "$T/mirror2.log" || fail "the mirror did not log fetching the manifest"
for b in $(layout_walk "$T/base" "$(layout_digest "$T/base" 1)"); do
  [ -f "$(registry_blob_data "$ROOT" "$b")" ] || fail "blob $b is not in the mirror's storage"
done
# The index, its children by digest (a platform pull) too.
pull multi/busybox:latest multi-amd:latest || fail "pull of the index (amd64): $(cat "$T/pull.log")"
sko copy -q --all --src-tls-verify=false "docker://$REG/multi/busybox:latest" "oci:$T/multi-all:latest" \
  >"$T/pull.log" 2>&1 || fail "pull --all of the index: $(cat "$T/pull.log")"
compare_layouts "$T/multi" latest "$T/multi-all" latest

# Pushes and deletes: UNSUPPORTED.
if sko copy -q --dest-tls-verify=false "oci:$T/base:1" "docker://$REG/tools/pushed:1" >"$T/push.log" 2>&1; then
  fail "a push to the mirror was accepted"
fi
code=$(curl -s -o "$T/post.json" -w '%{http_code}' -X POST "http://$REG/v2/tools/busybox/blobs/uploads/")
expect "POST an upload on the mirror" "$code" 405
expect "its error code" "$(jq -r '.errors[0].code' "$T/post.json")" UNSUPPORTED
expect "DELETE a tag on the mirror" "$(http_code -X DELETE "http://$REG/v2/tools/busybox/manifests/1")" 405

# A tag moved upstream: seen once the TTL (1 s) has passed.
old=$(curl -sfI "http://$REG/v2/tools/busybox/manifests/1" -H 'Accept: application/vnd.oci.image.manifest.v1+json' |
  tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
up_copy "oci:$T/multi:latest" "docker://$UP/tools/busybox:1" --override-arch arm64 ||
  fail "moving the tag upstream"
sleep 1.5
new=$(curl -sfI "http://$REG/v2/tools/busybox/manifests/1" -H 'Accept: application/vnd.oci.image.manifest.v1+json' |
  tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
[ -n "$new" ] && [ "$new" != "$old" ] || fail "the mirror still serves $old for the moved tag (got '$new')"

# A corrupted blob upstream (one byte flipped in its data file): refused,
# not stored; the client sees a short body.
head -c 700000 /dev/urandom >"$T/unique.bin"
layer=sha256:$(sha256sum "$T/unique.bin" | cut -d' ' -f1)
loc=$(curl -sf -u mirror:pullpass -X POST -D - -o /dev/null "http://$UP/v2/tools/other/blobs/uploads/" |
  tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
[ "$(http_code -u mirror:pullpass -X PUT --data-binary @"$T/unique.bin" \
  -H 'Content-Type: application/octet-stream' "$(with_query "$(abs_url "$UP" "$loc")" "digest=$layer")")" = 201 ] ||
  fail "blob upload upstream"
data="$T/up-root/docker/registry/v2/blobs/sha256/${layer:7:2}/${layer#sha256:}/data"
[ -f "$data" ] || fail "the upstream's blob file is not where distribution keeps it"
python3 - "$data" <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(100)
    b = f.read(1)
    f.seek(100)
    f.write(bytes([b[0] ^ 0xff]))
EOF
code=0
curl -sf -o "$T/corrupt.bin" "http://$REG/v2/tools/other/blobs/$layer" || code=$?
[ "$code" = 18 ] || fail "curl of a corrupt upstream blob: exit $code, want 18 (body cut short)"
size=$(stat -c %s "$data")
[ "$(stat -c %s "$T/corrupt.bin")" -lt "$size" ] || fail "the whole corrupt blob reached the client"
grep -q 'refused an upstream blob' "$T/mirror2.log" || fail "the refusal was not logged"
[ ! -e "$(registry_blob_data "$ROOT" "$layer")" ] || fail "the corrupt blob was stored"
code=0
curl -sf -o /dev/null "http://$REG/v2/tools/other/blobs/$layer" || code=$?
[ "$code" = 18 ] || fail "a second GET of the corrupt blob: curl exit $code, want 18 again (nothing cached)"
ls "$ROOT/docker/registry/v2/repositories/tools/other/_uploads" 2>/dev/null | grep -q . &&
  fail "a staged upload of the corrupt blob was left behind"

# Second pull with the upstream stopped: served from storage.
stop_pid "$UP_PID"
pull tools/busybox@"$old" again:1 || fail "pull by digest with the upstream stopped: $(cat "$T/pull.log")"
pull multi/busybox:latest multi-again:latest || fail "pull of the stored tag with the upstream stopped (after its TTL): $(cat "$T/pull.log")"
grep -q 'upstream unreachable; serving the stored tag' "$T/mirror2.log" ||
  fail "the mirror did not say it served a stored tag"
# What was never fetched: an error, not a hang.
code=$(http_code "http://$REG/v2/tools/never/manifests/1")
[ "$code" = 502 ] || fail "a manifest never fetched, upstream down: $code, want 502"
log "pull-through mirror: upstream first, storage after, moved tags seen, corrupt blobs refused"
