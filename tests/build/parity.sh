#!/usr/bin/env bash
# Corners where BuildKit's images and hoist's once differed, built from
# testdata/build/parity and checked entry by entry with `tar -tvf`:
#   - WORKDIR through a dangling symbolic link creates the link's target
#     (the link stays, later files land behind it);
#   - a destination directory COPY creates is 0755 (or --chmod's mode),
#     whatever the source directory's mode (0775 here);
#   - a wildcard source that matches nothing is allowed;
#   - COPY ../file: ".." stops at the context root;
#   - --chown=${UNSET}:${UNSET} (":") is 0:0;
#   - WORKDIR under a USER the image's passwd does not know: 0:0.
# And what stays an error: a source without wildcards that does not exist.
source "$(dirname "${BASH_SOURCE[0]}")/build_lib.sh"

start_registry
push_base
cp -a "$BUILD_TESTDATA/parity" "$T/ctx"
chmod 0775 "$T/ctx/srcdir"

hb "$T/build.log" --build-arg "BASE=$BASE" -o "oci:$T/img:1" "$T/ctx" >/dev/null
n=$(jq '.layers | length' "$(layout_blob "$T/img" "$(layout_digest "$T/img" 1)")")
all=$(for ((i = 1; i < n; i++)); do layer_listing "$T/img" 1 "$i"; done)
has() { grep -qE -- "$1" <<<"$all" || { echo "$all" >&2; fail "no layer entry matches '$1'"; }; }
lacks() { ! grep -qE -- "$1" <<<"$all" || fail "a layer entry matches '$1'"; }

has '^l.* app -> /var/lib/app$'
has '^drwxr-xr-x 0/0 .* var/lib/app/$'
lacks '^d.* app/$'
has ' var/lib/app/f\.txt$'
lacks ' app/f\.txt$'
has '^drwxr-xr-x 0/0 .* newdir/$'
has '^-rw-r--r-- 0/0 .* newdir/s\.txt$'
has '^drwx------ 0/0 .* chmoddir/$'
has '^-rwx------ 0/0 .* chmoddir/s\.txt$'
has ' multi/a1\.txt$'
has ' up\.txt$'
has '^-rw-r--r-- 1000/1000 .* owned\.txt$'
has '^-rw-r--r-- 0/0 .* chowned\.txt$'
has '^drwxr-xr-x 0/0 .* ghostdir/$'
expect "WorkingDir" "$(jq -r .config.WorkingDir "$(layout_blob "$T/img" \
  "$(jq -r .config.digest "$(layout_blob "$T/img" "$(layout_digest "$T/img" 1)")")")")" /ghostdir

# Without a wildcard, a missing source is still an error naming the line.
printf 'ARG BASE\nFROM ${BASE}\nCOPY a* missing.txt /multi/\n' >"$T/ctx/Dockerfile.missing"
if "$HOIST" build --progress plain -f "$T/ctx/Dockerfile.missing" --build-arg "BASE=$BASE" \
  -o "oci:$T/bad:1" "$T/ctx" >/dev/null 2>"$T/missing.err"; then
  fail "COPY of a missing file without a wildcard succeeded"
fi
grep -q 'Dockerfile.missing:3:.*"/missing.txt": not found' "$T/missing.err" ||
  fail "missing source message: $(cat "$T/missing.err")"
log "OK"
