#!/usr/bin/env bash
# Time from a Route's creation in the API server to the proxy serving it,
# with 10 and with 1,000 Routes already in the cluster.
#
#   cluster:   kube-apiserver 1.20 + etcd + controller manager on loopback
#              (ct/kube/start-apiserver.sh; built once and cached)
#   proxy:     one release gatehouse-proxy, registered as a Running Pod
#   operator:  release gatehouse-operator run, its own class
#   measure:   after QUIET seconds without a change (as before a lone
#              `kubectl apply`), POST a Route (a redirect, so no upstream is
#              needed), then poll the proxy every millisecond until it
#              answers 301 for its path; SAMPLES per size; p50, p90 and p99
#              printed (nearest rank: with fewer than 100 samples, p99 is
#              the slowest one).
#
# Usage (from the repo root): bash bench/operator-latency.sh
# Env: SIZES ("10 1000"), SAMPLES (30), QUIET (0.3), KEEP_TMP=1.
#      BENCH_SMOKE=1: 10 Routes, 3 samples; fails only when a Route is not
#      served at all.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    : "${SIZES:=10}" "${SAMPLES:=3}"
fi
SIZES=${SIZES:-"10 1000"}
SAMPLES=${SAMPLES:-30}
# Longer than the operator's debounce window (100 ms), so each probe is the
# first change after a quiet period.
QUIET=${QUIET:-0.3}

build_proxy
log "cargo build --release -p gatehouse-operator"
(cd "$REPO_ROOT" && cargo build --release -p gatehouse-operator)
OPERATOR_BIN="$(dirname "$GATEHOUSE_BIN")/gatehouse-operator"

export GATEHOUSE_KUBE_STATE="$BENCH_TMP/kube"
kube_env=$(bash "$REPO_ROOT/ct/kube/start-apiserver.sh" | tail -n 1)
export KUBECONFIG="${kube_env#export KUBECONFIG=}"
trap 'bash "$REPO_ROOT/ct/kube/stop-apiserver.sh" "$GATEHOUSE_KUBE_STATE"; bench_cleanup' EXIT

PROXY_PORT=$(free_port)
ADMIN_PORT=$(free_port)
echo '{"routes": []}' >"$BENCH_TMP/empty.json"
"$GATEHOUSE_BIN" --listen "127.0.0.1:$PROXY_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --config-file "$BENCH_TMP/empty.json" --log warn 2>"$BENCH_TMP/proxy.log" &
BENCH_PIDS+=($!)
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/healthz"

"$OPERATOR_BIN" crds >"$BENCH_TMP/crds.yaml"
PYTHONPATH="$(dirname "${BASH_SOURCE[0]}")/../ct/kube" python3 - "$KUBECONFIG" "$ADMIN_PORT" "$BENCH_TMP/crds.yaml" <<'EOF'
import sys
import testapi
kubeconfig, admin_port, crds = sys.argv[1:4]
call = testapi.client(kubeconfig)
testapi.install_crds(call, crds)
testapi.running_proxy_pod(call, "bench-proxy", {"app": "bench-proxy"}, admin_port)
testapi.wait_for_routes(call)
EOF

"$OPERATOR_BIN" run --class bench --proxy-selector app=bench-proxy --operator-namespace default \
    2>"$BENCH_TMP/operator.log" &
BENCH_PIDS+=($!)

log "measuring (sizes: $SIZES; $SAMPLES samples each, after ${QUIET}s of quiet)"
# shellcheck disable=SC2086 # SIZES is a list
python3 - "$KUBECONFIG" "$PROXY_PORT" "$SAMPLES" "$QUIET" $SIZES <<'EOF'
import json, math, ssl, sys, time, urllib.request
kubeconfig, proxy_port, samples, quiet = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
sizes = [int(s) for s in sys.argv[5:]]
text = open(kubeconfig).read()
server = text.split("server: ")[1].split()[0]
ca = text.split("certificate-authority: ")[1].split()[0]
context = ssl.create_default_context(cafile=ca)
def create(name):
    route = {"apiVersion": "gatehouse.dev/v1alpha1", "kind": "Route", "metadata": {"name": name},
             "spec": {"className": "bench", "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/" + name}}],
                      "filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301}}]}]}}
    req = urllib.request.Request(server + "/apis/gatehouse.dev/v1alpha1/namespaces/default/routes", method="POST",
        data=json.dumps(route).encode(), headers={"Authorization": "Bearer test-token", "Content-Type": "application/json"})
    urllib.request.urlopen(req, context=context).read()
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args): return None
opener = urllib.request.build_opener(NoRedirect)
def served(name):
    try:
        opener.open(f"http://127.0.0.1:{proxy_port}/{name}", timeout=1)
    except urllib.error.HTTPError as e:
        return e.code == 301
    except Exception:
        return False
    return False
def wait_served(name, limit=120.0):
    start = time.monotonic()
    while not served(name):
        if time.monotonic() - start > limit:
            sys.exit(f"{name} was not served within {limit}s")
        time.sleep(0.001)
def percentile(values, p):  # nearest rank
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]
existing = 0
print()
print(f"operator-latency: Route created -> served by the proxy ({samples} samples, each after {quiet}s of quiet)")
print(f"{'Routes in cluster':>18}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}")
for size in sizes:
    while existing < size:
        create(f"filler-{existing}")
        existing += 1
    wait_served(f"filler-{existing - 1}")
    times = []
    for i in range(samples):
        time.sleep(quiet)
        name = f"probe-{size}-{i}"
        start = time.monotonic()
        create(name)
        wait_served(name)
        times.append((time.monotonic() - start) * 1000)
        existing += 1
    print(f"{size:>18}" + "".join(f"{percentile(times, p):>10.1f}" for p in (50, 90, 99)))
EOF
