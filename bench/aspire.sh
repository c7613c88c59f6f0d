#!/usr/bin/env bash
# bench/aspire.sh: the example app host (examples/aspire: the .NET Aspire
# integration in aspire/) vs `hoist up -d` on the same declaration
# (examples/hoist.yaml: a registry, an import, two Dockerfile builds, a
# command image), cold and warm, in one run.
#
#   bench/aspire.sh [--runs N] [--out FILE]      (default 5 runs)
#
# cold: empty registry storage and an empty build cache ($HOIST_HOME);
# warm: both kept from the run before (nothing is rebuilt, only checked).
# Wall times from the command's start:
#   hoist up -d        until it returns (registry healthy, every image pushed)
#   aspire baseline    an app host of the same packages whose only resource is
#                      `hoist registry serve` as a plain executable with an
#                      HTTP health check: until it is healthy (Aspire's own
#                      start-up: DCP, the dashboard, a process, a health check)
#   aspire pushed      the example app host, until the integration prints
#                      "all 4 image(s) pushed"
# and what the integration adds beyond Aspire's start-up and hoist's own work:
#   (aspire pushed - aspire baseline) - (hoist up -d).
# Prints medians as a Markdown table (and into --out FILE).
#
# The app hosts are Release builds run directly (dashboard on 127.0.0.1:15180);
# the example's storage (examples/aspire/.hoist/registry and .hoist/work) is
# removed for each cold run. hoist up runs on a copy of examples/ in a scratch
# folder. Loopback only; every process it starts is stopped by PID (an app
# host with SIGTERM, which stops what DCP started for it).
set -euo pipefail
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUNS=5 OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: bench/aspire.sh [--runs N] [--out FILE]" >&2; exit 2 ;;
  esac
done
die() { echo "bench/aspire.sh: $*" >&2; exit 1; }

HOIST=${HOIST:-build/cli/hoist}
[ -x "$HOIST" ] || die "build hoist first (./dev run -d, or cmake --build build), or set HOIST"
HOIST=$(cd "$(dirname "$HOIST")" && pwd)/$(basename "$HOIST")
command -v dotnet >/dev/null || die "dotnet is not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/hoist-bench-aspire.XXXXXX")
APP_PID="" UP_FILE=""
cleanup() {
  if [ -n "$APP_PID" ]; then kill -TERM "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
  if [ -n "$UP_FILE" ]; then "$HOIST" down -f "$UP_FILE" >/dev/null 2>&1 || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

# The declaration for hoist up, in a scratch copy (make-base.sh finds
# ../testdata/make-base-image.sh from there).
mkdir -p "$T/up/examples" "$T/up/testdata"
cp -r examples/hoist.yaml examples/make-base.sh examples/app examples/web "$T/up/examples/"
cp testdata/make-base-image.sh "$T/up/testdata/"
[ -f examples/.hoist/base/index.json ] || examples/make-base.sh >/dev/null
mkdir -p "$T/up/examples/.hoist" && cp -r examples/.hoist/base "$T/up/examples/.hoist/base"
UP_FILE=$T/up/examples/hoist.yaml

# The baseline: Aspire with one plain executable resource and a health check.
mkdir -p "$T/baseline"
sed -e '/ProjectReference/d' -e '/<Import Project/d' -e '/HoistPath/d' -e '/HoistPath MSBuild/d' \
  examples/aspire/HoistExample.AppHost.csproj >"$T/baseline/Baseline.AppHost.csproj"
cat >"$T/baseline/AppHost.cs" <<'CS'
var builder = DistributedApplication.CreateBuilder(args);
var root = Environment.GetEnvironmentVariable("BASELINE_ROOT")!;
var registry = builder.AddExecutable("registry", Environment.GetEnvironmentVariable("HOIST_PATH")!, root)
    .WithHttpEndpoint(name: "http");
var port = registry.GetEndpoint("http").Property(EndpointProperty.TargetPort);
registry.WithArgs(c => { c.Args.Add("registry"); c.Args.Add("serve"); c.Args.Add("--root"); c.Args.Add(root);
                         c.Args.Add("--addr"); c.Args.Add(ReferenceExpression.Create($"127.0.0.1:{port}")); })
    .WithHttpHealthCheck("/v2/");
builder.Eventing.Subscribe<ResourceReadyEvent>(registry.Resource, (e, ct) =>
{
    Console.WriteLine("baseline: the registry is healthy");
    return Task.CompletedTask;
});
builder.Build().Run();
CS

echo "building the app hosts (Release)..." >&2
for proj in examples/aspire "$T/baseline"; do
  dotnet build "$proj" -c Release -v q -nologo >"$T/build.log" 2>&1 || { cat "$T/build.log" >&2; die "$proj did not build"; }
done
APPHOST=examples/aspire/bin/Release/net10.0/HoistExample.AppHost
BASELINE=$T/baseline/bin/Release/net10.0/Baseline.AppHost
[ -x "$APPHOST" ] && [ -x "$BASELINE" ] || die "an app host is missing after the build"

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

run_up() { # cold|warm
  [ "$1" = cold ] && { rm -rf "$T/home-up" "$T/up/examples/.hoist/registry" "$T/up/examples/.hoist/work"; }
  mkdir -p "$T/home-up"
  local t0 t1
  t0=$(now)
  HOIST_HOME=$T/home-up DOCKER_CONFIG=$T "$HOIST" up -d -f "$UP_FILE" >"$T/up.log" 2>&1 || { cat "$T/up.log" >&2; die "hoist up failed"; }
  t1=$(now)
  "$HOIST" down -f "$UP_FILE" >/dev/null
  grep -q 'failed' "$T/up/examples/.hoist/state.json" && die "an image failed under hoist up"
  UP_S=$(secs "$t0" "$t1")
}

# start_apphost BINARY LOG HOIST_HOME: runs an app host in the background (APP_PID).
start_apphost() {
  HOIST_PATH=$HOIST HOIST_HOME=$3 DOCKER_CONFIG=$T DOTNET_ENVIRONMENT=Development \
    ASPNETCORE_URLS=http://127.0.0.1:15180 ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://127.0.0.1:19180 \
    ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL=http://127.0.0.1:20180 ASPIRE_ALLOW_UNSECURED_TRANSPORT=true \
    BASELINE_ROOT=$T/baseline-root "$1" >"$2" 2>&1 &
  APP_PID=$!
}

# wait_line LOG PATTERN: until LOG has PATTERN; sets AT (ns). Dies on a failed image or exit.
wait_line() {
  local deadline=$(( $(date +%s) + 300 ))
  until grep -q "$2" "$1"; do
    grep -q 'failed: ' "$1" && { cat "$1" >&2; die "an image failed under the app host"; }
    kill -0 "$APP_PID" 2>/dev/null || { cat "$1" >&2; die "the app host exited"; }
    [ "$(date +%s)" -lt "$deadline" ] || die "no '$2' within 300 s"
    sleep 0.02
  done
  AT=$(now)
}

stop_apphost() {
  kill -TERM "$APP_PID"
  wait "$APP_PID" 2>/dev/null || true
  APP_PID=""
}

run_baseline() { # cold|warm
  [ "$1" = cold ] && rm -rf "$T/baseline-root"
  mkdir -p "$T/baseline-root"
  local t0
  t0=$(now)
  start_apphost "$BASELINE" "$T/baseline.log" "$T/home-app"
  wait_line "$T/baseline.log" 'baseline: the registry is healthy'
  stop_apphost
  BASE_S=$(secs "$t0" "$AT")
}

run_apphost() { # cold|warm
  [ "$1" = cold ] && { rm -rf "$T/home-app" examples/aspire/.hoist/registry examples/aspire/.hoist/work; }
  mkdir -p "$T/home-app"
  local t0
  t0=$(now)
  start_apphost "$APPHOST" "$T/apphost.log" "$T/home-app"
  wait_line "$T/apphost.log" 'image(s) pushed in'
  stop_apphost
  PUSHED_S=$(secs "$t0" "$AT")
  INNER_S=$(sed -n 's/.*image(s) pushed in \([0-9.]*\) s.*/\1/p' "$T/apphost.log" | tail -1)
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A R
for ((i = 1; i <= RUNS; i++)); do
  for mode in cold warm; do
    # Alternate which tool goes first, so drift falls on both alike.
    if ((i % 2)); then order="up app"; else order="app up"; fi
    for tool in $order; do
      if [ "$tool" = up ]; then
        run_up "$mode"
        R[up.$mode]+="$UP_S "
        echo "run $i $mode: hoist up -d ${UP_S}s" >&2
      else
        run_baseline "$mode"
        run_apphost "$mode"
        R[base.$mode]+="$BASE_S "
        R[pushed.$mode]+="$PUSHED_S "
        R[inner.$mode]+="$INNER_S "
        echo "run $i $mode: baseline healthy ${BASE_S}s; app host pushed ${PUSHED_S}s (images ${INNER_S}s after the registry was healthy)" >&2
      fi
    done
    R[extra.$mode]+="$(awk -v p="$PUSHED_S" -v b="$BASE_S" -v u="$UP_S" 'BEGIN { printf "%.3f", p - b - u }') "
  done
done

m() { tr ' ' '\n' <<<"${R[$1]}" | grep . | median; }
{
  echo "| wall time (median of $RUNS, s) | cold | warm |"
  echo "| --- | ---: | ---: |"
  echo "| \`hoist up -d\` (registry up, 4 images pushed) | $(m up.cold) | $(m up.warm) |"
  echo "| Aspire baseline: one executable registry healthy | $(m base.cold) | $(m base.warm) |"
  echo "| example app host: 4 images pushed | $(m pushed.cold) | $(m pushed.warm) |"
  echo "| of which: from the registry healthy to the last push (the integration's log) | $(m inner.cold) | $(m inner.warm) |"
  echo "| the integration's cost: app host - baseline - hoist up | $(m extra.cold) | $(m extra.warm) |"
} | tee ${OUT:+"$OUT"}
