#!/usr/bin/env bash
# Instructions per proxied (and static) GET for one gatehouse-proxy binary,
# counted by callgrind: a figure that does not move with the machine's load,
# for comparing two builds (run it on each). A dev tool, not a bench: it
# has no peer and no verdict, and smoke.sh does not run it.
# usage: bash bench/tools/instructions.sh BIN LABEL
#   N=2000 requests each (after as many to warm up); KEEP=FILE keeps the
#   proxied run's callgrind output for callgrind_annotate.
# Needs valgrind, nginx (the upstream) and curl.
set -euo pipefail
BIN=$1 LABEL=$2 N=${N:-2000}
work=$(mktemp -d /tmp/cg.XXXX)
mkdir -p "$work/site" "$work/up" "$work/m"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 > "$work/site/f.txt"
cp "$work/site/f.txt" "$work/up/f.txt"
# upstream: a private nginx serving 1 KiB
cat > "$work/nginx.conf" <<NG
daemon off; worker_processes 1; pid $work/nginx.pid; error_log $work/err.log;
events {} http { access_log off; server { listen 127.0.0.1:18091; root $work/up; } }
NG
nginx -c "$work/nginx.conf" -p "$work" & ngx=$!
cat > "$work/m/r.yaml" <<Y
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: up}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /up}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backends: [{url: "http://127.0.0.1:18091"}]
  - matches: [{path: {type: PathPrefix, value: /st}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backends: [{static: {root: $work/site}}]
Y
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$BIN" --workers 1 --listen 127.0.0.1:18090 --admin-listen 127.0.0.1:18092 --manifests "$work/m" >"$work/proxy.log" 2>&1 & vg=$!
for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:18090/up/f.txt && break; sleep 0.5; done
urls() { for i in $(seq "$N"); do printf 'url = "http://127.0.0.1:18090/%s/f.txt"\noutput = "/dev/null"\n' "$1"; done; }
measure() {
  urls "$1" > "$work/urls"
  curl -s -K "$work/urls" >/dev/null   # warm
  callgrind_control -z "$vg" >/dev/null
  curl -s -K "$work/urls" >/dev/null
  callgrind_control -d "$vg" >/dev/null
  sleep 1
  local f; f=$(ls -t "$work"/cg.out.* | head -1)
  local ir; ir=$(grep -m1 '^summary:' "$f" | awk '{print $2}')
  [ -n "$ir" ] || ir=$(grep -m1 '^totals:' "$f" | awk '{print $2}')
  echo "$LABEL $1: $((ir / N)) instructions/request"
}
measure up
measure st
kill $vg $ngx 2>/dev/null; wait 2>/dev/null || true
[ -n "${KEEP:-}" ] && cp "$(ls -t "$work"/cg.out.* | sed -n 2p)" "$KEEP" ; rm -rf "$work"
