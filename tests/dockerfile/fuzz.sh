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
# shellcheck source=../support/fuzz_lib.sh
source "$ROOT/tests/support/fuzz_lib.sh"
FUZZ_LIBS=-lcrypto fuzz_build "$OUT" dockerfile_fuzzer "$ROOT/builder/dockerfile $ROOT/common" \
  "$ROOT"/builder/dockerfile/*.cc "$ROOT"/common/{status,digest,names,reference}.cc \
  "$ROOT/tests/dockerfile/fuzz/dockerfile_fuzzer.cc"

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

fuzz_run "$OUT" dockerfile_fuzzer -max_len=8192 -dict="$ROOT/tests/dockerfile/fuzz/dockerfile.dict" \
  "$OUT/corpus" "$OUT/seeds"
