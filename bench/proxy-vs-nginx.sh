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
# `wrk -t2 -c$CONNECTIONS -d$DURATION --latency`, in ROUNDS rounds that
# alternate which goes first: the machine's speed drifts by several percent
# from one 10-s run to the next (2 shared cores), and interleaving keeps
# that drift out of the ratio. Each round gives a ratio of the two runs
# in it, and the verdict is the median of those ratios.
# Targets: gatehouse req/s >= 1.0 x nginx, gatehouse p99 <= 1.2 x nginx.
# Also printed: each proxy's CPU time (user + system, from /proc) per
# request: the work each does for one request (it too follows the
# machine's speed, so compare it within a round).
#
# Usage (from the repo root): bash bench/proxy-vs-nginx.sh
# Env: DURATION (10s), CONNECTIONS (100), THREADS (2), WARMUP (3s),
#      ROUNDS (5), UPSTREAM_WORKERS (1), KEEP_TMP=1 keeps the temp folder
#      with the logs, ACCESS_LOG=1 has both proxies write an access log to
#      a file (nginx: `combined`, buffer=64k flush=1s; gatehouse:
#      --access-log FILE). BENCH_SMOKE=1: one round of 1 s at -c10, no
#      verdict; any failed request fails the run.
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
ROUNDS=${ROUNDS:-5}
UPSTREAM_WORKERS=${UPSTREAM_WORKERS:-1}
ACCESS_LOG=${ACCESS_LOG:-0}

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

NGINX_ACCESS_LOG="access_log off;"
GATEHOUSE_ACCESS_LOG=(--access-log off)
if [[ $ACCESS_LOG == 1 ]]; then
    NGINX_ACCESS_LOG="access_log $BENCH_TMP/nginx-access.log combined buffer=64k flush=1s;"
    GATEHOUSE_ACCESS_LOG=(--access-log "$BENCH_TMP/gatehouse-access.log")
fi

log "nginx proxy (2 workers) on 127.0.0.1:$NGINX_PORT (${NGINX_ACCESS_LOG%;})"
start_nginx nginx-proxy 2 "
    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        $NGINX_ACCESS_LOG
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
    --manifests "$BENCH_TMP/manifests" --workers 2 --log warn "${GATEHOUSE_ACCESS_LOG[@]}" \
    2>"$BENCH_TMP/gatehouse.log" &
GATEHOUSE_PID=$!
BENCH_PIDS+=("$GATEHOUSE_PID")

wait_http_ok "http://127.0.0.1:$UPSTREAM_PORT/"
wait_http_ok "http://127.0.0.1:$NGINX_PORT/"
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"
wait_http_ok "http://127.0.0.1:$GATEHOUSE_PORT/"

# Both proxies must hand back the upstream's body unchanged.
for port in "$NGINX_PORT" "$GATEHOUSE_PORT"; do
    size=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/bench")
    [[ $size == 1024 ]] || die "127.0.0.1:$port answered $size bytes, not 1024"
done

# The processes whose CPU time is the proxy's: nginx's workers (not its
# master, which sleeps), gatehouse's one process.
# shellcheck disable=SC2207 # pids have no spaces
NGINX_WORKERS=($(pgrep -P "$(cat "$BENCH_TMP/nginx-proxy/nginx.pid")"))
[[ ${#NGINX_WORKERS[@]} == 2 ]] || die "expected 2 nginx proxy workers, found ${NGINX_WORKERS[*]}"

# $1 name, $2 port, $3 round -> prints "<req/s> <p99 ms> <CPU us/request>",
# keeps wrk's output.
measure() {
    local name=$1 pids
    if [[ $name == nginx ]]; then pids=("${NGINX_WORKERS[@]}"); else pids=("$GATEHOUSE_PID"); fi
    measure_wrk "$name, round $3" "$name-$3" "http://127.0.0.1:$2/bench" "${pids[@]}"
}

RESULTS=()
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order=(nginx gatehouse); else order=(gatehouse nginx); fi
    for name in "${order[@]}"; do
        if [[ $name == nginx ]]; then port=$NGINX_PORT; else port=$GATEHOUSE_PORT; fi
        read -r rps p99 cpu < <(measure "$name" "$port" "$round")
        RESULTS+=("$name $round $rps $p99 $cpu")
    done
done

for file in "$BENCH_TMP"/wrk-*.txt; do
    check_wrk "$file" "$(basename "$file" .txt)"
done

printf '%s\n' "${RESULTS[@]}" >"$BENCH_TMP/results.txt"
python3 - "$BENCH_TMP/results.txt" "$DURATION" "$CONNECTIONS" "$ACCESS_LOG" "$BENCH_SMOKE" <<'EOF'
import statistics
import sys
results, duration, connections, access_log, smoke = sys.argv[1:6]
access_log = ", access logs on" if access_log == "1" else ""
runs = {"nginx": {}, "gatehouse": {}}
for line in open(results):
    name, round_, rps, p99, cpu = line.split()
    runs[name][int(round_)] = (float(rps), float(p99), float(cpu))
print()
print(f"proxy-vs-nginx: 1 KiB responses, wrk -c{connections} -d{duration}, both proxies 2 workers{access_log}")
print(f"{'round':>6}{'req/s nginx':>13}{'gatehouse':>11}{'ratio':>7}"
      f"{'p99 ms nginx':>14}{'gatehouse':>11}{'ratio':>7}"
      f"{'CPU us/req nginx':>18}{'gatehouse':>11}{'ratio':>7}")
for r in sorted(runs["nginx"]):
    n, g = runs["nginx"][r], runs["gatehouse"][r]
    print(f"{r:>6}{n[0]:>13.0f}{g[0]:>11.0f}{g[0] / n[0]:>7.2f}"
          f"{n[1]:>14.2f}{g[1]:>11.2f}{g[1] / n[1]:>7.2f}"
          f"{n[2]:>18.1f}{g[2]:>11.1f}{g[2] / max(n[2], 0.1):>7.2f}")
# Each round measures the two back to back, so a round's ratio is free of
# the drift between rounds; the verdict is the median of those ratios.
rounds = sorted(runs["nginx"])
ratio = [
    statistics.median(runs["gatehouse"][r][i] / max(runs["nginx"][r][i], 0.1) for r in rounds)
    for i in range(3)
]
median = {
    name: [statistics.median(v[i] for v in by_round.values()) for i in range(3)]
    for name, by_round in runs.items()
}
print()
print(f"{'median':22}{'req/s':>10}{'p99 (ms)':>10}{'CPU us/req':>12}")
for name in ("nginx", "gatehouse"):
    print(f"{name:22}{median[name][0]:>10.0f}{median[name][1]:>10.2f}{median[name][2]:>12.1f}")
print(f"{'ratio g/n (by round)':22}{ratio[0]:>10.2f}{ratio[1]:>10.2f}{ratio[2]:>12.2f}")
print(f"{'target':22}{'>= 1.00':>10}{'<= 1.20':>10}{'(info)':>12}")
if smoke == "1":
    print(f"{'result':22}{'none: a smoke run (BENCH_SMOKE=1)':>10}")
else:
    print(f"{'result':22}{'PASS' if ratio[0] >= 1.0 else 'FAIL':>10}{'PASS' if ratio[1] <= 1.2 else 'FAIL':>10}")
EOF
