#!/usr/bin/env bash
# RUN end to end (issue 6), on the offline busybox base:
#   - testdata/build/run/Dockerfile: created, modified, deleted (whiteout),
#     replaced (opaque), hard-linked and chowned paths, a base file removed,
#     3000 files made and half deleted, each layer checked entry by entry
#     with `tar -tvf`; a rebuild runs nothing;
#   - the same layers from every isolation: the default, --isolation root,
#     --isolation proot, and as an unprivileged user (nobody, dropped to with
#     setpriv) without and with a subordinate id range; and from both
#     snapshotters (overlay, walk), as root and in a user namespace;
#   - Dockerfile.mounts: cache (survives builds), secret (file and env;
#     absent from every blob and from the cache records), bind (context with
#     .dockerignore, read-only; rw with writes discarded; another stage),
#     tmpfs, --network=none, a heredoc script, ARG/ENV/HOME/WORKDIR;
#   - Dockerfile.user: USER by name with supplementary groups, WORKDIR.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"
need proot uidmap util-linux

start_registry
push_base
CTX="$BUILD_TESTDATA/run"
chmod 0755 "$T"  # nobody reads the layouts and writes its own store here

# listing LAYOUT N: `tar -tvf` of layer N of LAYOUT's image "1".
listing() { layer_listing "$1" 1 "$2"; }
# has LISTING REGEX / lacks LISTING REGEX: one line matches / none does.
has() { grep -qE -- "$2" <<<"$1" || { echo "$1" | head -40 >&2; fail "no layer entry matches '$2'"; }; }
lacks() { ! grep -qE -- "$2" <<<"$1" || fail "a layer entry matches '$2'"; }
# file_of LAYOUT N PATH: the content of PATH in layer N.
file_of() {
  local m blob
  m=$(layout_blob "$1" "$(layout_digest "$1" 1)")
  blob=$(layout_blob "$1" "$(jq -r ".layers[$2].digest" "$m")")
  tar -xzOf "$blob" "$3" || fail "layer $2 of $1 has no $3"
}

# --- the changes, as root with the default isolation ---
digest=$(hb "$T/changes.log" --build-arg "BASE=$BASE" -o "oci:$T/changes:1" "$CTX")
grep -q "4 step(s) run, 0 cached" "$T/changes.log" || fail "the first build did not run 4 steps"
l1=$(listing "$T/changes" 1)
has "$l1" '^-rw-r--r-- 0/0 +4 .* data/modify.txt$'
has "$l1" '^h.* data/h2 link to data/h1$'
has "$l1" ' data/gone/g$'
l2=$(listing "$T/changes" 2)
has "$l2" '^---------- .* bin/\.wh\.wget$'
has "$l2" ' data/\.wh\.gone$'
lacks "$l2" ' data/gone/'
has "$l2" ' data/replaced/\.wh\.\.wh\.\.opq$'
has "$l2" ' data/replaced/new$'
lacks "$l2" ' data/replaced/old$'
has "$l2" '^-rw------- 1000/1001 .* data/keep/k$'
has "$l2" '^-rw-r--r-- 0/0 +8 .* data/modify.txt$'
has "$l2" ' data/created$'
lacks "$l2" ' data/h[12]$'
expect "modified file" "$(file_of "$T/changes" 2 data/modify.txt)" "$(printf 'one\ntwo')"
l3=$(listing "$T/changes" 3)
expect "entries of the 3000-file step" "$(wc -l <<<"$l3")" 3001
l4=$(listing "$T/changes" 4)
expect "whiteouts of the step deleting half" "$(grep -c '/\.wh\.' <<<"$l4")" 1500
has "$l4" ' many/\.wh\.2999$'
lacks "$l4" ' many/\.wh\.3000$'
history=$(jq -r '.history[].created_by' "$(layout_blob "$T/changes" "$(jq -r .config.digest "$(layout_blob "$T/changes" "$(layout_digest "$T/changes" 1)")")")")
grep -qF 'RUN /bin/sh -c cd /many && seq 1 2 3000 | xargs rm # buildkit' <<<"$history" ||
  { echo "$history" >&2; fail "history lacks the RUN step as BuildKit writes it"; }

# A rebuild runs nothing (every RUN answered by the cache).
again=$(hb "$T/again.log" --build-arg "BASE=$BASE" "$CTX")
expect "rebuild digest" "$again" "$digest"
grep -q "0 step(s) run, 4 cached" "$T/again.log" || { tail "$T/again.log" >&2; fail "the rebuild ran steps"; }

# --- the same layers from every isolation (--no-cache: every step runs) ---
for iso in root proot; do
  d=$(hb "$T/iso-$iso.log" --no-cache --isolation "$iso" --build-arg "BASE=$BASE" "$CTX")
  expect "digest with --isolation $iso" "$d" "$digest"
  log "--isolation $iso: same image $d"
done
# ... and from both snapshotters (overlay upper directory, metadata walk).
for snap in overlay walk; do
  d=$(hb "$T/snap-$snap.log" --no-cache --snapshotter "$snap" --build-arg "BASE=$BASE" "$CTX")
  expect "digest with --snapshotter $snap" "$d" "$digest"
  log "--snapshotter $snap: same image $d"
done

# as_nobody HOME ARGS...: hoist build as nobody (uid 65534) with its own store.
as_nobody() {
  local home=$1
  shift
  mkdir -p "$home" && chown 65534:65534 "$home"
  setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin \
    TMPDIR="$home" HOME="$home" HOIST_HOME="$home/store" DOCKER_CONFIG="$home" \
    "$HOIST" build --progress plain "$@"
}
d=$(as_nobody "$T/nobody" --build-arg "BASE=$BASE" "$CTX" 2>"$T/nobody.log") ||
  { tail -30 "$T/nobody.log" >&2; fail "the build as nobody failed"; }
expect "digest as nobody" "$d" "$digest"
# Under proot the chown of /data/keep/k is recorded (seccomp) or the step warns.
d=$(as_nobody "$T/nobody-proot" --isolation proot --build-arg "BASE=$BASE" "$CTX" 2>"$T/nobody-proot.log") ||
  { tail -30 "$T/nobody-proot.log" >&2; fail "the proot build as nobody failed"; }
if [ "$d" != "$digest" ]; then
  grep -q "warning: .*lost" "$T/nobody-proot.log" ||
    fail "proot as nobody gave $d, not $digest, without a warning about lost ownership"
fi
log "nobody: same image; proot as nobody: $([ "$d" = "$digest" ] && echo "same image" || echo "warned")"

# With a subordinate id range (newuidmap): files of uid 1000 really belong
# to a mapped id; the store is removable afterwards.
(
  for f in /etc/subuid /etc/subgid; do
    if [ -e "$f" ]; then cp -p "$f" "$T/$(basename "$f").saved"; else : >"$T/$(basename "$f").none"; fi
  done
  restore() {
    for f in subuid subgid; do
      if [ -e "$T/$f.saved" ]; then cp -p "$T/$f.saved" "/etc/$f"; else rm -f "/etc/$f"; fi
    done
  }
  trap restore EXIT
  for f in /etc/subuid /etc/subgid; do echo "nobody:200000:65536" >>"$f"; done
  d=$(as_nobody "$T/nobody-subid" --build-arg "BASE=$BASE" "$CTX" 2>"$T/nobody-subid.log") ||
    { tail -30 "$T/nobody-subid.log" >&2; fail "the build as nobody with subordinate ids failed"; }
  expect "digest as nobody with subordinate ids" "$d" "$digest"
  # An unprivileged overlay (userxattr) in hoist's own user namespace.
  d=$(as_nobody "$T/nobody-subid" --no-cache --snapshotter overlay --build-arg "BASE=$BASE" "$CTX" \
    2>"$T/nobody-subid-overlay.log") ||
    { tail -30 "$T/nobody-subid-overlay.log" >&2; fail "the overlay build as nobody with subordinate ids failed"; }
  expect "digest as nobody with subordinate ids and an overlay" "$d" "$digest"
  [ -d "$T/nobody-subid/store/store/blobs" ] || fail "no store at $T/nobody-subid/store/store"
  [ -z "$(find "$T/nobody-subid/store/store/work" -mindepth 1 -maxdepth 1 2>/dev/null)" ] ||
    fail "the build left its work directory behind: $(ls "$T/nobody-subid/store/store/work")"
) || exit 1
log "every isolation gave $digest"

# --- mounts, network, heredoc script, environment ---
SECRET="s3cret-value-$RANDOM$RANDOM"
printf '%s' "$SECRET" >"$T/tok"
margs=(--build-arg "BASE=$BASE" --secret "id=tok,src=$T/tok" -f "$CTX/Dockerfile.mounts")
hb "$T/mounts1.log" "${margs[@]}" -o "oci:$T/mounts:1" "$CTX" >/dev/null
n=$(jq '.layers | length' "$(layout_blob "$T/mounts" "$(layout_digest "$T/mounts" 1)")")
content() { file_of "$T/mounts" "$1" "$2"; }
expect "cache mount, first build" "$(content 1 round-1)" 1
expect "secret file" "$(content 2 tok.sha256)" "$(printf '%s' "$SECRET" | sha256sum | cut -d' ' -f1)"
expect "secret env" "$(content 3 tok.len)" "${#SECRET}"
expect "bind from the context" "$(content 4 from-bind)" "from the context"
expect "bind from a stage" "$(content 5 from-stage)" "from-stage"
expect "--network=none (only lo in /proc/net/dev)" "$(content 6 netdev-lines)" 3
expect "environment" "$(content 7 env.txt)" "1 env-value /root /"
expect "heredoc script" "$(content 8 script.txt)" "script /dev/pipes/EOT"
expect "layers (the rw bind and the tmpfs step change nothing)" "$n" 9
[ ! -e "$CTX/src/new" ] || fail "a rw bind wrote into the context"
for i in $(seq 1 $((n - 1))); do
  lacks "$(listing "$T/mounts" "$i")" ' (run/secrets|mnt/|scratch|c/n|dev/)'
done
for b in "$T"/mounts/blobs/sha256/*; do
  if (gzip -dc "$b" 2>/dev/null || cat "$b") | grep -qaF "$SECRET"; then fail "the secret is in blob $b"; fi
done
if grep -rqaF "$SECRET" "$HOIST_HOME"; then fail "the secret is in the store: $(grep -rlaF "$SECRET" "$HOIST_HOME")"; fi
grep -q "Read-only file system" "$T/mounts1.log" || fail "the read-only bind was writable"

# The cache mount survives: round 2 sees round 1's count; a cached rebuild
# does not run the step (round 3 then sees 3).
hb "$T/mounts2.log" "${margs[@]}" --build-arg ROUND=2 -o "oci:$T/mounts2:1" "$CTX" >/dev/null
expect "cache mount, second build" "$(file_of "$T/mounts2" 1 round-2)" 2
hb "$T/mounts2b.log" "${margs[@]}" --build-arg ROUND=2 "$CTX" >/dev/null
grep -q " 0 step(s) run" "$T/mounts2b.log" || fail "the cached rebuild ran steps"
hb "$T/mounts3.log" "${margs[@]}" --build-arg ROUND=3 -o "oci:$T/mounts3:1" "$CTX" >/dev/null
expect "cache mount, third build" "$(file_of "$T/mounts3" 1 round-3)" 3

# A required secret that was not given.
printf 'ARG BASE\nFROM ${BASE}\nRUN --mount=type=secret,id=nope,required=true true\n' >"$T/Dockerfile.nosecret"
rc=0
"$HOIST" build --progress plain --build-arg "BASE=$BASE" -f "$T/Dockerfile.nosecret" "$CTX" \
  >/dev/null 2>"$T/nosecret.err" || rc=$?
expect "exit code without a required secret" "$rc" 1
grep -q "Dockerfile.nosecret:3:1: RUN: secret nope not found" "$T/nosecret.err" ||
  { cat "$T/nosecret.err" >&2; fail "the missing secret is not reported"; }

# --- USER and WORKDIR ---
hb "$T/user.log" --build-arg "BASE=$BASE" -f "$CTX/Dockerfile.user" -o "oci:$T/user:1" "$CTX" >/dev/null
expect "id as USER app" "$(file_of "$T/user" 3 home/app/work/id.txt)" \
  "uid=1000(app) gid=1000(app) groups=1000(app),1500(extra)"
expect "HOME of app" "$(file_of "$T/user" 3 home/app/work/home.txt)" "/home/app"
has "$(listing "$T/user" 3)" '^-rw-r--r-- 1000/1000 .* home/app/work/made-by-app$'
log "RUN: layers, isolations, mounts and users as expected"
