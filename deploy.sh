#!/usr/bin/env bash
# Installs or upgrades Gatehouse (the chart helm/gatehouse) for one git
# branch, so that several branches run side by side in one cluster: each
# branch gets its own release and its own className, and its operator
# serves only the Routes of that class. Run ./deploy.sh --help.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chart="${GATEHOUSE_CHART:-$here/helm/gatehouse}"

usage() {
    cat <<'EOF'
Usage: ./deploy.sh [--branch NAME] [--namespace NS] [--values FILE]... [--dry-run]
                   [--timeout DURATION] [--no-wait] [-- HELM_ARGS...]

Installs or upgrades Gatehouse (helm/gatehouse) with `helm upgrade --install`,
one release and one className per git branch, so two branches run side by side
in one cluster without seeing each other's Routes: each branch's operator serves
only the Routes whose spec.className is its own.

  --branch NAME      the branch (default: the current git branch). Made a DNS
                     label (lower case, [a-z0-9-], at most 30 characters, with a
                     hash when cut). main and master give the release and class
                     `gatehouse`; any other branch B gives `gatehouse-B`.
  --namespace NS     where the release goes (default: gatehouse; made if missing)
  --values FILE      a values file for the chart (repeatable)
  --dry-run          print what would be applied (helm's rendered manifests,
                     Secrets hidden) and change nothing; without a reachable
                     cluster it renders with `helm template` instead
  --timeout DURATION how long to wait for the rollout (default 5m)
  --no-wait          do not wait for the rollout (a cluster without nodes, as
                     the CI's test API server, never completes one)
  -- HELM_ARGS       passed to helm as they are (e.g. -- --set proxy.replicas=3)

Needs helm (v3.13+ or v4) and kubectl with a context that reaches the cluster:
it prints the context it uses. `bash ct/kube/fetch-helm.sh` fetches helm into
~/.cache/gatehouse/tools/bin, which this script also looks in.
Env: GATEHOUSE_CHART (another chart folder), KUBECONFIG.
EOF
}

branch="" namespace=gatehouse dry_run=0 wait=1 timeout=5m
values=() helm_extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --branch) branch=${2:?--branch needs a name}; shift ;;
    --branch=*) branch=${1#*=} ;;
    --namespace | -n) namespace=${2:?--namespace needs a name}; shift ;;
    --namespace=*) namespace=${1#*=} ;;
    --values | -f) values+=(--values "${2:?--values needs a file}"); shift ;;
    --values=*) values+=(--values "${1#*=}") ;;
    --dry-run) dry_run=1 ;;
    --timeout) timeout=${2:?--timeout needs a duration, e.g. 5m}; shift ;;
    --timeout=*) timeout=${1#*=} ;;
    --no-wait) wait=0 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; helm_extra=("$@"); break ;;
    *) echo "deploy.sh: unknown argument '$1' (see ./deploy.sh --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "deploy.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- tools ---------------------------------------------------------------------
tools_bin="${GATEHOUSE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/tools}/bin"
if ! command -v helm >/dev/null && [[ -x $tools_bin/helm ]]; then PATH="$tools_bin:$PATH"; fi
missing=0
if ! command -v helm >/dev/null; then
    say "helm is missing: run \`bash ct/kube/fetch-helm.sh\` (helm v4 into $tools_bin, which this script looks in),"
    say "  or install it: https://helm.sh/docs/intro/install/"
    missing=1
fi
if ! command -v kubectl >/dev/null; then
    say "kubectl is missing: install it (https://kubernetes.io/docs/tasks/tools/; Debian: apt-get install kubernetes-client)"
    [[ $dry_run == 1 ]] || missing=1
fi
[[ -d $chart ]] || die "no chart at $chart (run from a checkout of Gatehouse, or set GATEHOUSE_CHART)"
for v in "${values[@]}"; do
    [[ $v == --values || -r $v ]] || die "values file '$v' cannot be read"
done
[[ $missing == 0 ]] || exit 1

# ---- branch -> release and class -----------------------------------------------
if [[ -z $branch ]]; then
    branch=$(git -C "$here" rev-parse --abbrev-ref HEAD 2>/dev/null || true)
    [[ -n $branch && $branch != HEAD ]] || die "no current git branch (a detached HEAD, or not a checkout): give --branch NAME"
fi
label=$(printf '%s' "$branch" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9]+/-/g; s/^-+//; s/-+$//')
# A name that had to change (case, `/`, length) gets its branch's hash, so
# `feature/foo`, `feature-foo` and `Feature_Foo` stay three releases.
if [[ $label != "$branch" || ${#label} -gt 30 ]]; then
    hash=$(printf '%s' "$branch" | sha256sum | cut -c1-6)
    label="$(printf '%s' "${label:0:23}" | sed -E 's/-+$//')-$hash"
fi
[[ -n $label ]] || die "branch '$branch' has no letter or digit to name a release after: give --branch NAME"
case $label in
main | master) release=gatehouse ;;
*) release="gatehouse-$label" ;;
esac
class=$release
[[ $namespace =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ && ${#namespace} -le 63 ]] || die "namespace '$namespace' is not a DNS label"

helm_args=(upgrade --install "$release" "$chart" --namespace "$namespace" --create-namespace
    --set-string "className=$class" "${values[@]}" "${helm_extra[@]}")

echo "branch:    $branch"
echo "release:   $release (namespace $namespace)"
echo "className: $class   <- put this in your Routes' spec.className"

# ---- the cluster ---------------------------------------------------------------
reachable=0
if command -v kubectl >/dev/null; then
    context=$(kubectl config current-context 2>/dev/null || echo "(none)")
    echo "context:   $context${KUBECONFIG:+ (KUBECONFIG=$KUBECONFIG)}"
    if kubectl version >/dev/null 2>&1; then
        reachable=1
    elif [[ $dry_run == 0 ]]; then
        die "the cluster of context '$context' does not answer: \`kubectl version\` fails (check KUBECONFIG, \`kubectl config get-contexts\`, VPN)"
    fi
fi

# Helm 4 applies server-side, and an API server older than 1.23 refuses a
# server-side apply of CRDs with CEL rules (x-kubernetes-validations: "field
# not declared in schema"); a plain create is accepted there (it drops the
# rules, which such a server cannot check anyway).
if [[ $reachable == 1 ]] && helm version --short 2>/dev/null | grep -q '^v4'; then
    minor=$(kubectl version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["minor"].rstrip("+"))' 2>/dev/null || echo 99)
    if [[ $minor =~ ^[0-9]+$ && $minor -lt 23 ]]; then
        echo "server:    Kubernetes 1.$minor: helm --server-side=false (server-side apply of the CRDs needs 1.23+)"
        helm_args+=(--server-side=false)
    fi
fi

if [[ $dry_run == 1 ]]; then
    if [[ $reachable == 1 ]]; then
        echo "== dry run: helm ${helm_args[*]} --dry-run=server --hide-secret (nothing is changed)"
        helm "${helm_args[@]}" --dry-run=server --hide-secret
    else
        say "no reachable cluster: rendering with helm template (lookups of existing objects see none)"
        echo "== dry run: helm template $release $chart --namespace $namespace --set-string className=$class ... (nothing is changed)"
        helm template "$release" "$chart" --namespace "$namespace" --include-crds \
            --set-string "className=$class" "${values[@]}" "${helm_extra[@]}"
    fi
    exit 0
fi

echo "== helm ${helm_args[*]}"
helm "${helm_args[@]}"

selector="app.kubernetes.io/instance=$release"
if [[ $wait == 1 ]]; then
    workloads=$(kubectl get deployments,statefulsets -n "$namespace" -l "$selector" -o name)
    [[ -n $workloads ]] || die "the release made no Deployment or StatefulSet with label $selector"
    for w in $workloads; do
        echo "== kubectl rollout status $w --timeout $timeout"
        kubectl rollout status "$w" -n "$namespace" --timeout "$timeout" ||
            die "$w did not roll out within $timeout: kubectl -n $namespace describe $w; kubectl -n $namespace get pods -l $selector"
    done
else
    echo "== not waiting for the rollout (--no-wait)"
fi

# ---- where it answers ----------------------------------------------------------
echo
echo "Services of $release (namespace $namespace):"
kubectl get services -n "$namespace" -l "$selector" \
    -o custom-columns='NAME:.metadata.name,TYPE:.spec.type,CLUSTER-IP:.spec.clusterIP,EXTERNAL:.status.loadBalancer.ingress[*].ip,PORTS:.spec.ports[*].port'
# The traffic Service: the proxy's, not headless, with a port named http.
traffic=$(kubectl get services -n "$namespace" -l "$selector,app.kubernetes.io/component=proxy" \
    -o jsonpath='{range .items[?(@.spec.clusterIP!="None")]}{.metadata.name} {.spec.type}{"\n"}{end}' | head -n 1)
svc=${traffic%% *}
type=${traffic##* }
forward="" urls=""
echo
if [[ -z $svc ]]; then
    say "found no traffic Service of the proxies (label app.kubernetes.io/component=proxy)"
else
    address=""
    if [[ $type == LoadBalancer ]]; then
        address=$(kubectl get service "$svc" -n "$namespace" -o jsonpath='{.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}')
    fi
    # Its ports: http (80) always, https (443) when the chart serves TLS.
    ports=$(kubectl get service "$svc" -n "$namespace" -o jsonpath='{range .spec.ports[*]}{.name}={.port} {end}')
    for p in $ports; do
        name=${p%%=*} port=${p##*=}
        case $name in
        http) forward+=" 8080:$port"; urls+=" http://127.0.0.1:8080/" ;;
        https) forward+=" 8443:$port"; urls+=" https://127.0.0.1:8443/" ;;
        esac
    done
    if [[ -n $address ]]; then
        echo "URLs:      http://$address/$([[ $ports == *https=* ]] && echo "   https://$address/")"
    else
        [[ $type == LoadBalancer ]] && echo "(the LoadBalancer has no address yet: kubectl -n $namespace get service $svc -w)"
        echo "URLs:      through a port-forward:"
        echo "             kubectl -n $namespace port-forward service/$svc$forward"
        echo "           then$urls"
    fi
    echo "In the cluster: http://$svc.$namespace.svc/"
fi
echo
echo "Routes:    put \`className: $class\` in each Route's spec (and in DepotRepos and MockProvisions)."
echo "           Those this release serves:"
if [[ $class == gatehouse ]]; then
    # The default class also takes Routes that name none.
    echo "             kubectl get routes -A -o custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,CLASS:.spec.className,HOSTS:.spec.hostnames,PROGRAMMED:'.status.conditions[?(@.type==\"Programmed\")].status' | awk 'NR==1 || \$3==\"$class\" || \$3==\"<none>\"'"
else
    echo "             kubectl get routes -A -o custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,CLASS:.spec.className,HOSTS:.spec.hostnames,PROGRAMMED:'.status.conditions[?(@.type==\"Programmed\")].status' | awk 'NR==1 || \$3==\"$class\"'"
fi
printf '             kubectl get routes -A -o jsonpath='"'"'{range .items[?(@.spec.className=="%s")]}{.metadata.namespace}/{.metadata.name}{"\\n"}{end}'"'"'\n' "$class"
echo "Test it:   ct/test.sh --kube --release $release --namespace $namespace --url http://127.0.0.1:8080$([[ $urls == *https* ]] && echo " --https-url https://127.0.0.1:8443")  (through the port-forward; see ct/test.sh --help)"
