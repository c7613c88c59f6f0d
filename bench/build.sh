#!/usr/bin/env bash
# bench/build.sh: `hoist build` vs `buildah bud --isolation chroot` on three
# projects, all builders in one run.
#
#   bench/build.sh                                   # everything, 3 runs each
#   RUNS=5 BUILDERS="hoist buildah" PROJECTS="run root" bench/build.sh
#
# Builders: hoist (its default snapshotter: auto, that is an overlay where the
# kernel mounts one), hoist-walk (the same binary with --snapshotter walk and a
# store of its own) and buildah (root, overlay storage, --isolation chroot).
#
# The projects (made deterministically under $WORK, the same bytes on every
# machine), all FROM a busybox image made offline (testdata/make-base-image.sh)
# and pushed to a `hoist registry serve` on 127.0.0.1 that every builder pulls
# from and pushes to:
#   app   the shared peer project (../shared/bench/build-bench.sh), byte for
#         byte: 2,000 text files of 1-8 KiB in src/dir00..dir19 and one 100 MiB
#         incompressible big.bin, two stages (COPY, a RUN that writes 202 files,
#         then COPY --from into the final one, with ARG, ENV, WORKDIR, LABEL, CMD)
#   run   RUN-heavy, one stage: A writes 10,000 small files, B deletes half of
#         them, L writes 256 MiB from /dev/urandom, C changes one byte of it
#         (C alone comes after ARG CHANGE)
#   root  G writes ROOT_FILES files of 64 KiB (16,384: a 1 GiB root), then K1
#         and K2 each write 1 KiB (both after ARG CHANGE); the same Dockerfile
#         with FILES=0 is the small root (the busybox base, about 1 MiB)
#
# Per builder, with hyperfine (RUNS runs, median):
#   cold          app: every local image, layer and cache entry removed first
#   warm          app: rebuild, nothing changed
#   one_change    app: rebuild after one line was appended to one small file
#   push_cold     app: push to a new repository each run (every layer uploaded)
#   push_warm     app: push again to the same repository (every blob there)
#   run_cold      run: everything removed first
#   run_warm      run: rebuild, nothing changed
#   run_change    run: rebuild with a new CHANGE (only C runs again)
#   root_cold     root, 1 GiB: everything removed first (1 run)
#   root_change   root, 1 GiB: rebuild with a new CHANGE (K1 and K2 run again)
#   small_change  root, small: the same
# (hoist-walk skips the pushes: they do not depend on the snapshotter) and
# prints a Markdown table with the ratio buildah / hoist (> 1: hoist faster),
# then hoist's own time for each step it ran (`--progress json`, medians).
# With the walk, K1 (the first RUN of the stage in the build) copies the root
# into the stage's live root and walks it, and K2 walks the same live root, so
# the two separate the copy from the walk; with the overlay both mount a stack.
# "after the build" is the time from the last step's end to the summary line
# (removing the live root or the overlay directories).
#
# Knobs (environment): RUNS (3), BUILDERS ("hoist hoist-walk buildah"),
# PROJECTS ("app run root"), ROOT_FILES (16384), WORK (/tmp/hoist-bench-build),
# HOIST (build/cli/hoist; run a copy if the build directory may change), and
# HOIST_ISOLATION and HOIST_SNAPSHOTTER, which hoist itself reads.
# After each project, the image each builder made is checked (file counts,
# sizes) with `buildah run`.
# Loopback only; every process it starts is stopped by PID on exit.
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
BUILDERS=${BUILDERS:-"hoist hoist-walk buildah"}
PROJECTS=${PROJECTS:-"app run root"}
ROOT_FILES=${ROOT_FILES:-16384}
WORK=${WORK:-/tmp/hoist-bench-build}
HOIST=${HOIST:-$ROOT/build/cli/hoist}
log() { echo "[bench/build] $*" >&2; }
die() { log "$*"; exit 1; }
want() { [[ " $PROJECTS " == *" $1 "* ]]; }

"$ROOT/scripts/setup.sh" bench >/dev/null
for c in buildah hyperfine skopeo jq openssl; do
  command -v "$c" >/dev/null || die "$c is missing (scripts/setup.sh bench installs it)"
done
[ -x "$HOIST" ] || die "build hoist first (./dev test, or cmake --build build --target hoist)"
mkdir -p "$WORK"

# --- the registry both builders use ------------------------------------------
# shellcheck source=lib/run-registry.sh
. "$ROOT/bench/lib/run-registry.sh"
start_run_registry "$HOIST" "$WORK/registry"
[ -f "$WORK/base/index.json" ] || bash "$ROOT/testdata/make-base-image.sh" "$WORK/base" >&2
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$WORK/base:latest" \
  "docker://$REGISTRY/base:latest" >/dev/null

# --- the projects --------------------------------------------------------------
# app: what ../shared/bench/build-bench.sh makes (bench/lib/app-project.sh).
APP=$WORK/app
# shellcheck source=lib/app-project.sh
. "$ROOT/bench/lib/app-project.sh"
want app && make_app_project "$APP"
# run and root: a Dockerfile each (the trailing "# X:" names the step in the
# step table; the shell ignores it).
mkdir -p "$WORK/run" "$WORK/root"
cat >"$WORK/run/Dockerfile" <<'EOF'
ARG BASE=127.0.0.1:5000/base:latest
FROM ${BASE}
WORKDIR /data
RUN mkdir many && cd many && i=1; while [ $i -le 10000 ]; do echo "file $i" >f$i; i=$((i + 1)); done  # A: write 10,000 files
RUN cd many && seq 2 2 10000 | sed 's/^/f/' | xargs rm  # B: delete 5,000 of them
RUN dd if=/dev/urandom of=large.bin bs=1M count=256 2>/dev/null  # L: write 256 MiB
ARG CHANGE=0
RUN printf '%s' "$CHANGE" | tail -c 1 | dd of=large.bin bs=1 seek=134217728 count=1 conv=notrunc 2>/dev/null  # C: change 1 byte of 256 MiB
EOF
cat >"$WORK/root/Dockerfile" <<'EOF'
ARG BASE=127.0.0.1:5000/base:latest
FROM ${BASE}
ARG FILES=16384
RUN for d in $(seq -w 0 15); do mkdir -p /big/d$d; done && busybox awk -v n="$FILES" 'BEGIN { s = "0123456789abcdef"; while (length(s) < 65536) s = s s; s = substr(s, 6); for (i = 0; i < n; i++) { f = sprintf("/big/d%02d/f%05d", i % 16, i); printf "%05d%s", i, s > f; close(f) } }'  # G: FILES files of 64 KiB
ARG CHANGE=0
RUN head -c 1024 /dev/urandom >/change-1.bin  # K1: 1 KiB, first RUN of the build
RUN head -c 1024 /dev/urandom >/change-2.bin  # K2: 1 KiB, second RUN of the build
EOF
echo 0 >"$WORK/change"
if want app; then
  CHANGED=$APP/src/dir07/file0742.txt
  cp "$CHANGED" "$WORK/changed.orig"
  trap 'cp "$WORK/changed.orig" "$CHANGED"; stop_run_registry' EXIT
fi
BASE=$REGISTRY/base:latest
export BASE REGISTRY HOIST WORK

# --- the builders' commands (bash snippets; @ARGS@ is replaced by a case's own
# build arguments, $DEST is set for pushes, $STEPS is the case's step log) -----
declare -A BUILD NOCACHE PUSH PUSH_PREP VERSION HOIST_HOME_OF
for b in hoist hoist-walk; do # hoist-walk: the walk snapshotter, with its own store
  HOIST_HOME_OF[$b]=$WORK/$b-home
  flags=
  [ "$b" = hoist-walk ] && flags="--snapshotter walk"
  BUILD[$b]="HOIST_HOME=${HOIST_HOME_OF[$b]} \"\$HOIST\" build --progress json $flags --build-arg BASE=\"\$BASE\" @ARGS@ -t \"\$TAG\" \"\$CTX\" >>\"\$STEPS\""
  NOCACHE[$b]="rm -rf ${HOIST_HOME_OF[$b]}"
  PUSH[$b]="HOIST_HOME=${HOIST_HOME_OF[$b]} \"\$HOIST\" push -q \"\$TAG\" \"\$DEST\" >/dev/null"
  PUSH_PREP[$b]=true
  VERSION[$b]="$("$HOIST" version | head -1), --isolation ${HOIST_ISOLATION:-auto}, --snapshotter ${flags#--snapshotter }"
done
VERSION[hoist]+="${HOIST_SNAPSHOTTER:-auto}"
BR="buildah --root $WORK/buildah-root --runroot $WORK/buildah-run --storage-driver overlay"
if ! $BR from --tls-verify=false "$BASE" >/dev/null 2>&1; then
  log "overlay storage does not work here; buildah uses vfs"
  BR="buildah --root $WORK/buildah-root --runroot $WORK/buildah-run --storage-driver vfs"
fi
$BR rm --all >/dev/null 2>&1 || true
BUILD[buildah]="$BR bud --quiet --layers --isolation chroot --tls-verify=false --pull=missing --build-arg BASE=\"\$BASE\" @ARGS@ -t \"\$TAG\" \"\$CTX\" >/dev/null"
NOCACHE[buildah]="$BR rm --all >/dev/null 2>&1; $BR rmi --all --force >/dev/null 2>&1; true"
PUSH[buildah]="$BR push --quiet --tls-verify=false \"\$TAG\" \"docker://\$DEST\" >/dev/null"
PUSH_PREP[buildah]="rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb $WORK/buildah-root/cache/blob-info-cache-v1.boltdb"
VERSION[buildah]="$(buildah --version | cut -d' ' -f1-3), ${BR##* } storage, --isolation chroot"

# --- measurements -------------------------------------------------------------
declare -A MED RUNSOF
hf() { # builder case prepare command [runs]
  local b=$1 c=$2 j=$WORK/hf-$1-$2.json
  log "$b: $c"
  export STEPS=/dev/null
  if [ "$b" != buildah ]; then STEPS=$WORK/steps-$b-$c.jsonl && : >"$STEPS"; fi
  hyperfine --style none --runs "${5:-$RUNS}" --prepare "$3" --export-json "$j" "bash -c '$4'" >/dev/null
  MED[$b.$c]=$(jq -r '.results[0].median*1000|round/1000' "$j")
  RUNSOF[$b.$c]=$(jq -r '[.results[0].times[]*1000|round/1000|tostring]|join(", ")' "$j")
}
use() { # project tag: the context and image the next builds use
  export CTX=$WORK/$1 TAG=localhost/bench/$2:latest
}
build() { # builder case prepare [build arguments] [runs]
  export B_BUILD=${BUILD[$1]//@ARGS@/${4:-}}
  # shellcheck disable=SC2016 # $B_BUILD is expanded by the bash that hyperfine starts
  hf "$1" "$2" "$3" 'eval "$B_BUILD"' "${5:-}"
}
check() { # builder image expected-output command: what a build made, read with `buildah run`
  local img=$2 c out
  if [ "$1" != buildah ]; then # hoist's images leave its store through the registry
    img=$REGISTRY/bench/$1-check-${2##*/}
    HOIST_HOME=${HOIST_HOME_OF[$1]} "$HOIST" push -q "$2" "$img" >/dev/null
    c=$($BR from --tls-verify=false --pull=always "docker://$img" 2>/dev/null)
  else
    c=$($BR from "$img" 2>/dev/null)
  fi
  out=$($BR run --isolation chroot "$c" -- sh -c "$4" 2>&1 | tr '\n' ' ')
  $BR rm "$c" >/dev/null
  [ "$out" = "$3" ] || die "$1: ${2##*/}: expected \"$3\", got \"$out\""
  log "$1: ${2##*/}: $out(as expected)"
}
BUMP="echo \$((\$(cat $WORK/change) + 1)) >$WORK/change" # a new CHANGE for the next build
CHANGE_ARG="--build-arg CHANGE=\$(cat $WORK/change)"
for b in $BUILDERS; do
  export B_PUSH=${PUSH[$b]}
  if want app; then
    use app app
    build "$b" cold "${NOCACHE[$b]}"
    build "$b" warm true
    build "$b" one_change "echo \"change \$(date +%s%N)\" >>$CHANGED"
    if [ "$b" != hoist-walk ]; then # pushing does not depend on the snapshotter
      echo 0 >"$WORK/push-counter"
      hf "$b" push_cold "${PUSH_PREP[$b]}; echo \$((\$(cat $WORK/push-counter) + 1)) >$WORK/push-counter" \
        "DEST=$REGISTRY/bench/$b-cold-\$(cat $WORK/push-counter):latest; eval \"\$B_PUSH\""
      (export DEST=$REGISTRY/bench/$b-warm:latest; eval "$B_PUSH") # the first push of the warm repository
      hf "$b" push_warm true "DEST=$REGISTRY/bench/$b-warm:latest; eval \"\$B_PUSH\""
      n=$(skopeo inspect --tls-verify=false "docker://$REGISTRY/bench/$b-warm:latest" | jq '.Layers | length')
      [ "$n" -ge 3 ] || die "$b: the pushed image has $n layers"
    fi
    check "$b" "$TAG" "2000 202 104857600 " 'cat /app/gen/count; ls /app/gen | wc -l; wc -c </app/data/big.bin'
  fi
  if want run; then
    use run run
    build "$b" run_cold "${NOCACHE[$b]}" "$CHANGE_ARG"
    build "$b" run_warm true "$CHANGE_ARG"
    build "$b" run_change "$BUMP" "$CHANGE_ARG"
    check "$b" "$TAG" "5000 file 1 268435456 " \
      'ls /data/many | wc -l; cat /data/many/f1; test ! -e /data/many/f2 && wc -c </data/large.bin'
  fi
  if want root; then
    use root root-big
    build "$b" root_cold "${NOCACHE[$b]}" "--build-arg FILES=$ROOT_FILES $CHANGE_ARG" 1
    build "$b" root_change "$BUMP" "--build-arg FILES=$ROOT_FILES $CHANGE_ARG"
    check "$b" "$TAG" "$ROOT_FILES 1024 1024 " \
      'find /big -type f | wc -l; wc -c </change-1.bin; wc -c </change-2.bin'
    use root root-small
    (export STEPS=/dev/null; B_BUILD=${BUILD[$b]//@ARGS@/--build-arg FILES=0 $CHANGE_ARG}; eval "$B_BUILD")
    build "$b" small_change "$BUMP" "--build-arg FILES=0 $CHANGE_ARG"
  fi
done

for c in cold one_change run_cold run_change root_cold root_change small_change; do
  if grep -qs 'found by a walk' "$WORK/steps-hoist-$c.jsonl"; then
    VERSION[hoist]+=" (auto fell back to the walk here: see $WORK/steps-hoist-$c.jsonl)"
    break
  fi
done

# --- tables --------------------------------------------------------------------
CASES=()
want app && CASES+=(cold warm one_change push_cold push_warm)
want run && CASES+=(run_cold run_warm run_change)
want root && CASES+=(root_cold root_change small_change)
echo
echo "## Build: hoist vs buildah (bench/build.sh), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for b in $BUILDERS; do echo "- $b: ${VERSION[$b]}"; done
echo
echo "Medians of $RUNS runs (root_cold: 1 run), all runs beside them; ratio = buildah / hoist (> 1: hoist is faster)."
echo
HOISTS=() head="| case |" rule="| --- |"
for b in $BUILDERS; do
  head+=" $b (s) | runs |" rule+=" ---: | --- |"
  [ "$b" != buildah ] && HOISTS+=("$b")
done
if [[ " $BUILDERS " == *" buildah "* ]]; then
  for h in "${HOISTS[@]}"; do head+=" buildah / $h |" rule+=" ---: |"; done
fi
echo "$head"
echo "$rule"
for c in "${CASES[@]}"; do
  row="| $c |"
  for b in $BUILDERS; do
    m=${MED[$b.$c]:-}
    [ "$b" = hoist ] && [ -n "$m" ] && m="**$m**"
    row+=" ${m:--} | ${RUNSOF[$b.$c]:-} |"
  done
  if [[ " $BUILDERS " == *" buildah "* ]]; then
    for h in "${HOISTS[@]}"; do
      r=- p=${MED[buildah.$c]:-} m=${MED[$h.$c]:-}
      [ -n "$m" ] && [ -n "$p" ] && r=$(awk -v a="$p" -v b="$m" 'BEGIN { printf "%.2f", a / b }')
      row+=" $r |"
    done
  fi
  echo "$row"
done
if [ ${#HOISTS[@]} -gt 0 ]; then
  echo
  echo "hoist's steps that ran (\`--progress json\`), medians of the runs in seconds:"
  echo
  echo "| builder | case | step | median (s) | runs |"
  echo "| --- | --- | --- | ---: | --- |"
  for h in "${HOISTS[@]}"; do for c in "${CASES[@]}"; do
    f=$WORK/steps-$h-$c.jsonl
    [ -s "$f" ] || continue
    jq -rs --arg h "$h" --arg c "$c" '
      def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      def r3: . * 1000 | round / 1000;
      def step_name: (capture("^(?<n>\\[[^\\]]*\\])").n) + " " +
        (if test("  # ") then sub(".*  # "; "") else sub("^\\[[^\\]]*\\] "; "") | .[0:48] end);
      ([.[] | select(.event == "done" and (.name | startswith("[")) and (.name | test("^\\[internal\\]") | not))]
        | group_by(.name) | sort_by(.[0].id)
        | .[] | [(.[0].name | step_name), [.[].seconds]]),
      (["after the build", [foreach .[] as $e ({}; if $e.event == "done" then .d = $e.time else . end;
          if $e.event == "summary" then $e.time - .d else empty end)]]
        | select(.[1] | length > 0))
      | "| \($h) | \($c) | \(.[0] | gsub("\\|"; "\\|")) | \(.[1] | median | r3) | \(.[1] | map(r3 | tostring) | join(", ")) |"' "$f"
  done; done
fi
