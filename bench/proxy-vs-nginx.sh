#!/usr/bin/env bash
# Throughput and tail latency of gatehouse-proxy against nginx, both as a
# reverse proxy with 2 workers in front of the same upstream on loopback.
#
#   upstream:   one nginx (UPSTREAM_WORKERS, default 1 worker, so the proxies
#               and wrk keep most of the 2 cores) answering every request
#               with a 1 KiB body, access log off
#   nginx:      2 workers, `upstream` block with `keepalive 64`,
#               proxy_http_version 1.1, Connection "", X-Forwarded-* set
#               (the same work gatehouse does), access log off
#   gatehouse:  --workers 2, one Route to the upstream (temp manifests folder)
#
# Each proxy is warmed up, then measured in turn (never at once) with
# `wrk -t2 -c$CONNECTIONS -d$DURATION --latency`.
# Targets: gatehouse req/s >= 1.0 x nginx, gatehouse p99 <= 1.2 x nginx.
#
# Usage (from the repo root): bash bench/proxy-vs-nginx.sh
# Env: DURATION (10s), CONNECTIONS (100), THREADS (2), WARMUP (3s),
#      UPSTREAM_WORKERS (1), KEEP_TMP=1 keeps the temp folder with the logs.
# Figures taken while anything else runs (a compile, a test) are noise:
# the script prints the machine's load before each measurement. It exits 0
# whatever the ratios; read the table (PASS/FAIL per target).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3s}
UPSTREAM_WORKERS=${UPSTREAM_WORKERS:-1}

ensure_tools
build_proxy

UPSTREAM_PORT=$(free_port)
NGINX_PORT=$(free_port)
GATEHOUSE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
BODY=$(payload 1024)

log "upstream nginx ($UPSTREAM_WORKERS worker) on 127.0.0.1:$UPSTREAM_PORT"
start_nginx upstream "$UPSTREAM_WORKERS" "
    server {
        listen 127.0.0.1:$UPSTREAM_PORT reuseport backlog=4096;
        location / {
            return 200 '$BODY';
        }
    }"

log "nginx proxy (2 workers) on 127.0.0.1:$NGINX_PORT"
start_nginx nginx-proxy 2 "
    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$http_host;
        }
    }"

log "gatehouse (--workers 2) on 127.0.0.1:$GATEHOUSE_PORT, admin 127.0.0.1:$ADMIN_PORT"
mkdir -p "$BENCH_TMP/manifests"
cat >"$BENCH_TMP/manifests/bench.yaml" <<EOF
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata:
  name: bench
spec:
  rules:
    - backends:
        - {name: upstream, url: "http://127.0.0.1:$UPSTREAM_PORT"}
EOF
"$GATEHOUSE_BIN" --listen "127.0.0.1:$GATEHOUSE_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --manifests "$BENCH_TMP/manifests" --workers 2 --log warn \
    2>"$BENCH_TMP/gatehouse.log" &
BENCH_PIDS+=($!)

wait_http_ok "http://127.0.0.1:$UPSTREAM_PORT/"
wait_http_ok "http://127.0.0.1:$NGINX_PORT/"
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"
wait_http_ok "http://127.0.0.1:$GATEHOUSE_PORT/"

# Both proxies must hand back the upstream's body unchanged.
for port in "$NGINX_PORT" "$GATEHOUSE_PORT"; do
    size=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/bench")
    [[ $size == 1024 ]] || die "127.0.0.1:$port answered $size bytes, not 1024"
done

measure() { # $1 name, $2 port -> prints "<req/s> <p99 ms>", keeps wrk's output
    local name=$1 port=$2
    log "$name: warm-up ($WARMUP)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$port/bench" >/dev/null
    log "$name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency ($(machine_load))"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port/bench" \
        | tee "$BENCH_TMP/wrk-$name.txt" >&2
    parse_wrk <"$BENCH_TMP/wrk-$name.txt"
}

read -r NGINX_RPS NGINX_P99 < <(measure nginx "$NGINX_PORT")
read -r GH_RPS GH_P99 < <(measure gatehouse "$GATEHOUSE_PORT")

for name in nginx gatehouse; do
    if grep -qE 'Non-2xx|Socket errors' "$BENCH_TMP/wrk-$name.txt"; then
        echo "warning: $name: $(grep -hE 'Non-2xx|Socket errors' "$BENCH_TMP/wrk-$name.txt" | xargs)" >&2
    fi
done

python3 - "$NGINX_RPS" "$NGINX_P99" "$GH_RPS" "$GH_P99" "$DURATION" "$CONNECTIONS" <<'EOF'
import sys
n_rps, n_p99, g_rps, g_p99 = map(float, sys.argv[1:5])
duration, connections = sys.argv[5:7]
rps_ratio = g_rps / n_rps if n_rps else float("nan")
p99_ratio = g_p99 / n_p99 if n_p99 else float("nan")
print()
print(f"proxy-vs-nginx: 1 KiB responses, wrk -c{connections} -d{duration}, both proxies 2 workers")
print(f"{'':12}{'req/s':>12}{'p99 (ms)':>12}")
print(f"{'nginx':12}{n_rps:>12.0f}{n_p99:>12.2f}")
print(f"{'gatehouse':12}{g_rps:>12.0f}{g_p99:>12.2f}")
ok_rps = rps_ratio >= 1.0
ok_p99 = p99_ratio <= 1.2
print(f"{'ratio g/n':12}{rps_ratio:>12.2f}{p99_ratio:>12.2f}")
print(f"{'target':12}{'>= 1.00':>12}{'<= 1.20':>12}")
print(f"{'result':12}{'PASS' if ok_rps else 'FAIL':>12}{'PASS' if ok_p99 else 'FAIL':>12}")
EOF
