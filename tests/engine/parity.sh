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
#   - WORKDIR under a USER the image's passwd does not know: 0:0;
#   - a RUN heredoc's /dev/pipes exists during its own step only;
#   - ADD of a local tar keeps the owners it records, of symbolic links too;
#   - a .dockerignored directory is in the context only for what "!"
#     patterns re-include: with nothing re-included, COPY of it fails.
#   - COPY of a directory onto a symbolic link to a file replaces the link
#     (Docker's behaviour; BuildKit refuses), leaving the link's target;
#   - RUN --network=host needs the network.host entitlement (--allow), as
#     in BuildKit; --allow takes BuildKit's entitlement names only.
# And what stays an error: a source without wildcards that does not exist.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

start_registry
push_base
cp -a "$BUILD_TESTDATA/parity" "$T/ctx"
chmod 0775 "$T/ctx/srcdir"
mkdir -p "$T/ctx/ignored" "$T/ctx/ignored2"
echo x >"$T/ctx/ignored/other.txt"
echo x >"$T/ctx/ignored2/other.txt"
echo k >"$T/ctx/ignored2/keep.txt"
printf 'ignored\nignored2\n!ignored/keep.txt\n!ignored2/keep.txt\n' >"$T/ctx/.dockerignore"

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

# A heredoc's script directory is gone in the next step.
cat >"$T/ctx/Dockerfile.heredoc" <<'DF'
ARG BASE
FROM ${BASE}
RUN <<EOT
test -d /dev/pipes
echo from a heredoc > /heredoc.txt
EOT
RUN test ! -e /dev/pipes && echo absent > /pipes.txt
DF
hb "$T/heredoc.log" -f "$T/ctx/Dockerfile.heredoc" --build-arg "BASE=$BASE" -o "oci:$T/heredoc:1" "$T/ctx" >/dev/null
layer_listing "$T/heredoc" 1 2 | grep -q ' pipes\.txt$' || fail "/dev/pipes outlived its heredoc step"
! layer_listing "$T/heredoc" 1 1 | grep -q 'dev/' || fail "the heredoc step's layer has /dev entries"

# ADD of a local tar: owners as recorded, symbolic links included.
python3 - "$T/ctx/owned.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as tf:
    f = tarfile.TarInfo("data.txt"); f.size = 2; f.uid, f.gid = 123, 456
    tf.addfile(f, io.BytesIO(b"d\n"))
    l = tarfile.TarInfo("link"); l.type = tarfile.SYMTYPE; l.linkname = "data.txt"; l.uid, l.gid = 321, 654
    tf.addfile(l)
PY
printf 'ARG BASE\nFROM ${BASE}\nADD owned.tar /arch/\n' >"$T/ctx/Dockerfile.tar"
hb "$T/tar.log" -f "$T/ctx/Dockerfile.tar" --build-arg "BASE=$BASE" -o "oci:$T/tar:1" "$T/ctx" >/dev/null
tarl=$(layer_listing "$T/tar" 1 1)
grep -qE '^-rw-r--r-- 123/456 .* arch/data\.txt$' <<<"$tarl" || fail "file owner from the archive: $tarl"
grep -qE '^l.* 321/654 .* arch/link -> data\.txt$' <<<"$tarl" || fail "symlink owner from the archive: $tarl"

# .dockerignore: a re-included file brings its directory; without one, the
# directory is not in the context.
printf 'ARG BASE\nFROM ${BASE}\nCOPY ignored2 /ignored2\n' >"$T/ctx/Dockerfile.ign"
hb "$T/ign.log" -f "$T/ctx/Dockerfile.ign" --build-arg "BASE=$BASE" -o "oci:$T/ign:1" "$T/ctx" >/dev/null
ign=$(layer_listing "$T/ign" 1 1)
grep -q ' ignored2/keep\.txt$' <<<"$ign" || fail "the re-included file is missing: $ign"
! grep -q 'other\.txt' <<<"$ign" || fail "an ignored file was copied: $ign"
printf 'ARG BASE\nFROM ${BASE}\nCOPY ignored /ignored\n' >"$T/ctx/Dockerfile.ign2"
if "$HOIST" build --progress plain -f "$T/ctx/Dockerfile.ign2" --build-arg "BASE=$BASE" \
  -o "oci:$T/ign2:1" "$T/ctx" >/dev/null 2>"$T/ign2.err"; then
  fail "COPY of an ignored directory with nothing re-included succeeded"
fi
grep -q 'Dockerfile.ign2:3:.*"/ignored": not found' "$T/ign2.err" || fail "message: $(cat "$T/ign2.err")"

# Entitlements.
# A directory copied onto a symbolic link to a file replaces the link.
cat >"$T/ctx/Dockerfile.link" <<'DF'
ARG BASE
FROM ${BASE}
RUN echo kept > /target.txt && ln -s /target.txt /x
COPY srcdir /x
RUN test -d /x && test ! -L /x && cat /target.txt /x/s.txt > /seen.txt
DF
hb "$T/link.log" -f "$T/ctx/Dockerfile.link" --build-arg "BASE=$BASE" -o "oci:$T/link:1" "$T/ctx" >/dev/null
copied=$(layer_listing "$T/link" 1 2)
grep -qE '^drwxr-xr-x 0/0 .* x/$' <<<"$copied" || fail "COPY onto a link to a file: $copied"
grep -qE ' x/s\.txt$' <<<"$copied" || fail "COPY onto a link to a file: no x/s.txt in $copied"
! grep -q 'target\.txt' <<<"$copied" || fail "COPY onto a link changed the link's target: $copied"
layer_listing "$T/link" 1 3 | grep -q ' seen\.txt$' || fail "the step after the COPY did not see a directory at /x"

printf 'ARG BASE\nFROM ${BASE}\nRUN --network=host echo host > /net.txt\n' >"$T/ctx/Dockerfile.host"
if "$HOIST" build --progress plain -f "$T/ctx/Dockerfile.host" --build-arg "BASE=$BASE" \
  -o "oci:$T/host:1" "$T/ctx" >/dev/null 2>"$T/host.err"; then
  fail "RUN --network=host ran without --allow network.host"
fi
grep -q 'Dockerfile.host:3:.*network.host is not allowed' "$T/host.err" || fail "message: $(cat "$T/host.err")"
hb "$T/host.log" --allow network.host -f "$T/ctx/Dockerfile.host" --build-arg "BASE=$BASE" \
  -o "oci:$T/host:1" "$T/ctx" >/dev/null
rc=0
"$HOIST" build --allow network.everything -f "$T/ctx/Dockerfile.host" --build-arg "BASE=$BASE" \
  -o "oci:$T/host2:1" "$T/ctx" >/dev/null 2>"$T/bad-allow.err" || rc=$?
[ "$rc" = 2 ] || fail "--allow with an unknown entitlement: exit $rc, want 2"
grep -q 'unknown entitlement "network.everything"' "$T/bad-allow.err" || fail "message: $(cat "$T/bad-allow.err")"
log "OK"
