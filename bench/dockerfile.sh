#!/usr/bin/env bash
# Dockerfile frontend speed: hyperfine times `hoist dockerfile parse` on a
# generated 10,000-line multi-stage Dockerfile (parse, instruction checks,
# ARG scoping, expansion and stage graph; and --dump, the parser alone).
# The issue's bar: well under 100 ms.
#
#   bench/dockerfile.sh                 # uses build/cli/hoist
#   HOIST=build-df/cli/hoist LINES=20000 bench/dockerfile.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOIST=${HOIST:-$ROOT/build/cli/hoist}
LINES=${LINES:-10000}
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "bench/dockerfile.sh: hyperfine is not installed" >&2; exit 2; }
[[ -x $HOIST ]] || { echo "bench/dockerfile.sh: no hoist binary at $HOIST (build it, or set HOIST)" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DF=$WORK/Dockerfile

# Blocks of 25 lines: a stage with ARGs, ENV, a continued RUN with a cache
# mount, a heredoc, COPY --from the previous stage, comments and labels.
awk -v lines="$LINES" 'BEGIN {
  print "# syntax=docker/dockerfile:1"
  print "ARG BASE=alpine:3.19"
  print "ARG VERSION=1.0.0"
  n = 3; s = 0
  while (n + 25 <= lines) {
    if (s == 0) print "FROM ${BASE} AS s0"; else printf "FROM s%d AS s%d\n", s - 1, s
    print "ARG VERSION"
    printf "ARG STEP=%d\n", s
    printf "ENV APP_HOME=/opt/app/$STEP PATH=/opt/app/bin:$PATH VERSION=${VERSION:-dev}\n"
    print "# install build dependencies for this step"
    print "RUN --mount=type=cache,target=/var/cache/apk \\"
    print "    apk add --no-cache build-base git curl \\"
    print "    && mkdir -p \"$APP_HOME\" \\"
    print "    && echo \"step $STEP\" > \"$APP_HOME/step\""
    print "WORKDIR ${APP_HOME}"
    printf "LABEL org.opencontainers.image.version=\"${VERSION}\" step=\"%d\"\n", s
    print "COPY <<EOF /etc/motd"
    print "hello from step $STEP"
    print "EOF"
    if (s == 0) print "COPY --chown=1000:1000 . ."; else printf "COPY --from=s%d --chown=1000:1000 /opt/app /opt/app\n", s - 1
    print "RUN [\"/bin/sh\", \"-c\", \"echo exec form\"]"
    print "EXPOSE 8080/tcp 9000-9002"
    print "USER 1000:1000"
    print "HEALTHCHECK --interval=30s --timeout=3s CMD wget -q -O- http://localhost:8080/ || exit 1"
    print "VOLUME [\"/data\"]"
    print "STOPSIGNAL SIGTERM"
    print "ONBUILD RUN echo triggered"
    print "SHELL [\"/bin/sh\", \"-c\"]"
    print "ENTRYPOINT [\"/opt/app/bin/app\"]"
    print "CMD [\"--serve\"]"
    n += 25; s++
  }
  while (n < lines) { print "# padding"; n++ }
}' > "$DF"

echo "generated $(wc -l < "$DF") lines, $(grep -c '^FROM' "$DF") stages: $DF"
"$HOIST" dockerfile parse "$DF" | sed -n 1p
hyperfine --warmup 3 --runs "$RUNS" -N \
  "$HOIST dockerfile parse $DF" \
  "$HOIST dockerfile parse --dump $DF" \
  "$HOIST dockerfile parse --json $DF"
