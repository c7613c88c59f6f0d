#!/usr/bin/env bash
# bench/copy.sh: `hoist copy` vs `skopeo copy` of one multi-layer image.
#
#   bench/copy.sh [--layers N] [--total-mib M] [--runs R] [--jobs J] [--out FILE]
#   defaults: 8 layers, 300 MiB in all, 3 runs, hoist's default --jobs
#
# Setup: an image of N gzip layers of seeded random data (M MiB in all,
# tests/transfer/make_image.py) is pushed to a source registry (`hoist
# registry serve` on 127.0.0.1). Every measurement then copies it from
# there, into a destination registry on a fresh root (another hoist
# registry process, restarted per measurement) or into a fresh OCI layout:
#
#   reg->reg     hoist copy SRC/bench/img:v1 DST/bench/img:v1   (skopeo: docker:// both sides)
#   reg->oci     hoist copy SRC/bench/img:v1 oci:DIR:v1         (skopeo: oci:DIR:v1)
#   reg->reg 2nd the same reg->reg copy again, the destination already has it
#
# Reports the median wall time (and MiB/s) per case and tool, and the
# ratio skopeo/hoist, as a Markdown table on stdout (and in --out FILE).
# Loopback only; every process it starts is stopped by PID on exit.
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
cd "$(dirname "$0")/.."

LAYERS=8 TOTAL_MIB=300 RUNS=3 JOBS="" OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --layers) LAYERS=$2; shift 2 ;;
    --total-mib) TOTAL_MIB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: bench/copy.sh [--layers N] [--total-mib M] [--runs R] [--jobs J] [--out FILE]" >&2; exit 2 ;;
  esac
done
HOIST=${HOIST:-build/cli/hoist}
[ -x "$HOIST" ] || { echo "bench/copy.sh: build hoist first (or set HOIST)" >&2; exit 2; }
HOIST=$(cd "$(dirname "$HOIST")" && pwd)/$(basename "$HOIST")
command -v skopeo >/dev/null || { echo "bench/copy.sh: skopeo is not installed (scripts/setup.sh bench)" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/hoist-bench-copy.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$T"
}
trap cleanup EXIT
log() { echo "[bench/copy] $*" >&2; }

# start_registry NAME: a hoist registry on a fresh root; sets REG_PID, REG_ADDR.
start_registry() {
  rm -rf "${T:?}/$1"
  read -r REG_PID REG_ADDR < <(bash bench/lib/start-hoist.sh "$HOIST" "$T/$1")
  PIDS+=("$REG_PID")
}
stop_registry() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}

now() { date +%s.%N; }
# timed CMD...: runs CMD quietly, prints its wall time in seconds.
timed() {
  local t0 t1
  t0=$(now)
  "$@" >/dev/null 2>"$T/last.err" || { cat "$T/last.err" >&2; echo "bench/copy: failed: $*" >&2; exit 1; }
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}' 
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

per=$((TOTAL_MIB * 1024 / LAYERS))
sizes=$(for _ in $(seq 1 "$LAYERS"); do printf '%s,' "$per"; done)
log "making an image of $LAYERS layers x $per KiB"
/usr/bin/python3 tests/transfer/make_image.py "$T/image" v1 "${sizes%,}" 42 >/dev/null
BYTES=$(du -sb "$T/image/blobs" | cut -f1)
start_registry src
SRC=$REG_ADDR
"$HOIST" copy -q "oci:$T/image:v1" "$SRC/bench/img:v1" >/dev/null
HJ=()
[ -n "$JOBS" ] && HJ=(--jobs "$JOBS")
SK=(skopeo --insecure-policy copy -q --src-tls-verify=false --dest-tls-verify=false)

declare -A RES
for ((run = 1; run <= RUNS; run++)); do
  for tool in hoist skopeo; do
    log "run $run/$RUNS: $tool"
    start_registry "dst-$tool"
    DST=$REG_ADDR
    if [ "$tool" = hoist ]; then
      RES[$tool,rr]+="$(timed "$HOIST" copy -q "${HJ[@]}" "$SRC/bench/img:v1" "$DST/bench/img:v1") "
      RES[$tool,rr2]+="$(timed "$HOIST" copy -q "${HJ[@]}" "$SRC/bench/img:v1" "$DST/bench/img:v1") "
      rm -rf "$T/oci-$tool"
      RES[$tool,ro]+="$(timed "$HOIST" copy -q "${HJ[@]}" "$SRC/bench/img:v1" "oci:$T/oci-$tool:v1") "
    else
      RES[$tool,rr]+="$(timed "${SK[@]}" "docker://$SRC/bench/img:v1" "docker://$DST/bench/img:v1") "
      RES[$tool,rr2]+="$(timed "${SK[@]}" "docker://$SRC/bench/img:v1" "docker://$DST/bench/img:v1") "
      rm -rf "$T/oci-$tool"
      RES[$tool,ro]+="$(timed "${SK[@]}" "docker://$SRC/bench/img:v1" "oci:$T/oci-$tool:v1") "
    fi
    stop_registry "$REG_PID"
  done
done

{
  echo "### hoist copy vs skopeo copy ($LAYERS layers, $((BYTES / 1048576)) MiB, median of $RUNS, $(nproc) cores)"
  echo
  echo "| case | hoist s | hoist MiB/s | skopeo s | skopeo MiB/s | skopeo/hoist |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for c in rr ro rr2; do
    h=$(tr ' ' '\n' <<<"${RES[hoist,$c]}" | grep . | median)
    s=$(tr ' ' '\n' <<<"${RES[skopeo,$c]}" | grep . | median)
    name=$(case $c in rr) echo "registry -> registry" ;; ro) echo "registry -> oci" ;;
      rr2) echo "registry -> registry, 2nd copy" ;; esac)
    awk -v n="$name" -v h="$h" -v s="$s" -v b="$BYTES" \
      'BEGIN {printf "| %s | %.3f | %.0f | %.3f | %.0f | %.2fx |\n", n, h, b / 1048576 / h, s, b / 1048576 / s, s / h}' 
  done
  h1=$(tr ' ' '\n' <<<"${RES[hoist,rr]}" | grep . | median)
  h2=$(tr ' ' '\n' <<<"${RES[hoist,rr2]}" | grep . | median)
  awk -v a="$h1" -v b="$h2" 'BEGIN {printf "\nhoist second copy / first copy: %.1f%%\n", 100 * b / a}' 
  echo
  echo "Reproduce: bench/copy.sh --layers $LAYERS --total-mib $TOTAL_MIB --runs $RUNS${JOBS:+ --jobs $JOBS}"
} | tee "${OUT:-/dev/null}"
