#!/usr/bin/env bash
# bench/debian.sh: `hoist build` vs `buildah bud --isolation chroot` on a
# realistic RUN-heavy build FROM a Debian 12 minbase root (debootstrap), both
# builders in one run.
#
#   bench/debian.sh                     # 3 runs per case
#   RUNS=5 BUILDERS=hoist bench/debian.sh
#
# The base: `debootstrap --variant=minbase bookworm` from the Debian mirror
# (the only network this makes, once; cached as $WORK/minbase.tar, or given
# as MINBASE_TAR), imported with `hoist build` (FROM scratch, ADD of the tar)
# and pushed to a `hoist registry serve` on 127.0.0.1 that both builders
# pull from. BASE_KIND=dev makes the larger base the same way: minbase with
# python3 and build-essential (--include; several hundred MB, cached as
# $WORK/dev.tar). The project's steps (no network):
#   U  useradd and a chown (/etc/passwd, shadow, group edits)
#   R  sha256sum of up to 20,000 files of /usr (reads thousands of files)
#   W  5,000 new files
#   D  rm -rf of /usr/share/doc, man and locale (thousands of whiteouts)
#   C  as USER app, after ARG CHANGE: one small file
# Cases (hyperfine, RUNS runs, median): cold (every image, layer and cache
# entry removed first), warm (nothing changed), change (a new CHANGE: only C
# runs). Prints a Markdown table with the ratio buildah / hoist.
# Knobs: RUNS (3), BUILDERS ("hoist buildah"), WORK (/tmp/hoist-bench-debian),
# HOIST (build/cli/hoist), BASE_KIND (minbase | dev), MINBASE_TAR (the base's
# tar, $WORK/BASE_KIND.tar), HOIST_ISOLATION, HOIST_SNAPSHOTTER, SETTLE (65:
# seconds a cold run's prepare step waits, see "a settled filesystem" below;
# 0 skips the wait).
# Loopback only once the base exists; processes it starts are stopped by PID.
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
BUILDERS=${BUILDERS:-"hoist buildah"}
WORK=${WORK:-/tmp/hoist-bench-debian}
HOIST=${HOIST:-$ROOT/build/cli/hoist}
log() { echo "[bench/debian] $*" >&2; }
die() { log "$*"; exit 1; }

"$ROOT/scripts/setup.sh" bench >/dev/null
for c in buildah hyperfine jq debootstrap; do
  command -v "$c" >/dev/null || die "$c is missing (scripts/setup.sh bench installs it)"
done
[ -x "$HOIST" ] || die "build hoist first (./dev test, or cmake --build build --target hoist)"
mkdir -p "$WORK"

# --- the base ------------------------------------------------------------------
# debian_mirror: the Debian archive apt uses on this machine (deb822
# sources first, then one-line ones), never a host written here.
debian_mirror() {
  local uri
  uri=$(grep -hsiE '^\s*URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' |
    grep -v -- '-security' | head -n 1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
      awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break }}' |
      grep -v -- '-security' | head -n 1 || true)
  fi
  [ -n "$uri" ] || die "no Debian archive in apt's sources for debootstrap"
  echo "$uri"
}
BASE_KIND=${BASE_KIND:-minbase}
case $BASE_KIND in
  minbase) include=() ;;
  dev) include=(--include=python3,build-essential) ;;
  *) die "BASE_KIND is minbase or dev, not $BASE_KIND" ;;
esac
MINBASE_TAR=${MINBASE_TAR:-$WORK/$BASE_KIND.tar}
if [ ! -s "$MINBASE_TAR" ]; then
  log "debootstrap --variant=minbase ${include[*]} bookworm (once)"
  rm -rf "$WORK/rootfs-$BASE_KIND"
  debootstrap --variant=minbase "${include[@]}" bookworm "$WORK/rootfs-$BASE_KIND" "$(debian_mirror)" \
    >"$WORK/debootstrap-$BASE_KIND.log" 2>&1 || die "debootstrap failed (see $WORK/debootstrap-$BASE_KIND.log)"
  tar --sort=name --numeric-owner --mtime=@0 -C "$WORK/rootfs-$BASE_KIND" -cf "$MINBASE_TAR" .
  rm -rf "$WORK/rootfs-$BASE_KIND"
fi

# --- a settled filesystem --------------------------------------------------------
# A cold build is a first build on a quiet machine. Its prepare step moves
# the previous run's state (builder storage, the floor's tree) into
# $WORK/trash, deleted after the last run, then syncs and waits SETTLE
# seconds. Deleting thousands of inodes shortly before a timed run (the
# harness clearing the previous run, or the previous run clearing its own
# work files as it ends) makes every file the run creates slow on ext4
# without a journal: each inode allocation passes over the inodes of its
# group freed in the last 60 s (360 s while their inode table block is
# dirty, hence the sync; see recently_deleted in the kernel's
# fs/ext4/ialloc.c). On this project's VMs the tar floor of the dev base is
# 2.2 s or 5.7 s depending on it. Warm and changed builds run back to back,
# as users run them.
TRASH=$WORK/trash
rm -rf "$TRASH"
mkdir -p "$TRASH"
cat >"$WORK/trash.sh" <<EOF
#!/usr/bin/env bash
# trash.sh PATH...: moves each PATH that exists into $TRASH (a rename).
for p in "\$@"; do
  if [ -e "\$p" ]; then mv "\$p" "$TRASH/\${p##*/}.\$(date +%s%N)"; fi
done
EOF

# shellcheck source=lib/run-registry.sh
. "$ROOT/bench/lib/run-registry.sh"
start_run_registry "$HOIST" "$WORK/registry"
BASE=$REGISTRY/base/debian:bookworm-$BASE_KIND
rm -rf "$WORK/import"
mkdir -p "$WORK/import"
ln "$MINBASE_TAR" "$WORK/import/base.tar" 2>/dev/null || cp "$MINBASE_TAR" "$WORK/import/base.tar"
printf 'FROM scratch\nADD base.tar /\nCMD ["bash"]\n' >"$WORK/import/Dockerfile"
HOIST_HOME=$WORK/import-home "$HOIST" build -q -t "$BASE" --push "$WORK/import" >/dev/null ||
  die "importing the $BASE_KIND root failed"
log "base $BASE ($(du -h "$MINBASE_TAR" | cut -f1) tar)"

# --- the project ---------------------------------------------------------------
CTX=$WORK/project
mkdir -p "$CTX"
cat >"$CTX/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE}
RUN useradd -m -u 1000 -s /bin/bash app && mkdir -p /srv/app && chown app:app /srv/app
# find rounds sizes up to whole units: -1M would match empty files only
RUN find /usr -type f -size -1024k | head -n 20000 | xargs -r sha256sum > /srv/app/usr.sha256
RUN mkdir /srv/app/gen && cd /srv/app/gen && for i in $(seq 1 5000); do echo "file $i" > "f$i"; done
RUN rm -rf /usr/share/doc /usr/share/man /usr/share/locale
ARG CHANGE=0
USER app
RUN echo "change $CHANGE" > /srv/app/change && wc -l < /srv/app/usr.sha256
EOF

declare -A BUILD NOCACHE
BUILD[hoist]="HOIST_HOME=$WORK/hoist-home \"$HOIST\" build -q --build-arg BASE=$BASE @ARGS@ \"$CTX\" >/dev/null"
NOCACHE[hoist]="bash $WORK/trash.sh $WORK/hoist-home"
BR="buildah --root $WORK/buildah-root --runroot $WORK/buildah-run --storage-driver overlay"
BUILD[buildah]="$BR bud -q --isolation chroot --layers --tls-verify=false --build-arg BASE=$BASE @ARGS@ -t bench-debian \"$CTX\" >/dev/null"
NOCACHE[buildah]="$BR rm -a >/dev/null 2>&1 || true; bash $WORK/trash.sh $WORK/buildah-root $WORK/buildah-run"

declare -A MEDIAN
hf() { # builder case prepare command
  local json=$WORK/hf-$1-$2.json
  hyperfine -N --runs "$RUNS" --prepare "bash -c '$3'" --export-json "$json" "bash -c '$4'" >"$WORK/hf-$1-$2.log" 2>&1 ||
    die "$1 $2 failed (see $WORK/hf-$1-$2.log)"
  MEDIAN[$1.$2]=$(jq -r '.results[0].median' "$json")
  log "$1 $2: $(printf '%.3f' "${MEDIAN[$1.$2]}") s"
}
echo 0 >"$WORK/change"
SETTLE=${SETTLE:-65}
settle="sync; sleep $SETTLE"
[ "$SETTLE" = 0 ] && settle=true
log "cold runs wait $SETTLE s each before they start (see \"a settled filesystem\")"
for b in $BUILDERS; do
  cmd=${BUILD[$b]//@ARGS@/}
  hf "$b" cold "${NOCACHE[$b]}; $settle" "$cmd"
  hf "$b" warm true "$cmd"
  change_cmd=${BUILD[$b]//@ARGS@/--build-arg CHANGE=\$(cat $WORK/change)}
  hf "$b" change "echo \$((\$(cat $WORK/change) + 1)) >$WORK/change" "$change_cmd"
done

# The machine's own floor in the same run: GNU tar unpacking the base's tar
# into a new directory (what any builder's cold build does at the least).
hyperfine -N --runs "$RUNS" --prepare "bash -c 'bash $WORK/trash.sh $WORK/floor; $settle'" \
  --export-json "$WORK/hf-floor.json" "bash -c 'mkdir $WORK/floor && tar -xf $MINBASE_TAR -C $WORK/floor'" \
  >"$WORK/hf-floor.log" 2>&1 || die "the tar floor failed (see $WORK/hf-floor.log)"
rm -rf "$WORK/floor" "$TRASH"
FLOOR=$(jq -r '.results[0].median' "$WORK/hf-floor.json")
log "floor (tar -x of the base): $(printf '%.3f' "$FLOOR") s"

echo
echo "| case | ${BUILDERS// / (s) | } (s) | buildah / hoist |"
echo "| --- | $(for _ in $BUILDERS; do printf -- '--- | '; done)--- |"
for c in cold warm change; do
  row="| $c |"
  for b in $BUILDERS; do row+=" $(printf '%.3f' "${MEDIAN[$b.$c]:-0}") |"; done
  if [ -n "${MEDIAN[hoist.$c]:-}" ] && [ -n "${MEDIAN[buildah.$c]:-}" ]; then
    row+=" $(awk -v a="${MEDIAN[buildah.$c]}" -v h="${MEDIAN[hoist.$c]}" 'BEGIN { printf "%.1fx", a / h }') |"
  else
    row+=" - |"
  fi
  echo "$row"
done
echo
echo "Floor: tar -x of the base's tar, $(printf '%.3f' "$FLOOR") s (median of $RUNS)."
echo "($(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $("$HOIST" version | head -1), $(buildah --version))"
