#!/usr/bin/env bash
# umoci_unpack: an image pulled back from hoist is a working root
# filesystem: skopeo copies it to an OCI layout, umoci unpacks it (as root,
# so ownership is kept) and busybox runs in it under chroot. Also the arm64
# half of the multi-arch index unpacks (umoci does not care about the arch).
# shellcheck source-path=SCRIPTDIR source=../support/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
if [ "$(id -u)" != 0 ]; then
  log "SKIP: needs root for umoci unpack with ownership and chroot"
  exit 0
fi
need skopeo umoci jq curl python3 busybox-static

BASE="$T/base"
bash "$TESTDATA/make-base-image.sh" "$BASE" latest >"$T/make.log" ||
  { cat "$T/make.log" >&2; fail "make-base-image.sh failed"; }
start_hoist "$T/root"
sko copy -q --dest-tls-verify=false "oci:$BASE:latest" "docker://$HOIST_ADDR/test/busybox:1" ||
  fail "skopeo push failed"
sko copy -q --src-tls-verify=false "docker://$HOIST_ADDR/test/busybox:1" "oci:$T/out:pulled" ||
  fail "skopeo pull failed"
compare_layouts "$BASE" latest "$T/out" pulled

umoci stat --image "$T/out:pulled" >"$T/stat.txt" || fail "umoci stat failed"
umoci unpack --image "$T/out:pulled" "$T/bundle" >"$T/unpack.log" 2>&1 ||
  { cat "$T/unpack.log" >&2; fail "umoci unpack failed"; }
[ -f "$T/bundle/config.json" ] || fail "umoci wrote no runtime config.json"
expect "runtime args" "$(jq -c .process.args "$T/bundle/config.json")" '["sh"]'
[ -x "$T/bundle/rootfs/bin/busybox" ] || fail "rootfs has no /bin/busybox"
expect "owner of /bin/busybox" "$(stat -c %u:%g "$T/bundle/rootfs/bin/busybox")" 0:0
expect "mode of /tmp" "$(stat -c %a "$T/bundle/rootfs/tmp")" 1777
out=$(chroot "$T/bundle/rootfs" /bin/sh -c 'echo hi') || fail "chroot sh failed"
expect "chroot echo" "$out" hi
expect "/etc/passwd root line" "$(chroot "$T/bundle/rootfs" /bin/sh -c 'head -1 /etc/passwd')" \
  root:x:0:0:root:/root:/bin/sh

# Multi-arch: pull only the arm64 image out of the index and unpack it.
bash "$TESTDATA/make-multiarch-index.sh" "$T/multi" latest >"$T/make-multi.log" ||
  { cat "$T/make-multi.log" >&2; fail "make-multiarch-index.sh failed"; }
sko copy -q --all --dest-tls-verify=false "oci:$T/multi:latest" "docker://$HOIST_ADDR/multi/busybox:v1" ||
  fail "skopeo push --all failed"
sko --override-arch arm64 copy -q --src-tls-verify=false "docker://$HOIST_ADDR/multi/busybox:v1" \
  "oci:$T/arm:arm64" || fail "skopeo pull of arm64 failed"
umoci unpack --image "$T/arm:arm64" "$T/arm-bundle" >"$T/unpack-arm.log" 2>&1 ||
  { cat "$T/unpack-arm.log" >&2; fail "umoci unpack of the arm64 image failed"; }
cmp -s "$T/arm-bundle/rootfs/bin/busybox" "$T/bundle/rootfs/bin/busybox" ||
  fail "arm64 and amd64 rootfs differ although they share the layer"
log "PASS"
