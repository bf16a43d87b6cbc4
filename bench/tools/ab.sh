#!/usr/bin/env bash
# A/B: two gatehouse-proxy builds in front of one nginx upstream, measured
# in turn with wrk (10 s a round), to tell a change's cost from the
# machine's. A dev tool, not a bench: smoke.sh does not run it.
# usage: bash bench/tools/ab.sh BIN_A BIN_B [ROUNDS]
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
A=$1 B=$2 ROUNDS=${3:-4}
ensure_tools
upstream=$(free_port)
start_nginx upstream 1 "    server { listen 127.0.0.1:$upstream; location / { return 200 '$(payload 1024)'; } }"
wait_http_ok "http://127.0.0.1:$upstream/"
mkdir -p "$BENCH_TMP/m"
cat >"$BENCH_TMP/m/r.yaml" <<Y
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: up}
spec:
  rules:
  - backends: [{url: "http://127.0.0.1:$upstream"}]
Y
declare -A port
for side in A B; do
    bin=${!side} port[$side]=$(free_port)
    "$bin" --workers 2 --listen "127.0.0.1:${port[$side]}" --admin-listen "127.0.0.1:$(free_port)" \
        --manifests "$BENCH_TMP/m" >"$BENCH_TMP/$side.log" 2>&1 &
    BENCH_PIDS+=($!)
    wait_http_ok "http://127.0.0.1:${port[$side]}/"
done
for round in $(seq "$ROUNDS"); do
    for side in A B; do
        wrk -t2 -c100 -d3s "http://127.0.0.1:${port[$side]}/" >/dev/null
        echo "round $round $side $(wrk -t2 -c100 -d10s "http://127.0.0.1:${port[$side]}/" | awk '/Requests\/sec/ {print $2}') req/s"
    done
done
