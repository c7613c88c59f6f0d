#!/usr/bin/env bash
# sign: `hoist sign` / `hoist verify` (builder/sign) against hoist's
# registry and Debian's docker-registry, checked by tools that are not
# hoist's:
#  - keys: --generate-key's files open with PyNaCl + hashlib's scrypt
#    (cosign_keys.py); keys sealed by that script (N=65536, the SIGSTORE
#    label, as current cosign writes) and plain openssl keys sign in hoist;
#    a wrong passphrase and an existing file are refused;
#  - the signature: the .sig tag's payload and annotation verify with
#    `openssl dgst -sha256 -verify`; the layout is cosign's (jq);
#  - tampering: another key, a re-pushed tag (another manifest), a .sig
#    copied onto another image, a changed payload, another identity: refused;
#  - skopeo (containers/image): reads hoist's signatures (dir: export), copies
#    them to another repository where hoist verifies them, stores a signature
#    made with openssl that hoist then verifies, and its sigstoreSigned policy
#    finds hoist's signatures (Debian's skopeo stubs the final cryptographic
#    check, "Debian-local change: sigstore disabled"; an upstream skopeo
#    accepts) and refuses an unsigned image;
#  - docker-registry (no referrers API): the referrer is listed in the
#    referrers tag schema's index, and verify finds it there.
# shellcheck source-path=SCRIPTDIR source=xfer_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xfer_lib.sh"
need python3-nacl python3-cryptography docker-registry
PY=/usr/bin/python3
KEYS="$PY $XFER_DIR/cosign_keys.py"
export HOIST_SIGN_PASSWORD=correct-horse
unset COSIGN_PASSWORD

base_images
make_image "$T/other" v1 64 3
start_hoist "$T/root"
A=$HOIST_ADDR
hx copy -q "oci:$BASE:latest" "$A/app/x:1" >/dev/null
DIGEST=$(layout_digest "$BASE" latest)
OTHER_DIGEST=$(layout_digest "$T/other" v1)
SIG_TAG="sha256-${DIGEST#sha256:}.sig"
cd "$T"

log "generate a key pair; another tool opens it"
hx sign --generate-key k 2>"$T/gen.err"
grep -q "^-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----$" k.key || fail "k.key is not an encrypted cosign key"
expect "k.key mode" "$(stat -c %a k.key)" 600
grep -q "^-----BEGIN PUBLIC KEY-----$" k.pub || fail "k.pub is not a PEM public key"
$KEYS open k.key "$HOIST_SIGN_PASSWORD" k.pem || fail "PyNaCl/scrypt could not open hoist's key"
$KEYS pub k.pem k-again.pub
cmp -s k.pub k-again.pub || fail "the opened private key is not k.pub's"
expect_fail 2 "exists; hoist does not overwrite" hx sign --generate-key k
HOIST_SIGN_PASSWORD=other expect_fail 2 "exists" hx sign --generate-key k
HOIST_SIGN_PASSWORD=x hx sign --generate-key other 2>/dev/null

log "sign, verify"
hx sign "$A/app/x:1" --key k.key >"$T/sign.out"
grep -q "^signed $DIGEST as $A/app/x:1; tag $SIG_TAG; referrer sha256:" "$T/sign.out" ||
  fail "sign printed: $(cat "$T/sign.out")"
hx verify "$A/app/x:1" --key k.pub >"$T/verify.out"
grep -q "valid    $A/app/x:1 signed by k.pub with hoist .* (tag $SIG_TAG, referrer sha256:" "$T/verify.out" ||
  fail "verify printed: $(cat "$T/verify.out")"
grep -q "^1 of 1 signatures valid$" "$T/verify.out" || fail "verify printed: $(cat "$T/verify.out")"
hx verify "$A/app/x@$DIGEST" --key other.pub --key k.pub --json >"$T/verify.json"
expect "valid (json)" "$(jq -r .valid "$T/verify.json")" 1
expect "key (json)" "$(jq -r '.signatures[0].key' "$T/verify.json")" k.pub
expect "signed digest (json)" "$(jq -r '.signatures[0].signedDigest' "$T/verify.json")" "$DIGEST"

log "the stored form is cosign's, and openssl verifies it"
curl -fsS -D "$T/sig.h" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$A/v2/app/x/manifests/$SIG_TAG" >"$T/sig.json"
expect ".sig content type" "$(header "$T/sig.h" content-type | tr -d '\r')" application/vnd.oci.image.manifest.v1+json
expect "layer media type" "$(jq -r '.layers[0].mediaType' "$T/sig.json")" application/vnd.dev.cosign.simplesigning.v1+json
expect "config media type" "$(jq -r '.config.mediaType' "$T/sig.json")" application/vnd.oci.image.config.v1+json
curl -fsS "http://$A/v2/app/x/blobs/$(jq -r '.layers[0].digest' "$T/sig.json")" >"$T/payload"
expect "payload type" "$(jq -r .critical.type "$T/payload")" "cosign container image signature"
expect "payload digest" "$(jq -r '.critical.image."docker-manifest-digest"' "$T/payload")" "$DIGEST"
expect "payload identity" "$(jq -r '.critical.identity."docker-reference"' "$T/payload")" "$A/app/x:1"
jq -r '.layers[0].annotations."dev.cosignproject.cosign/signature"' "$T/sig.json" | base64 -d >"$T/sig.der"
openssl dgst -sha256 -verify k.pub -signature "$T/sig.der" "$T/payload" >/dev/null ||
  fail "openssl does not verify hoist's signature"
curl -fsS "http://$A/v2/app/x/referrers/$DIGEST" >"$T/referrers.json"
expect "referrer artifactType" "$(jq -r '.manifests[0].artifactType' "$T/referrers.json")" \
  application/vnd.dev.cosign.artifact.sig.v1+json

log "keys made elsewhere: sealed by PyNaCl (N=65536, SIGSTORE label), plain openssl"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out o.pem 2>/dev/null
openssl pkey -in o.pem -pubout -out o.pub
$KEYS seal o.pem sealed-pass 65536 "ENCRYPTED SIGSTORE PRIVATE KEY" o.key
HOIST_SIGN_PASSWORD=wrong expect_fail 1 "passphrase does not open" hx sign "$A/app/x:1" --key o.key
HOIST_SIGN_PASSWORD=sealed-pass hx sign "$A/app/x:1" --key o.key --no-referrer >/dev/null
hx sign "$A/app/x:1" --key o.pem --no-tag >/dev/null
hx verify "$A/app/x:1" --key o.pub >"$T/verify2.out"
grep -q "^2 of 3 signatures valid$" "$T/verify2.out" || fail "verify with o.pub: $(cat "$T/verify2.out")"
expect_fail 2 "not a private key" hx sign "$A/app/x:1" --key k.pub

log "tampering is refused"
expect_fail 1 "no valid signature for $A/app/x:1" hx verify "$A/app/x:1" --key other.pub
grep -q "invalid  the key does not verify it" "$T/last.out" || fail "verify with other.pub: $(cat "$T/last.out")"
expect_fail 1 "no valid signature" hx verify "$A/app/x:1" --key k.pub --identity "$A/app/x:2"
grep -q "it signs the identity $A/app/x:1, not $A/app/x:2" "$T/last.out" || fail "identity: $(cat "$T/last.out")"
# The .sig of this image under another image's tag: signs another digest.
hx copy -q "oci:$T/other:v1" "$A/app/y:1" >/dev/null
for b in $(jq -r '.config.digest, .layers[].digest' "$T/sig.json"); do
  expect "mount $b into app/y" "$(http_code -X POST "http://$A/v2/app/y/blobs/uploads/?mount=$b&from=app/x")" 201
done
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$T/sig.json" \
  "http://$A/v2/app/y/manifests/sha256-${OTHER_DIGEST#sha256:}.sig" >/dev/null
expect_fail 1 "no valid signature" hx verify "$A/app/y:1" --key k.pub
grep -q "it signs $DIGEST, not this image" "$T/last.out" || fail "moved .sig: $(cat "$T/last.out")"
# A payload changed after signing (a new blob under the same annotation).
sed "s/$A\/app\/x:1/$A\/app\/x:2/" "$T/payload" >"$T/payload2"
P2=sha256:$(sha256sum "$T/payload2" | cut -d' ' -f1)
loc=$(curl -fsS -D - -X POST "http://$A/v2/app/y/blobs/uploads/" -o /dev/null | tr -d '\r' | grep -i '^location:' | cut -d' ' -f2)
curl -fsS -X PUT --data-binary @"$T/payload2" "$(with_query "$(abs_url "$A" "$loc")" "digest=$P2")" -o /dev/null
jq --arg d "$P2" --argjson s "$(stat -c %s "$T/payload2")" '.layers[0].digest = $d | .layers[0].size = $s' \
  "$T/sig.json" >"$T/sig2.json"
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$T/sig2.json" \
  "http://$A/v2/app/y/manifests/sha256-${OTHER_DIGEST#sha256:}.sig" >/dev/null
expect_fail 1 "no valid signature" hx verify "$A/app/y:1" --key k.pub
grep -q "invalid  the key does not verify it" "$T/last.out" || fail "changed payload: $(cat "$T/last.out")"
# The tag moved to another manifest: its signatures are not this one's.
hx copy -q "oci:$T/other:v1" "$A/app/x:1" >/dev/null
expect_fail 1 "no valid signature for $A/app/x:1" hx verify "$A/app/x:1" --key k.pub
grep -q "^0 of 0 signatures valid$" "$T/last.out" || fail "moved tag: $(cat "$T/last.out")"
hx copy -q "oci:$BASE:latest" "$A/app/x:1" >/dev/null

log "skopeo reads, copies and stores cosign signatures"
mkdir -p rd
printf 'default-docker:\n  use-sigstore-attachments: true\n' >rd/default.yaml
SKO=(skopeo --registries.d "$T/rd")
"${SKO[@]}" --insecure-policy copy -q --src-tls-verify=false "docker://$A/app/x:1" dir:"$T/dir" ||
  fail "skopeo copy to dir: failed"
expect "signatures skopeo read (the .sig tag's)" "$(ls "$T/dir" | grep -c "^signature-")" 2
tail -c +16 "$T/dir/signature-1" | jq -r .payload | base64 -d | cmp -s - "$T/payload" ||
  fail "skopeo's first signature is not the payload hoist wrote"
"${SKO[@]}" --insecure-policy copy -q --src-tls-verify=false --dest-tls-verify=false \
  "docker://$A/app/x:1" "docker://$A/copied/x:1" || fail "skopeo copy with signatures failed"
hx verify "$A/copied/x:1" --key k.pub --key o.pub >"$T/copied.out"
grep -q "^2 of 2 signatures valid$" "$T/copied.out" || fail "after skopeo's copy: $(cat "$T/copied.out")"
# A signature made by openssl, stored by skopeo, verified by hoist.
mkdir -p "$T/ext"
cp "$T/dir/manifest.json" "$T/dir/version" "$T/ext/"
for f in "$T"/dir/*; do case $(basename "$f") in manifest.json | version | signature-*) ;; *) cp "$f" "$T/ext/" ;; esac done
printf '{"critical":{"identity":{"docker-reference":"%s"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"},"optional":null}' \
  "$A/ext/x:1" "$DIGEST" >"$T/ext-payload"
openssl dgst -sha256 -sign o.pem -out "$T/ext.der" "$T/ext-payload"
{
  printf '\0sigstore-json\n'
  jq -cn --arg p "$(base64 -w0 "$T/ext-payload")" --arg s "$(base64 -w0 "$T/ext.der")" \
    '{mimeType: "application/vnd.dev.cosign.simplesigning.v1+json", payload: $p, annotations: {"dev.cosignproject.cosign/signature": $s}}'
} >"$T/ext/signature-1"
"${SKO[@]}" --insecure-policy copy -q --dest-tls-verify=false dir:"$T/ext" "docker://$A/ext/x:1" ||
  fail "skopeo could not store the openssl signature"
hx verify "$A/ext/x:1" --key o.pub --identity "$A/ext/x:1" >"$T/ext.out"
grep -q "valid    $A/ext/x:1 signed by o.pub (tag $SIG_TAG)" "$T/ext.out" || fail "openssl signature: $(cat "$T/ext.out")"

log "skopeo's sigstoreSigned policy finds hoist's signatures"
policy() { # KEY: a policy requiring sigstore signatures by KEY on $A
  jq -n --arg a "$A" --arg k "$T/$1" \
    '{default: [{type: "reject"}], transports: {docker: {($a): [{type: "sigstoreSigned", keyPath: $k}]}, dir: {"": [{type: "insecureAcceptAnything"}]}}}'
}
policy k.pub >"$T/policy-k.json"
policy other.pub >"$T/policy-other.json"
rc=0
"${SKO[@]}" --policy "$T/policy-k.json" copy -q --src-tls-verify=false "docker://$A/app/x:1" dir:"$T/p1" 2>"$T/p1.err" || rc=$?
if [ "$rc" != 0 ]; then
  # Debian's skopeo reaches the cryptographic check of each signature and
  # stops there; anything else means it did not find or parse them.
  grep -q "Debian-local change: sigstore disabled" "$T/p1.err" || fail "skopeo policy: $(cat "$T/p1.err")"
fi
hx copy -q "oci:$T/other:v1" "$A/app/unsigned:1" >/dev/null
expect_fail 1 "no signature exists" "${SKO[@]}" --policy "$T/policy-k.json" copy -q --src-tls-verify=false \
  "docker://$A/app/unsigned:1" dir:"$T/p2"
rc=0
"${SKO[@]}" --policy "$T/policy-other.json" copy -q --src-tls-verify=false "docker://$A/app/x:1" dir:"$T/p3" 2>"$T/p3.err" || rc=$?
[ "$rc" != 0 ] || fail "skopeo accepted hoist's signatures with another key"

log "copy --verify and pull --verify refuse what is not signed, before pushing anything"
hx copy -q --verify k.pub "$A/app/x:1" "$A/verified/x:1" 2>"$T/cv.err" >/dev/null
grep -q "^verified $A/app/x@$DIGEST: signed by k.pub as $A/app/x:1$" "$T/cv.err" || fail "copy --verify: $(cat "$T/cv.err")"
expect "verified copy's digest" "$(hx inspect "$A/verified/x:1" | jq -r .Digest)" "$DIGEST"
expect_fail 1 "refusing $A/app/unsigned:1 .*: it has no signatures" \
  hx copy -q --verify k.pub "$A/app/unsigned:1" "$A/verified/unsigned:1"
expect_fail 1 "no valid signature; the key does not verify it" \
  hx copy -q --verify other.pub "$A/app/x:1" "$A/verified/other:1"
for t in unsigned other; do
  expect "manifest of a refused copy ($t)" "$(http_code "http://$A/v2/verified/$t/manifests/1")" 404
done
expect_fail 1 "no valid signature" hx pull -q --verify other.pub "$A/app/x:1" -o "oci:$T/pulled"
[ ! -e "$T/pulled" ] || fail "a refused pull left $T/pulled"
hx pull -q --verify other.pub --verify k.pub "$A/app/x:1" -o "oci:$T/pulled" 2>/dev/null >/dev/null
expect "verified pull" "$(layout_digest "$T/pulled" 1)" "$DIGEST"
expect_fail 2 "needs a registry source" hx copy -q --verify k.pub "oci:$BASE:latest" "$A/verified/local:1"

log "build --push --sign"
export HOIST_HOME="$T/hoist-home"
mkdir -p ctx
echo "signed content" >ctx/f
printf 'FROM scratch\nCOPY f /f\n' >ctx/Dockerfile
BUILT=$(hx build -q -t "$A/built/x:1" --push --sign k.key ctx)
hx verify "$A/built/x:1" --key k.pub --identity "$A/built/x:1" >"$T/built.out"
grep -q "^$A/built/x:1 $BUILT$" "$T/built.out" || fail "build --sign: $(cat "$T/built.out")"
grep -q "^1 of 1 signatures valid$" "$T/built.out" || fail "build --sign: $(cat "$T/built.out")"
HOIST_SIGN_PASSWORD=wrong expect_fail 2 "passphrase does not open" hx build -q -t "$A/built/x:2" --push --sign k.key ctx
expect "manifest after a refused key" "$(http_code "http://$A/v2/built/x/manifests/2")" 404
expect_fail 2 "needs --push" hx build -q -t "$A/built/x:3" --sign k.key ctx

log "docker-registry (no referrers API): the referrers tag schema"
start_distribution "$(free_port)" "$T/dist"
D=$DIST_ADDR
hx copy -q "oci:$BASE:latest" "$D/app/x:1" >/dev/null
expect "referrers API on docker-registry" "$(http_code "http://$D/v2/app/x/referrers/$DIGEST")" 404
hx sign "$D/app/x:1" --key k.key >/dev/null
curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' \
  "http://$D/v2/app/x/manifests/sha256-${DIGEST#sha256:}" >"$T/fallback.json"
expect "fallback index entries" "$(jq '.manifests | length' "$T/fallback.json")" 1
expect "fallback artifactType" "$(jq -r '.manifests[0].artifactType' "$T/fallback.json")" \
  application/vnd.dev.cosign.artifact.sig.v1+json
hx sign "$D/app/x:1" --key k.key --no-tag >/dev/null
hx verify "$D/app/x:1" --key k.pub >"$T/dist.out"
grep -q "^2 of 2 signatures valid$" "$T/dist.out" || fail "verify on docker-registry: $(cat "$T/dist.out")"
grep -q "(tag $SIG_TAG, referrer sha256:" "$T/dist.out" || fail "verify on docker-registry: $(cat "$T/dist.out")"

log "usage errors"
expect_fail 2 "needs an image and --key" hx sign "$A/app/x:1"
expect_fail 2 "cannot read the key file" hx verify "$A/app/x:1" --key "$T/absent.pub"
expect_fail 2 "not a PEM public key" hx verify "$A/app/x:1" --key k.key
log "ok"
