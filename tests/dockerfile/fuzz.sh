#!/usr/bin/env bash
# Builds the Dockerfile frontend's libFuzzer target (clang, ASan + UBSan)
# in its own directory and runs it for a bounded time over a corpus seeded
# from testdata/dockerfile. Exit status non-zero = a crash, leak, timeout or
# sanitizer report (the reproducer is left in $FUZZ_DIR/artifacts/).
#
#   tests/dockerfile/fuzz.sh                # 60 s
#   FUZZ_SECONDS=600 tests/dockerfile/fuzz.sh
#   tests/dockerfile/fuzz.sh path/to/crash  # replay one input
#
# Environment: FUZZ_DIR (default build-fuzz-dockerfile), FUZZ_SECONDS,
# FUZZ_CXX (default clang++), FUZZ_JOBS (parallel compiles, default 2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_DIR:-$ROOT/build-fuzz-dockerfile}
SECONDS_BUDGET=${FUZZ_SECONDS:-60}
CXX=${FUZZ_CXX:-clang++}
JOBS=${FUZZ_JOBS:-2}
FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -Wall -Wextra -I"$ROOT")

mkdir -p "$OUT/obj" "$OUT/corpus" "$OUT/seeds" "$OUT/artifacts"

# libFuzzer is clang's runtime (Debian libclang-rt-dev, a test package in
# scripts/setup.sh); without it this test fails rather than passing silently.
probe=$OUT/probe.cc
printf 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }\n' > "$probe"
if ! "$CXX" -fsanitize=fuzzer "$probe" -o "$OUT/probe" 2>/dev/null; then
  echo "fuzz.sh: $CXX cannot build a libFuzzer target (run scripts/setup.sh test)" >&2
  exit 1
fi

# Compile what changed (a header change recompiles everything).
SOURCES=("$ROOT"/builder/dockerfile/*.cc "$ROOT"/common/{status,digest,names,reference}.cc
         "$ROOT/tests/dockerfile/fuzz/dockerfile_fuzzer.cc")
newest_header=$(find "$ROOT/builder/dockerfile" "$ROOT/common" -name '*.h' -o -name '*.inc' | xargs ls -t | head -1)
pids=()
objs=()
for src in "${SOURCES[@]}"; do
  obj="$OUT/obj/$(echo "${src#"$ROOT"/}" | tr / _).o"
  objs+=("$obj")
  if [[ ! -f $obj || $src -nt $obj || $newest_header -nt $obj ]]; then
    "$CXX" "${FLAGS[@]}" -c "$src" -o "$obj" &
    pids+=($!)
    if (( ${#pids[@]} >= JOBS )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done
"$CXX" -fsanitize=fuzzer,address,undefined "${objs[@]}" -lcrypto -o "$OUT/dockerfile_fuzzer"

if (( $# > 0 )); then
  exec "$OUT/dockerfile_fuzzer" "$@"
fi

# Seeds: BuildKit's parser cases, our regression inputs, shell-word vectors.
TD=$ROOT/testdata/dockerfile
i=0
for f in "$TD"/parser-cases/*/Dockerfile "$TD"/parser-negative-cases/*/Dockerfile \
         "$TD"/fuzz-regressions/* "$TD"/envVarTest "$TD"/wordsTest; do
  [[ -f $f ]] && cp "$f" "$OUT/seeds/seed-$((i++))"
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$OUT/dockerfile_fuzzer" -max_total_time="$SECONDS_BUDGET" -timeout=10 -rss_limit_mb=2048 \
  -max_len=8192 -print_final_stats=1 -dict="$ROOT/tests/dockerfile/fuzz/dockerfile.dict" \
  -artifact_prefix="$OUT/artifacts/" "$OUT/corpus" "$OUT/seeds"
