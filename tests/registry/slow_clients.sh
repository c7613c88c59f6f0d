#!/usr/bin/env bash
# Slow clients against `hoist registry serve`: 600 connections trickle
# their request heads a byte at a time (from 127.0.0.2-4, 200 each, under
# the per-address limit); meanwhile a normal client on 127.0.0.1 must get
# GET /v2/ answered within a second, every time. The trickling heads are
# cut off with 408 once their deadline (10 s) passes.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl python3

start_hoist "$T/root"
port=${HOIST_ADDR##*:}

python3 - "$port" "$T/trickle.json" <<'PY' &
import json, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(600):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % 3), 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    socks.append(s)
head = b"GET /v2/ HTTP/1.1\r\nHost: h\r\nX-Slow: " + b"z" * 100
statuses, start = {}, time.time()
for k in range(len(head)):
    if time.time() - start > 25:
        break
    for i, s in enumerate(socks):
        if i in statuses:
            continue
        try:
            s.send(head[k:k + 1])
        except OSError:
            pass
        try:
            data = s.recv(64)
            if data:
                statuses[i] = data.split(b"\r\n")[0].decode()
        except BlockingIOError:
            pass
        except OSError:
            statuses[i] = "closed"
    if len(statuses) == len(socks):
        break
    time.sleep(0.2)
json.dump({"statuses": list(statuses.values()), "open": len(socks) - len(statuses),
           "seconds": time.time() - start}, open(out, "w"))
PY
TRICKLE_PID=$!
_PIDS+=("$TRICKLE_PID")

sleep 2  # the 600 are connected and trickling
worst=0
for i in $(seq 20); do
  t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 "http://$HOIST_ADDR/v2/")
  [ "${t% *}" = 200 ] || fail "GET /v2/ #$i answered ${t% *} while 600 clients trickle"
  worst=$(awk -v a="$worst" -v b="${t#* }" 'BEGIN { print (b > a ? b : a) }')
  sleep 0.3
done
log "20 GET /v2/ beside 600 trickling clients: slowest $worst s"
awk -v w="$worst" 'BEGIN { exit !(w < 1.0) }' || fail "a normal GET /v2/ took $worst s (limit 1 s)"

wait "$TRICKLE_PID" || fail "the trickling clients failed"
_forget_pid "$TRICKLE_PID"
n408=$(jq '[.statuses[] | select(startswith("HTTP/1.1 408"))] | length' "$T/trickle.json")
log "trickling clients: $n408 got 408, $(jq .open "$T/trickle.json") still open after $(jq .seconds "$T/trickle.json") s"
[ "$n408" = 600 ] || fail "only $n408 of 600 slow heads got 408: $(jq -c '.statuses | group_by(.) | map([.[0], length])' "$T/trickle.json")"
log "OK"
