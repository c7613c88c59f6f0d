#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# bench/registry.sh — hoist's registry beside Debian's docker-registry (CNCF
# distribution 2.8) in one run on one machine: the same scenarios, the same
# client commands, interleaved run by run, medians and hoist/peer ratios.
#
# The scenarios and their exact client commands are those of the project's
# shared peer script bench/registry-bench.sh in the shared folder (2026-11-26, the
# method behind the peers' figures); its code is adapted here and in lib/ so
# that a clean clone can run this without that folder:
#   a. 1 GiB random blob push, monolithic (POST, then `curl -X PUT -T file
#      -H 'Expect:' ?digest=`) and chunked (POST, 64 MiB PATCHes with
#      Content-Range following each Location, PUT ?digest= with no body)
#   b. 1 GiB blob pull (`curl -o /dev/null`), and the same blob pulled again
#      at once (hoist: from its local copy with HOIST_S3_BLOB_CACHE=1)
#   c. manifest GET by tag, `wrk -t2 -c32 -d10s` with keep-alive and an
#      Accept header for OCI manifest/index and Docker v2; blob HEAD with
#      `ab -k -i -c32 -t10` (wrk 4.1 cannot do HEAD)
#   d. `skopeo copy` of the busybox base image oci: -> registry -> fresh oci:
#      directory, the blob-info cache file deleted before each copy
#   e. 64 x 1 MiB fresh random blobs pushed by 8 parallel curl clients
#   g. the page-cache write floor: `dd bs=1M` of the same blob into a new
#      file right after both pushes (the machine's own cost for those bytes)
#   f. registry RSS before the first push and peak during each 1 GiB push
#      (VmHWM after `echo 5 > /proc/PID/clear_refs`, plus VmRSS sampled every
#      50 ms); registry CPU-seconds (utime+stime of /proc/PID/stat) per push
# What differs from the shared script: both registries run in the same
# invocation, each repetition measures both (order alternating, hoist first
# on odd runs) so drift on the shared 2 cores hits both alike; one warm-up
# for wrk/ab per registry; every response status is checked and unexpected
# ones are logged with the exact request (anomalies.txt).
#
# Usage:  bash bench/registry.sh            (as root on Debian 12; see bench/README.md)
# Knobs (environment, defaults in brackets):
#   REPS [3]  BLOB_MB [1024]  CHUNK_MB [64]  WRK_SECS [10]  WARMUP_SECS [2]
#   WRK_THREADS [2]  WRK_CONNS [32]  SMALL_N [64]  SMALL_KB [1024]  SMALL_PAR [8]
#   REGISTRIES ["hoist distribution"]   which registries to run (either or both, and
#                                       hoist-fs: hoist on the filesystem whatever STORAGE is)
#   STORAGE [filesystem]                s3: hoist and distribution keep their bytes in
#                                       buckets of one local Ceph RADOS Gateway
#                                       (scripts/ceph-rgw.sh; bluestore on a sparse file of
#                                       CEPH_OSD_BYTES [48 GiB] in the scratch dir)
#   HOIST_S3_BLOB_CACHE [0]             1: hoist on S3 keeps a local copy of what is
#                                       pulled (--s3-blob-cache in its scratch dir)
#   HOIST [<repo>/build/cli/hoist]      built with cmake when absent
#   BENCH_DATA [/tmp/hoist-bench]       scratch root; this run uses BENCH_DATA/registry-<id>
#   OUT [BENCH_DATA/results-registry-<UTC time>]   results directory
#   SKIP [""]                           scenarios to skip, e.g. "d e"
#   KEEP_DATA [0]                       1 keeps the scratch dir (blobs, registry roots)
#   PRIME [1]                           0: do not fill the page cache first (see below)
#   TLS [0]                             1: both registries serve HTTPS (a CA and a
#                                       127.0.0.1 certificate made here; curl trusts the
#                                       CA, wrk and ab do not verify, skopeo skips
#                                       verification as it did for plain HTTP)
#
# Output in OUT: hoist.txt, distribution.txt (raw `name value unit` lines,
# `name.runs v1,v2,.. unit` beside each median, names as in the shared
# script), values.txt (every single run), table.txt (printed at the end),
# results.md (Markdown fragment for bench/RESULTS.md), env.txt (machine and
# versions), anomalies.txt (only when something answered unexpectedly),
# logs/ (registry logs, wrk/ab/skopeo output).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REPS=${REPS:-3}
BLOB_MB=${BLOB_MB:-1024}
CHUNK_MB=${CHUNK_MB:-64}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-32}
WRK_SECS=${WRK_SECS:-10}
WARMUP_SECS=${WARMUP_SECS:-2}
SMALL_N=${SMALL_N:-64}
SMALL_KB=${SMALL_KB:-1024}
SMALL_PAR=${SMALL_PAR:-8}
REGISTRIES=${REGISTRIES:-hoist distribution}
HOIST=${HOIST:-$REPO/build/cli/hoist}
BENCH_DATA=${BENCH_DATA:-/tmp/hoist-bench}
RUNID=$(date -u +%Y%m%dT%H%M%S)-$$
OUT=${OUT:-$BENCH_DATA/results-registry-$RUNID}
SKIP=" ${SKIP:-} "
KEEP_DATA=${KEEP_DATA:-0}
PRIME=${PRIME:-1}
TLS=${TLS:-0}
STORAGE=${STORAGE:-filesystem}
SCRATCH=$BENCH_DATA/registry-$RUNID

log() { echo "[bench] $*" >&2; }
die() { echo "bench/registry.sh: $*" >&2; exit 1; }
skipped() { [[ "$SKIP" == *" $1 "* ]]; }
now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
mbps() { awk -v bytes="$1" -v s="$2" 'BEGIN{ if (s>0) printf "%.1f", bytes/1e6/s; else print "nan" }'; }
kib2mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }

for v in TLS PRIME REPS BLOB_MB CHUNK_MB WRK_THREADS WRK_CONNS WRK_SECS WARMUP_SECS SMALL_N SMALL_KB SMALL_PAR; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
if [ "$REPS" -lt 1 ] || [ "$BLOB_MB" -lt 1 ] || [ "$CHUNK_MB" -lt 1 ]; then die "REPS, BLOB_MB, CHUNK_MB must be >= 1"; fi
for r in $REGISTRIES; do
  case $r in hoist|distribution|hoist-fs) ;; *) die "REGISTRIES: unknown registry '$r' (hoist, distribution, hoist-fs)" ;; esac
done
case $STORAGE in filesystem|s3) ;; *) die "STORAGE must be filesystem or s3, not '$STORAGE'" ;; esac
[ -n "${REGISTRIES// /}" ] || die "REGISTRIES is empty"

# --- Debian packages, only the missing ones ------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
want=(curl jq python3 wrk apache2-utils hyperfine skopeo busybox-static umoci)
[[ " $REGISTRIES " == *" distribution "* ]] && want+=(docker-registry)
[ "$STORAGE" = s3 ] && want+=(ceph-mon ceph-osd radosgw ceph-common)
missing=()
for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}) and not root"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
[ "$(id -u)" = 0 ] || log "not root: clear_refs (peak RSS reset) and the skopeo blob-info cache path may not work"

# --- the hoist binary --------------------------------------------------------
if [[ " $REGISTRIES " == *" hoist"* ]] && [ ! -x "$HOIST" ]; then
  [ "$HOIST" = "$REPO/build/cli/hoist" ] || die "HOIST=$HOIST is not an executable"
  log "building hoist in $REPO/build"
  cmake -S "$REPO" -B "$REPO/build" >/dev/null
  make -C "$REPO/build" -j2 hoist >/dev/null
fi

mkdir -p "$SCRATCH" "$OUT/logs"
SCRATCH=$(cd "$SCRATCH" && pwd); OUT=$(cd "$OUT" && pwd)
VALUES=$OUT/values.txt
ANOMALIES=$OUT/anomalies.txt
: >"$VALUES"; rm -f "$ANOMALIES"
export SCRATCH ANOMALIES

# --- registries: started here, stopped here ----------------------------------
declare -A REG_URL REG_PID REG_DIR
STARTED=()
sampler=

# The registries run under setsid and are not our children: once they exit
# they stay zombies until init reaps them, and `kill -0` still succeeds.
running() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]; }
stop_registries() {
  local p i
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; sampler=; fi
  for p in "${STARTED[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]}"; do
    for i in $(seq 1 100); do running "$p" || break; sleep 0.1; done
    if running "$p"; then log "pid $p ignored SIGTERM for 10 s; SIGKILL"; kill -KILL "$p" 2>/dev/null || true; fi
  done
  STARTED=()
}
ceph_started=0
cleanup() {
  local rc=$?
  stop_registries
  if [ "$ceph_started" = 1 ]; then bash "$REPO/scripts/ceph-rgw.sh" stop "$SCRATCH/ceph" --kill >/dev/null 2>&1 || true; fi
  for r in "${!REG_DIR[@]}"; do
    cp "${REG_DIR[$r]}/registry.log" "$OUT/logs/$r-registry.log" 2>/dev/null || true
  done
  if [ "$KEEP_DATA" = 1 ]; then
    log "scratch kept in $SCRATCH"
  else
    rm -rf "$SCRATCH"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -f "$REPO/build/CMakeCache.txt" ] && [ "$HOIST" = "$REPO/build/cli/hoist" ] &&
   grep -q '^HOIST_SANITIZE:BOOL=ON' "$REPO/build/CMakeCache.txt"; then
  log "WARNING: $HOIST is a sanitizer build; its figures mean little"
fi

SCHEME=http
if [ "$TLS" = 1 ]; then
  # One CA and one server certificate for 127.0.0.1, both registries alike.
  pki=$SCRATCH/pki
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout "$pki/server.key" -out "$pki/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$pki/server.ext"
  openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial 1 \
    -days 2 -extfile "$pki/server.ext" -out "$pki/server.crt" 2>/dev/null || die "openssl: certificates"
  export TLS_CERT=$pki/server.crt TLS_KEY=$pki/server.key CURL_CA_BUNDLE=$pki/ca.crt
  SCHEME=https
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if [ "$STORAGE" = s3 ]; then
  # One gateway, one bucket per registry (lib/start-*.sh read S3_*).
  ceph_started=1
  CEPH_OBJECTSTORE=${CEPH_OBJECTSTORE:-bluestore} CEPH_OSD_BYTES=${CEPH_OSD_BYTES:-$((48 << 30))} \
    bash "$REPO/scripts/ceph-rgw.sh" start "$SCRATCH/ceph" "$(free_port)" >"$SCRATCH/s3.env" \
    2>"$OUT/logs/ceph.log" || die "Ceph did not start: $(tail -3 "$OUT/logs/ceph.log")"
  set -a; . "$SCRATCH/s3.env"; set +a
  log "S3: Ceph RADOS Gateway at $S3_ENDPOINT ($(tail -1 "$OUT/logs/ceph.log" | sed 's/^.*in //'))"
  for r in $REGISTRIES; do
    [ "$r" = hoist-fs ] && continue
    curl -sS --fail-with-body --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$S3_ENDPOINT/bench-$r" -o /dev/null ||
      die "creating bucket bench-$r"
  done
fi
for r in $REGISTRIES; do
  REG_DIR[$r]=$SCRATCH/$r
  if [ "$STORAGE" = s3 ] && [ "$r" != hoist-fs ]; then export S3_BUCKET=bench-$r; else unset S3_BUCKET; fi
  case $r in
    hoist|hoist-fs)
      # run a private copy: other builds may replace build/cli/hoist mid-run
      mkdir -p "$SCRATCH/bin"; [ -x "$SCRATCH/bin/hoist" ] || cp "$HOIST" "$SCRATCH/bin/hoist"
      read -r pid addr < <("$HERE/lib/start-hoist.sh" "$SCRATCH/bin/hoist" "${REG_DIR[$r]}") ||
        die "hoist registry did not start"
      ;;
    distribution)
      port=$(free_port)
      pid=$("$HERE/lib/start-distribution.sh" "$port" "${REG_DIR[$r]}") || die "docker-registry did not start"
      addr=127.0.0.1:$port
      ;;
  esac
  if [ -z "${pid:-}" ] || [ -z "${addr:-}" ]; then die "$r did not report its pid and address"; fi
  case $addr in 127.*) ;; *) die "$r listens on $addr, not loopback" ;; esac
  STARTED+=("$pid"); REG_PID[$r]=$pid; REG_URL[$r]=$SCHEME://$addr
  log "$r: pid $pid at $SCHEME://$addr"
done

# order for repetition i: as listed on odd runs, reversed on even runs
order() {
  local a i
  read -r -a a <<<"$REGISTRIES"
  if [ $(($1 % 2)) = 1 ]; then echo "${a[@]}"; else for ((i = ${#a[@]} - 1; i >= 0; i--)); do printf '%s ' "${a[i]}"; done; echo; fi
}
use() { URL=${REG_URL[$1]}; REG=$1; RPID=${REG_PID[$1]}; export URL REG; }
rec() { echo "$1 $2 $3 $4 $5" >>"$VALUES"; }     # registry name unit agg value
fail() { rec "$1" "$2.failures" count sum 1; }  # registry name
# shellcheck source=lib/http.sh
. "$HERE/lib/http.sh"

rss_kb() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# utime+stime of the whole process (all threads, reaped ones included), in ticks
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12+$13}' || echo 0; }
TCK=$(getconf CLK_TCK)
cpu_s() { awk -v a="$1" -v b="$2" -v t="$TCK" 'BEGIN{printf "%.2f", (b-a)/t}'; }

# --- machine and versions ----------------------------------------------------
{
  echo "date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "knobs REPS=$REPS BLOB_MB=$BLOB_MB CHUNK_MB=$CHUNK_MB WRK_THREADS=$WRK_THREADS WRK_CONNS=$WRK_CONNS WRK_SECS=$WRK_SECS WARMUP_SECS=$WARMUP_SECS SMALL_N=$SMALL_N SMALL_KB=$SMALL_KB SMALL_PAR=$SMALL_PAR PRIME=$PRIME TLS=$TLS SKIP='$(xargs <<<"$SKIP")'"
  echo "kernel $(uname -r)"
  echo "cpu $(nproc) x $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "mem $(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "storage $STORAGE"
  [ "$STORAGE" = s3 ] && echo "s3 Ceph $(ceph --version | awk '{print $3}') RADOS Gateway on loopback, ${CEPH_OBJECTSTORE:-bluestore}"
  if [ -n "${REG_PID[hoist]:-}${REG_PID[hoist-fs]:-}" ]; then
    echo "hoist $("$SCRATCH/bin/hoist" --version 2>/dev/null) sha256=$(sha256sum "$SCRATCH/bin/hoist" | cut -c1-12) from $HOIST"
    echo "hoist_commit $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)"
  fi
  [ -n "${REG_PID[distribution]:-}" ] && echo "distribution $(docker-registry --version 2>/dev/null)"
  echo "clients curl $(curl --version | awk 'NR==1{print $2}'), $(wrk -v 2>&1 | awk 'NR==1{print $1" "$2}'), ab $(dpkg-query -W -f='${Version}' apache2-utils), skopeo $(skopeo --version | awk '{print $3}')"
} >"$OUT/env.txt"
log "knobs: $(sed -n 2p "$OUT/env.txt" | cut -d' ' -f2-)"
log "output: $OUT"

# --- the steady state: a page cache that fills the memory ----------------------
# (bench/lib/prime.sh; scenario g shows which pushes got fresh pages.)
# shellcheck source=lib/prime.sh
. "$HERE/lib/prime.sh"
if [ "$PRIME" = 1 ]; then
  t0=$(now)
  mb=$(prime_page_cache "$SCRATCH")
  log "primed the page cache with ${mb} MiB in $(sub "$t0" "$(now)") s (PRIME=0 skips this)"
  echo "prime ${mb} MiB read into the page cache before the scenarios" >>"$OUT/env.txt"
fi

BLOB_BYTES=$((BLOB_MB * 1024 * 1024))
if [ "$BLOB_MB" = 1024 ]; then BL=1GiB; else BL=${BLOB_MB}MiB; fi

# --- a, b, f: big blobs ----------------------------------------------------------
measure_mono() { # registry rep
  local r=$1 i=$2 f=$SCRATCH/blob-$2.bin dg=${DIGS[$(($2 - 1))]} repo=bench/mono-$2
  local t0 t1 c0 c1 s hwm smp
  use "$r"
  [ "$i" = 1 ] && rec "$r" registry_rss_before_push MiB first "$(kib2mib "$(rss_kb "$RPID" VmRSS)")"
  echo 5 >"/proc/$RPID/clear_refs" 2>/dev/null || true   # VmHWM := current RSS
  rm -f "$SCRATCH/rss-sample"
  ( m=0; n=0; while [ $n -lt 72000 ] && kill -0 "$RPID" 2>/dev/null; do
      x=$(rss_kb "$RPID" VmRSS); [ "${x:-0}" -gt "$m" ] && m=$x && echo "$m" >"$SCRATCH/rss-sample"
      n=$((n + 1)); sleep 0.05; done ) &
  sampler=$!
  sync; c0=$(cpu_ticks "$RPID"); t0=$(now)
  if push_mono "$repo" "$f" "$dg"; then
    t1=$(now); c1=$(cpu_ticks "$RPID")
  else
    t1=
  fi
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=
  [ -n "$t1" ] || { fail "$r" "push_mono_${BL}_time"; return 0; }
  blob_exists "$repo" "$dg" || { anomaly "HEAD /v2/$repo/blobs/$dg -> not 200 after a 201 PUT"; fail "$r" "push_mono_${BL}_time"; return 0; }
  s=$(sub "$t0" "$t1")
  hwm=$(rss_kb "$RPID" VmHWM); smp=$(cat "$SCRATCH/rss-sample" 2>/dev/null || echo 0)
  [ "${smp:-0}" -gt "${hwm:-0}" ] && hwm=$smp
  rec "$r" "push_mono_${BL}_time" s median "$s"
  rec "$r" "push_mono_${BL}_rate" MB/s median "$(mbps "$BLOB_BYTES" "$s")"
  rec "$r" "registry_peak_rss_during_${BL}_push" MiB max "$(kib2mib "$hwm")"
  rec "$r" "registry_cpu_during_mono_${BL}_push" cpu-s median "$(cpu_s "$c0" "$c1")"
  log "$r mono push $i: ${s}s $(mbps "$BLOB_BYTES" "$s") MB/s, cpu $(cpu_s "$c0" "$c1")s, peak rss $(kib2mib "$hwm") MiB"
}

# g: what the machine itself takes to put the same bytes into the page cache
# of a new file, right after both registries pushed them: the floor for any
# registry that keeps pushed blobs in the page cache (both do).
measure_floor() { # rep
  local i=$1 t0 t1 s
  sync; t0=$(now)
  dd if="$SCRATCH/blob-$i.bin" of="$SCRATCH/floor-$i.bin" bs=1M status=none || { log "dd failed"; return 0; }
  t1=$(now); s=$(sub "$t0" "$t1")
  echo "$s" >>"$SCRATCH/floor.txt"
  log "page-cache write floor $i: ${s}s $(mbps "$BLOB_BYTES" "$s") MB/s (dd bs=1M into a new file)"
}
floor_line() { # the floor's median, or nothing when it was not measured
  [ -s "$SCRATCH/floor.txt" ] || return 0
  local m runs
  m=$(sort -g "$SCRATCH/floor.txt" | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f", (a[NR/2]+a[NR/2+1])/2 }')
  runs=$(paste -sd, "$SCRATCH/floor.txt" | sed 's/,/, /g')
  echo "g. page-cache write floor (dd bs=1M of each ${BL} blob into a new file): median ${m} s = $(mbps "$BLOB_BYTES" "$m") MB/s (runs: ${runs} s)"
}

measure_chunked() { # registry rep digest
  local r=$1 i=$2 dg=$3 repo=bench/chunk-$2 t0 t1 c0 c1 s
  use "$r"
  sync; c0=$(cpu_ticks "$RPID"); t0=$(now)
  if ! push_chunked "$repo" "$dg" "${CHUNKS[@]}"; then fail "$r" "push_chunked_${CHUNK_MB}MiB_${BL}_time"; return 0; fi
  t1=$(now); c1=$(cpu_ticks "$RPID")
  blob_exists "$repo" "$dg" || { anomaly "HEAD /v2/$repo/blobs/$dg -> not 200 after chunked upload"; fail "$r" "push_chunked_${CHUNK_MB}MiB_${BL}_time"; return 0; }
  s=$(sub "$t0" "$t1")
  rec "$r" "push_chunked_${CHUNK_MB}MiB_${BL}_time" s median "$s"
  rec "$r" "push_chunked_${CHUNK_MB}MiB_${BL}_rate" MB/s median "$(mbps "$BLOB_BYTES" "$s")"
  rec "$r" "registry_cpu_during_chunked_${BL}_push" cpu-s median "$(cpu_s "$c0" "$c1")"
  log "$r chunked push $i: ${s}s $(mbps "$BLOB_BYTES" "$s") MB/s, cpu $(cpu_s "$c0" "$c1")s"
}

# pull_once REGISTRY REP DIGEST METRIC LABEL: one timed GET of the blob;
# false (having recorded the failure) when it did not come whole.
pull_once() {
  local o code tt size
  o=$(curl -sS -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "$URL/v2/bench/mono-$2/blobs/$3") || true
  read -r code tt size <<<"$o"
  if [ "${code:-}" != 200 ] || [ "${size:-}" != "$BLOB_BYTES" ]; then
    anomaly "GET /v2/bench/mono-$2/blobs/$3$5 -> HTTP ${code:-none}, ${size:-?} of $BLOB_BYTES bytes"
    fail "$1" "$4"; return 1
  fi
  rec "$1" "$4" MB/s median "$(mbps "$BLOB_BYTES" "$tt")"
  log "$1 pull $2$5: ${tt}s $(mbps "$BLOB_BYTES" "$tt") MB/s"
}

measure_pull() { # registry rep
  local r=$1 i=$2 dg=${DIGS[$(($2 - 1))]} got
  use "$r"
  blob_exists "bench/mono-$i" "$dg" || { fail "$r" "pull_${BL}_rate"; return 0; }  # its push failed
  pull_once "$r" "$i" "$dg" "pull_${BL}_rate" "" || return 0
  pull_once "$r" "$i" "$dg" "pull_again_${BL}_rate" " again" || return 0
  if [ "$i" = 1 ]; then   # content check once, outside the timing
    got=$(curl -sS "$URL/v2/bench/mono-$i/blobs/$dg" | sha256sum | awk '{print "sha256:"$1}')
    [ "$got" = "$dg" ] || anomaly "GET /v2/bench/mono-$i/blobs/$dg returned content with digest $got"
  fi
}

if ! skipped a; then
  # One fresh random file per repetition (both registries get the same one:
  # it is new to each), so no push finds its blob already stored.
  DIGS=()
  for i in $(seq 1 "$REPS"); do
    log "making blob-$i.bin ($BLOB_MB MiB from /dev/urandom)"
    head -c "$BLOB_BYTES" /dev/urandom >"$SCRATCH/blob-$i.bin"
    DIGS+=("$(sha256sum "$SCRATCH/blob-$i.bin" | awk '{print "sha256:"$1}')")
  done
  for i in $(seq 1 "$REPS"); do
    for r in $(order "$i"); do measure_mono "$r" "$i"; done
    skipped g || measure_floor "$i"
  done
  # chunked: split outside the timing and overwrite the first 32 bytes, so
  # the chunked blob is new to the registry too
  for i in $(seq 1 "$REPS"); do
    rm -rf "$SCRATCH/chunks"; mkdir -p "$SCRATCH/chunks"
    split -b "${CHUNK_MB}M" -a 4 -d "$SCRATCH/blob-$i.bin" "$SCRATCH/chunks/c."
    head -c 32 /dev/urandom | dd of="$SCRATCH/chunks/c.0000" bs=32 count=1 conv=notrunc status=none
    dg=$(cat "$SCRATCH"/chunks/c.* | sha256sum | awk '{print "sha256:"$1}')
    CHUNKS=()  # FILE:SIZE, measured here, outside the timing
    for c in "$SCRATCH"/chunks/c.*; do CHUNKS+=("$c:$(stat -c %s "$c")"); done
    for r in $(order "$i"); do measure_chunked "$r" "$i" "$dg"; done
  done
  rm -rf "$SCRATCH/chunks"
  if ! skipped b; then
    for i in $(seq 1 "$REPS"); do
      for r in $(order "$i"); do measure_pull "$r" "$i"; done
    done
  fi
  rm -f "$SCRATCH"/blob-*.bin "$SCRATCH"/floor-*.bin
fi

# --- c, d: the busybox base image -----------------------------------------------
BASE_OCI=$SCRATCH/base
if ! skipped c || ! skipped d; then
  mbi=$REPO/testdata/make-base-image.sh   # the project's offline busybox image maker
  [ -f "$mbi" ] || die "$mbi is missing (needed by scenarios c and d; SKIP=\"c d\" runs without)"
  bash "$mbi" "$BASE_OCI" >"$OUT/logs/base-image.txt" 2>&1 || { cat "$OUT/logs/base-image.txt" >&2; die "base image failed"; }
  log "base image: $(head -1 "$OUT/logs/base-image.txt")"
fi

# lat_ms VALUE-WITH-UNIT (wrk prints 850.00us / 12.40ms / 1.20s / 1.00m)
lat_ms() {
  awk -v x="$1" 'BEGIN{ v=x+0; if (x ~ /us$/) v/=1000; else if (x ~ /ms$/) ; else if (x ~ /m$/) v*=60000; else if (x ~ /s$/) v*=1000; printf "%.2f", v }'
}

setup_small() { # registry: base image by hand to bench/small:v1; prints the layer digest
  local r=$1 mdg mfile d got
  use "$r"
  mdg=$(jq -r '.manifests[0].digest' "$BASE_OCI/index.json")
  mfile=$BASE_OCI/blobs/sha256/${mdg#sha256:}
  for d in $(jq -r '.config.digest, .layers[].digest' "$mfile"); do
    blob_exists bench/small "$d" || push_mono bench/small "$BASE_OCI/blobs/sha256/${d#sha256:}" "$d" || return 1
  done
  req 201 PUT "$URL/v2/bench/small/manifests/v1" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$mfile" >/dev/null || return 1
  got=$(curl -sS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$URL/v2/bench/small/manifests/v1" | sha256sum | awk '{print "sha256:"$1}')
  [ "$got" = "$mdg" ] || { anomaly "GET /v2/bench/small/manifests/v1 digest $got, pushed $mdg"; return 1; }
  jq -r '.layers[0].digest' "$mfile"
}

run_wrk() { # registry rep secs record?
  local r=$1 i=$2 secs=$3 o rps e p50 p99 errs=0
  use "$r"
  o=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${secs}s" --latency -s "$SCRATCH/manifest-get.lua" \
        "$URL/v2/bench/small/manifests/v1" 2>&1) || true
  echo "$o" >"$OUT/logs/wrk-$r-$i.txt"
  [ "$4" = record ] || return 0
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$o")
  [ -n "$rps" ] || { anomaly "wrk manifest GET gave no result (logs/wrk-$r-$i.txt)"; fail "$r" wrk_manifest_get_by_tag; return 0; }
  e=$(awk '/Non-2xx or 3xx responses:/{print $NF}' <<<"$o"); errs=$((errs + ${e:-0}))
  [ "${e:-0}" -gt 0 ] && anomaly "wrk GET /v2/bench/small/manifests/v1 (Accept: OCI manifest, OCI index, Docker v2): $e non-2xx/3xx responses in run $i; sample: $(curl -s -i -H "Accept: $ACCEPT" "$URL/v2/bench/small/manifests/v1" | head -1 | tr -d '\r')"
  e=$(awk '/Socket errors:/{gsub(",","");print $4+$6+$8+$10}' <<<"$o"); errs=$((errs + ${e:-0}))
  [ "${e:-0}" -gt 0 ] && anomaly "wrk GET /v2/bench/small/manifests/v1: $(grep 'Socket errors' <<<"$o" | sed 's/^ *//') in run $i"
  p50=$(lat_ms "$(awk '$1=="50%"{print $2}' <<<"$o")"); p99=$(lat_ms "$(awk '$1=="99%"{print $2}' <<<"$o")")
  rec "$r" wrk_manifest_get_by_tag req/s median "$rps"
  rec "$r" wrk_manifest_get_by_tag.p50 ms median "$p50"
  rec "$r" wrk_manifest_get_by_tag.p99 ms median "$p99"
  rec "$r" wrk_manifest_get_by_tag.errors count sum "$errs"
  log "$r manifest GET $i: $rps req/s p50=${p50}ms p99=${p99}ms errors=$errs"
}

run_ab() { # registry rep secs layerdigest record?
  local r=$1 i=$2 secs=$3 o rps e p50 p99 errs=0 ka done_
  use "$r"
  o=$(ab -q -k -i -c "$WRK_CONNS" -t "$secs" -n 100000000 "$URL/v2/bench/small/blobs/$4" 2>&1) || true
  echo "$o" >"$OUT/logs/ab-$r-$i.txt"
  [ "$5" = record ] || return 0
  rps=$(awk '/^Requests per second:/{print $4}' <<<"$o")
  [ -n "$rps" ] || { anomaly "ab HEAD /v2/bench/small/blobs/$4 gave no result: $(tail -1 <<<"$o") (logs/ab-$r-$i.txt)"; fail "$r" ab_blob_head; return 0; }
  e=$(awk '/^Failed requests:/{print $3}' <<<"$o"); errs=$((errs + ${e:-0}))
  [ "${e:-0}" -gt 0 ] && anomaly "ab -k -i HEAD /v2/bench/small/blobs/$4: $e failed requests in run $i ($(grep -A1 '^Failed requests' <<<"$o" | tail -1 | sed 's/^ *//'))"
  e=$(awk '/^Non-2xx responses:/{print $3}' <<<"$o"); errs=$((errs + ${e:-0}))
  [ "${e:-0}" -gt 0 ] && anomaly "ab -k -i HEAD /v2/bench/small/blobs/$4: $e non-2xx responses in run $i; sample: $(curl -s -I "$URL/v2/bench/small/blobs/$4" | head -1 | tr -d '\r')"
  done_=$(awk '/^Complete requests:/{print $3}' <<<"$o"); ka=$(awk '/^Keep-Alive requests:/{print $3}' <<<"$o")
  p50=$(awk '$1=="50%"{print $2}' <<<"$o"); p99=$(awk '$1=="99%"{print $2}' <<<"$o")
  rec "$r" ab_blob_head req/s median "$rps"
  rec "$r" ab_blob_head.p50 ms median "${p50:-nan}"
  rec "$r" ab_blob_head.p99 ms median "${p99:-nan}"
  rec "$r" ab_blob_head.errors count sum "$errs"
  rec "$r" ab_blob_head.keepalive % median "$(awk -v k="${ka:-0}" -v n="${done_:-0}" 'BEGIN{ if (n>0) printf "%.1f", 100*k/n; else print "nan" }')"
  log "$r blob HEAD $i: $rps req/s p50=${p50}ms p99=${p99}ms errors=$errs keep-alive ${ka:-0}/${done_:-0}"
}

if ! skipped c; then
  ACCEPT='application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json'
  cat >"$SCRATCH/manifest-get.lua" <<EOF
wrk.method = "GET"
wrk.headers["Accept"] = "$ACCEPT"
EOF
  declare -A LAYER
  for r in $REGISTRIES; do
    if LAYER[$r]=$(setup_small "$r"); then
      # warm-up, not recorded: the first seconds after start-up run slower
      if [ "$WARMUP_SECS" -gt 0 ]; then
        run_wrk "$r" warmup "$WARMUP_SECS" no
        run_ab "$r" warmup "$WARMUP_SECS" "${LAYER[$r]}" no
      fi
    else
      LAYER[$r]=; fail "$r" wrk_manifest_get_by_tag; fail "$r" ab_blob_head
    fi
  done
  for i in $(seq 1 "$REPS"); do
    for r in $(order "$i"); do [ -n "${LAYER[$r]}" ] && run_wrk "$r" "$i" "$WRK_SECS" record; done
  done
  for i in $(seq 1 "$REPS"); do
    for r in $(order "$i"); do [ -n "${LAYER[$r]}" ] && run_ab "$r" "$i" "$WRK_SECS" "${LAYER[$r]}" record; done
  done
fi

# --- d: skopeo copy --------------------------------------------------------------
# skopeo remembers where blobs live (blob-info cache) and would then mount or
# skip instead of uploading; the cache file is deleted before every copy
# (root's and the user's path; it is only a cache), as in the peer method.
clear_bic() { rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb "$HOME/.local/share/containers/cache/blob-info-cache-v1.boltdb"; }
measure_skopeo() { # registry rep
  local r=$1 i=$2 dst od t0 t1 s1 s2 lg=$OUT/logs/skopeo-$1-$2.txt
  use "$r"
  dst=${URL#*://}/bench/skopeo-$i:latest
  od=$SCRATCH/skopeo-out-$r-$i; rm -rf "$od"
  clear_bic; t0=$(now)
  if ! skopeo copy -q --dest-tls-verify=false "oci:$BASE_OCI:latest" "docker://$dst" >"$lg" 2>&1; then
    anomaly "skopeo copy oci:base:latest docker://$dst failed: $(tail -1 "$lg")"
    fail "$r" skopeo_copy_oci_to_registry; fail "$r" skopeo_copy_registry_to_oci; return 0
  fi
  t1=$(now); s1=$(sub "$t0" "$t1")
  clear_bic; t0=$(now)
  if ! skopeo copy -q --src-tls-verify=false "docker://$dst" "oci:$od:latest" >>"$lg" 2>&1; then
    anomaly "skopeo copy docker://$dst oci:DIR:latest failed: $(tail -1 "$lg")"
    rec "$r" skopeo_copy_oci_to_registry s median "$s1"; fail "$r" skopeo_copy_registry_to_oci; return 0
  fi
  t1=$(now); s2=$(sub "$t0" "$t1")
  skopeo inspect "oci:$od:latest" >/dev/null 2>>"$lg" || anomaly "skopeo inspect of the copy pulled from $dst failed"
  rm -rf "$od"
  rec "$r" skopeo_copy_oci_to_registry s median "$s1"
  rec "$r" skopeo_copy_registry_to_oci s median "$s2"
  log "$r skopeo $i: push ${s1}s pull ${s2}s"
}
if ! skipped d; then
  for i in $(seq 1 "$REPS"); do
    for r in $(order "$i"); do measure_skopeo "$r" "$i"; done
  done
fi

# --- e: many small blobs in parallel ------------------------------------------
measure_small() { # registry rep listfile
  local r=$1 i=$2 list=$3 repo=bench/small-$2 t0 t1 n f d s name=push_${SMALL_N}x${SMALL_KB}KiB_par${SMALL_PAR}_time
  use "$r"
  sync; t0=$(now)
  # shellcheck disable=SC2016  # expanded by the child bash
  xargs -P "$SMALL_PAR" -L 1 bash -c 'push_mono "$0" "$1" "$2"' "$repo" <"$list" || true
  t1=$(now)
  n=0; while read -r f d; do blob_exists "$repo" "$d" && n=$((n + 1)); done <"$list"
  if [ "$n" != "$SMALL_N" ]; then
    anomaly "only $n of $SMALL_N small blobs present in $repo after the parallel push"
    fail "$r" "$name"; return 0
  fi
  s=$(sub "$t0" "$t1")
  rec "$r" "$name" s median "$s"
  log "$r small blobs $i: ${s}s"
}
if ! skipped e; then
  export -f anomaly absloc addq hdr_location req start_upload push_mono
  for i in $(seq 1 "$REPS"); do
    sdir=$SCRATCH/small-$i; rm -rf "$sdir"; mkdir -p "$sdir"   # fresh blobs every run
    for j in $(seq 1 "$SMALL_N"); do head -c "$((SMALL_KB * 1024))" /dev/urandom >"$sdir/b$j"; done
    (cd "$sdir" && sha256sum b* | awk -v d="$sdir" '{print d"/"$2" sha256:"$1}') >"$SCRATCH/small-$i.list"
    for r in $(order "$i"); do measure_small "$r" "$i" "$SCRATCH/small-$i.list"; done
    rm -rf "$sdir"
  done
fi

for r in $REGISTRIES; do
  if running "${REG_PID[$r]}"; then
    rec "$r" registry_rss_end MiB last "$(kib2mib "$(rss_kb "${REG_PID[$r]}" VmRSS)")"
  else
    anomaly "registry process ${REG_PID[$r]} is gone"
  fi
done
stop_registries

# --- results ----------------------------------------------------------------------
files=()
for r in $REGISTRIES; do
  {
    echo "# bench/registry.sh $r ${REG_URL[$r]} $(head -1 "$OUT/env.txt" | cut -d' ' -f2) reps=$REPS"
    awk -v mode=raw -v reg="$r" -f "$HERE/lib/report.awk" "$VALUES"
  } >"$OUT/$r.txt"
  files+=("$OUT/$r.txt")
  lines=$(grep -cvE '^[[:space:]]*$' "${REG_DIR[$r]}/registry.log" 2>/dev/null || true)
  if [ "${lines:-0}" -gt 0 ]; then log "$r wrote ${lines} log lines (logs/$r-registry.log)"; fi
done
awk -v mode=text -v regs="$REGISTRIES" -f "$HERE/lib/report.awk" "${files[@]}" >"$OUT/table.txt"
peer_label=
[ -n "${REG_PID[distribution]:-}" ] && peer_label="distribution $(docker-registry --version | awk '{print $3}' | sed 's/+ds.*//')"
{
  echo "<!-- bench/registry.sh $(head -1 "$OUT/env.txt" | cut -d' ' -f2): $(sed -n 2p "$OUT/env.txt" | cut -d' ' -f2-) -->"
  echo "<!-- $(grep -E '^(cpu|kernel|hoist|hoist_commit|loadavg) ' "$OUT/env.txt" | tr '\n' ';' | sed 's/;$//; s/;/; /g') -->"
  echo
  echo "Medians of $REPS interleaved runs (all runs beside them); ratio = hoist / peer; the"
  echo "\"better\" column says which direction of the ratio favours hoist."
  echo
  awk -v mode=md -v regs="$REGISTRIES" -v peer_label="$peer_label" -f "$HERE/lib/report.awk" "${files[@]}"
  floor=$(floor_line); [ -z "$floor" ] || printf '\n%s\n' "$floor"
} >"$OUT/results.md"
floor_line >>"$OUT/table.txt"

echo
echo "registry benchmark $(head -1 "$OUT/env.txt" | cut -d' ' -f2), medians of $REPS ($(sed -n 2p "$OUT/env.txt" | cut -d' ' -f2-))"
cat "$OUT/table.txt"
echo
if [ -s "$ANOMALIES" ]; then
  echo "anomalies ($(wc -l <"$ANOMALIES")), see $ANOMALIES:"
  head -20 "$ANOMALIES"
  echo
fi
echo "results in $OUT ($(for r in $REGISTRIES; do printf '%s.txt ' "$r"; done)values.txt table.txt results.md env.txt logs/)"
