#!/usr/bin/env bash
# CI's real `helm install` of helm/gatehouse into the test API server
# (kube-apiserver 1.20 with its controller manager; no scheduler, no
# kubelet), with ./deploy.sh, then:
#  1. every object of the release exists, as the server accepted it (the
#     CRDs from crds/ too), and every kind the chart must make is there;
#  2. no kubelet runs Pods, so the operator and the proxies run here as
#     processes with the chart's own arguments and mounted Secrets (read
#     back from the server), the operator with its ServiceAccount's token
#     (so the chart's RBAC is what it gets); the proxy Pods the Deployment
#     and StatefulSet controllers made are patched Running with loopback
#     IPs (127.0.0.3 the Deployment's, 127.0.0.2 the depot's), where those
#     processes listen on the admin port, so the operator's pushes reach
#     them; `<service>.<namespace>.svc` names resolve through a private
#     /etc/hosts (unshare -m) as cluster DNS would;
#  3. a Route applied with kubectl, to a Service with Endpoints, is served;
#     then ct/test.sh --kube runs the black-box suite against the release;
#  4. `helm uninstall` leaves nothing of the release behind (CRDs stay, by
#     Helm's design; the StatefulSet's PersistentVolumeClaims too, by
#     Kubernetes': both said).
# One PASS/FAIL line a check; exit 1 when any failed.
# Env: GATEHOUSE_TEST_KUBECONFIG (reuse a running test API server),
# GATEHOUSE_BIN_DIR (default $CARGO_TARGET_DIR/release, built when missing),
# GATEHOUSE_CHART (default helm/gatehouse).
# `check && pass … || fail …` below is safe: pass always succeeds.
# shellcheck disable=SC2015
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
chart=${GATEHOUSE_CHART:-$repo/helm/gatehouse}
start_time=$SECONDS

helm_bin=$(bash ct/kube/fetch-helm.sh | tail -n 1)
kube_bin=$(bash ct/kube/build-apiserver.sh | tail -n 1)
export PATH="$helm_bin:$kube_bin:$PATH"
export KUBECTL="$kube_bin/kubectl"
export HELM_CONFIG_HOME HELM_CACHE_HOME HELM_DATA_HOME

bin_dir=${GATEHOUSE_BIN_DIR:-${CARGO_TARGET_DIR:-$repo/target}/release}
if [[ ! -x $bin_dir/gatehouse-proxy || ! -x $bin_dir/gatehouse-operator ]]; then
    [[ -z ${GATEHOUSE_BIN_DIR:-} ]] || { echo "no gatehouse-proxy and gatehouse-operator in GATEHOUSE_BIN_DIR=$bin_dir" >&2; exit 2; }
    echo "== cargo build --release -p gatehouse-proxy -p gatehouse-operator"
    cargo build --release --locked -p gatehouse-proxy -p gatehouse-operator
fi

state=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-helm.XXXXXX")
HELM_CONFIG_HOME=$state/helm/config HELM_CACHE_HOME=$state/helm/cache HELM_DATA_HOME=$state/helm/data
pids=()
own_server=0
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $own_server == 1 ]]; then bash ct/kube/stop-apiserver.sh "$state/kube"; fi
    if [[ ${KEEP:-0} == 1 ]]; then echo "(kept: $state)"; else rm -rf "$state"; fi
}
trap cleanup EXIT

if [[ -n ${GATEHOUSE_TEST_KUBECONFIG:-} ]]; then
    export KUBECONFIG=$GATEHOUSE_TEST_KUBECONFIG
else
    echo "== starting the test API server (kube-apiserver 1.20, controller manager)"
    own_server=1
    mkdir -p "$state/kube"
    kube_env=$(GATEHOUSE_KUBE_STATE=$state/kube bash ct/kube/start-apiserver.sh | tail -n 1)
    export KUBECONFIG=${kube_env#export KUBECONFIG=}
fi
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
server_ca=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
admin_token=$(kubectl config view --minify --raw -o jsonpath='{.users[0].user.token}')

passed=0 failed=0
failures=()
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); failures+=("$1"); }
# eventually SECONDS COMMAND...: polls until COMMAND succeeds.
eventually() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [[ $SECONDS -lt $deadline ]] || return 1
        sleep 0.3
    done
}
api() { # api METHOD PATH [curl args]: the raw API with the admin token
    local method=$1 path=$2
    shift 2
    curl -sS --cacert "$server_ca" -H "Authorization: Bearer $admin_token" -X "$method" "$server$path" "$@"
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

ns=gatehouse-ci
branch=ci-helm-test
release=gatehouse-$branch
class=$release

# ---- deploy.sh: its dry run, then the install ------------------------------
# A server reused from an earlier run may still be deleting its namespace.
ns_gone() { ! kubectl get namespace "$ns" >/dev/null 2>&1; }
eventually 120 ns_gone || { echo "namespace $ns of an earlier run is still there" >&2; exit 2; }
echo "== ./deploy.sh --dry-run (changes nothing)"
GATEHOUSE_CHART=$chart ./deploy.sh --branch "$branch" --namespace "$ns" --values ct/kube/ci-values.yaml --dry-run >"$state/dry-run.out" 2>&1 ||
    fail "deploy.sh --dry-run" "exit $?: $(tail -n 5 "$state/dry-run.out")"
if grep -q -- "--class=$class" "$state/dry-run.out" && grep -q "name: $release-operator" "$state/dry-run.out"; then
    pass "deploy.sh --dry-run: the release's manifests, with --class=$class"
else
    fail "deploy.sh --dry-run" "no --class=$class or $release-operator in its output"
fi
if grep -q "^  token: " "$state/dry-run.out"; then fail "deploy.sh --dry-run hides Secrets" "a token is printed"; else pass "deploy.sh --dry-run hides Secrets' values"; fi
if kubectl get namespace "$ns" >/dev/null 2>&1 || [[ -n $(kubectl get secrets -A -l "owner=helm,name=$release" -o name) ]]; then
    fail "deploy.sh --dry-run changes nothing" "namespace $ns or a helm release Secret exists"
else
    pass "deploy.sh --dry-run changes nothing (no namespace, no release)"
fi

echo "== ./deploy.sh --branch $branch --namespace $ns --values ct/kube/ci-values.yaml --no-wait"
# --no-wait: no kubelet runs the Pods here, so no rollout ever completes.
if GATEHOUSE_CHART=$chart ./deploy.sh --branch "$branch" --namespace "$ns" --values ct/kube/ci-values.yaml --no-wait >"$state/deploy.out" 2>&1; then
    pass "deploy.sh: helm upgrade --install into Kubernetes 1.20"
    sed 's/^/    /' "$state/deploy.out" | grep -v '^    [A-Za-z]*: *$' | tail -n 22
else
    fail "deploy.sh: helm upgrade --install" "$(tail -n 20 "$state/deploy.out")"
    echo "== $passed passed, $failed failed"
    exit 1
fi
grep -q "port-forward service/$release-proxy 8080:80 8443:443" "$state/deploy.out" && pass "deploy.sh prints the port-forward to the traffic Service" ||
    fail "deploy.sh prints the URLs" "no port-forward to service/$release-proxy in its output"

# ---- 1. the objects --------------------------------------------------------
helm get manifest "$release" -n "$ns" >"$state/manifest.yaml"
if kubectl get -f "$state/manifest.yaml" -o custom-columns='KIND:.kind,API:.apiVersion,NAMESPACE:.metadata.namespace,NAME:.metadata.name' >"$state/objects.txt" 2>"$state/objects.err"; then
    pass "every object of the manifest exists on the server ($(($(wc -l <"$state/objects.txt") - 1)) objects)"
else
    fail "every object of the manifest exists" "$(cat "$state/objects.err")"
fi
sed 's/^/    /' "$state/objects.txt"
for kind in Deployment:2 StatefulSet:1 Service:4 Secret:2 ConfigMap:1 ServiceAccount:1 ClusterRole:1 ClusterRoleBinding:1 Role:1 RoleBinding:1 NetworkPolicy:1 PodDisruptionBudget:1; do
    n=$(awk -v k="${kind%%:*}" '$1 == k' "$state/objects.txt" | wc -l)
    if [[ $n -ge ${kind##*:} ]]; then pass "the release has ${kind##*:}+ ${kind%%:*} ($n)"; else fail "the release has ${kind##*:}+ ${kind%%:*}" "it has $n"; fi
done
pdb_api=$(awk '$1 == "PodDisruptionBudget" { print $2 }' "$state/objects.txt" | head -n 1)
[[ -z $pdb_api || $pdb_api == policy/v1beta1 ]] && pass "the PodDisruptionBudget is policy/v1beta1 on 1.20 (${pdb_api:-none})" ||
    fail "the PodDisruptionBudget's API" "$pdb_api on a 1.20 server"
for crd in "$chart"/crds/*.yaml; do
    name=$(awk '/^  name:/ { print $2; exit }' "$crd")
    if kubectl get crd "$name" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null | grep -q True; then
        pass "CRD $name installed from crds/ and Established"
    else
        fail "CRD $name from crds/" "not Established"
    fi
done
config_map=$(kubectl get deployment "$release-operator" -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -oE -- '--config-map[= ]"?[a-z0-9-]+' | sed -E 's/--config-map[= ]"?//')
selector=$(kubectl get deployment "$release-operator" -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -oE -- '--proxy-selector[= ]"?[^",]+' | sed -E 's/--proxy-selector[= ]"?//')
echo "    the operator: --config-map=$config_map --proxy-selector=$selector"

# ---- 2. the operator and the proxies, as processes --------------------------
# The operator's ServiceAccount token (1.20's token controller makes a Secret).
sa=$(kubectl get deployment "$release-operator" -n "$ns" -o jsonpath='{.spec.template.spec.serviceAccountName}')
get_sa_token() { kubectl get secrets -n "$ns" -o jsonpath="{.items[?(@.metadata.annotations.kubernetes\.io/service-account\.name==\"$sa\")].data.token}" | grep -q .; }
operator_kubeconfig=$state/operator.kubeconfig
if eventually 30 get_sa_token; then
    sa_token=$(kubectl get secrets -n "$ns" -o jsonpath="{.items[?(@.metadata.annotations.kubernetes\.io/service-account\.name==\"$sa\")].data.token}" | base64 -d)
    sed -e "s|token: .*|token: $sa_token|" "$KUBECONFIG" >"$operator_kubeconfig"
    pass "the operator runs as its ServiceAccount $sa (the chart's RBAC)"
else
    fail "the operator's ServiceAccount token" "no token Secret for $sa; running it as admin"
    cp "$KUBECONFIG" "$operator_kubeconfig"
fi
mkdir -p "$state/operator"
kubectl get deployment "$release-operator" -n "$ns" -o json >"$state/operator.json"
metrics_port=$(free_port)
mapfile -t operator_args < <(python3 ct/kube/pod-process.py "$state/operator.json" operator "$state/operator" \
    "$bin_dir/gatehouse-operator" --set --metrics-listen="127.0.0.1:$metrics_port")
echo "    gatehouse-operator ${operator_args[*]}"
KUBECONFIG=$operator_kubeconfig POD_NAMESPACE=$ns POD_NAME=$release-operator-ci GATEHOUSE_LOG=info \
    "$bin_dir/gatehouse-operator" "${operator_args[@]}" >"$state/operator.log" 2>&1 &
pids+=($!)
eventually 30 curl -sf "http://127.0.0.1:$metrics_port/readyz" && pass "the operator is ready (caches synced with the chart's RBAC)" ||
    fail "the operator is ready" "$(tail -n 20 "$state/operator.log")"
has_config() { kubectl get configmap "$config_map" -n "$ns" -o jsonpath='{.data.config\.json}' | grep -q .; }
eventually 30 has_config && pass "the operator writes the chart's ConfigMap $config_map" ||
    fail "the operator writes the ConfigMap $config_map" "$(grep -iE 'warn|error' "$state/operator.log" | tail -n 5)"

# The Pods the controllers made: patched Running at loopback addresses.
pods_exist() { [[ $(kubectl get pods -n "$ns" -l "$selector" -o name | wc -l) -ge 2 ]]; }
eventually 30 pods_exist && pass "the Deployment and StatefulSet controllers made the proxy Pods ($selector)" ||
    fail "the proxy Pods" "$(kubectl get pods -n "$ns" -l "$selector" 2>&1)"
upstream_port=$(free_port)
# The upstream's Endpoints need this machine's own address: the API server
# refuses loopback ones.
host_ip=$(hostname -I 2>/dev/null | awk '{print $1}')
[[ -n $host_ip ]] || host_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | grep -oE 'src [0-9.]+' | cut -d' ' -f2)
[[ -n $host_ip ]] || { echo "no non-loopback address on this machine for the upstream's Endpoints" >&2; exit 2; }
cat /etc/hosts >"$state/hosts"
{
    echo "127.0.0.2 $release-depot.$ns.svc $release-depot.$ns.svc.cluster.local"
    echo "127.0.0.1 ct-upstream.$ns.svc ci-upstream.$ns.svc"
} >>"$state/hosts"
private_hosts=1
unshare -m sh -c "mount --bind '$state/hosts' /etc/hosts && getent hosts ci-upstream.$ns.svc" >/dev/null 2>&1 || private_hosts=0
[[ $private_hosts == 1 ]] || echo "    (unshare -m is not allowed here: Service names do not resolve, the Service check and --data-writer are skipped)"

start_proxy() { # start_proxy POD WORKLOAD_KIND WORKLOAD IP: patches POD Running at IP, starts its process
    local pod=$1 kind=$2 workload=$3 ip=$4 root="$state/$1"
    mkdir -p "$root"
    api PATCH "/api/v1/namespaces/$ns/pods/$pod/status" -H 'Content-Type: application/merge-patch+json' \
        -d "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >/dev/null
    kubectl get "$kind" "$workload" -n "$ns" -o json >"$root/workload.json"
    local tls_port="" tls=()
    # HTTPS where the chart serves it (proxy.tls.enabled), on a free port.
    if grep -q -- '--listen-tls' "$root/workload.json"; then
        tls_port=$(free_port)
        tls=(--set --listen-tls="$ip:$tls_port")
    fi
    # The admin port is the container port the operator dials (9901); the
    # depot's traffic port is its Service's (8080, in --data-writer); the
    # Deployment's proxies take a free one (no one dials them but this test).
    local port=8080
    [[ $kind == statefulset ]] || port=$(free_port)
    mapfile -t args < <(python3 ct/kube/pod-process.py "$root/workload.json" proxy "$root" "$bin_dir/gatehouse-proxy" \
        --set --admin-listen="$ip:9901" --set --listen="$ip:$port" "${tls[@]}")
    echo "$port" >"$root/port"
    echo "    $pod at $ip: gatehouse-proxy ${args[*]}"
    if [[ $private_hosts == 1 ]]; then
        HOME=$root unshare -m sh -c "mount --bind '$state/hosts' /etc/hosts && exec \"\$0\" \"\$@\"" \
            "$bin_dir/gatehouse-proxy" "${args[@]}" >"$root/proxy.log" 2>&1 &
    else
        HOME=$root "$bin_dir/gatehouse-proxy" "${args[@]}" >"$root/proxy.log" 2>&1 &
    fi
    pids+=($!)
    echo "$tls_port" >"$root/tls_port"
}
# The config the operator wrote is in the ConfigMap the Pods mount: the
# files are written before the processes start, as a kubelet would.
# The depot's one writer at 127.0.0.2 (its Service's name resolves there),
# the Deployment's proxies at 127.0.0.3, .4, ...
depot_pod=$(kubectl get pods -n "$ns" -l "$selector,app.kubernetes.io/component=depot" -o jsonpath='{.items[0].metadata.name}')
[[ -n $depot_pod ]] && start_proxy "$depot_pod" statefulset "$release-depot" 127.0.0.2
n_pods=$((${depot_pod:+1} + 0))
ip_last=3
for pod in $(kubectl get pods -n "$ns" -l "$selector,app.kubernetes.io/component=proxy" -o jsonpath='{.items[*].metadata.name}'); do
    start_proxy "$pod" deployment "$release-proxy" "127.0.0.$ip_last"
    [[ $ip_last == 3 ]] && proxy_pod=$pod
    ip_last=$((ip_last + 1))
    n_pods=$((n_pods + 1))
done
proxy_url=http://127.0.0.3:$(cat "$state/$proxy_pod/port")
proxy_https=""
[[ -s $state/$proxy_pod/tls_port ]] && proxy_https=https://127.0.0.3:$(cat "$state/$proxy_pod/tls_port")

# ---- 3. a Route applied with kubectl is served -------------------------------
mkdir -p "$state/upstream"
echo "ci upstream $$" >"$state/upstream/index.html"
python3 -m http.server --bind 0.0.0.0 --directory "$state/upstream" "$upstream_port" >"$state/upstream.log" 2>&1 &
pids+=($!)
backend="{name: ci, service: {name: ci-upstream, port: $upstream_port}}"
[[ $private_hosts == 1 ]] || backend="{name: ci, url: 'http://127.0.0.1:$upstream_port'}"
cat <<EOF | kubectl apply -n "$ns" -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: ci-upstream}
spec: {ports: [{name: http, port: $upstream_port}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ci-upstream}
subsets: [{addresses: [{ip: "$host_ip"}], ports: [{name: http, port: $upstream_port}]}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: ci}
spec:
  className: $class
  rules:
    - matches: [{path: {type: PathPrefix, value: /ci}}]
      filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
      backends: [$backend]
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: chart-mock}
spec:
  className: $class
  rules:
    - matches: [{path: {type: PathPrefix, value: /ci-mock}}]
      backends: [{name: mock, mock: {provisionsDir: true}}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: other-class}
spec:
  className: gatehouse-some-other-branch
  rules:
    - matches: [{path: {type: PathPrefix, value: /other}}]
      backends: [$backend]
EOF
served() { curl -sf "$proxy_url/ci/" | grep -q "ci upstream $$"; }
if eventually 30 served; then
    pass "a Route applied with kubectl is served by the proxy (Service $ns/ci-upstream, Endpoints $host_ip)"
else
    fail "a Route applied with kubectl is served" "$(curl -s "$proxy_url/ci/" | head -c 300); operator: $(grep -iE 'warn|error' "$state/operator.log" | tail -n 3); proxy: $(tail -n 3 "$state/$proxy_pod/proxy.log" 2>/dev/null)"
fi
mocked() { curl -sf "$proxy_url/ci-mock/hello" | grep -q "hello from the chart's mock"; }
eventually 30 mocked && pass "the chart's mock (mock.provisions, copied in at start) answers through a Route" ||
    fail "the chart's mock answers" "GET /ci-mock/hello: $(curl -s "$proxy_url/ci-mock/hello" | head -c 300)"
programmed() { kubectl get route ci -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Programmed")].status} {.status.proxies}' | grep -q "^True $n_pods/$n_pods"; }
eventually 30 programmed && pass "the Route is Programmed on every proxy Pod ($n_pods/$n_pods)" ||
    fail "the Route is Programmed $n_pods/$n_pods" "$(kubectl get route ci -n "$ns" -o jsonpath='{.status}')"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$proxy_url/other/") == 404 ]] && pass "a Route of another class (branch) is not served" ||
    fail "a Route of another class is not served" "GET /other/ answered $(curl -s -o /dev/null -w '%{http_code}' "$proxy_url/other/")"

echo "== ct/test.sh --kube against the release"
ct_args=(--kube --release "$release" --namespace "$ns" --url "$proxy_url")
if [[ -n $proxy_https ]]; then ct_args+=(--https-url "$proxy_https"); else fail "the proxies serve HTTPS" "no --listen-tls in the chart's proxy Deployment (proxy.tls.enabled in ci-values.yaml)"; fi
run_ct() { # run_ct LABEL ARGS...
    local label=$1
    shift
    if bash ct/test.sh "$@" 2>&1 | sed 's/^/    /' | tee "$state/ct.out" | grep -v '^    PASS'; [[ ${PIPESTATUS[0]} == 0 ]]; then
        pass "ct/test.sh --kube $label: $(grep -c '^    PASS' "$state/ct.out") checks through the release"
    else
        fail "ct/test.sh --kube $label" "$(grep '^    FAIL' "$state/ct.out" | head -n 5)"
    fi
}
if [[ $private_hosts == 1 ]]; then
    run_ct "(through a Deployment proxy)" "${ct_args[@]}"
else
    echo "    skipped: without a private /etc/hosts the proxies cannot resolve Service names"
fi
kubectl delete -n "$ns" route/ci route/chart-mock route/other-class service/ci-upstream >/dev/null

# ---- 4. an upgrade keeps what was generated and what the operator wrote ----
echo "== ./deploy.sh again (helm upgrade): generated Secrets and the operator's config kept"
secret_data() { kubectl get secret "$1" -n "$ns" -o jsonpath='{.data}' | sha256sum; }
token_before=$(secret_data "$release-admin-token")
tls_before=$(secret_data "$release-admin-tls")
config_before=$(kubectl get configmap "$config_map" -n "$ns" -o jsonpath='{.data.config\.json}' | sha256sum)
if GATEHOUSE_CHART=$chart ./deploy.sh --branch "$branch" --namespace "$ns" --values ct/kube/ci-values.yaml --no-wait \
    -- --set proxy.shutdownGrace=20s >"$state/upgrade.out" 2>&1; then
    pass "deploy.sh: helm upgrade of the release"
else
    fail "deploy.sh: helm upgrade" "$(tail -n 20 "$state/upgrade.out")"
fi
# The operator's apply of the ConfigMap must own none of the chart's
# fields (its labels): on 1.23+ Helm 4 applies server-side, and an
# upgrade would conflict with them.
owned=$(kubectl get configmap "$config_map" -n "$ns" -o json | python3 -c '
import json, sys
for m in json.load(sys.stdin)["metadata"].get("managedFields", []):
    if m.get("manager") == "gatehouse-operator":
        print(" ".join(sorted(m.get("fieldsV1", {}).get("f:metadata", {}).get("f:labels", {}))))
    print("#", m.get("manager"), m.get("operation"), json.dumps(m.get("fieldsV1")), file=sys.stderr)' 2>"$state/managed-fields.txt")
if [[ $owned == *managed-by* ]]; then
    fail "the operator owns none of the chart's labels on its ConfigMap" "it owns: $owned (helm upgrade --server-side would conflict); $(cat "$state/managed-fields.txt")"
else
    pass "the operator owns none of the chart's labels on its ConfigMap (${owned:-none})"
fi
# Helm 4 applies server-side on 1.23+ (deploy.sh turns that off before):
# the operator's own apply of the config ConfigMap must leave helm's fields
# alone, or this upgrade conflicts.
if helm upgrade "$release" "$chart" -n "$ns" --reuse-values --skip-crds --server-side=true >"$state/upgrade-ssa.out" 2>&1; then
    pass "helm upgrade --server-side=true after the operator wrote its ConfigMap (no field conflict)"
else
    fail "helm upgrade --server-side=true" "$(tail -n 5 "$state/upgrade-ssa.out")"
fi
[[ $(secret_data "$release-admin-token") == "$token_before" ]] && pass "the admin token is the same after the upgrade (lookup)" ||
    fail "the admin token is kept across upgrades" "it changed: every proxy and the operator would disagree until restarted"
[[ $(secret_data "$release-admin-tls") == "$tls_before" ]] && pass "the admin CA and certificates are the same after the upgrade" ||
    fail "the admin certificates are kept across upgrades" "they changed"
[[ $(kubectl get configmap "$config_map" -n "$ns" -o jsonpath='{.data.config\.json}' | sha256sum) == "$config_before" ]] &&
    pass "the config the operator wrote survives the upgrade (the chart's ConfigMap has no data of its own)" ||
    fail "the operator's config survives an upgrade" "helm changed or emptied $config_map"
kubectl get deployment "$release-proxy" -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q -- '--shutdown-grace=20s' &&
    pass "the upgrade's value reached the proxy Deployment" || fail "the upgrade's value reached the proxy Deployment" "no --shutdown-grace=20s"

# ---- 5. helm uninstall leaves nothing ----------------------------------------
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
echo "== helm uninstall $release"
helm uninstall "$release" -n "$ns" --wait --timeout 60s >/dev/null && pass "helm uninstall" || fail "helm uninstall" "exit $?"
kinds=deployments,replicasets,statefulsets,pods,services,endpoints,secrets,configmaps,serviceaccounts,roles,rolebindings,networkpolicies,poddisruptionbudgets.policy,persistentvolumeclaims
leftovers() { kubectl get "$kinds" -n "$ns" -l "app.kubernetes.io/instance=$release" -o name 2>/dev/null | grep -v '^persistentvolumeclaim/'; }
gone() { [[ -z $(leftovers) ]]; }
if eventually 60 gone; then pass "nothing labelled app.kubernetes.io/instance=$release is left in $ns"; else fail "nothing of the release is left" "$(leftovers | tr '\n' ' ')"; fi
cluster_left=$(kubectl get clusterroles,clusterrolebindings -l "app.kubernetes.io/instance=$release" -o name)
[[ -z $cluster_left ]] && pass "no ClusterRole or ClusterRoleBinding of the release is left" || fail "cluster objects left" "$cluster_left"
if kubectl get configmap "$config_map" -n "$ns" >/dev/null 2>&1; then
    fail "the operator-written ConfigMap is gone" "$config_map is still there"
else
    pass "the ConfigMap the operator wrote ($config_map) is gone: the chart owns it"
fi
by_name=$(kubectl get -f "$state/manifest.yaml" -o name 2>/dev/null || true)
[[ -z $by_name ]] && pass "every object of the manifest is gone (by name)" || fail "objects of the manifest left" "$by_name"
others=$(kubectl get pods,replicasets,secrets,configmaps,services,endpoints -n "$ns" -o name 2>/dev/null |
    grep -vE '^(secret/default-token-|configmap/kube-root-ca.crt)' || true)
if [[ -z $others ]]; then
    pass "nothing else is left in $ns"
else
    fail "objects left in $ns" "$(echo "$others" | tr '\n' ' ')"
fi
# The operator's leader Lease (gatehouse-operator-<class>) is made by the
# operator, not by Helm: the chart must own it for uninstall to remove it.
leases=$(kubectl get leases.coordination.k8s.io -n "$ns" -o name 2>/dev/null || true)
if [[ -z $leases ]]; then pass "the operator's Lease is gone"; else fail "the operator's Lease is gone" "$(echo "$leases" | tr '\n' ' ')is left"; fi
pvcs=$(kubectl get persistentvolumeclaims -n "$ns" -o name)
[[ -z $pvcs ]] || echo "    kept by design: $pvcs (a StatefulSet's claims outlive it: the depot's data; kubectl -n $ns delete pvc -l app.kubernetes.io/instance=$release)"
echo "    kept by design: the CRDs (Helm never deletes crds/: kubectl delete crd routes.gatehouse.dev depotrepos.gatehouse.dev mockprovisions.gatehouse.dev)"
kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true

echo "== $passed passed, $failed failed ($((SECONDS - start_time)) s)"
if [[ $failed -gt 0 ]]; then
    printf 'failed: %s\n' "${failures[@]}"
    for log in "$state"/operator.log "$state"/*/proxy.log; do
        [[ -f $log ]] && { echo "-- $log (last 15 lines)"; tail -n 15 "$log"; }
    done
    exit 1
fi
