# shellcheck shell=bash
# tests/support/fuzz_lib.sh: builds and runs a libFuzzer target (clang,
# ASan + UBSan) in its own directory, for the bounded fuzz tests
# (tests/dockerfile/fuzz.sh, tests/registry/fuzz_http.sh).
#
#   source tests/support/fuzz_lib.sh
#   fuzz_build OUT NAME "HEADER DIRS" SOURCES...   # -> $OUT/NAME
#   fuzz_run OUT NAME [libFuzzer flags and corpus dirs...]
#
# Environment: FUZZ_SECONDS (default 60), FUZZ_CXX (default clang++),
# FUZZ_JOBS (parallel compiles, default 2), FUZZ_LIBS (extra link flags).
FUZZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_CXX=${FUZZ_CXX:-clang++}
FUZZ_FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
            -fno-sanitize-recover=undefined -Wall -Wextra -I"$FUZZ_ROOT")

# fuzz_build OUT NAME "HEADER DIRS" SOURCES...: compiles what changed (a
# header change in HEADER DIRS recompiles everything) and links OUT/NAME.
fuzz_build() {
  local out=$1 name=$2 header_dirs=$3 src obj newest probe
  shift 3
  mkdir -p "$out/obj" "$out/corpus" "$out/seeds" "$out/artifacts"
  # libFuzzer is clang's runtime (Debian libclang-rt-dev, a test package in
  # scripts/setup.sh); without it the test fails rather than passing silently.
  probe=$out/probe.cc
  printf 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }\n' >"$probe"
  if ! "$FUZZ_CXX" -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
    echo "fuzz: $FUZZ_CXX cannot build a libFuzzer target (run scripts/setup.sh test)" >&2
    return 1
  fi
  # shellcheck disable=SC2086  # HEADER DIRS is a list
  newest=$(find $header_dirs \( -name '*.h' -o -name '*.inc' \) -print0 | xargs -0 ls -t | head -1)
  local pids=() objs=()
  for src in "$@"; do
    obj="$out/obj/$(echo "${src#"$FUZZ_ROOT"/}" | tr / _).o"
    objs+=("$obj")
    if [[ ! -f $obj || $src -nt $obj || $newest -nt $obj ]]; then
      "$FUZZ_CXX" "${FUZZ_FLAGS[@]}" -c "$src" -o "$obj" &
      pids+=($!)
      if ((${#pids[@]} >= ${FUZZ_JOBS:-2})); then
        wait "${pids[0]}"
        pids=("${pids[@]:1}")
      fi
    fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
  # shellcheck disable=SC2086  # FUZZ_LIBS is a list of flags
  "$FUZZ_CXX" -fsanitize=fuzzer,address,undefined "${objs[@]}" ${FUZZ_LIBS:-} -o "$out/$name"
}

# fuzz_run OUT NAME ARGS...: runs OUT/NAME for FUZZ_SECONDS over ARGS
# (corpus directories, -dict=..., -max_len=...); non-zero on a crash, leak,
# timeout or sanitizer report (the reproducer is left in OUT/artifacts/).
fuzz_run() {
  local out=$1 name=$2
  shift 2
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$out/$name" -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$@"
}
