#!/usr/bin/env bash
# bench/build.sh: `hoist build` vs `buildah bud` on one COPY-heavy project.
#
#   bench/build.sh                       # both builders, 3 runs each
#   RUNS=5 BUILDERS=hoist bench/build.sh
#
# The project (made deterministically under $WORK/ctx, the same bytes on every
# machine): 2,000 text files of 1-8 KiB in src/dir00..dir19 and one 100 MiB
# incompressible big.bin, built in two stages (COPY into a build stage, then
# COPY --from into the final one, with ARG, ENV, WORKDIR, LABEL and CMD). It is
# the shared peer project (../shared/bench/build-bench.sh) without its RUN
# step, which hoist does not execute yet. FROM is a busybox image made offline
# (testdata/make-base-image.sh) and pushed to a `hoist registry serve` on
# 127.0.0.1 that both builders pull from and push to.
#
# Per builder, with hyperfine (RUNS runs, median):
#   cold        every local image, layer and cache entry removed first
#   warm        rebuild, nothing changed
#   one_change  rebuild after one line was appended to one small file
#   push_cold   push to a new repository each run (every layer uploaded)
#   push_warm   push again to the same repository (every blob already there)
# and prints a Markdown table with the ratio buildah / hoist (> 1: hoist faster).
# Loopback only; every process it starts is stopped by PID on exit.
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
BUILDERS=${BUILDERS:-"hoist buildah"}
WORK=${WORK:-/tmp/hoist-bench-build}
HOIST=${HOIST:-$ROOT/build/cli/hoist}
log() { echo "[bench/build] $*" >&2; }
die() { log "$*"; exit 1; }

"$ROOT/scripts/setup.sh" bench >/dev/null
for c in buildah hyperfine skopeo jq openssl; do
  command -v "$c" >/dev/null || die "$c is missing (scripts/setup.sh bench installs it)"
done
[ -x "$HOIST" ] || die "build hoist first (./dev test, or cmake --build build --target hoist)"
mkdir -p "$WORK"

# --- the registry both builders use ------------------------------------------
REG_PID=
cleanup() { if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
rm -rf "$WORK/registry" "$WORK/registry.addr"
"$HOIST" registry serve --addr 127.0.0.1:0 --root "$WORK/registry" --addr-file "$WORK/registry.addr" \
  --log-level warn >"$WORK/registry.log" 2>&1 </dev/null &
REG_PID=$!
for ((i = 0; i < 100; i++)); do [ -s "$WORK/registry.addr" ] && break; sleep 0.1; done
[ -s "$WORK/registry.addr" ] || die "the registry did not start (see $WORK/registry.log)"
REGISTRY=$(cat "$WORK/registry.addr")
[ -f "$WORK/base/index.json" ] || bash "$ROOT/testdata/make-base-image.sh" "$WORK/base" >&2
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$WORK/base:latest" \
  "docker://$REGISTRY/base:latest" >/dev/null

# --- the project -------------------------------------------------------------
CTX=$WORK/ctx
if [ ! -f "$CTX/.complete" ]; then
  log "making the project in $CTX"
  rm -rf "$CTX"
  mkdir -p "$CTX/src"
  /usr/bin/python3 - "$CTX/src" <<'PY'
import os, random, sys
root, rng = sys.argv[1], random.Random(20261126)
vocab = "layer blob digest manifest index config tar gzip image registry stage copy cache".split()
for i in range(2000):
    d = os.path.join(root, "dir%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    size, out = rng.randint(1024, 8192), []
    while sum(len(w) + 1 for w in out) < size:
        out.append(rng.choice(vocab) if rng.random() < 0.7 else "%08x" % rng.getrandbits(32))
    with open(os.path.join(d, "file%04d.txt" % i), "w") as f:
        f.write(" ".join(out)[: size - 1] + "\n")
PY
  (set +o pipefail # openssl ends on SIGPIPE once head has its bytes
    openssl enc -aes-128-ctr -nosalt -pass pass:hoist-bench-build -pbkdf2 </dev/zero 2>/dev/null |
      head -c $((100 << 20)) >"$CTX/big.bin")
  cat >"$CTX/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE} AS build
ARG APP_VERSION=1.0
ENV APP_HOME=/app APP_VERSION=${APP_VERSION}
WORKDIR /app
COPY src/ /app/src/
COPY big.bin /app/data/big.bin

FROM ${BASE}
ARG APP_VERSION=1.0
LABEL org.opencontainers.image.title="bench app" org.opencontainers.image.version="${APP_VERSION}"
ENV APP_HOME=/app
WORKDIR /app
COPY --from=build /app/src /app/src
COPY --from=build /app/data/big.bin /app/data/big.bin
CMD ["sh", "-c", "ls /app/src | wc -l"]
EOF
  touch "$CTX/.complete"
fi
CHANGED=$CTX/src/dir07/file0742.txt
cp "$CHANGED" "$WORK/changed.orig"
trap 'cp "$WORK/changed.orig" "$CHANGED"; cleanup' EXIT
BASE=$REGISTRY/base:latest
TAG=localhost/bench/app:latest
export CTX BASE TAG REGISTRY HOIST WORK

# --- the builders' commands (bash snippets; $DEST is set for pushes) ----------
declare -A BUILD NOCACHE PUSH PUSH_PREP VERSION
HOIST_ENV="HOIST_HOME=$WORK/hoist-home"
BUILD[hoist]="$HOIST_ENV \"\$HOIST\" build -q --build-arg BASE=\"\$BASE\" -t \"\$TAG\" \"\$CTX\" >/dev/null"
NOCACHE[hoist]="rm -rf $WORK/hoist-home"
PUSH[hoist]="$HOIST_ENV \"\$HOIST\" push -q \"\$TAG\" \"\$DEST\" >/dev/null"
PUSH_PREP[hoist]=true
VERSION[hoist]="$("$HOIST" version | head -1)"

BR="buildah --root $WORK/buildah-root --runroot $WORK/buildah-run --storage-driver overlay"
if ! $BR from --tls-verify=false "$BASE" >/dev/null 2>&1; then
  log "overlay storage does not work here; buildah uses vfs"
  BR="buildah --root $WORK/buildah-root --runroot $WORK/buildah-run --storage-driver vfs"
fi
$BR rm --all >/dev/null 2>&1 || true
BUILD[buildah]="$BR bud --quiet --layers --isolation chroot --tls-verify=false --pull=missing --build-arg BASE=\"\$BASE\" -t \"\$TAG\" \"\$CTX\" >/dev/null"
NOCACHE[buildah]="$BR rm --all >/dev/null 2>&1; $BR rmi --all --force >/dev/null 2>&1; true"
PUSH[buildah]="$BR push --quiet --tls-verify=false \"\$TAG\" \"docker://\$DEST\" >/dev/null"
PUSH_PREP[buildah]="rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb $WORK/buildah-root/cache/blob-info-cache-v1.boltdb"
VERSION[buildah]="$(buildah --version | cut -d' ' -f1-3), overlay/vfs, --isolation chroot"

# --- measurements -------------------------------------------------------------
declare -A MED RUNSOF
hf() { # builder case prepare command
  local b=$1 c=$2 j=$WORK/hf-$1-$2.json
  log "$b: $c"
  hyperfine --style none --runs "$RUNS" --prepare "$3" --export-json "$j" "bash -c '$4'" >/dev/null
  MED[$b.$c]=$(jq -r '.results[0].median*1000|round/1000' "$j")
  RUNSOF[$b.$c]=$(jq -r '[.results[0].times[]*1000|round/1000|tostring]|join(", ")' "$j")
}
for b in $BUILDERS; do
  export B_BUILD=${BUILD[$b]} B_PUSH=${PUSH[$b]}
  hf "$b" cold "${NOCACHE[$b]}" 'eval "$B_BUILD"'
  hf "$b" warm true 'eval "$B_BUILD"'
  hf "$b" one_change "echo \"change \$(date +%s%N)\" >>$CHANGED" 'eval "$B_BUILD"'
  echo 0 >"$WORK/push-counter"
  hf "$b" push_cold "${PUSH_PREP[$b]}; echo \$((\$(cat $WORK/push-counter) + 1)) >$WORK/push-counter" \
    "DEST=$REGISTRY/bench/$b-cold-\$(cat $WORK/push-counter):latest; eval \"\$B_PUSH\""
  (DEST=$REGISTRY/bench/$b-warm:latest; eval "$B_PUSH") # the first push of the warm repository
  hf "$b" push_warm true "DEST=$REGISTRY/bench/$b-warm:latest; eval \"\$B_PUSH\""
  # the pushed image must hold the project
  n=$(skopeo inspect --tls-verify=false "docker://$REGISTRY/bench/$b-warm:latest" | jq '.Layers | length')
  [ "$n" -ge 3 ] || die "$b: the pushed image has $n layers"
done

# --- table ---------------------------------------------------------------------
echo
echo "## Build: hoist vs buildah (bench/build.sh), $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
for b in $BUILDERS; do echo "- $b: ${VERSION[$b]}"; done
echo
echo "Medians of $RUNS runs (all runs beside them); ratio = buildah / hoist (> 1: hoist is faster)."
echo
echo "| case | hoist (s) | runs | buildah (s) | runs | buildah / hoist |"
echo "| --- | ---: | --- | ---: | --- | ---: |"
for c in cold warm one_change push_cold push_warm; do
  h=${MED[hoist.$c]:-} p=${MED[buildah.$c]:-} r=-
  [ -n "$h" ] && [ -n "$p" ] && r=$(awk -v a="$p" -v b="$h" 'BEGIN { printf "%.2f", a / b }')
  echo "| $c | **${h:--}** | ${RUNSOF[hoist.$c]:-} | ${p:--} | ${RUNSOF[buildah.$c]:-} | $r |"
done
