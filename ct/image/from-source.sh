#!/usr/bin/env bash
# Makes a Rust builder image for the Dockerfile's `binaries-build` stage
# (its RUST_IMAGE) where Docker Hub's rust image cannot be pulled: the
# local Debian base (argument 1, from ct/image/build-base.sh) with gcc and
# libc6-dev (the linker, and the C of ring and mimalloc) and this machine's
# own Rust toolchain (rustup's active one: its bin/ and lib/, not its 800 MB
# of docs), and this machine's crates.io cache (~/.cargo/registry's index
# and .crate files, 85 MB), used offline: a container here cannot check
# crates.io's certificate (the machine's egress goes through a CA that only
# the host trusts), so cargo inside downloads nothing. CARGO_HOME is
# /usr/local/cargo-offline, so the Dockerfile's registry cache mount (at the
# rust image's /usr/local/cargo/registry) stays unused.
#   IMAGE_FROM_SOURCE=1 bash ct/image/test.sh   # uses it
# Remade when the toolchain changes (the image is tagged with its version).
# Prints the image name on its last line.
set -euo pipefail

BASE=${1:?usage: from-source.sh BASE_IMAGE}
CACHE="${GATEHOUSE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/image}"
log() { echo "==> $*" >&2; }
command -v rustc >/dev/null || {
    echo "from-source.sh: rustc is missing: install Rust (rustup) first" >&2
    exit 1
}
SYSROOT=$(rustc --print sysroot)
VERSION=$(rustc --version | awk '{print $2}')
NAME=localhost/gatehouse-rust-builder:$VERSION
# Remake it (new crates in Cargo.lock): podman rmi $NAME
if podman image exists "$NAME"; then
    echo "$NAME"
    exit 0
fi

log "making $NAME from $BASE and $SYSROOT"
CONTEXT="$CACHE/builder-context"
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/rust"
# Hard links where the cache shares the toolchain's file system.
for dir in bin lib libexec; do
    [[ -d $SYSROOT/$dir ]] || continue
    cp -al "$SYSROOT/$dir" "$CONTEXT/rust/" 2>/dev/null || cp -a "$SYSROOT/$dir" "$CONTEXT/rust/"
done
REGISTRY=${CARGO_HOME:-$HOME/.cargo}/registry
[[ -d $REGISTRY/index && -d $REGISTRY/cache ]] || {
    echo "from-source.sh: $REGISTRY has no crates: run 'cargo fetch --locked' in the workspace first" >&2
    exit 1
}
mkdir -p "$CONTEXT/cargo/registry"
for dir in index cache; do
    cp -al "$REGISTRY/$dir" "$CONTEXT/cargo/registry/" 2>/dev/null || cp -a "$REGISTRY/$dir" "$CONTEXT/cargo/registry/"
done
cat >"$CONTEXT/Containerfile" <<EOF
FROM $BASE
# hadolint ignore=DL3008
RUN apt-get update \\
    && apt-get install -y --no-install-recommends gcc libc6-dev binutils ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
COPY rust/ /usr/local/rust/
COPY cargo/ /usr/local/cargo-offline/
ENV CARGO_HOME=/usr/local/cargo-offline CARGO_NET_OFFLINE=true \\
    PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN rustc --version && cargo --version
EOF
podman build -q -t "$NAME" -f "$CONTEXT/Containerfile" "$CONTEXT" >&2
rm -rf "$CONTEXT"
echo "$NAME"
