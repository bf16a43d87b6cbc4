#!/usr/bin/env bash
# Starts etcd and the 1.20 kube-apiserver (built by build-apiserver.sh) on
# loopback, in the background, with a static admin token; writes a
# kubeconfig and prints `export KUBECONFIG=...` on its last line.
# Stop everything with: bash stop-apiserver.sh "$STATE"
# Env: GATEHOUSE_KUBE_STATE (default: a new temp folder).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$(bash "$here/build-apiserver.sh" | tail -n 1)"
STATE="${GATEHOUSE_KUBE_STATE:-$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-kube.XXXXXX")}"
mkdir -p "$STATE/etcd" "$STATE/certs"
: >"$STATE/pids"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
ETCD_CLIENT=$(free_port)
ETCD_PEER=$(free_port)
API_PORT=$(free_port)

command -v etcd >/dev/null || { echo "etcd is missing: run build-apiserver.sh (it installs etcd-server)" >&2; exit 1; }
etcd --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "default=http://127.0.0.1:$ETCD_PEER" >"$STATE/etcd.log" 2>&1 &
echo $! >>"$STATE/pids"

openssl genrsa -out "$STATE/certs/sa.key" 2048 2>/dev/null
openssl rsa -in "$STATE/certs/sa.key" -pubout -out "$STATE/certs/sa.pub" 2>/dev/null
echo "test-token,admin,admin-uid,system:masters" >"$STATE/tokens.csv"

"$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_CLIENT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --advertise-address 127.0.0.1 \
    --cert-dir "$STATE/certs" --token-auth-file "$STATE/tokens.csv" --authorization-mode RBAC \
    --service-account-key-file "$STATE/certs/sa.pub" --service-account-signing-key-file "$STATE/certs/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.0.0.0/24 \
    >"$STATE/apiserver.log" 2>&1 &
echo $! >>"$STATE/pids"

for _ in $(seq 1 300); do
    if [[ $(curl -sk -H "Authorization: Bearer test-token" "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null) == ok ]]; then
        break
    fi
    sleep 0.2
done
[[ $(curl -sk -H "Authorization: Bearer test-token" "https://127.0.0.1:$API_PORT/readyz") == ok ]] \
    || { echo "kube-apiserver did not become ready; see $STATE/apiserver.log" >&2; exit 1; }

cat >"$STATE/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $STATE/certs/apiserver.crt
users:
- name: admin
  user:
    token: test-token
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: default}
current-context: test
KUBECONFIG
# The controller manager creates each namespace's `default` ServiceAccount
# (Pods are refused without it), collects garbage and deletes namespaces.
"$BIN/kube-controller-manager" --kubeconfig "$STATE/kubeconfig" \
    --authentication-kubeconfig "$STATE/kubeconfig" --authorization-kubeconfig "$STATE/kubeconfig" \
    --service-account-private-key-file "$STATE/certs/sa.key" --root-ca-file "$STATE/certs/apiserver.crt" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 --port 0 \
    >"$STATE/controller-manager.log" 2>&1 &
echo $! >>"$STATE/pids"
for _ in $(seq 1 300); do
    code=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer test-token" \
        "https://127.0.0.1:$API_PORT/api/v1/namespaces/default/serviceaccounts/default")
    [[ $code == 200 ]] && break
    sleep 0.2
done
[[ $code == 200 ]] || { echo "the default ServiceAccount did not appear; see $STATE/controller-manager.log" >&2; exit 1; }

echo "kube-apiserver ready on https://127.0.0.1:$API_PORT (state in $STATE)" >&2
echo "export KUBECONFIG=$STATE/kubeconfig"
