#!/usr/bin/env bash
# Instructions per proxied (and static) GET for one gatehouse-proxy binary,
# counted by callgrind: a figure that does not move with the machine's load,
# for comparing two builds (run it on each). A dev tool, not a bench: it
# has no peer and no verdict, and smoke.sh does not run it.
# usage: bash bench/tools/instructions.sh BIN LABEL
#   N=2000 requests each (after as many to warm up); KEEP=FILE keeps the
#   proxied run's callgrind output for callgrind_annotate.
# Needs valgrind and curl (nginx comes from bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
BIN=$1 LABEL=$2 N=${N:-2000}
command -v valgrind >/dev/null || die "valgrind is missing: apt-get install valgrind"
ensure_tools
mkdir -p "$BENCH_TMP/site" "$BENCH_TMP/m"
payload 1024 >"$BENCH_TMP/site/f.txt"
upstream=$(free_port) listen=$(free_port)
start_nginx upstream 1 "    server { listen 127.0.0.1:$upstream; location / { return 200 '$(payload 1024)'; } }"
cat >"$BENCH_TMP/m/r.yaml" <<Y
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: up}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /up}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backends: [{url: "http://127.0.0.1:$upstream"}]
  - matches: [{path: {type: PathPrefix, value: /st}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backends: [{static: {root: $BENCH_TMP/site}}]
Y
valgrind --tool=callgrind --callgrind-out-file="$BENCH_TMP/cg.out" "$BIN" --workers 1 \
    --listen "127.0.0.1:$listen" --admin-listen "127.0.0.1:$(free_port)" \
    --manifests "$BENCH_TMP/m" >"$BENCH_TMP/proxy.log" 2>&1 &
vg=$!
BENCH_PIDS+=("$vg")
wait_http_ok "http://127.0.0.1:$listen/up/f.txt" 120
# $1 the path prefix: N requests on one keep-alive connection, counted
# after as many to warm up.
measure() {
    local dump ir
    for _ in $(seq "$N"); do
        printf 'url = "http://127.0.0.1:%s/%s/f.txt"\noutput = "/dev/null"\n' "$listen" "$1"
    done >"$BENCH_TMP/urls"
    curl -s -K "$BENCH_TMP/urls" >/dev/null
    callgrind_control -z "$vg" >/dev/null
    curl -s -K "$BENCH_TMP/urls" >/dev/null
    callgrind_control -d "$vg" >/dev/null
    sleep 1
    dump=$(ls -t "$BENCH_TMP"/cg.out.* | head -1)
    ir=$(grep -m1 '^summary:' "$dump" | awk '{print $2}')
    [[ -n $ir ]] || ir=$(grep -m1 '^totals:' "$dump" | awk '{print $2}')
    echo "$LABEL $1: $((ir / N)) instructions/request"
    if [[ $1 == up && -n ${KEEP:-} ]]; then cp "$dump" "$KEEP"; fi
}
measure up
measure st
