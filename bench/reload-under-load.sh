#!/usr/bin/env bash
# Config swaps under load: gatehouse-proxy (--workers 2) routes to two
# upstream backends, `a` and `b` (one nginx, 1 worker, two ports, 1 KiB
# bodies tagged `X-Backend: a|b`), while `wrk -t2 -c100 -d20s` runs and a
# loop makes 100 `PUT /config` pushes to the admin API, spread over the run,
# flipping the rule's weights between a=100/b=0 and a=0/b=100.
#
# Targets: 0 non-2xx responses, 0 socket errors, all 100 pushes accepted (200).
# Also checked: the traffic really flipped. After every push one probe
# request must come from the backend the new weights name, and both
# backends must have served requests (counted from their access logs and
# from gatehouse's /metrics).
#
# Usage (from the repo root): bash bench/reload-under-load.sh
# Env: DURATION (20, seconds), CONNECTIONS (100), THREADS (2), PUSHES (100),
#      KEEP_TMP=1 keeps the temp folder with the logs. Exits 1 on FAIL.
#      BENCH_SMOKE=1: 3 s at -c10 with 4 pushes; every check still counts
#      (each is a request that failed, not a figure).
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    : "${DURATION:=3}" "${CONNECTIONS:=10}" "${PUSHES:=4}"
fi
DURATION=${DURATION:-20}
DURATION=${DURATION%s}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
PUSHES=${PUSHES:-100}

ensure_tools
build_proxy

PORT_A=$(free_port)
PORT_B=$(free_port)
PROXY_PORT=$(free_port)
ADMIN_PORT=$(free_port)
BODY=$(payload 1024)
LOGS="$BENCH_TMP/upstreams/logs"

upstream_server() { # $1 name, $2 port
    cat <<EOF
    server {
        listen 127.0.0.1:$2 backlog=4096;
        access_log $LOGS/$1.log status buffer=64k flush=1s;
        location / {
            add_header X-Backend $1 always;
            return 200 '$BODY';
        }
    }
EOF
}
log "upstreams a on 127.0.0.1:$PORT_A and b on 127.0.0.1:$PORT_B (one nginx, 1 worker)"
start_nginx upstreams 1 "
    log_format status '\$status';
$(upstream_server a "$PORT_A")
$(upstream_server b "$PORT_B")"

log "gatehouse (--workers 2) on 127.0.0.1:$PROXY_PORT, admin 127.0.0.1:$ADMIN_PORT"
mkdir -p "$BENCH_TMP/manifests"
cat >"$BENCH_TMP/manifests/bench.yaml" <<EOF
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata:
  name: bench
spec:
  rules:
    - backends:
        - {name: a, weight: 100, url: "http://127.0.0.1:$PORT_A"}
        - {name: b, weight: 0, url: "http://127.0.0.1:$PORT_B"}
EOF
"$GATEHOUSE_BIN" --listen "127.0.0.1:$PROXY_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --manifests "$BENCH_TMP/manifests" --workers 2 --log warn \
    2>"$BENCH_TMP/gatehouse.log" &
BENCH_PIDS+=($!)

wait_http_ok "http://127.0.0.1:$PORT_A/"
wait_http_ok "http://127.0.0.1:$PORT_B/"
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"
wait_http_ok "http://127.0.0.1:$PROXY_PORT/"

# The two configs to push: the one the manifests compiled to (a=100, b=0),
# as GET /config gives it, and its mirror (a=0, b=100). The revision is left
# empty so the proxy computes it.
curl -sf "http://127.0.0.1:$ADMIN_PORT/config" >"$BENCH_TMP/served.json"
python3 - "$BENCH_TMP" <<'EOF'
import json, sys
folder = sys.argv[1]
config = json.load(open(f"{folder}/served.json"))
config["revision"] = ""
backends = config["routes"][0]["rules"][0]["backends"]
assert [b["name"] for b in backends] == ["a", "b"], backends
for name, weights in (("a", (100, 0)), ("b", (0, 100))):
    for backend, weight in zip(backends, weights):
        backend["weight"] = weight
    json.dump(config, open(f"{folder}/to-{name}.json", "w"))
EOF

backend_of_probe() {
    curl -s -o /dev/null -D - "http://127.0.0.1:$PROXY_PORT/probe" \
        | tr -d '\r' | awk -F': ' 'tolower($1) == "x-backend" { print $2 }'
}
[[ $(backend_of_probe) == a ]] || die "before the run, traffic does not go to a"

log "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s with $PUSHES pushes ($(machine_load))"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$PROXY_PORT/bench" \
    >"$BENCH_TMP/wrk.txt" &
WRK_PID=$!
BENCH_PIDS+=("$WRK_PID")

# Pushes land on a fixed schedule from 1 s after the start to 1 s before the end.
pushes_ok=0
probe_misses=0
: >"$BENCH_TMP/push-times.txt"
start=$(date +%s.%N)
for ((i = 0; i < PUSHES; i++)); do
    at=$(awk -v s="$start" -v d="$DURATION" -v n="$PUSHES" -v i="$i" \
        'BEGIN { printf "%.3f", s + 1 + i * (d - 2) / n }')
    wait_for=$(awk -v at="$at" -v now="$(date +%s.%N)" 'BEGIN { w = at - now; printf "%.3f", (w > 0 ? w : 0) }')
    sleep "$wait_for"
    if ((i % 2 == 0)); then want=b; else want=a; fi
    read -r code took < <(curl -s -o "$BENCH_TMP/push-answer.json" -w '%{http_code} %{time_total}\n' \
        -X PUT -H 'content-type: application/json' \
        --data-binary "@$BENCH_TMP/to-$want.json" "http://127.0.0.1:$ADMIN_PORT/config" || echo "000 0")
    echo "$took" >>"$BENCH_TMP/push-times.txt"
    if [[ $code == 200 ]]; then
        pushes_ok=$((pushes_ok + 1))
    else
        echo "push $i answered $code: $(head -c 300 "$BENCH_TMP/push-answer.json")" >&2
    fi
    got=$(backend_of_probe || true)
    if [[ $got != "$want" ]]; then
        probe_misses=$((probe_misses + 1))
        echo "push $i: probe came from '${got:-no answer}', expected $want" >&2
    fi
done
pushes_done=$(date +%s.%N)
wait "$WRK_PID" || die "wrk failed: $(cat "$BENCH_TMP/wrk.txt")"
cat "$BENCH_TMP/wrk.txt" >&2

sleep 1.5 # the upstream access logs flush every second
count_lines() { [[ -f $1 ]] && wc -l <"$1" || echo 0; }
count_non200() { [[ -f $1 ]] && awk '$1 != 200' "$1" | wc -l || echo 0; }
served_a=$(count_lines "$LOGS/a.log")
served_b=$(count_lines "$LOGS/b.log")
upstream_non200=$(($(count_non200 "$LOGS/a.log") + $(count_non200 "$LOGS/b.log")))
curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" >"$BENCH_TMP/metrics.txt" || true
metric_sum() { # sums gatehouse_requests_total samples whose labels contain $1
    awk -v want="$1" '/^gatehouse_requests_total\{/ && index($0, want) { sum += $NF } END { print sum + 0 }' \
        "$BENCH_TMP/metrics.txt"
}
metric_a=$(metric_sum 'backend="a"')
metric_b=$(metric_sum 'backend="b"')
upstream_errors=$(awk '/^gatehouse_upstream_errors_total\{/ { sum += $NF } END { print sum + 0 }' "$BENCH_TMP/metrics.txt")
log_problems=$(grep -cE ' (WARN|ERROR) ' "$BENCH_TMP/gatehouse.log" || true)

read -r RPS P99 < <(parse_wrk <"$BENCH_TMP/wrk.txt")
requests=$(awk '/requests in/ { print $1 }' "$BENCH_TMP/wrk.txt")
non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ { print $2 + 0 }' "$BENCH_TMP/wrk.txt")
non2xx=${non2xx:-0}
socket_errors=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$BENCH_TMP/wrk.txt")
socket_errors=${socket_errors:-0}
socket_detail=$(grep -o 'Socket errors:.*' "$BENCH_TMP/wrk.txt" || echo "Socket errors: none")
push_span=$(awk -v s="$start" -v e="$pushes_done" 'BEGIN { printf "%.1f", e - s }')
push_ms=$(sort -n "$BENCH_TMP/push-times.txt" | awk '
    { t[NR] = $1 * 1000 }
    END { if (NR) printf "median %.1f ms, max %.1f ms", t[int((NR + 1) / 2)], t[NR]; else print "none" }')

verdict=PASS
((non2xx == 0 && socket_errors == 0 && pushes_ok == PUSHES)) || verdict=FAIL
flip=OK
((probe_misses == 0 && served_a > 0 && served_b > 0)) || flip=FAIL

cat <<EOF

reload-under-load: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $PUSHES weight flips (a=100/b=0 <-> a=0/b=100)
  wrk                    $requests requests, $RPS req/s, p99 $P99 ms
  non-2xx responses      $non2xx          (target 0)
  socket errors          $socket_errors          (target 0; $socket_detail)
  pushes accepted (200)  $pushes_ok/$PUSHES     (target $PUSHES; over ${push_span}s, push round trip $push_ms)
  result                 $verdict
  flip check             $flip (probes from the wrong backend after a push: $probe_misses/$PUSHES)
  served by a / b        upstream access logs $served_a / $served_b (non-200 there: $upstream_non200);
                         gatehouse metrics $metric_a / $metric_b; upstream errors in metrics: $upstream_errors
  gatehouse WARN/ERROR log lines: $log_problems
EOF
if ((log_problems > 0)); then
    echo "  first of them:" && grep -E ' (WARN|ERROR) ' "$BENCH_TMP/gatehouse.log" | head -5 | sed 's/^/    /'
fi
[[ $verdict == PASS && $flip == OK ]]
