#!/usr/bin/env bash
# A/B: two gatehouse-proxy builds in front of one nginx upstream, measured
# in turn with wrk (10 s a round), to tell a change's cost from the
# machine's. A dev tool, not a bench: smoke.sh does not run it.
# usage: bash bench/tools/ab.sh BIN_A BIN_B [ROUNDS]
# Needs nginx and wrk (bench/lib.sh installs them for the benches).
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-4}
work=$(mktemp -d /tmp/ab.XXXX); mkdir -p "$work/up" "$work/m"
head -c 1024 /dev/zero | tr '\0' x > "$work/up/f.txt"
cat > "$work/nginx.conf" <<NG
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/err.log;
events {} http { access_log off; server { listen 127.0.0.1:18191; root $work/up; } }
NG
nginx -c "$work/nginx.conf" -p "$work" & ngx=$!
cat > "$work/m/r.yaml" <<Y
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: up}
spec:
  rules:
  - backends: [{url: "http://127.0.0.1:18191"}]
Y
run() { # bin port
  "$1" --workers 2 --listen 127.0.0.1:$2 --admin-listen 127.0.0.1:$(( $2 + 1 )) --manifests "$work/m" >/dev/null 2>&1 & echo $!
}
pa=$(run "$A" 18200); pb=$(run "$B" 18210); sleep 1
for r in $(seq "$ROUNDS"); do
  for side in A:18200 B:18210; do
    wrk -t2 -c100 -d3s http://127.0.0.1:${side#*:}/f.txt >/dev/null
    rps=$(wrk -t2 -c100 -d10s http://127.0.0.1:${side#*:}/f.txt | awk '/Requests\/sec/ {print $2}')
    echo "round $r ${side%%:*} $rps"
  done
done
kill $pa $pb $ngx; wait 2>/dev/null || true; rm -rf "$work"
