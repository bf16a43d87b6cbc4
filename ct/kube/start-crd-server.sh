#!/usr/bin/env bash
# Starts a second etcd and the Kubernetes 1.36 CRD API server (built by
# build-crd-server.sh) on loopback, in the background, beside the 1.20
# server that start-apiserver.sh started: that one serves namespaces and
# authenticates and authorises for it, so the same bearer token works.
# The 1.20 server drops CEL rules; this one checks them and their cost.
# Writes a kubeconfig for it (no root discovery: kubectl cannot use it; a
# client that talks to the CRD and custom-resource paths can) and prints
# `export GATEHOUSE_TEST_CRD_KUBECONFIG=...` on its last line.
# Stop it with: bash stop-crd-server.sh "$STATE"
# Env: KUBECONFIG (the 1.20 server's, as start-apiserver.sh prints it),
# GATEHOUSE_CRD_STATE (default: a new temp folder).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z ${KUBECONFIG:-} || ! -f $KUBECONFIG ]]; then
    echo "start the 1.20 server first and export its KUBECONFIG:" >&2
    echo '  eval "$(bash ct/kube/start-apiserver.sh | tail -n 1)"' >&2
    exit 1
fi
BIN="$(bash "$here/build-crd-server.sh" | tail -n 1)"
STATE="${GATEHOUSE_CRD_STATE:-$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-crd.XXXXXX")}"
mkdir -p "$STATE/etcd" "$STATE/certs"
: >"$STATE/pids"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
ETCD_CLIENT=$(free_port)
ETCD_PEER=$(free_port)
API_PORT=$(free_port)

command -v etcd >/dev/null || { echo "etcd is missing: run build-apiserver.sh (it installs etcd-server)" >&2; exit 1; }
etcd --data-dir "$STATE/etcd" --name crd \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
    --initial-cluster "crd=http://127.0.0.1:$ETCD_PEER" >"$STATE/etcd.log" 2>&1 &
echo $! >>"$STATE/pids"

# Admission plugins and priority-and-fairness watch APIs 1.20 cannot
# serve: left on, readyz never turns ok.
"$BIN" --etcd-servers "http://127.0.0.1:$ETCD_CLIENT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --cert-dir "$STATE/certs" \
    --kubeconfig "$KUBECONFIG" --authentication-kubeconfig "$KUBECONFIG" \
    --authorization-kubeconfig "$KUBECONFIG" --authentication-skip-lookup \
    --enable-priority-and-fairness=false \
    --disable-admission-plugins MutatingAdmissionPolicy,ValidatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
    >"$STATE/crd-server.log" 2>&1 &
echo $! >>"$STATE/pids"

token=test-token
ready() { [[ $(curl -sk -H "Authorization: Bearer $token" "https://127.0.0.1:$API_PORT/readyz" 2>/dev/null) == ok ]]; }
for _ in $(seq 1 300); do
    ready && break
    sleep 0.2
done
ready || { echo "the CRD API server did not become ready; see $STATE/crd-server.log" >&2; exit 1; }

ca=$(ls "$STATE"/certs/*.crt | head -n 1)
cat >"$STATE/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: crd
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $ca
users:
- name: admin
  user:
    token: $token
contexts:
- name: crd
  context: {cluster: crd, user: admin, namespace: default}
current-context: crd
KUBECONFIG

echo "CRD API server (Kubernetes 1.36) ready on https://127.0.0.1:$API_PORT (state in $STATE)" >&2
echo "export GATEHOUSE_TEST_CRD_KUBECONFIG=$STATE/kubeconfig"
