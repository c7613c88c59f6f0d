#!/usr/bin/env bash
# Builds the registry HTTP front's libFuzzer target (clang, ASan + UBSan;
# tests/registry/fuzz/http_fuzzer.cc) in its own directory and runs it for
# a bounded time over the request corpus in tests/registry/fuzz/corpus.
# Non-zero on a crash, leak, hang or sanitizer report.
#
#   tests/registry/fuzz_http.sh                # 60 s
#   FUZZ_SECONDS=600 tests/registry/fuzz_http.sh
#   tests/registry/fuzz_http.sh path/to/crash  # replay one input
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Beside the hoist build under test (ctest sets HOIST), else in build/.
OUT=${FUZZ_DIR:-$(dirname "$(dirname "${HOIST:-$ROOT/build/cli/hoist}")")/fuzz-http}
# shellcheck source=../support/fuzz_lib.sh
source "$ROOT/tests/support/fuzz_lib.sh"
FUZZ_LIBS="-lssl -lcrypto -lpthread" fuzz_build "$OUT" http_fuzzer "$ROOT/registry/http $ROOT/common" \
  "$ROOT/registry/http/server.cc" "$ROOT"/common/{status,log,url}.cc \
  "$ROOT/tests/registry/fuzz/http_fuzzer.cc"
if (($# > 0)); then
  exec "$OUT/http_fuzzer" "$@"
fi
cp "$ROOT"/tests/registry/fuzz/corpus/* "$OUT/seeds/"
fuzz_run "$OUT" http_fuzzer -max_len=4096 -dict="$ROOT/tests/registry/fuzz/http.dict" \
  "$OUT/corpus" "$OUT/seeds"
