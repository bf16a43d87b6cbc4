#!/usr/bin/env bash
# Static file serving: gatehouse-proxy --static-root against nginx, both with
# 2 workers, serving the same folder on loopback.
#
#   nginx:      2 workers, sendfile on, tcp_nopush on, access log off
#   gatehouse:  --workers 2 --static-root DIR
#   files:      1 KiB and 1 MiB, measured in turn (never at once) with
#               `wrk -t2 -c$CONNECTIONS -d$DURATION --latency`
#
# Targets: 1 KiB: gatehouse req/s >= 1.0 x nginx and p99 <= nginx's;
#          1 MiB: gatehouse throughput >= 0.9 x nginx.
#
# Usage (from the repo root): bash bench/static-vs-nginx.sh
# Env: DURATION (10s), CONNECTIONS (100), THREADS (2), WARMUP (3s), KEEP_TMP=1,
#      NGINX_OPEN_FILE_CACHE=1 to give nginx its descriptor cache too (off in
#      the issue's setup; gatehouse keeps small files in memory either way).
#      BENCH_SMOKE=1: 1 s per file at -c10, no verdict; any failed request
#      fails the run.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    : "${DURATION:=1s}" "${CONNECTIONS:=10}" "${WARMUP:=1s}"
fi
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3s}

ensure_tools
build_proxy

SITE="$BENCH_TMP/site"
mkdir -p "$SITE"
head -c 1024 /dev/urandom >"$SITE/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$SITE/1m.bin"
# nginx workers run as an unprivileged user: let them read the site.
chmod 755 "$BENCH_TMP" "$SITE"
chmod 644 "$SITE"/*

NGINX_PORT=$(free_port)
GATEHOUSE_PORT=$(free_port)
ADMIN_PORT=$(free_port)

log "nginx (2 workers, sendfile) on 127.0.0.1:$NGINX_PORT"
OPEN_FILE_CACHE=""
if [[ -n ${NGINX_OPEN_FILE_CACHE:-} ]]; then
    OPEN_FILE_CACHE="open_file_cache max=1000 inactive=20s; open_file_cache_valid 30s;"
    log "nginx with open_file_cache"
fi
start_nginx nginx-static 2 "
    sendfile on;
    $OPEN_FILE_CACHE
    tcp_nopush on;
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        root $SITE;
    }"

log "gatehouse (--workers 2 --static-root) on 127.0.0.1:$GATEHOUSE_PORT"
"$GATEHOUSE_BIN" --listen "127.0.0.1:$GATEHOUSE_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --static-root "$SITE" --workers 2 --log warn 2>"$BENCH_TMP/gatehouse.log" &
BENCH_PIDS+=($!)

wait_http_ok "http://127.0.0.1:$NGINX_PORT/1k.bin"
wait_http_ok "http://127.0.0.1:$GATEHOUSE_PORT/1k.bin"
for port in "$NGINX_PORT" "$GATEHOUSE_PORT"; do
    for file in 1k.bin 1m.bin; do
        cmp -s <(curl -s "http://127.0.0.1:$port/$file") "$SITE/$file" \
            || die "127.0.0.1:$port/$file does not match the file on disk"
    done
done

measure() { # $1 name, $2 port, $3 file -> prints "<req/s> <p99 ms>"
    local name=$1 port=$2 file=$3
    log "$name $file: warm-up ($WARMUP)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$port/$file" >/dev/null
    log "$name $file: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency ($(machine_load))"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$port/$file" \
        | tee "$BENCH_TMP/wrk-$name-$file.txt" >&2
    parse_wrk <"$BENCH_TMP/wrk-$name-$file.txt"
}

read -r N1_RPS N1_P99 < <(measure nginx "$NGINX_PORT" 1k.bin)
read -r G1_RPS G1_P99 < <(measure gatehouse "$GATEHOUSE_PORT" 1k.bin)
read -r NM_RPS NM_P99 < <(measure nginx "$NGINX_PORT" 1m.bin)
read -r GM_RPS GM_P99 < <(measure gatehouse "$GATEHOUSE_PORT" 1m.bin)
# Here, not in `measure`: its subshell could not stop the script.
for file in "$BENCH_TMP"/wrk-*.txt; do
    check_wrk "$file" "$(basename "$file" .txt)"
done

python3 - "$N1_RPS" "$N1_P99" "$G1_RPS" "$G1_P99" "$NM_RPS" "$NM_P99" "$GM_RPS" "$GM_P99" "$DURATION" "$CONNECTIONS" "$BENCH_SMOKE" <<'EOF'
import sys
n1, n1p, g1, g1p, nm, nmp, gm, gmp = map(float, sys.argv[1:9])
duration, connections, smoke = sys.argv[9:12]
ratio = lambda a, b: a / b if b else float("nan")
print()
print(f"static-vs-nginx: wrk -c{connections} -d{duration}, both 2 workers")
print(f"{'':22}{'nginx':>12}{'gatehouse':>12}{'ratio g/n':>12}{'target':>10}{'':>7}")
rows = [
    ("1 KiB req/s", n1, g1, ratio(g1, n1), ">= 1.00", ratio(g1, n1) >= 1.0),
    ("1 KiB p99 (ms)", n1p, g1p, ratio(g1p, n1p), "<= 1.00", ratio(g1p, n1p) <= 1.0),
    ("1 MiB req/s", nm, gm, ratio(gm, nm), "", None),
    ("1 MiB MiB/s", nm, gm, ratio(gm, nm), ">= 0.90", ratio(gm, nm) >= 0.9),
    ("1 MiB p99 (ms)", nmp, gmp, ratio(gmp, nmp), "", None),
]
for name, n, g, r, target, ok in rows:
    verdict = "" if ok is None or smoke == "1" else ("PASS" if ok else "FAIL")
    print(f"{name:22}{n:>12.2f}{g:>12.2f}{r:>12.2f}{target:>10}{verdict:>7}")
if smoke == "1":
    print("no verdict: a smoke run (BENCH_SMOKE=1)")
EOF
