#!/usr/bin/env bash
# Memory per idle keep-alive connection: gatehouse-proxy --static-root
# against nginx, one worker each, serving the same 1 KiB file on loopback.
#
#   nginx:      worker_processes 1, worker_connections N + 100
#   gatehouse:  --workers 1 --static-root DIR
#   client:     bench/idle_client.py opens N connections, makes one request
#               on each, and holds them all idle
#
# Each line is measured on a freshly started server: its RSS (VmRSS, of the
# gatehouse process and of nginx's one worker) after 20 connections have
# come and gone, then again once all N connections have had their answer
# and idled for a second; the growth over N is the memory one idle
# connection holds.
#
#   GET         one GET for the 1 KiB file (gatehouse: the lane)
#   POST        one POST with a 5-byte body first (gatehouse: hyper answers
#               it, then the connection is the lane's again; both answer 405)
#   h2c         HTTP/2 with prior knowledge, one GET (nginx: its own
#               `http2` port)
#
# Target: gatehouse <= 2 KB per idle GET or POST-first connection (nginx:
# 0.6 KB).
#
# Usage (from the repo root): bash bench/idle-connections.sh
# Env: CONNECTIONS (5000), SETTLE (1, seconds idle before the measure),
#      MODES ("get post h2c": which lines to measure),
#      GATEHOUSE_BIN (a built binary to measure instead of building one),
#      KEEP_TMP=1, BENCH_SMOKE=1 (50 connections, figures only, no verdict;
#      fails only when something broke).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNECTIONS=${CONNECTIONS:-5000}
SETTLE=${SETTLE:-1}
MODES=${MODES:-get post h2c}
# `smoke`, not the variable's being set: lib.sh sets it to 0 when unset.
if smoke; then
    CONNECTIONS=50
fi
WARM=20

# The client, each server and nginx's worker each hold N descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < CONNECTIONS + 200)); then
    die "$CONNECTIONS connections need $((CONNECTIONS + 200)) file descriptors; ulimit -n allows $(ulimit -n) (lower CONNECTIONS or raise the hard limit)"
fi

ensure_tools
if [[ -n ${GATEHOUSE_BIN:-} ]]; then
    [[ -x $GATEHOUSE_BIN ]] || die "GATEHOUSE_BIN=$GATEHOUSE_BIN is not an executable"
else
    build_proxy
fi

SITE="$BENCH_TMP/site"
mkdir -p "$SITE"
payload 1024 >"$SITE/1k.txt"
chmod 755 "$BENCH_TMP" "$SITE"
chmod 644 "$SITE/1k.txt"

# Resident memory of a process, in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# Runs the client with N connections against $2 in mode $3 and, once all
# are idle, prints "<KiB before> <KiB after>" of process $1.
# $1 pid to measure, $2 port, $3 mode, $4 name (for messages).
hold_and_measure() {
    local pid=$1 port=$2 mode=$3 name=$4 before after ready ok failed
    # Warm-up: first-use allocations (the file's cache entry, the runtime's
    # buffers) are no connection's.
    python3 "$BENCH_DIR/idle_client.py" 127.0.0.1 "$port" "$mode" "$WARM" /1k.txt </dev/null >/dev/null \
        || die "$name $mode: the warm-up connections failed"
    sleep 0.5
    before=$(rss_kib "$pid")
    coproc CLIENT { python3 "$BENCH_DIR/idle_client.py" 127.0.0.1 "$port" "$mode" "$CONNECTIONS" /1k.txt; }
    read -r ready ok failed <&"${CLIENT[0]}" || die "$name $mode: the client ended before its connections were ready"
    [[ $ready == ready ]] || die "$name $mode: the client said $ready"
    sleep "$SETTLE"
    after=$(rss_kib "$pid")
    kill -0 "$pid" 2>/dev/null || die "$name exited while holding $mode connections"
    exec {CLIENT[1]}>&-
    wait "$CLIENT_PID" || true
    ((failed == 0)) || die "$name $mode: $failed of $CONNECTIONS connections failed (see above)"
    echo "$before $after"
}

# Starts nginx with one worker; sets NGINX_WORKER (pid), NGINX_PORT, NGINX_H2_PORT.
start_nginx_one_worker() {
    local prefix="$BENCH_TMP/nginx-$1" master
    NGINX_PORT=$(free_port)
    NGINX_H2_PORT=$(free_port)
    mkdir -p "$prefix/logs" "$prefix/tmp"
    # Own config: lib.sh's start_nginx caps worker_connections at 4096.
    cat >"$prefix/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $((CONNECTIONS + 200));
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
daemon off;
master_process on;
events {
    worker_connections $((CONNECTIONS + 100));
}
http {
    access_log off;
    client_body_temp_path $prefix/tmp/client;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    default_type text/plain;
    server_tokens off;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        listen 127.0.0.1:$NGINX_H2_PORT http2 backlog=4096;
        root $SITE;
    }
}
EOF
    nginx -t -q -p "$prefix" -c "$prefix/nginx.conf" || die "nginx config is invalid"
    nginx -p "$prefix" -c "$prefix/nginx.conf" &
    master=$!
    BENCH_PIDS+=("$master")
    wait_http_ok "http://127.0.0.1:$NGINX_PORT/1k.txt"
    NGINX_WORKER=$(pgrep -P "$master" | head -1)
    [[ -n $NGINX_WORKER ]] || die "nginx started no worker"
}

stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Starts gatehouse with one worker; sets GATEHOUSE_PID and GATEHOUSE_PORT.
start_gatehouse() {
    local admin
    GATEHOUSE_PORT=$(free_port)
    admin=$(free_port)
    "$GATEHOUSE_BIN" --listen "127.0.0.1:$GATEHOUSE_PORT" --admin-listen "127.0.0.1:$admin" \
        --static-root "$SITE" --workers 1 --max-connections $((CONNECTIONS + 100)) \
        --log warn 2>>"$BENCH_TMP/gatehouse.log" &
    GATEHOUSE_PID=$!
    BENCH_PIDS+=("$GATEHOUSE_PID")
    wait_http_ok "http://127.0.0.1:$GATEHOUSE_PORT/1k.txt"
}

RESULTS=()
for mode in $MODES; do
    start_nginx_one_worker "$mode"
    port=$NGINX_PORT
    [[ $mode == h2c ]] && port=$NGINX_H2_PORT
    log "nginx $mode: $CONNECTIONS idle connections ($(machine_load))"
    read -r n_before n_after < <(hold_and_measure "$NGINX_WORKER" "$port" "$mode" nginx)
    stop_pid "${BENCH_PIDS[-1]}"

    start_gatehouse
    log "gatehouse $mode: $CONNECTIONS idle connections ($(machine_load))"
    read -r g_before g_after < <(hold_and_measure "$GATEHOUSE_PID" "$GATEHOUSE_PORT" "$mode" gatehouse)
    stop_pid "$GATEHOUSE_PID"
    RESULTS+=("$mode $n_before $n_after $g_before $g_after")
done

python3 - "$CONNECTIONS" "$(smoke && echo 1)" "${RESULTS[@]}" <<'EOF'
import sys
connections, smoke = int(sys.argv[1]), bool(sys.argv[2])
names = {"get": "GET (lane)", "post": "POST first (hyper, then lane)", "h2c": "h2c (hyper h2)"}
print()
print(f"idle-connections: {connections} idle keep-alive connections, one worker each; "
      "RSS growth per connection (KB = 1000 bytes)")
print(f"{'':30}{'nginx':>10}{'gatehouse':>11}{'gatehouse RSS MB':>20}{'target':>9}{'':>7}")
for row in sys.argv[3:]:
    mode, nb, na, gb, ga = row.split()
    nb, na, gb, ga = (int(v) * 1024 for v in (nb, na, gb, ga))
    n, g = (na - nb) / connections / 1000, (ga - gb) / connections / 1000
    target, verdict = "", ""
    if mode in ("get", "post"):
        target = "<= 2.0"
        verdict = "" if smoke else ("PASS" if g <= 2.0 else "FAIL")
    rss = f"{gb / 1e6:.1f} -> {ga / 1e6:.1f}"
    print(f"{names[mode]:30}{n:>10.2f}{g:>11.2f}{rss:>20}{target:>9}{verdict:>7}")
if smoke:
    print("(BENCH_SMOKE: one small round, no verdict)")
EOF
