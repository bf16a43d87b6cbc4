#!/usr/bin/env bash
# HTTPS: gatehouse-proxy's TLS listener against nginx, both with 2 workers
# and the same ECDSA P-256 certificate, on loopback (issue #15).
#
#   certificate: a throwaway CA and a server certificate for bench.test
#               (SANs bench.test, localhost, 127.0.0.1), ECDSA P-256, made
#               with the openssl CLI in the temp folder at each run; both
#               servers send the leaf alone
#   upstream:   one plain-HTTP nginx (UPSTREAM_WORKERS, default 1 worker)
#               answering every request with a 1 KiB body, as in
#               proxy-vs-nginx.sh
#   nginx:      2 workers, `listen ... ssl reuseport`, HTTP/1.1 only (no
#               http2), `ssl_protocols TLSv1.2 TLSv1.3`, `ssl_session_cache
#               shared:SSL:10m`, `ssl_session_tickets on`, keep-alive, access
#               log off; `root` on the site folder; `location /proxy/` to
#               the upstream with `keepalive 64` and the headers
#               proxy-vs-nginx.sh sets
#   gatehouse:  local mode, --workers 2, --listen-tls: a kubernetes.io/tls
#               Secret with the same certificate and key, and a Route for
#               bench.test (`tls: {secretName, default: true, redirect:
#               false}`) with a `static` rule on /static and a `url` rule
#               to the upstream on /proxy
#
# Both serve the same bytes for the same paths: /static/1k.bin is the file
# site/static/1k.bin (a static root is looked up with the whole request
# path, as nginx's `root`), /proxy/bench the upstream's 1 KiB body.
#
# Each figure is measured for one server, then the other (never at once),
# in ROUNDS rounds that alternate which goes first; a round's ratio is
# gatehouse / nginx of its two runs, and the verdict is the median of the
# rounds' ratios (the machine's speed drifts between runs; see
# proxy-vs-nginx.sh).
#   static:  1 KiB file over HTTPS, keep-alive: `wrk -H 'Host: bench.test'
#            -t2 -c$CONNECTIONS -d$DURATION --latency
#            https://127.0.0.1:PORT/static/1k.bin`. Target: req/s >= 1.0x.
#   proxy:   the same on /proxy/bench. Target: req/s >= 1.0x.
#   full:    new TLS connections a second, full handshakes: `openssl s_time
#            -new`. Target: >= 0.9x.
#   resumed: the same, each connection resuming the session of the
#            client's first one: `openssl s_time -reuse` (TLS 1.3: a
#            session ticket, with a fresh ECDHE as OpenSSL's client always
#            asks; TLS 1.2: a session ID or ticket). Target: >= 0.9x.
# Also printed: wrk's p99 and each server's CPU time (user + system, from
# /proc) per request or per connection, the work each does for one.
#
# Why s_time for the handshakes: it sends both servers the same request on
# each connection (connect, handshake, one HTTP/1.0 GET of /static/1k.bin,
# read until the server closes), and with -new it offers no session at all.
# wrk with `Connection: close` cannot do full handshakes: it keeps the SSL
# session across its reconnects and resumes. s_time is one blocking
# connection at a time and its own half of a handshake costs about what
# the server's does (ECDHE and a signature check against ECDHE and a
# signature), so one client leaves the server idle half of the time:
# HANDSHAKE_CLIENTS (default 4) of them run at once and their rates, each
# its connections over its own wall-clock time, are summed. On 2 shared
# cores the clients take part of the CPU from either server alike, so the
# ratio understates a difference in the servers' own cost; the CPU time
# per connection shows that cost directly.
# s_time sends no Host header (`GET <page> HTTP/1.0` and an empty line)
# and no SNI: its page argument carries CR LFs that end the request line
# and add `Host: bench.test`, s_time's own ` HTTP/1.0` becoming the value
# of a last `X-Bench` header, so both servers read
#   GET /static/1k.bin HTTP/1.0 / Host: bench.test / X-Bench: HTTP/1.0
# and, without SNI, serve their default certificate (the Route's
# `default: true`). wrk sends the SNI 127.0.0.1 (its URL's host; an IP
# address, which RFC 6066 does not allow: a server must take it as none).
# Before measuring, the script checks with curl (verifying the certificate
# against the CA, SNI bench.test) that both serve the file's bytes and the
# upstream's body, and with `openssl s_client -sess_out` then `-sess_in`
# that each answers s_time's request with a 200, closes, and resumes the
# session (its "Reused," line is logged); each s_time run is checked after
# (-new: no session resumed; -reuse: every one).
#
# Usage (from the repo root): bash bench/tls-vs-nginx.sh
# Env: DURATION (10s), CONNECTIONS (100), THREADS (2), WARMUP (3s),
#      ROUNDS (3), HANDSHAKE_CLIENTS (4), TLS_VERSION (1.3; 1.2) for the
#      s_time runs (wrk negotiates TLS 1.3 with both), UPSTREAM_WORKERS (1),
#      KEEP_TMP=1 keeps the temp folder with the logs, certificate and
#      configs. BENCH_SMOKE=1: one round of 1 s at -c10, no verdict; any
#      failed request or handshake fails the run.
# Figures taken while anything else runs (a compile, a test) are noise:
# the script prints the machine's load before each measurement. It exits 0
# whatever the ratios; read the table (PASS/FAIL per target).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    : "${DURATION:=1s}" "${CONNECTIONS:=10}" "${WARMUP:=1s}" "${ROUNDS:=1}"
fi
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-3}
HANDSHAKE_CLIENTS=${HANDSHAKE_CLIENTS:-4}
TLS_VERSION=${TLS_VERSION:-1.3}
UPSTREAM_WORKERS=${UPSTREAM_WORKERS:-1}
for name in CONNECTIONS THREADS ROUNDS HANDSHAKE_CLIENTS UPSTREAM_WORKERS; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive number, not ${!name}"
done
duration_seconds "$DURATION" >/dev/null
duration_seconds "$WARMUP" >/dev/null
case $TLS_VERSION in
    1.2) TLS_FLAG=-tls1_2 ;;
    1.3) TLS_FLAG=-tls1_3 ;;
    *) die "TLS_VERSION must be 1.2 or 1.3, not $TLS_VERSION" ;;
esac

ensure_tools
ensure_command openssl
build_proxy

HOST=bench.test
TLS_DIR="$BENCH_TMP/tls"
make_tls_cert "$TLS_DIR" "$HOST" localhost 127.0.0.1
log "certificate: $(openssl x509 -in "$TLS_DIR/server.pem" -noout -subject -ext subjectAltName | xargs)"

SITE="$BENCH_TMP/site"
mkdir -p "$SITE/static"
head -c 1024 /dev/urandom >"$SITE/static/1k.bin"
# nginx workers run as an unprivileged user: let them read the site.
chmod 755 "$BENCH_TMP" "$SITE" "$SITE/static"
chmod 644 "$SITE/static/1k.bin"
BODY=$(payload 1024)

UPSTREAM_PORT=$(free_port)
NGINX_PORT=$(free_port)
GATEHOUSE_PORT=$(free_port)
GATEHOUSE_TLS_PORT=$(free_port)
ADMIN_PORT=$(free_port)

log "upstream nginx ($UPSTREAM_WORKERS worker) on 127.0.0.1:$UPSTREAM_PORT"
start_nginx upstream "$UPSTREAM_WORKERS" "
    server {
        listen 127.0.0.1:$UPSTREAM_PORT reuseport backlog=4096;
        location / {
            return 200 '$BODY';
        }
    }"

log "nginx (2 workers, TLS) on 127.0.0.1:$NGINX_PORT"
start_nginx nginx-tls 2 "
    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT ssl reuseport backlog=4096;
        server_name $HOST;
        ssl_certificate $TLS_DIR/server.pem;
        ssl_certificate_key $TLS_DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        ssl_session_tickets on;
        root $SITE;
        location /proxy/ {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$http_host;
        }
    }"

log "gatehouse (--workers 2) on 127.0.0.1:$GATEHOUSE_PORT, TLS 127.0.0.1:$GATEHOUSE_TLS_PORT, admin 127.0.0.1:$ADMIN_PORT"
mkdir -p "$BENCH_TMP/manifests"
cat >"$BENCH_TMP/manifests/bench.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: default}
type: kubernetes.io/tls
stringData:
  tls.crt: |
$(sed 's/^/    /' "$TLS_DIR/server.pem")
  tls.key: |
$(sed 's/^/    /' "$TLS_DIR/server.key")
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: bench, namespace: default}
spec:
  hostnames: [$HOST]
  tls:
    secretName: bench-tls
    default: true
    redirect: false
  rules:
    - matches: [{path: {type: PathPrefix, value: /static}}]
      backends: [{static: {root: $SITE}}]
    - matches: [{path: {type: PathPrefix, value: /proxy}}]
      backends: [{url: "http://127.0.0.1:$UPSTREAM_PORT"}]
EOF
"$GATEHOUSE_BIN" --manifests "$BENCH_TMP/manifests" --listen "127.0.0.1:$GATEHOUSE_PORT" \
    --listen-tls "127.0.0.1:$GATEHOUSE_TLS_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --workers 2 --log warn --access-log off 2>"$BENCH_TMP/gatehouse.log" &
GATEHOUSE_PID=$!
BENCH_PIDS+=("$GATEHOUSE_PID")

# curl as a browser would: SNI and Host bench.test, the certificate verified.
tls_curl() { # $1 port, $2 path, then curl arguments
    curl --cacert "$TLS_DIR/ca.pem" --resolve "$HOST:$1:127.0.0.1" "${@:3}" "https://$HOST:$1$2"
}

wait_http_ok "http://127.0.0.1:$UPSTREAM_PORT/"
wait_http_ok "https://$HOST:$NGINX_PORT/static/1k.bin" 30 \
    --cacert "$TLS_DIR/ca.pem" --resolve "$HOST:$NGINX_PORT:127.0.0.1"
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"
wait_http_ok "https://$HOST:$GATEHOUSE_TLS_PORT/static/1k.bin" 30 \
    --cacert "$TLS_DIR/ca.pem" --resolve "$HOST:$GATEHOUSE_TLS_PORT:127.0.0.1"

# What s_time sends (see the header): its page, and the request it makes.
S_TIME_PAGE=$'/static/1k.bin HTTP/1.0\r\nHost: '"$HOST"$'\r\nX-Bench:'
S_TIME_REQUEST="GET $S_TIME_PAGE HTTP/1.0"$'\r\n\r\n'

# s_time's request on one connection, as s_time makes it (no SNI), read
# until the server closes: $1 output file, $2 port, then s_client arguments.
s_client_request() {
    local out=$1 port=$2
    shift 2
    printf '%s' "$S_TIME_REQUEST" | timeout 10 openssl s_client -connect "127.0.0.1:$port" \
        -noservername "$TLS_FLAG" -ign_eof "$@" >"$out" 2>&1 \
        || die "openssl s_client to 127.0.0.1:$port failed or the server did not close after an HTTP/1.0 answer; see $out (KEEP_TMP=1)"
}

for name in nginx gatehouse; do
    if [[ $name == nginx ]]; then port=$NGINX_PORT; else port=$GATEHOUSE_TLS_PORT; fi
    cmp -s <(tls_curl "$port" /static/1k.bin -sf) "$SITE/static/1k.bin" \
        || die "$name: https://$HOST:$port/static/1k.bin does not match the file on disk"
    [[ $(tls_curl "$port" /proxy/bench -sf) == "$BODY" ]] \
        || die "$name: https://$HOST:$port/proxy/bench is not the upstream's 1 KiB body"
    # wrk's way in: URL 127.0.0.1 (SNI 127.0.0.1 from wrk, none from curl), Host bench.test.
    [[ $(curl -sfk -o /dev/null -w '%{http_code}' -H "Host: $HOST" "https://127.0.0.1:$port/static/1k.bin") == 200 ]] \
        || die "$name: https://127.0.0.1:$port/static/1k.bin with Host $HOST did not answer 200"
    s_client_request "$BENCH_TMP/s_client-$name-1.txt" "$port" -sess_out "$BENCH_TMP/$name.session"
    s_client_request "$BENCH_TMP/s_client-$name-2.txt" "$port" -sess_in "$BENCH_TMP/$name.session"
    for i in 1 2; do
        status=$(grep -a -m1 '^HTTP/1' "$BENCH_TMP/s_client-$name-$i.txt" | tr -d '\r' || true)
        [[ $status == "HTTP/1."[01]" 200"* ]] \
            || die "$name: s_time's request was answered '${status:-nothing}', not 200; see $BENCH_TMP/s_client-$name-$i.txt (KEEP_TMP=1)"
    done
    reused=$(grep -a -m1 -E '^(New|Reused), ' "$BENCH_TMP/s_client-$name-2.txt" || true)
    log "$name: s_client -sess_in with the first connection's session: ${reused:-no New/Reused line}"
    if [[ $reused != Reused,* ]]; then
        smoke && die "$name did not resume the TLS session"
        echo "warning: $name did not resume the TLS session: its resumed figure is a full handshake's" >&2
    fi
done

# The processes whose CPU time is the server's: nginx's workers (not its
# master, which sleeps), gatehouse's one process.
# shellcheck disable=SC2207 # pids have no spaces
NGINX_WORKERS=($(pgrep -P "$(cat "$BENCH_TMP/nginx-tls/nginx.pid")"))
[[ ${#NGINX_WORKERS[@]} == 2 ]] || die "expected 2 nginx workers, found ${NGINX_WORKERS[*]}"

WRK_ARGS=(-H "Host: $HOST")

# $1 figure (static, proxy, full, resumed), $2 name, $3 round -> prints
# "<rate> <p99 ms or -> <CPU us a request or connection> <share resumed or ->".
measure() {
    local figure=$1 name=$2 round=$3 port pids
    if [[ $name == nginx ]]; then
        port=$NGINX_PORT pids=("${NGINX_WORKERS[@]}")
    else
        port=$GATEHOUSE_TLS_PORT pids=("$GATEHOUSE_PID")
    fi
    case $figure in
        static | proxy)
            local path=/static/1k.bin
            [[ $figure == proxy ]] && path=/proxy/bench
            echo "$(measure_wrk "$name $figure, round $round" "$name-$figure-$round" \
                "https://127.0.0.1:$port$path" "${pids[@]}") -"
            ;;
        full | resumed)
            local mode=-new
            [[ $figure == resumed ]] && mode=-reuse
            read -r rate cpu share < <(measure_s_time "$name $figure handshakes, round $round" \
                "$name-$figure-$round" -connect "127.0.0.1:$port" "$mode" "$TLS_FLAG" \
                -www "$S_TIME_PAGE" -- "${pids[@]}")
            echo "$rate - $cpu $share"
            ;;
    esac
}

RESULTS=()
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order=(gatehouse nginx); else order=(nginx gatehouse); fi
    for figure in static proxy full resumed; do
        for name in "${order[@]}"; do
            read -r rate p99 cpu share < <(measure "$figure" "$name" "$round")
            RESULTS+=("$figure $name $round $rate $p99 $cpu $share")
        done
    done
done

# Here, not in `measure`: its subshell could not stop the script.
for file in "$BENCH_TMP"/wrk-*.txt; do
    check_wrk "$file" "$(basename "$file" .txt)"
done
for round in $(seq 1 "$ROUNDS"); do
    for name in nginx gatehouse; do
        # s_time's answer: at least the 1 KiB body with its head.
        check_s_time "$BENCH_TMP/s_time-$name-full-$round" new 1024
        check_s_time "$BENCH_TMP/s_time-$name-resumed-$round" reuse 1024
    done
done

printf '%s\n' "${RESULTS[@]}" >"$BENCH_TMP/results.txt"
python3 - "$BENCH_TMP/results.txt" "$DURATION" "$CONNECTIONS" "$HANDSHAKE_CLIENTS" "$TLS_VERSION" "$BENCH_SMOKE" <<'EOF'
import statistics
import sys

results, duration, connections, clients, tls_version, smoke = sys.argv[1:7]
FIGURES = [
    # key, label, unit of the CPU column, target ratio
    ("static", "static 1 KiB, keep-alive, req/s", "request", 1.0),
    ("proxy", "proxy 1 KiB, keep-alive, req/s", "request", 1.0),
    ("full", "new TLS conn/s, full handshake", "connection", 0.9),
    ("resumed", "new TLS conn/s, resumed", "connection", 0.9),
]
num = lambda v: float("nan") if v == "-" else float(v)
runs = {}
for line in open(results):
    figure, name, round_, rate, p99, cpu, share = line.split()
    runs.setdefault(figure, {}).setdefault(name, {})[int(round_)] = (
        float(rate), num(p99), float(cpu), num(share))
ratio = lambda g, n: g / n if n else float("nan")

print()
print(f"tls-vs-nginx: ECDSA P-256, both 2 workers; wrk -c{connections} -d{duration} (keep-alive); "
      f"{clients} x openssl s_time -time {duration} (TLS {tls_version})")
print(f"{'round':>5}  {'figure':34}{'nginx':>10}{'gatehouse':>11}{'ratio':>7}"
      f"{'p99 ms n/g':>15}{'CPU us n/g':>15}{'resumed n/g':>13}")
for key, label, _, _ in FIGURES:
    for r in sorted(runs[key]["nginx"]):
        n, g = runs[key]["nginx"][r], runs[key]["gatehouse"][r]
        p99 = "" if n[1] != n[1] else f"{n[1]:.2f}/{g[1]:.2f}"
        share = "" if n[3] != n[3] else f"{n[3]:.2f}/{g[3]:.2f}"
        print(f"{r:>5}  {label:34}{n[0]:>10.0f}{g[0]:>11.0f}{ratio(g[0], n[0]):>7.2f}"
              f"{p99:>15}{f'{n[2]:.1f}/{g[2]:.1f}':>15}{share:>13}")

print()
print(f"{'median':41}{'nginx':>10}{'gatehouse':>11}{'ratio g/n':>11}{'rounds':>13}{'target':>9}{'':>7}")
verdicts = []
for key, label, unit, target in FIGURES:
    nginx, gatehouse = runs[key]["nginx"], runs[key]["gatehouse"]
    rounds = sorted(nginx)
    by_round = [ratio(gatehouse[r][0], nginx[r][0]) for r in rounds]
    r = statistics.median(by_round)
    span = f"{min(by_round):.2f}-{max(by_round):.2f}"
    ok = r >= target
    verdict = "" if smoke == "1" else ("PASS" if ok else "FAIL")
    med = lambda runs_, i: statistics.median(v[i] for v in runs_.values())
    print(f"{label:41}{med(nginx, 0):>10.0f}{med(gatehouse, 0):>11.0f}{r:>11.2f}{span:>13}"
          f"{f'>= {target:.2f}':>9}{verdict:>7}")
    if key in ("static", "proxy"):
        p = statistics.median(ratio(gatehouse[x][1], nginx[x][1]) for x in rounds)
        print(f"{'  p99 (ms)':41}{med(nginx, 1):>10.2f}{med(gatehouse, 1):>11.2f}{p:>11.2f}{'':>13}{'(info)':>9}")
    c = statistics.median(ratio(gatehouse[x][2], nginx[x][2]) for x in rounds)
    print(f"{f'  CPU us a {unit}':41}{med(nginx, 2):>10.1f}{med(gatehouse, 2):>11.1f}{c:>11.2f}{'':>13}{'(info)':>9}")
    verdicts.append(f"result: {label}: gatehouse/nginx {r:.2f} (rounds {span}), target >= {target:.2f}: "
                    + ("PASS" if ok else "FAIL"))
print()
if smoke == "1":
    print("result: none, a smoke run (BENCH_SMOKE=1)")
else:
    print("\n".join(verdicts))
EOF
