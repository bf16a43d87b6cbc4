#!/usr/bin/env bash
# Certificate renewals under load: gatehouse-proxy (--workers 2, local
# mode) serves a 1 KiB file over HTTPS while `wrk` opens a new connection
# for every request (`Connection: close`: a handshake each, full or
# resumed), and a loop renews the certificate SWAPS times, as certbot or a
# mounted Secret does: new `tls.crt` and `tls.key` written beside the
# manifests and renamed into place, each renewal a certificate of its own.
#
# Targets: 0 non-2xx responses, 0 socket errors, 0 failed handshakes
# (`gatehouse_tls_handshake_failures_total`, but for reason="closed": a
# client that left mid-handshake, as wrk does when it stops), every renewal applied
# (`gatehouse_config_applies_total{source="manifests",result="success"}`),
# and after the last one, new handshakes get the last certificate.
#
# Usage (from the repo root): bash bench/tls-swap-under-load.sh
# Env: DURATION (20, seconds), CONNECTIONS (50), THREADS (2), SWAPS (40),
#      KEEP_TMP=1 keeps the temp folder. Exits 1 on FAIL.
#      BENCH_SMOKE=1: 3 s at -c10 with 4 renewals; every check still counts.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    : "${DURATION:=3}" "${CONNECTIONS:=10}" "${SWAPS:=4}"
fi
DURATION=${DURATION:-20}
DURATION=${DURATION%s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
SWAPS=${SWAPS:-40}
for name in DURATION CONNECTIONS THREADS SWAPS; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive number, not ${!name}"
done

ensure_tools
ensure_command openssl
build_proxy

HOST=bench.test
PORT=$(free_port)
TLS_PORT=$(free_port)
ADMIN_PORT=$(free_port)
SITE="$BENCH_TMP/site"
MANIFESTS="$BENCH_TMP/manifests"
SECRET="$MANIFESTS/bench-tls"
mkdir -p "$SITE" "$SECRET"
payload 1024 >"$SITE/1k.bin"

# Every certificate the run serves, made before it starts (openssl's time
# would otherwise be the loop's): the first, then one per renewal.
log "making $((SWAPS + 1)) certificates"
for ((i = 0; i <= SWAPS; i++)); do
    make_tls_cert "$BENCH_TMP/cert-$i" "$HOST" localhost 127.0.0.1
done
cp "$BENCH_TMP/cert-0/server.pem" "$SECRET/tls.crt"
cp "$BENCH_TMP/cert-0/server.key" "$SECRET/tls.key"
cat >"$MANIFESTS/route.yaml" <<EOF
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: bench, namespace: default}
spec:
  hostnames: [$HOST]
  tls: {secretName: bench-tls, default: true, redirect: false}
  rules:
    - backends: [{static: {root: $SITE}}]
EOF

"$GATEHOUSE_BIN" --manifests "$MANIFESTS" --listen "127.0.0.1:$PORT" \
    --listen-tls "127.0.0.1:$TLS_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --workers 2 --log warn --access-log off 2>"$BENCH_TMP/gatehouse.log" &
BENCH_PIDS+=($!)
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"
wait_http_ok "https://$HOST:$TLS_PORT/1k.bin" 30 \
    --cacert "$BENCH_TMP/cert-0/ca.pem" --resolve "$HOST:$TLS_PORT:127.0.0.1"

# The serial of the certificate a new handshake gets now.
served_serial() {
    openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername "$HOST" </dev/null 2>/dev/null \
        | openssl x509 -noout -serial
}
metric_sum() { # the sum of every series of $1 (a name, or a name and labels) in /metrics
    curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" \
        | awk -v name="$1" 'index($0, name) == 1 { sum += $NF } END { print sum + 0 }'
}
applied() {
    curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" \
        | awk '/^gatehouse_config_applies_total\{.*source="manifests"/ && /result="success"/ { print $NF }'
}

applied_before=$(applied)
log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, a new connection a request, while $SWAPS renewals land ($(machine_load))"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -H "Host: $HOST" -H "Connection: close" \
    "https://127.0.0.1:$TLS_PORT/1k.bin" >"$BENCH_TMP/wrk.txt" &
WRK=$!
BENCH_PIDS+=("$WRK")
interval=$(python3 -c "print(max(0.05, ($DURATION - 2) / $SWAPS))")
sleep 1
for ((i = 1; i <= SWAPS; i++)); do
    # As a renewal tool writes: each file whole under a temporary name,
    # then renamed over the old one; the key first, so a reload between
    # the two sees the old pair or a refused mismatch, never half a file.
    cp "$BENCH_TMP/cert-$i/server.key" "$SECRET/.tls.key.new"
    cp "$BENCH_TMP/cert-$i/server.pem" "$SECRET/.tls.crt.new"
    mv "$SECRET/.tls.key.new" "$SECRET/tls.key"
    mv "$SECRET/.tls.crt.new" "$SECRET/tls.crt"
    sleep "$interval"
done
wait "$WRK"
cat "$BENCH_TMP/wrk.txt" >&2

# The watcher waits for 100 ms of quiet before it reads again.
expected=$(openssl x509 -in "$BENCH_TMP/cert-$SWAPS/server.pem" -noout -serial)
for _ in $(seq 50); do
    [[ $(served_serial) == "$expected" ]] && break
    sleep 0.1
done
served=$(served_serial)
applied_after=$(applied)
# A client that closes before finishing (wrk does, at its end and when it
# probes with plain TCP first) is counted apart: it is no refusal.
all_failures=$(metric_sum gatehouse_tls_handshake_failures_total)
closed=$(metric_sum 'gatehouse_tls_handshake_failures_total{reason="closed"}')
failures=$((all_failures - closed))
curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" | grep '^gatehouse_tls_handshake_failures_total' >&2 || true
handshakes=$(metric_sum gatehouse_tls_handshakes_total)
requests=$(wrk_requests <"$BENCH_TMP/wrk.txt")
problems=$(grep -hE 'Non-2xx|Socket errors' "$BENCH_TMP/wrk.txt" | xargs || true)
# A key renamed in before its certificate is a refused pair for a moment
# (said in the log, the last good pair serving): a reload may count as a
# failure, never as a swap to a broken certificate.
refused_reloads=$(grep -c "rejected" "$BENCH_TMP/gatehouse.log" || true)

echo
echo "tls-swap-under-load: $SWAPS renewals during ${DURATION}s of wrk -c$CONNECTIONS, a handshake a request"
printf '  requests %s, handshakes %s, failed handshakes %s (and %s the client closed), wrk problems: %s\n' \
    "$requests" "$handshakes" "$failures" "$closed" "${problems:-none}"
printf '  reloads applied %s (renewals %s; refused halfway reloads %s)\n' \
    "$((applied_after - applied_before))" "$SWAPS" "$refused_reloads"
printf '  served now: %s (the last renewal: %s)\n' "$served" "$expected"

fail=0
[[ -z $problems ]] || { echo "FAIL: wrk saw $problems" >&2; fail=1; }
grep -q 'requests in' "$BENCH_TMP/wrk.txt" || { echo "FAIL: wrk made no request" >&2; fail=1; }
[[ $failures == 0 ]] || { echo "FAIL: $failures handshakes failed" >&2; fail=1; }
[[ $served == "$expected" ]] || { echo "FAIL: new handshakes do not get the last certificate" >&2; fail=1; }
((applied_after > applied_before)) || { echo "FAIL: no renewal was applied" >&2; fail=1; }
((fail == 0)) || exit 1
echo "PASS"
