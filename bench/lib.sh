# shellcheck shell=bash
# Shared helpers for the bench/*.sh scripts; sourced, not run.
# Provides: tool installation, the release build, free loopback ports,
# private nginx instances (own prefix, pid and error log; never the system
# service), readiness waits, wrk output parsing and process cleanup.
#
# Smoke mode, BENCH_SMOKE=1 (bench/smoke.sh runs every script so in CI, so
# that no bench rots): one short round with tiny durations, and no verdict
# on the figures; the script exits non-zero only when something broke (a
# binary did not start, a request or a parse failed). Each script picks its
# own smoke settings; `smoke` says whether the mode is on. Env set by the
# caller (DURATION, ...) still wins.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"

# Everything a script starts is recorded here and stopped on exit.
BENCH_PIDS=()
# Extra arguments measure_wrk gives wrk before its own (headers: -H 'Host: x').
WRK_ARGS=()
BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")"

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        # Give each one a moment to exit, then insist.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "${KEEP_TMP:-}" ]]; then
        echo "kept logs and configs in $BENCH_TMP" >&2
    else
        rm -rf "$BENCH_TMP"
    fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_SMOKE=${BENCH_SMOKE:-0}
smoke() { [[ $BENCH_SMOKE == 1 ]]; }

# A failed request (non-2xx, socket error) in a kept wrk output, or no
# request at all: a warning, and in smoke mode an error.
check_wrk() { # $1 wrk output file, $2 what it measured
    local problem
    problem=$(grep -hE 'Non-2xx|Socket errors' "$1" | xargs || true)
    grep -q 'requests in' "$1" || problem="wrk made no request${problem:+; $problem}"
    [[ -z $problem ]] && return 0
    smoke && die "$2: $problem"
    echo "warning: $2: $problem" >&2
}

log() { echo "==> $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# apt-get as root, waiting for another apt (a second bench, CI's own
# install) to let go of the lock rather than failing at once.
apt_get() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"
}

# Installs nginx and wrk from apt when missing (apt-get update only if needed).
ensure_tools() {
    export PATH="$PATH:/usr/sbin:/sbin"
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]}"
    local packages=()
    local tool
    for tool in "${missing[@]}"; do
        case $tool in
            nginx) packages+=(nginx-light) ;;
            *) packages+=("$tool") ;;
        esac
    done
    export DEBIAN_FRONTEND=noninteractive
    if ! apt_get install -y "${packages[@]}"; then
        apt_get update
        if ! apt_get install -y "${packages[@]}"; then
            # Newer releases dropped nginx-light; plain nginx does as well.
            apt_get install -y "${packages[@]/nginx-light/nginx}"
        fi
    fi
    command -v nginx >/dev/null || die "nginx is still missing"
    command -v wrk >/dev/null || die "wrk is still missing"
}

# Installs Debian's package $2 (default: $1) when command $1 is missing.
ensure_command() {
    export PATH="$PATH:/usr/sbin:/sbin"
    command -v "$1" >/dev/null && return 0
    log "installing ${2:-$1}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt_get install -y "${2:-$1}"; then
        apt_get update
        apt_get install -y "${2:-$1}"
    fi
    command -v "$1" >/dev/null || die "$1 is still missing"
}

# Builds the proxy in release mode; sets GATEHOUSE_BIN.
build_proxy() {
    log "cargo build --release -p gatehouse-proxy"
    (cd "$REPO_ROOT" && cargo build --release -p gatehouse-proxy)
    local target="${CARGO_TARGET_DIR:-target}"
    [[ $target = /* ]] || target="$REPO_ROOT/$target"
    GATEHOUSE_BIN="$target/release/gatehouse-proxy"
    [[ -x $GATEHOUSE_BIN ]] || die "no binary at $GATEHOUSE_BIN"
}

# A loopback port nobody listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until `curl URL` answers HTTP 200 (up to $2 seconds, default 30);
# any further arguments go to curl (`--cacert FILE --resolve ...`).
wait_http_ok() {
    local url=$1 limit=${2:-30} i
    shift $(($# < 2 ? $# : 2))
    for ((i = 0; i < limit * 10; i++)); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null) == 200 ]]; then
            return 0
        fi
        sleep 0.1
    done
    die "$url did not answer 200 within ${limit}s"
}

# Starts a private nginx in the foreground of a background job.
# $1: name (prefix folder), $2: worker count, $3: the `http { ... }` body.
start_nginx() {
    local name=$1 workers=$2 http_body=$3
    local prefix="$BENCH_TMP/$name"
    mkdir -p "$prefix/logs" "$prefix/tmp"
    cat >"$prefix/nginx.conf" <<EOF
worker_processes $workers;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
daemon off;
master_process on;
events {
    worker_connections 4096;
    multi_accept on;
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
    # wrk and the proxies keep their connections for the whole run; the
    # default of 1000 requests per connection would add reconnects.
    keepalive_requests 1000000;
$http_body
}
EOF
    nginx -t -q -p "$prefix" -c "$prefix/nginx.conf" || die "nginx config $name is invalid"
    nginx -p "$prefix" -c "$prefix/nginx.conf" &
    BENCH_PIDS+=($!)
}

# A body of exactly N bytes (default 1024), printable and safe inside nginx quotes.
payload() {
    python3 -c 'import sys; n = int(sys.argv[1]); print(("0123456789abcdef" * (n // 16 + 1))[:n], end="")' "${1:-1024}"
}

# Prints "<req/s> <p99 ms>" from wrk --latency output on stdin.
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v + 0
        }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" && p99 == "" { p99 = ms($2) }
        END { printf "%s %s\n", (rps == "" ? "0" : rps), (p99 == "" ? "0" : p99) }
    '
}

# CPU time (user + system, in clock ticks) the given processes have used so far.
cpu_ticks() {
    local pid total=0 fields
    for pid in "$@"; do
        read -r -a fields <"/proc/$pid/stat"
        # Fields 14 and 15 (utime, stime); the command name in field 2 has
        # no spaces for the processes measured here.
        total=$((total + fields[13] + fields[14]))
    done
    echo "$total"
}

# Microseconds of CPU per request: $1 ticks used, $2 requests.
cpu_us_per_request() {
    python3 -c "import os, sys; t, r = map(float, sys.argv[1:]); print(f'{t / os.sysconf(\"SC_CLK_TCK\") / max(r, 1) * 1e6:.1f}')" "$1" "$2"
}

# Prints the number of requests a wrk run made, from its output on stdin.
wrk_requests() {
    awk '/requests in/ { print $1 }'
}

# A one-line view of how busy the machine is, with any compiler running.
machine_load() {
    local load busy
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    # shellcheck disable=SC2009 # pgrep refuses patterns longer than 15 characters
    busy=$(ps -eo comm= | grep -cE '^(rustc|cargo|cc1|cc1plus|ld|clang)$' || true)
    echo "load average $load; $busy compiler process(es) running; $(nproc) cores"
}

# One wrk run (with WRK_ARGS) at THREADS/CONNECTIONS/DURATION after a
# WARMUP, counting the CPU time of the given pids: $1 what it measures (for
# the log), $2 a key for its output file ($BENCH_TMP/wrk-<key>.txt, checked
# after the runs), $3 the URL, then the pids -> prints "<req/s> <p99 ms>
# <CPU us/request>".
measure_wrk() {
    local what=$1 out="$BENCH_TMP/wrk-$2.txt" url=$3 before after
    shift 3
    log "$what: warm-up ($WARMUP)"
    wrk "${WRK_ARGS[@]}" -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$url" >/dev/null
    log "$what: wrk ${WRK_ARGS[*]@Q}${WRK_ARGS[*]:+ }-t$THREADS -c$CONNECTIONS -d$DURATION --latency ($(machine_load))"
    before=$(cpu_ticks "$@")
    wrk "${WRK_ARGS[@]}" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" | tee "$out" >&2
    after=$(cpu_ticks "$@")
    echo "$(parse_wrk <"$out")" "$(cpu_us_per_request $((after - before)) "$(wrk_requests <"$out")")"
}

# Whole seconds in a wrk duration ("10s", "2m", "1h", "30") -> prints them.
duration_seconds() {
    [[ $1 =~ ^([0-9]+)([smh]?)$ ]] || die "not a duration in seconds, minutes or hours: $1"
    case ${BASH_REMATCH[2]} in
        m) echo $((BASH_REMATCH[1] * 60)) ;;
        h) echo $((BASH_REMATCH[1] * 3600)) ;;
        *) echo "${BASH_REMATCH[1]}" ;;
    esac
}

# A throwaway ECDSA P-256 CA and a server certificate it signs, made with
# the openssl CLI in folder $1 (created): ca.pem, ca.key, server.pem (the
# leaf alone), server.key (PKCS#8). $2...: the names it is for, the first
# one its CN; each a DNS name or an IPv4 address. Valid for 2 days.
make_tls_cert() {
    local dir=$1 name san=""
    shift
    for name in "$@"; do
        if [[ $name =~ ^[0-9.]+$ ]]; then san+="${san:+,}IP:$name"; else san+="${san:+,}DNS:$name"; fi
    done
    mkdir -p "$dir"
    printf '%s\n' "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
        "extendedKeyUsage = serverAuth" "subjectAltName = $san" >"$dir/server.ext"
    if ! {
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/ca.key" \
            && openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 2 -subj "/CN=Gatehouse bench CA" \
                -addext "basicConstraints = critical, CA:TRUE" \
                -addext "keyUsage = critical, keyCertSign, cRLSign" -out "$dir/ca.pem" \
            && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/server.key" \
            && openssl req -new -key "$dir/server.key" -subj "/CN=$1" -out "$dir/server.csr" \
            && openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
                -set_serial "0x$(openssl rand -hex 8)" -days 2 -sha256 -extfile "$dir/server.ext" \
                -out "$dir/server.pem" \
            && openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem"
    } >"$dir/openssl.log" 2>&1; then
        cat "$dir/openssl.log" >&2
        die "openssl could not make the test certificate"
    fi
}

# One `openssl s_time` client for $2 seconds, its output in $1 with a last
# line `wall-clock <start> <end> exit <status>`: s_time's own rate divides
# by its user CPU time, and it stops on a whole second of the clock (a
# `-time 10` lasts 10 to 11 s), so the wall clock around it is the time.
# Further arguments go to s_time.
s_time_client() {
    local out=$1 seconds=$2 start status=0
    shift 2
    start=$EPOCHREALTIME
    openssl s_time -time "$seconds" "$@" >"$out" 2>&1 </dev/null || status=$?
    echo "wall-clock $start $EPOCHREALTIME exit $status" >>"$out"
}

# TLS connections a second: HANDSHAKE_CLIENTS `openssl s_time` clients at
# once (each one connection at a time, blocking) for DURATION after a
# WARMUP, counting the CPU time of the given pids. $1 what it measures
# (for the log), $2 a key for the outputs ($BENCH_TMP/s_time-<key>-<n>.txt,
# checked after the runs by check_s_time), then s_time's arguments
# (`-connect HOST:PORT -new|-reuse -www PAGE ...`), `--`, the pids
# -> prints "<connections/s> <CPU us/connection> <share resumed>".
measure_s_time() {
    local what=$1 key=$2 args=() clients=() i before after seconds warm_seconds made
    shift 2
    while (($#)) && [[ $1 != -- ]]; do
        args+=("$1")
        shift
    done
    (($#)) && shift
    seconds=$(duration_seconds "$DURATION")
    warm_seconds=$(duration_seconds "$WARMUP")
    log "$what: warm-up ($WARMUP)"
    for ((i = 1; i <= HANDSHAKE_CLIENTS; i++)); do
        s_time_client /dev/null "$warm_seconds" "${args[@]}" &
        clients+=($!)
    done
    wait "${clients[@]}"
    clients=()
    log "$what: $HANDSHAKE_CLIENTS x openssl s_time -time $seconds ${args[*]@Q} ($(machine_load))"
    before=$(cpu_ticks "$@")
    for ((i = 1; i <= HANDSHAKE_CLIENTS; i++)); do
        s_time_client "$BENCH_TMP/s_time-$key-$i.txt" "$seconds" "${args[@]}" &
        clients+=($!)
    done
    wait "${clients[@]}"
    after=$(cpu_ticks "$@")
    made=$(cat "$BENCH_TMP/s_time-$key"-*.txt | s_time_figures | awk '{ n += $1 } END { print n + 0 }')
    cat "$BENCH_TMP/s_time-$key"-*.txt | s_time_figures | awk -v cpu="$(cpu_us_per_request $((after - before)) "$made")" '
        { rate += ($2 > 0 ? $1 / $2 : 0); reused += $3; made += $4 }
        END { printf "%.1f %s %.3f\n", rate, cpu, (made ? reused / made : 0) }'
}

# Prints "<connections> <wall-clock s> <resumed> <progress marks> <exit
# status> <bytes read a connection>" for each s_time_client output on
# stdin. s_time prints a mark a connection: `r` for a resumed session,
# `*` (`t` for TLS 1.0) for a full handshake.
s_time_figures() {
    awk '
        /^[0-9]+ connections in [0-9.]+s;/ { connections = $1 }
        /^[0-9]+ connections in [0-9]+ real seconds,/ { bytes = $(NF - 4) }
        /^[*rt3]+$/ { marks += length($0); reused += gsub(/r/, "r") }
        /^wall-clock / {
            printf "%d %.3f %d %d %d %d\n", connections, $3 - $2, reused, marks, $5, bytes
            connections = 0; bytes = 0; marks = 0; reused = 0
        }
    '
}

# The outputs of one measure_s_time (their path up to `-<n>.txt` in $1)
# after the runs: an s_time that failed, made no connection, read less
# than $3 bytes a connection, or resumed (or not) other than as $2 says
# ("new": none resumed; "reuse": all) is a warning, and in smoke mode an
# error.
check_s_time() {
    local problem file
    problem=$(cat "$1"-*.txt | s_time_figures | awk -v want="$2" -v min_bytes="$3" '
        $5 != 0 { failed++ }
        $1 == 0 { idle++ }
        $1 > 0 && (least == "" || $6 < least) { least = $6 }
        { reused += $3; marks += $4 }
        END {
            if (failed) print failed " s_time client(s) failed"
            if (idle) print idle " s_time client(s) made no connection"
            if (least != "" && least < min_bytes) print "only " least " bytes read a connection"
            if (want == "new" && reused) print reused " of " marks " connections resumed a session"
            if (want == "reuse" && reused < marks) print marks - reused " of " marks " connections did not resume"
        }
    ' | paste -sd ';' - | sed 's/;/; /g' || true)
    [[ -z $problem ]] && return 0
    for file in "$1"-*.txt; do
        grep -vE '^[*rt3]+$' "$file" | tail -n 5 | sed "s|^|    $(basename "$file"): |" >&2
    done
    smoke && die "$(basename "$1"): $problem"
    echo "warning: $(basename "$1"): $problem" >&2
}
