#!/usr/bin/env bash
# bench/engine.sh: `docker build` (the real docker CLI) through `hoist engine`,
# with BuildKit's session API (Debian's docker client, 20.10) and with the
# classic builder API (the machine's), against `hoist build` directly, on the shared peer
# project (bench/lib/app-project.sh: 2,000 small files, a 100 MiB file, two
# stages with RUN), in one run:
#
#   cold   every local image, layer and cache entry removed first (for the
#          engine: its store removed and the engine restarted, untimed)
#   warm   a rebuild with nothing changed (a no-op: every step cached)
#
#   bench/engine.sh                  # RUNS=5 each
#   RUNS=3 bench/engine.sh
#   PRIME=0 bench/engine.sh          # skip filling the page cache first (bench/lib/prime.sh)
#
# Prints a Markdown table of medians (hyperfine) with the engine's overhead
# (engine - direct, in ms and %), and the floor of the classic builder API:
# the same `docker build` against a stub that only drops the context
# (bench/lib/drain-engine.py), since the CLI sends the whole context, 115 MB
# here, on every build. Loopback only; the registry and the engine
# it starts are stopped by PID on exit.
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
WORK=${WORK:-/tmp/hoist-bench-engine}
log() { echo "[bench/engine] $*" >&2; }
die() { log "$*"; exit 1; }

"$ROOT/scripts/setup.sh" bench >/dev/null
command -v docker >/dev/null || apt-get install -y -qq docker.io >/dev/null
for c in docker hyperfine skopeo jq; do command -v "$c" >/dev/null || die "$c is missing"; done
[ -x "${HOIST:-$ROOT/build/cli/hoist}" ] || die "build hoist first (./dev test)"
mkdir -p "$WORK"
# A rebuild during the run changes nothing; the BuildKit plugin goes beside.
cp "${HOIST:-$ROOT/build/cli/hoist}" "$WORK/hoist"
cp "$(dirname "${HOIST:-$ROOT/build/cli/hoist}")/hoist-buildkit.so" "$WORK/"
HOIST=$WORK/hoist

# shellcheck source=lib/run-registry.sh
. "$ROOT/bench/lib/run-registry.sh"
start_run_registry "$HOIST" "$WORK/registry"
[ -f "$WORK/base/index.json" ] || bash "$ROOT/testdata/make-base-image.sh" "$WORK/base" >&2
skopeo copy -q --insecure-policy --dest-tls-verify=false "oci:$WORK/base:latest" \
  "docker://$REGISTRY/base:latest" >/dev/null
BASE=$REGISTRY/base:latest
# shellcheck source=lib/app-project.sh
. "$ROOT/bench/lib/app-project.sh"
APP=$WORK/app
make_app_project "$APP"

# The engine: restarted on an empty store before each cold run
# ($WORK/engine-restart), stopped at exit.
SOCK=$WORK/engine.sock
cat >"$WORK/engine-restart" <<EOF
#!/usr/bin/env bash
set -euo pipefail
if [ -s "$WORK/engine.pid" ]; then
  pid=\$(cat "$WORK/engine.pid")
  if kill "\$pid" 2>/dev/null; then
    for _ in \$(seq 100); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.05; done
  fi
fi
[ "\${1:-}" = stop ] && exit 0
[ "\${1:-}" = keep ] || rm -rf "$WORK/engine-home"
rm -f "$WORK/engine.addr"
HOIST_HOME="$WORK/engine-home" setsid "$HOIST" engine --socket "$SOCK" --registry "$REGISTRY" \\
  --addr-file "$WORK/engine.addr" >/dev/null 2>"$WORK/engine.log" </dev/null &
echo \$! >"$WORK/engine.pid"
for _ in \$(seq 100); do [ -s "$WORK/engine.addr" ] && exit 0; sleep 0.05; done
echo "hoist engine did not start" >&2; exit 1
EOF
chmod +x "$WORK/engine-restart"
trap '"$WORK/engine-restart" stop; stop_run_registry' EXIT
export DOCKER_HOST=unix://$SOCK DOCKER_BUILDKIT=0 DOCKER_CONFIG=$WORK/docker-config
mkdir -p "$DOCKER_CONFIG"

DIRECT="HOIST_HOME=$WORK/direct-home $HOIST build -q --build-arg BASE=$BASE -t app:bench $APP >/dev/null 2>&1"
ENGINE="docker build -q --build-arg BASE=$BASE -t app:bench $APP >/dev/null 2>&1"
# BuildKit's session API: Debian's docker client (20.10), whose built-in
# BuildKit client syncs only changed files (scripts/docker-buildkit-client.sh).
DOCKER_BK=$("$ROOT/scripts/docker-buildkit-client.sh")
BUILDKIT="DOCKER_BUILDKIT=1 $DOCKER_BK build -q --build-arg BASE=$BASE -t app:bench $APP >/dev/null 2>&1"

declare -A MED
run() { # name prepare command
  local json=$WORK/$1.json
  if [ -n "$2" ]; then
    hyperfine -N --runs "$RUNS" --prepare "$2" --export-json "$json" "bash -c '$3'" >&2
  else
    hyperfine -N --runs "$RUNS" --warmup 1 --export-json "$json" "bash -c '$3'" >&2
  fi
  MED[$1]=$(jq '.results[0].median' "$json")
}

# shellcheck source=lib/prime.sh
. "$ROOT/bench/lib/prime.sh"
if [ "${PRIME:-1}" = 1 ]; then
  log "primed the page cache with $(prime_page_cache "$WORK") MiB (PRIME=0 skips this)"
fi
log "cold builds, $RUNS runs each"
"$WORK/engine-restart"
run direct_cold "rm -rf $WORK/direct-home" "$DIRECT"
run engine_cold "$WORK/engine-restart" "$ENGINE"
run buildkit_cold "$WORK/engine-restart" "$BUILDKIT"
log "no-op rebuilds"
run direct_warm "" "$DIRECT"
run engine_warm "" "$ENGINE"
run buildkit_warm "" "$BUILDKIT"
# The floor: the same docker build against a stub that drops the context.
rm -f "$WORK/drain.sock" # a stale socket would pass the wait below
python3 "$ROOT/bench/lib/drain-engine.py" "$WORK/drain.sock" &
DRAIN_PID=$!
trap 'kill $DRAIN_PID 2>/dev/null || true; "$WORK/engine-restart" stop; stop_run_registry' EXIT
for _ in $(seq 100); do [ -S "$WORK/drain.sock" ] && break; sleep 0.05; done
run floor "" "DOCKER_HOST=unix://$WORK/drain.sock $ENGINE"

# The two paths made the same image (the same config, so the same ID).
direct_id=$(HOIST_HOME=$WORK/direct-home "$HOIST" build -q --build-arg "BASE=$BASE" "$APP" 2>/dev/null |
  tail -n 1)
engine_id=$(docker image inspect --format '{{.Id}}' app:bench)
bk_id=$(DOCKER_BUILDKIT=1 "$DOCKER_BK" build -q --build-arg "BASE=$BASE" "$APP" 2>/dev/null | tail -n 1)
direct_cfg=$(jq -r '.config.digest' "$WORK/direct-home/store/blobs/sha256/${direct_id#sha256:}")

printf '\n| case | hoist build | docker build via hoist engine, BuildKit session | overhead | classic builder API | overhead |\n| --- | ---: | ---: | ---: | ---: | ---: |\n'
for c in cold warm; do
  awk -v c="$c" -v d="${MED[direct_$c]}" -v b="${MED[buildkit_$c]}" -v e="${MED[engine_$c]}" 'BEGIN {
    printf "| %s | %.3f s | %.3f s | %+.0f ms (%+.1f%%) | %.3f s | %+.0f ms (%+.1f%%) |\n", c, d,
      b, (b - d) * 1000, (b / d - 1) * 100, e, (e - d) * 1000, (e / d - 1) * 100 }'
done
awk -v f="${MED[floor]}" 'BEGIN { printf "\nfloor: the docker CLI sending the context to a stub that drops it (bench/lib/drain-engine.py): %.3f s\n", f }'
echo
echo "image IDs: hoist build $direct_cfg, via the engine $engine_id (classic), $bk_id (BuildKit) ($([ "$direct_cfg" = "$engine_id" ] && [ "$direct_cfg" = "$bk_id" ] && echo same || echo DIFFERENT))"
echo "$(docker version --format 'docker CLI {{.Client.Version}}, engine {{.Server.Version}}'), $RUNS runs, medians"
