#!/usr/bin/env bash
# The README's first command on a copy of examples/: `hoist up -d` with
# examples/hoist.yaml as it is (an import of the offline busybox layout,
# two Dockerfile images — `app` multi-stage with a RUN step — and a command
# image). Every image is pushed; app's file made by RUN is pulled back with
# skopeo and checked; `status --json` agrees with the registry; after
# `down`, `up -d` again finds everything there and rebuilds nothing.
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"

# The example as the repository has it (make-base.sh finds the maker at
# ../testdata/make-base-image.sh).
cp -a "$HOIST_SOURCE_DIR/examples" "$T/examples"
rm -rf "$T/examples/.hoist"
mkdir -p "$T/testdata"
cp "$TESTDATA/make-base-image.sh" "$T/testdata/"
P="$T/examples"
(cd "$P" && ./make-base.sh) >"$T/make-base.log" 2>&1 || { cat "$T/make-base.log" >&2; fail "make-base.sh failed"; }

up_ok "$T/up1.out" -d
cat "$T/up1.out" >&2
grep -q '^\[up\] summary: 4 pushed (0 unchanged), 0 failed$' "$T/up1.out" || fail "summary"
grep -q '^\[app\] pushed: .*(5 step(s) run, 0 cached' "$T/up1.out" || fail "app did not run its 5 steps"

status_json=$("$HOIST" status -f "$P/hoist.yaml" --json)
for name in busybox web app busybox-multiarch; do
  rec=$(jq -c --arg n "$name" '.images[] | select(.name == $n)' <<<"$status_json")
  expect "$name state" "$(jq -r .state <<<"$rec")" pushed
  expect "$name digest in the registry" "$(sko inspect --tls-verify=false --raw "docker://$(jq -r .reference <<<"$rec")" | sha256sum | cut -d' ' -f1)" \
    "$(jq -r .digest <<<"$rec" | cut -d: -f2)"
done
REG=$(state_get .registry.address)
app_ref=$(jq -r '.images[] | select(.name == "app") | .reference' <<<"$status_json")
expect "app reference" "$app_ref" "$REG/examples/app:1.0"

# The runtime stage copies what the build stage's RUN made.
sko copy --src-tls-verify=false "docker://$app_ref" "oci:$T/app:1" >/dev/null
m=$(layout_blob "$T/app" "$(layout_digest "$T/app" 1)")
layer=$(layout_blob "$T/app" "$(jq -r '.layers[1].digest' "$m")")
expect "app/message.txt (made by RUN sed)" "$(tar -xzOf "$layer" app/message.txt)" "hello, $(cat "$P/app/greeting.txt")"
expect "app/message.sha256 (made by RUN sha256sum)" "$(tar -xzOf "$layer" app/message.sha256 | cut -d' ' -f1)" \
  "$(tar -xzOf "$layer" app/message.txt | sha256sum | cut -d' ' -f1)"

# down, then up: the same images, nothing rebuilt or pushed.
"$HOIST" down -f "$P/hoist.yaml" >/dev/null || fail "hoist down failed"
up_ok "$T/up2.out" -d --json
expect "unchanged after down/up" "$(count_events "$T/up2.out" unchanged)" 4
expect "pushed after down/up" "$(count_events "$T/up2.out" pushed)" 0
app_msg=$(events "$T/up2.out" unchanged | jq -r 'select(.image == "app") | .message')
[[ $app_msg == *"(0 step(s) run, "* ]] || fail "app was rebuilt after down/up: $app_msg"
"$HOIST" down -f "$P/hoist.yaml" >/dev/null
log "OK"
