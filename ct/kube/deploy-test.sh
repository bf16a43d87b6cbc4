#!/usr/bin/env bash
# Checks ./deploy.sh without a cluster: --help, how a branch becomes a
# release and a className, what --dry-run prints (helm template, as no
# cluster answers) for two branches side by side, and the messages for a
# missing tool. The real run against the test API server is in
# helm-install-test.sh. One PASS/FAIL line a check; exit 1 when any failed.
# Env: GATEHOUSE_CHART (default helm/gatehouse).
# `check && pass … || fail …` below is safe: pass always succeeds.
# shellcheck disable=SC2015
set -euo pipefail
cd "$(dirname "$0")/../.."
export GATEHOUSE_CHART=${GATEHOUSE_CHART:-$PWD/helm/gatehouse}
helm_bin=$(bash ct/kube/fetch-helm.sh | tail -n 1)
state=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-deploy.XXXXXX")
trap 'rm -rf "$state"' EXIT
# No cluster: a kubeconfig that names none, and helm's folders kept apart.
export KUBECONFIG=$state/no-cluster HELM_CONFIG_HOME=$state/helm HELM_CACHE_HOME=$state/helm HELM_DATA_HOME=$state/helm

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
# run NAME ARGS...: ./deploy.sh with helm on PATH; output in $state/NAME, status in $status.
run() {
    local name=$1
    shift
    status=0
    PATH="$helm_bin:$PATH" ./deploy.sh "$@" >"$state/$name" 2>&1 || status=$?
}
has() { grep -qF -- "$2" "$state/$1"; }

run help --help
[[ $status == 0 ]] && has help "--dry-run" && has help "fetch-helm.sh" && pass "--help" || fail "--help" "exit $status"
run bad --frobnicate
[[ $status == 2 ]] && has bad "unknown argument" && pass "an unknown argument: exit 2, named" || fail "an unknown argument" "exit $status: $(cat "$state/bad")"

# Branch names -> release and class.
# A name that had to change gets the branch's hash (sha256, 6 digits), so
# branches that read alike never share a release; one that did not, none.
for case in "main|gatehouse" "master|gatehouse" "login-page|gatehouse-login-page" \
    "Feature/Login_Page|gatehouse-feature-login-page-12ff04" \
    "fix--double__dash.|gatehouse-fix-double-dash-2d6151" "release/2026.12|gatehouse-release-2026-12-8d440c"; do
    branch=${case%%|*} want=${case##*|}
    run names --branch "$branch" --dry-run
    if [[ $status == 0 ]] && has names "release:   $want " && has names "className: $want " && has names "--class=$want"; then
        pass "branch '$branch' -> release and className $want, the operator's --class"
    else
        fail "branch '$branch' -> $want" "exit $status: $(grep -E '^(release|className):' "$state/names")"
    fi
done
long=feature/a-very-long-branch-name-that-goes-on-and-on-and-on
run long --branch "$long" --dry-run
release=$(awk '/^release:/ { print $2 }' "$state/long")
if [[ $status == 0 && ${#release} -le 40 && $release =~ ^gatehouse-[a-z0-9-]+-[0-9a-f]{6}$ ]]; then
    pass "a long branch is cut with a hash: $release (${#release} characters)"
else
    fail "a long branch is cut" "release '$release', exit $status"
fi
run slash --branch feature/foo --dry-run
run dash --branch feature-foo --dry-run
a=$(awk '/^release:/ { print $2 }' "$state/slash") b=$(awk '/^release:/ { print $2 }' "$state/dash")
[[ $a != "$b" ]] && pass "feature/foo and feature-foo get two releases ($a, $b)" || fail "feature/foo and feature-foo" "both $a"
run other --branch "$long-2" --dry-run
other=$(awk '/^release:/ { print $2 }' "$state/other")
[[ $other != "$release" ]] && pass "two long branches with one prefix get two releases" || fail "two long branches" "both $release"

# Two branches side by side: no object name in common but the CRDs, each
# operator with its own class, the proxies found by their own label.
run a --branch alpha --dry-run
run b --branch beta --dry-run
names() { awk '/^kind:/ { k = $2 } /^  name:/ && k != "CustomResourceDefinition" { print k "/" $2 }' "$state/$1" | sort -u; }
common=$(comm -12 <(names a) <(names b))
if [[ -z $common && $(names a | wc -l) -gt 5 ]]; then pass "branches alpha and beta share no object name ($(names a | wc -l) objects each, CRDs aside)"; else fail "branches share no object name" "$common"; fi
has a "--class=gatehouse-alpha" && has b "--class=gatehouse-beta" && ! has a "--class=gatehouse-beta" &&
    pass "each branch's operator serves its own class" || fail "each branch's class" "see the dry runs"
has a "--proxy-selector=gatehouse.dev/proxy=gatehouse-alpha" && has b "--proxy-selector=gatehouse.dev/proxy=gatehouse-beta" &&
    pass "each branch's operator pushes to its own proxies only" || fail "each branch's proxy selector" "$(grep -h -- --proxy-selector "$state/a" "$state/b")"
has a "no reachable cluster: rendering with helm template" && pass "--dry-run without a cluster says it renders with helm template" ||
    fail "--dry-run without a cluster" "$(head -n 8 "$state/a")"

run values --branch alpha --values ct/kube/ci-values.yaml --dry-run
has values "replicas: 2" && pass "--values reaches the chart" || fail "--values" "no replicas: 2 in the output"
run novalues --branch alpha --values "$state/nope.yaml" --dry-run
[[ $status != 0 ]] && has novalues "cannot be read" && pass "a missing values file is named" || fail "a missing values file" "exit $status"

# Without a cluster, a real run stops before helm, saying why.
if command -v kubectl >/dev/null; then
    run nocluster --branch alpha
    [[ $status != 0 ]] && has nocluster "does not answer" && pass "no cluster: a real run stops and says so" || fail "no cluster" "exit $status: $(tail -n 3 "$state/nocluster")"
fi
# Without helm: the way to get it.
mkdir -p "$state/bin"
for tool in bash git sed tr awk cut sha256sum dirname grep head cat python3; do
    ln -sf "$(command -v "$tool")" "$state/bin/$tool"
done
status=0
HOME=$state/home PATH=$state/bin ./deploy.sh --branch alpha --dry-run >"$state/nohelm" 2>&1 || status=$?
[[ $status != 0 ]] && has nohelm "helm is missing" && has nohelm "bash ct/kube/fetch-helm.sh" &&
    pass "no helm: exit $status, pointing at ct/kube/fetch-helm.sh" || fail "no helm" "exit $status: $(cat "$state/nohelm")"

echo "== $passed passed, $failed failed"
[[ $failed == 0 ]]
