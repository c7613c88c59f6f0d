#!/usr/bin/env bash
# Layer compression throughput: hoist's parallel gzip and zstd beside
# gzip -6, pigz -6 -p2 and zstd -3, on text and on random (incompressible)
# data, in one run on one machine (figures from other runs do not compare).
#
#   bash bench/layer.sh                    # 100 MiB inputs, median of 3
#   MB=16 RUNS=1 bash bench/layer.sh       # smoke run, a few seconds
#
# Inputs (same recipe as the shared peer baselines, section 3):
#   text:   uncompressed files under /usr/include, /usr/share/doc,
#           /usr/share/perl*, /usr/lib/python3*, concatenated in sorted order
#   random: an AES-CTR keystream (deterministic, does not compress)
# Columns: median wall seconds, MB/s of input (10^6 B/s), CPU seconds
# (user+sys) of that run, output bytes, output/input ratio.
# "hoist layer" writes a whole layer (tar + diff ID + gzip + blob digest).
set -euo pipefail
cd "$(dirname "$0")/.."

MB=${MB:-100}
RUNS=${RUNS:-3}
BUILD=${BUILD:-build}
BENCH=$BUILD/tests/layer_bench

for tool in gzip pigz zstd openssl; do
  command -v $tool >/dev/null || { echo "layer.sh: needs $tool (scripts/setup.sh bench)" >&2; exit 1; }
done
if [ ! -x "$BENCH" ]; then
  cmake -S . -B "$BUILD" >/dev/null && make -C "$BUILD" -j2 layer_bench >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-layer-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
BYTES=$((MB * 1024 * 1024))

find /usr/include /usr/share/doc /usr/share/perl* /usr/lib/python3* -type f \
  ! -name '*.gz' ! -name '*.bz2' ! -name '*.xz' ! -name '*.zst' ! -name '*.pyc' \
  ! -name '*.so*' 2>/dev/null | LC_ALL=C sort | xargs cat 2>/dev/null | head -c $BYTES > "$WORK/text" || true
openssl enc -aes-256-ctr -pass pass:hoist-bench -nosalt -pbkdf2 < /dev/zero 2>/dev/null |
  head -c $BYTES > "$WORK/random" || true
for f in text random; do
  [ "$(stat -c %s "$WORK/$f")" -eq $BYTES ] || { echo "layer.sh: could not make $MB MiB of $f" >&2; exit 1; }
done

# run NAME INPUT CMD...: CMD reads $IN and writes $OUT; prints one table row.
run() {
  local name=$1 input=$2
  shift 2
  local times=() cpu=() i
  for ((i = 0; i < RUNS; i++)); do
    IN="$WORK/$input" OUT="$WORK/out" /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
      bash -c "$*" >/dev/null
    read -r e u s < "$WORK/time"
    times+=("$e")
    cpu+=("$(echo "$u + $s" | bc)")
  done
  local mid=$((RUNS / 2)) med medcpu
  med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$((mid + 1))p")
  medcpu=$(printf '%s\n' "${cpu[@]}" | sort -n | sed -n "$((mid + 1))p")
  local out
  out=$(stat -c %s "$WORK/out")
  printf '%-7s %-26s %7.3f s %8.1f MB/s %6.2f CPU-s %11d B  %.4f   (runs: %s)\n' \
    "$input" "$name" "$med" "$(echo "$BYTES / $med / 1000000" | bc -l)" "$medcpu" "$out" \
    "$(echo "$out / $BYTES" | bc -l)" "${times[*]}"
}

echo "layer.sh: $MB MiB inputs, median of $RUNS, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for input in text random; do
  run "gzip -6"                 $input 'gzip -6 -c "$IN" > "$OUT"'
  run "pigz -6 -p2"             $input 'pigz -6 -p 2 -c "$IN" > "$OUT"'
  run "hoist gzip -6, 1 thread"  $input "$BENCH --compression gzip --level 6 --threads 1 --out \"\$OUT\" \"\$IN\""
  run "hoist gzip -6, 2 threads" $input "$BENCH --compression gzip --level 6 --threads 2 --out \"\$OUT\" \"\$IN\""
  run "zstd -3 -T2"             $input 'zstd -q -3 -T2 -c "$IN" > "$OUT"'
  run "hoist zstd -3, 2 threads" $input "$BENCH --compression zstd --level 3 --threads 2 --out \"\$OUT\" \"\$IN\""
  run "hoist layer gzip, 2 thr" $input "$BENCH --layer --compression gzip --threads 2 --out \"\$OUT\" \"\$IN\""
done
