#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager v1.20.2 from Debian's own
# `kubernetes` source package (see ../shared/kube-test-apiserver.md), once:
# the binaries are cached in $GATEHOUSE_KUBE_CACHE (default
# ~/.cache/gatehouse/kube) and later runs return at once. Debian's kubectl
# 1.20 lands beside them.
# Prints the folder holding the two binaries on its last line.
set -euo pipefail

CACHE="${GATEHOUSE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/kube}"
BIN="$CACHE/bin"
log() { echo "==> $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive

# Debian's kubectl 1.20 (the server's own version), unpacked beside the
# servers rather than installed, so it never clashes with another kubectl.
fetch_kubectl() {
    log "fetching kubectl 1.20 (Debian's kubernetes-client)"
    local tmp
    tmp=$(mktemp -d)
    chmod 755 "$tmp" # apt's download user writes here
    (cd "$tmp" && apt-get download kubernetes-client >&2)
    dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$tmp/root"
    mkdir -p "$BIN"
    cp "$tmp/root/usr/bin/kubectl" "$BIN/kubectl"
    rm -rf "$tmp"
}

if [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager ]] && command -v etcd >/dev/null; then
    if [[ ! -x $BIN/kubectl ]]; then
        as_root apt-get update -qq
        fetch_kubectl
    fi
    echo "$BIN"
    exit 0
fi

# Source packages need a deb-src entry for the same mirror.
if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    log "adding deb-src entries"
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
        | as_root tee /etc/apt/sources.list.d/debian-src.sources >/dev/null
fi
log "installing the Go toolchain, etcd and the vendored-library fixes"
as_root apt-get update -qq
as_root apt-get install -y -qq golang-go rsync jq etcd-server openssl curl python3 \
    golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev >&2

WORK="$CACHE/src"
rm -rf "$WORK"
mkdir -p "$WORK" "$BIN"
cd "$WORK"
log "fetching the kubernetes source package"
apt-get source --download-only kubernetes >&2
tar xzf kubernetes_*.orig.tar.gz
cd kubernetes-1.20.2

# reflect2 1.0.1 (vendored) crashes under Go >= 1.18 on the first watch of a
# custom resource; Debian's 1.0.2 and json-iterator 1.1.12 do not.
for lib in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    rm -rf "vendor/$lib"
    cp -r "/usr/share/gocode/src/$lib" "vendor/$lib"
    find "vendor/$lib" -name '*_test.go' -delete
done

log "building (about 10 minutes on 2 cores)"
mkdir -p .go/src/k8s.io
ln -sfn ../../.. .go/src/k8s.io/kubernetes
scratch_home="$WORK/home"
mkdir -p "$scratch_home"
GOPATH="$PWD/.go" CGO_ENABLED=0 HOME="$scratch_home" \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" GOLDFLAGS="-s -w" >&2
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$BIN/"
fetch_kubectl
cd "$CACHE"
rm -rf "$WORK"
echo "$BIN"
