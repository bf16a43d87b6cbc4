#!/usr/bin/env bash
# Checks the chart helm/gatehouse without a cluster (CI calls it):
# - the CRDs in the chart are the generated crds/ (also a Rust test:
#   operator/tests/it/crds.rs);
# - `helm lint --strict` with the default values and ci/full-values.yaml;
# - `helm template` of both, for Kubernetes 1.30 and 1.20 (the PDB falls
#   back to policy/v1beta1), checked by kubernetes-validate (strict schemas
#   of the built-in kinds; its oldest schemas are 1.25's, so the 1.20
#   rendering is checked against those, and the v1beta1 PDB is only
#   warned about) and yamllint (helm/yamllint.yaml);
# - values.schema.json refuses bad values.
# Tools come from ct/kube/fetch-helm.sh (cached after the first run).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=$(bash ct/kube/fetch-helm.sh | tail -n 1)
CHART=helm/gatehouse
FULL=$CHART/ci/full-values.yaml
# helm wants writable config and cache folders; keep them out of $HOME.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HELM_CONFIG_HOME=$work/config HELM_CACHE_HOME=$work/cache HELM_DATA_HOME=$work/data
helm() { "$BIN/helm" "$@"; }
fail() {
    echo "helm/lint.sh: $*" >&2
    exit 1
}

echo "-- the chart's CRDs are crds/"
for f in crds/*.yaml; do
    cmp -s "$f" "$CHART/crds/$(basename "$f")" ||
        fail "$CHART/crds/$(basename "$f") differs from $f: cp crds/*.yaml $CHART/crds/"
done
[[ $(ls crds) == "$(ls $CHART/crds)" ]] || fail "$CHART/crds/ does not hold the same files as crds/"

# The optional objects render when their APIs exist.
EXTRA_APIS=(--api-versions cert-manager.io/v1 --api-versions monitoring.coreos.com/v1
    --api-versions monitoring.coreos.com/v1/ServiceMonitor)

echo "-- helm lint --strict (default values, full values)"
helm lint --strict "$CHART"
helm lint --strict "$CHART" -f "$FULL"

render() { # NAME KUBE_VERSION [helm args...]
    local name=$1 kube=$2
    shift 2
    helm template gh "$CHART" --namespace gatehouse --include-crds --kube-version "$kube" "$@" \
        >"$work/$name.yaml"
    echo "   $name: $(grep -c '^kind:' "$work/$name.yaml") objects"
}
echo "-- helm template"
render default-1.30 1.30.0
render full-1.30 1.30.0 -f "$FULL" "${EXTRA_APIS[@]}"
render default-1.20 1.20.0
render full-1.20 1.20.0 -f "$FULL" "${EXTRA_APIS[@]}"

grep -q 'apiVersion: policy/v1$' "$work/default-1.30.yaml" || fail "no policy/v1 PodDisruptionBudget for 1.30"
grep -q 'apiVersion: policy/v1beta1$' "$work/default-1.20.yaml" || fail "no policy/v1beta1 PodDisruptionBudget for 1.20"
grep -q '^kind: Certificate$' "$work/full-1.30.yaml" || fail "no Certificate with cert-manager.io/v1 present"
if grep -q '^kind: Certificate$' "$work/default-1.30.yaml"; then fail "a Certificate without asking"; fi

echo "-- kubernetes-validate (strict; CRD objects are the cluster's to check)"
for name in default-1.30 full-1.30; do
    "$BIN/kubernetes-validate" --strict --quiet -k 1.30.0 "$work/$name.yaml"
done
for name in default-1.20 full-1.20; do
    "$BIN/kubernetes-validate" --strict --quiet -k 1.25.0 "$work/$name.yaml"
done

echo "-- yamllint (helm/yamllint.yaml)"
"$BIN/yamllint" -s -c helm/yamllint.yaml "$work"/*.yaml

echo "-- the schema refuses bad values"
refuse() { # WHAT [helm args...]
    local what=$1
    shift
    if helm template gh "$CHART" "$@" >"$work/refused.out" 2>&1; then
        fail "$what: accepted, the schema should refuse it"
    fi
    grep -q "$what" "$work/refused.out" || {
        cat "$work/refused.out" >&2
        fail "refused, but not for $what"
    }
    echo "   refused: $* ($(grep -m1 "$what" "$work/refused.out" | sed 's/^ *//'))"
}
refuse "proxy/replicas" --set proxy.replicas=-1
refuse "replicaz" --set proxy.replicaz=2
refuse "proxy/service/type" --set proxy.service.type=Ingress
refuse "metrics/serviceMonitor/enabled" --set metrics.serviceMonitor.enabled=sometimes
refuse "a provision name is" --set mock.enabled=true --set-string 'mock.provisions.bad\.\.name=x'

echo "helm/lint.sh: ok"
