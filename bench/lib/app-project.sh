# shellcheck shell=bash
# bench/lib/app-project.sh — sourced by bench scripts. `make_app_project DIR`
# makes the shared peer project (../shared/bench/build-bench.sh, same
# generator, same bytes) in DIR, once: 2,000 text files of 1-8 KiB in
# src/dir00..dir19, one 100 MiB incompressible big.bin, and a two-stage
# Dockerfile (COPY, a RUN that writes 202 files, COPY --from, ARG, ENV,
# WORKDIR, LABEL, CMD) FROM ${BASE}. The caller defines log().
make_app_project() { # DIR
  local APP=$1
  [ -f "$APP/.complete" ] && return 0
  log "making the app project in $APP"
  rm -rf "$APP"
  mkdir -p "$APP/src"
  /usr/bin/python3 - "$APP/src" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20261126)
words = ("alpha beta gamma delta layer blob digest manifest index config tar gzip "
         "oci image registry push pull build stage copy run env arg label cmd "
         "workdir cache chunk upload mount tag").split()
for i in range(2000):
    d = os.path.join(root, "dir%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    size = rng.randint(1024, 8192)
    parts, n = [], 0
    while n < size:
        w = rng.choice(words) if rng.random() < 0.7 else "%08x" % rng.getrandbits(32)
        parts.append(w); n += len(w) + 1
    text = (" ".join(parts))[:size - 1] + "\n"
    with open(os.path.join(d, "file%04d.txt" % i), "w") as f:
        f.write(text)
PY
  (set +o pipefail # openssl ends on SIGPIPE once head has its bytes
    openssl enc -aes-128-ctr -nosalt -pass pass:build-bench-100MiB -pbkdf2 </dev/zero 2>/dev/null |
      head -c $((100 << 20)) >"$APP/big.bin")
  cat >"$APP/Dockerfile" <<'EOF'
ARG BASE=127.0.0.1:5000/base:latest
FROM ${BASE} AS build
ARG APP_VERSION=1.0
ENV APP_HOME=/app APP_VERSION=${APP_VERSION}
WORKDIR /app
COPY src/ /app/src/
COPY big.bin /app/data/big.bin
RUN sh -c 'mkdir -p /app/gen && i=0; while [ $i -lt 200 ]; do echo "generated $i $APP_VERSION" > /app/gen/f$i.txt; i=$((i+1)); done; find /app/src -type f | wc -l > /app/gen/count; cat /app/src/dir00/* | sha256sum > /app/gen/sum'

FROM ${BASE}
ARG APP_VERSION=1.0
LABEL org.opencontainers.image.title="build-bench reference app" org.opencontainers.image.version="${APP_VERSION}"
ENV APP_HOME=/app
WORKDIR /app
COPY --from=build /app/gen /app/gen
COPY --from=build /app/src /app/src
COPY --from=build /app/data/big.bin /app/data/big.bin
CMD ["sh", "-c", "cat /app/gen/count"]
EOF
  touch "$APP/.complete"
}
