#!/usr/bin/env bash
# A throw-away single-node Ceph cluster with an S3 endpoint, from Debian's
# packages (ceph-mon, ceph-osd, radosgw, ceph-common), for tests and
# benchmarks of the registry's S3 storage driver: one monitor, one OSD
# (memstore by default: the data lives in the OSD's memory), one RADOS
# Gateway on 127.0.0.1, an S3 user made with radosgw-admin. No systemd, no
# manager daemon, no cephx (auth none, loopback only).
#
#   scripts/ceph-rgw.sh start DIR PORT   prints S3_* lines (also DIR/s3.env)
#   scripts/ceph-rgw.sh stop DIR [--kill] [--wipe]
#   scripts/ceph-rgw.sh rgw-kill DIR     the gateway alone goes away (SIGKILL)
#   scripts/ceph-rgw.sh rgw-start DIR    and comes back on its port
#
# Environment: CEPH_OBJECTSTORE (memstore | bluestore, a sparse file),
# CEPH_OSD_BYTES (capacity; 4 GiB), S3_ACCESS_KEY / S3_SECRET_KEY,
# CEPH_TIMEOUT (seconds per stage; 120).
#
# What it takes to start fast and at all (found on these machines):
# - with auth none, every daemon and client must speak msgr "crc" mode
#   (radosgw otherwise asks for cephx and fails with -13);
# - paxos' propose interval at 0.05 s: radosgw creates its pools one paxos
#   round each, which takes ~15 s at the default 1 s and ~1 s like this;
# - stop in the order rgw, osd, mon (rgw hangs in shutdown without the OSD;
#   the OSD waits for the monitor's ack);
# - Ceph 16.2 answers CompleteMultipartUpload with an empty ETag: nothing
#   here or in the driver depends on it.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR PORT | stop DIR [--kill] [--wipe] | rgw-kill DIR | rgw-start DIR" >&2
  exit 2
}
log() { echo "[ceph-rgw $(date +%T)] $*" >&2; }

# await WHAT COMMAND...: polls COMMAND every 0.25 s for at most CEPH_TIMEOUT
# seconds; then the caller's `fail` (naming the caller's $dir for the logs).
await() {
  local what=$1 i
  shift
  for ((i = 0; i < ${CEPH_TIMEOUT:-120} * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  fail "timed out waiting for $what (logs in $dir/log)"
}

# alive PID: true while PID runs (a zombie does not count).
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# stop_daemon DIR NAME SIGNAL: the daemon whose pid file is DIR/run/NAME.pid,
# only when its command line names DIR's ceph.conf (never another process).
stop_daemon() {
  local dir=$1 name=$2 sig=$3 pidfile pid i
  pidfile=$dir/run/$name.pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf" || return 0
  kill -"$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "$name (pid $pid) is still running after 15 s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
  local dir sig=TERM wipe=0 a
  [ $# -ge 1 ] || usage
  dir=$(cd "$1" 2>/dev/null && pwd) || return 0
  shift
  for a in "$@"; do
    case $a in --kill) sig=KILL ;; --wipe) wipe=1 ;; *) usage ;; esac
  done
  stop_daemon "$dir" client.rgw.a "$sig"
  stop_daemon "$dir" osd.0 "$sig"
  stop_daemon "$dir" mon.a "$sig"
  rm -f "$dir"/run/*.pid
  if [ "$wipe" = 1 ]; then rm -rf -- "$dir"; fi
}

cmd_start() {
  [ $# -eq 2 ] || usage
  local dir=$1 port=$2 store=${CEPH_OBJECTSTORE:-memstore}
  local bytes=${CEPH_OSD_BYTES:-$((4 << 30))}
  local access=${S3_ACCESS_KEY:-hoist-test-access} secret=${S3_SECRET_KEY:-hoist-test-secret-0123456789}
  local mon_port=$((port + 1)) mon_port1=$((port + 2)) p b started=$SECONDS
  for b in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool curl; do
    command -v "$b" >/dev/null || { log "$b is missing (scripts/setup.sh test installs it)"; exit 1; }
  done
  if [ -e "$dir/ceph.conf" ]; then cmd_stop "$dir" --kill --wipe; fi
  for p in "$port" "$mon_port" "$mon_port1"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      log "port $p on 127.0.0.1 is in use"
      exit 1
    fi
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir"/{run,log,mon.a,osd.0,rgw,crash}
  local conf=$dir/ceph.conf fsid osd_uuid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  local ceph=(ceph -c "$conf" --connect-timeout 30)
  fail() {
    log "$*"
    cmd_stop "$dir" --kill
    exit 1
  }
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port,v1:127.0.0.1:$mon_port1]
mon initial members = a
public addr = 127.0.0.1
public network = 127.0.0.1/32
cluster network = 127.0.0.1/32
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
run dir = $dir/run
crash dir = $dir/crash
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
mon cluster log file = $dir/log/cluster.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = $dir/mon.\$id

[osd]
osd data = $dir/osd.\$id
osd objectstore = $store
osd memory target = 939524096
osd op num shards = 2
osd op num threads per shard = 2
memstore device bytes = $bytes
bluestore block size = $bytes
bluestore block create = true
bluestore fsck on mount = false
bluestore fsck on mkfs = false

[client.rgw.a]
rgw data = $dir/rgw
rgw frontends = beast endpoint=127.0.0.1:$port
rgw thread pool size = 64
rgw dns name = localhost
rgw enable usage log = false
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
  monmaptool --create --clobber --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:$mon_port,v1:127.0.0.1:$mon_port1]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" 2>"$dir/log/mon.mkfs.err" >/dev/null ||
    fail "ceph-mon --mkfs: $(cat "$dir/log/mon.mkfs.err")"
  ceph-mon -c "$conf" -i a || fail "ceph-mon did not start"
  await "the monitor" "${ceph[@]}" mon stat
  [ "$("${ceph[@]}" osd new "$osd_uuid")" = 0 ] || fail "ceph osd new did not give osd.0"
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd.mkfs.out" 2>&1 ||
    fail "ceph-osd --mkfs: $(tail -5 "$dir/log/osd.mkfs.out")"
  ceph-osd -c "$conf" -i 0 || fail "ceph-osd did not start"
  osd_up() { "${ceph[@]}" osd dump 2>/dev/null | grep -q '^osd\.0 up'; }
  await "osd.0 up" osd_up
  radosgw -c "$conf" -n client.rgw.a || fail "radosgw did not start"
  await "radosgw on port $port" curl -fsS -o /dev/null "http://127.0.0.1:$port/"
  radosgw-admin -c "$conf" user create --uid=hoist --display-name="hoist tests" \
    --access-key="$access" --secret-key="$secret" >"$dir/log/user.json" 2>"$dir/log/user.err" ||
    fail "radosgw-admin user create: $(cat "$dir/log/user.err")"
  # curl's --aws-sigv4 signs no payload hash of its own: say UNSIGNED-PAYLOAD.
  await "the S3 user's keys" curl -fsS -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --user "$access:$secret" "http://127.0.0.1:$port/"
  printf 'S3_ENDPOINT=http://127.0.0.1:%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_REGION=us-east-1\n' \
    "$port" "$access" "$secret" | tee "$dir/s3.env"
  log "S3 ready on 127.0.0.1:$port in $((SECONDS - started)) s ($store)"
}

# The gateway of a running cluster, alone: for tests of a client whose S3
# endpoint goes away and comes back (monitor and OSD keep running).
cmd_rgw_kill() {
  [ $# -eq 1 ] || usage
  local dir
  dir=$(cd "$1" && pwd)
  stop_daemon "$dir" client.rgw.a KILL
  rm -f "$dir/run/client.rgw.a.pid"
}

cmd_rgw_start() {
  [ $# -eq 1 ] || usage
  local dir endpoint
  dir=$(cd "$1" && pwd)
  fail() {
    log "$*"
    exit 1
  }
  endpoint=$(sed -n 's/^S3_ENDPOINT=//p' "$dir/s3.env")
  [ -n "$endpoint" ] || fail "no S3_ENDPOINT in $dir/s3.env"
  radosgw -c "$dir/ceph.conf" -n client.rgw.a || fail "radosgw did not start"
  await "radosgw on $endpoint" curl -fsS -o /dev/null "$endpoint/"
}

case ${1:-} in
  start) shift && cmd_start "$@" ;;
  rgw-kill) shift && cmd_rgw_kill "$@" ;;
  rgw-start) shift && cmd_rgw_start "$@" ;;
  stop) shift && cmd_stop "$@" ;;
  *) usage ;;
esac
