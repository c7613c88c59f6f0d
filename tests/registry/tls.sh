#!/usr/bin/env bash
# `hoist registry serve` over TLS, with a CA made here by openssl: curl,
# hoist (login + copy with htpasswd) and skopeo push and pull; TLS 1.0/1.1
# refused; plain HTTP on the TLS port gets no answer; SIGHUP loads a
# renewed certificate; mutual TLS refuses a client without a certificate;
# a non-loopback address without TLS is refused at start.
source "$(dirname "${BASH_SOURCE[0]}")/../support/lib.sh"
need curl openssl skopeo apache2-utils busybox-static jq
export DOCKER_CONFIG="$T/docker-config" HOIST_HOME="$T/hoist-home"
mkdir -p "$DOCKER_CONFIG"
cd "$T"

# A CA, a server certificate for 127.0.0.1, and a client certificate.
test_ca "$T/pki"
issue() { test_cert "$T/pki" "$@"; }  # NAME SUBJECT EXT SERIAL
issue server /CN=127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost" 1001
issue client /CN=client "extendedKeyUsage=clientAuth" 2001
htpasswd -B -b -c "$T/htpasswd" alice secret 2>/dev/null

# serve_tls NAME ARGS...: a TLS registry; sets REG and REG_PID.
serve_tls() {
  local name=$1
  shift
  serve_registry "$name" --tls-cert "$T/pki/server.crt" --tls-key "$T/pki/server.key" \
    --log-level info "$@"
  local i  # the log line follows the address file
  for ((i = 0; i < 100; i++)); do grep -q 'tls=on' "$T/$name.log" && return 0; sleep 0.1; done
  fail "the $name registry does not say tls=on"
}
serial_of() { # the serial of the certificate the registry presents now
  openssl s_client -connect "$REG" -CAfile "$T/pki/ca.crt" </dev/null 2>/dev/null |
    openssl x509 -noout -serial | cut -d= -f2
}

serve_tls plain --htpasswd "$T/htpasswd"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert pki/ca.crt -u alice:secret "https://$REG/v2/")" = 200 ] ||
  fail "GET /v2/ over TLS"
code=0
curl -s -o /dev/null "https://$REG/v2/" || code=$?
[ "$code" = 60 ] || fail "curl without the test CA: exit $code, want 60 (certificate not trusted)"
# Plain HTTP on the TLS port: no HTTP answer.
out=$(curl -s --max-time 5 "http://$REG/v2/" -w '%{http_code}' || true)
[[ $out != 200* && $out != *200 ]] || fail "plain HTTP on the TLS port was answered: $out"
# TLS 1.2 and 1.3 only.
for v in tls1_2 tls1_3; do
  openssl s_client -"$v" -connect "$REG" -CAfile pki/ca.crt </dev/null >"$T/$v.log" 2>&1 ||
    fail "$v refused: $(tail -3 "$T/$v.log")"
done
if openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -connect "$REG" </dev/null >"$T/tls11.log" 2>&1; then
  fail "TLS 1.1 was accepted"
fi

# Real clients: hoist login + copy with --ca-cert, skopeo with a cert dir.
bash "$TESTDATA/make-base-image.sh" "$T/base" 1 >"$T/base.log" 2>&1 || fail "make-base-image.sh"
echo secret | "$HOIST" login "$REG" -u alice --password-stdin --ca-cert pki/ca.crt >"$T/login.log" 2>&1 ||
  fail "hoist login over TLS: $(cat "$T/login.log")"
"$HOIST" copy -q --ca-cert pki/ca.crt "oci:$T/base:1" "$REG/tls/busybox:1" >/dev/null ||
  fail "hoist copy to the TLS registry"
"$HOIST" copy -q --ca-cert pki/ca.crt "$REG/tls/busybox:1" "oci:$T/back:1" >/dev/null ||
  fail "hoist copy from the TLS registry"
[ "$(layout_digest "$T/base" 1)" = "$(layout_digest "$T/back" 1)" ] || fail "round trip digest"
mkdir -p "$T/certs.d"
cp pki/ca.crt "$T/certs.d/ca.crt"
sko copy --dest-cert-dir "$T/certs.d" --dest-creds alice:secret "oci:$T/base:1" \
  "docker://$REG/tls/skopeo:1" >/dev/null || fail "skopeo push over TLS"
sko copy --src-cert-dir "$T/certs.d" --src-creds alice:secret "docker://$REG/tls/skopeo:1" \
  "oci:$T/sko:1" >/dev/null || fail "skopeo pull over TLS"
if sko copy --dest-creds alice:secret "oci:$T/base:1" "docker://$REG/tls/untrusted:1" \
  >"$T/untrusted.log" 2>&1; then fail "skopeo trusted the test CA without being told"; fi

# SIGHUP: a renewed certificate for new connections; a broken one keeps the old.
[ "$(serial_of)" = 03E9 ] || fail "serial before renewal: $(serial_of)"
issue server /CN=127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:localhost" 1002
kill -HUP "$REG_PID"
for ((i = 0; i < 50; i++)); do grep -q 'TLS certificate reloaded' "$T/plain.log" && break; sleep 0.1; done
[ "$(serial_of)" = 03EA ] || fail "serial after SIGHUP: $(serial_of), want 03EA"
cp pki/server.key "$T/server.key.good"
echo broken >pki/server.key
kill -HUP "$REG_PID"
for ((i = 0; i < 50; i++)); do grep -q 'TLS reload failed' "$T/plain.log" && break; sleep 0.1; done
grep -q 'TLS reload failed' "$T/plain.log" || fail "a broken key on SIGHUP was not reported"
[ "$(serial_of)" = 03EA ] || fail "a failed reload changed the certificate"
cp "$T/server.key.good" pki/server.key
stop_pid "$REG_PID"

# Mutual TLS: no client certificate, no connection.
serve_tls mtls --tls-client-ca "$T/pki/ca.crt"
code=0
curl -s -o /dev/null --cacert pki/ca.crt "https://$REG/v2/" || code=$?
[ "$code" != 0 ] || fail "mutual TLS let a client without a certificate in"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert pki/ca.crt --cert pki/client.crt --key pki/client.key \
  "https://$REG/v2/")" = 200 ] || fail "mutual TLS refused the client certificate"
stop_pid "$REG_PID"

# Plain HTTP beyond loopback needs --allow-plain-http.
if "$HOIST" registry serve --addr 0.0.0.0:0 --root "$T/x" >"$T/open.log" 2>&1 </dev/null; then
  fail "plain HTTP on 0.0.0.0 started"
fi
grep -q 'refusing plain HTTP on a non-loopback address' "$T/open.log" || fail "message: $(cat "$T/open.log")"
log "OK"
