#!/usr/bin/env bash
# `hoist up` with signatures and SBOMs: the file's `sign:` key signs every
# pushed image, an image's own `sign:` overrides it; `sbom: true` attaches
# an SPDX document to every image but one that says `sbom: false`, once;
# and a `source` with
# `verify:` is imported only when signed by one of the keys (then by the
# digest that was verified). A second `up` signs and attaches nothing again; an
# unsigned source fails its image and pushes nothing of it; a wrong
# passphrase stops `up` before any registry starts.
source "$(dirname "${BASH_SOURCE[0]}")/up_lib.sh"
export HOIST_SIGN_PASSWORD=up-pass
unset COSIGN_PASSWORD
cd "$P"
"$HOIST" sign --generate-key k 2>/dev/null
"$HOIST" sign --generate-key other 2>/dev/null

make_base "$P/base"
start_hoist "$T/upstream"
U=$HOIST_ADDR
"$HOIST" copy -q oci:base "$U/src/base:1" >/dev/null
"$HOIST" sign "$U/src/base:1" --key k.key >/dev/null
"$HOIST" copy -q oci:base "$U/src/unsigned:1" >/dev/null
mkdir -p app
echo signed >app/f
printf 'FROM scratch\nCOPY f /f\n' >app/Dockerfile
cat >hoist.yaml <<YAML
registry:
  name: signing
sign: k.key
sbom: true
images:
  - name: local
    source: oci:base
    sbom: false
  - name: imported
    source: $U/src/base:1
    verify: [other.pub, k.pub]
  - name: built
    sign: other.key
    dockerfile:
      context: app
YAML

up_ok "$T/up1.out" -d --json
R=$(state_get .registry.address)
verify_one() { # IMAGE KEY WANT_LINE
  "$HOIST" verify "$R/$1:latest" --key "$2" >"$T/v.out" 2>&1 || true
  grep -q "^$3$" "$T/v.out" || fail "verify $1 with $2: $(cat "$T/v.out")"
}
verify_one local k.pub "1 of 1 signatures valid"
verify_one imported k.pub "1 of 1 signatures valid"
verify_one built other.pub "1 of 1 signatures valid"
verify_one built k.pub "0 of 1 signatures valid"
sboms() { # IMAGE: its SPDX referrers
  local d
  d=$("$HOIST" inspect "$R/$1:latest" | jq -r .Digest)
  curl -fsS "http://$R/v2/$1/referrers/$d?artifactType=application/spdx%2Bjson" | jq '.manifests | length'
}
expect "SBOMs of local (sbom: false)" "$(sboms local)" 0
expect "SBOMs of imported" "$(sboms imported)" 1
expect "SBOMs of built" "$(sboms built)" 1
grep -q "verified $U/src/base@sha256:.*: signed by $P/k.pub as $U/src/base:1" "$P/.hoist/logs/imported.log" ||
  fail "the import's log does not say who signed it: $(cat "$P/.hoist/logs/imported.log")"

log "a second up signs and attaches nothing again"
up_ok "$T/up2.out" -d --json
expect "unchanged images" "$(count_events "$T/up2.out" unchanged)" 3
verify_one local k.pub "1 of 1 signatures valid"
verify_one built other.pub "1 of 1 signatures valid"
grep -q "is signed already" "$P/.hoist/logs/local.log" || fail "local.log: $(cat "$P/.hoist/logs/local.log")"
expect "SBOMs of built after a second up" "$(sboms built)" 1

log "an unsigned source is refused, and nothing of it is pushed"
cat >>hoist.yaml <<YAML
  - name: refused
    source: $U/src/unsigned:1
    verify: k.pub
YAML
up "$T/up3.out" -d --json
[ "$UP_RC" != 0 ] || fail "up with an unsigned verified source exited 0"
grep -q "it has no signatures" "$T/up3.out" || fail "up3: $(cat "$T/up3.out")"
expect "refused image's manifest" "$(http_code "http://$R/v2/refused/manifests/latest")" 404

log "a wrong passphrase stops up before it starts anything"
"$HOIST" down -f hoist.yaml >/dev/null 2>&1
HOIST_SIGN_PASSWORD=wrong up "$T/up4.out" -d
expect "exit with a wrong passphrase" "$UP_RC" 2
grep -q "sign: .*k.key: the passphrase does not open this key" "$T/up4.out" || fail "up4: $(cat "$T/up4.out")"
expect "registry pid after the refusal" "$(state_get .registry.pid)" 0
log "ok"
