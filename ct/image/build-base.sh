#!/usr/bin/env bash
# Makes the Dockerfile's base image locally, as Debian's own
# debian:bookworm-slim is made, since no registry can be pulled from on
# these machines (../shared/container-build.md): debootstrap's minbase from
# the apt mirror this machine already uses, with the slim image's dpkg
# excludes (no docs but copyrights, no man pages, no locales), apt's lists
# and caches removed. The root file system is cached as a tarball in
# $GATEHOUSE_IMAGE_CACHE (default ~/.cache/gatehouse/image) and imported
# into podman when the image is missing; later runs return at once.
# Prints the image name (default localhost/debian:bookworm-slim) on its last line.
set -euo pipefail

CACHE="${GATEHOUSE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/image}"
NAME="${GATEHOUSE_BASE_IMAGE:-localhost/debian:bookworm-slim}"
SUITE=bookworm
TARBALL="$CACHE/debian-$SUITE-slim.tar"
log() { echo "==> $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
for tool in podman debootstrap; do
    command -v "$tool" >/dev/null || {
        echo "build-base.sh: '$tool' is missing: apt-get install -y $tool (ct/image/test.sh installs it)" >&2
        exit 1
    }
done

# The mirror apt uses here (deb822 sources first, then a one-line list).
mirror() {
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -m1 '/debian/\?$' || true)
    [[ -n $uri ]] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -m1 '/debian/\?$' || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

if [[ ! -s $TARBALL ]]; then
    MIRROR=$(mirror)
    log "making the base root file system with debootstrap ($SUITE, minbase, from $MIRROR)"
    mkdir -p "$CACHE"
    ROOTFS=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'as_root rm -rf "$ROOTFS"' EXIT
    as_root debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 20 "$CACHE/debootstrap.log" >&2
        echo "build-base.sh: debootstrap failed (log: $CACHE/debootstrap.log)" >&2
        exit 1
    }
    # What debian:bookworm-slim does: later `apt-get install`s in the image
    # skip docs, man pages and translations too.
    as_root tee "$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-slim" >/dev/null <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
    # apt keeps no downloaded package (the official image's docker-clean).
    as_root tee "$ROOTFS/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
    # The suite, its updates and security, from the same mirror host.
    as_root rm -f "$ROOTFS/etc/apt/sources.list"
    as_root tee "$ROOTFS/etc/apt/sources.list.d/debian.sources" >/dev/null <<CFG
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian*}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
    # The suite's security and point-release fixes (debootstrap takes the
    # release's packages only), as Debian's published image has them.
    log "applying $SUITE-updates and $SUITE-security"
    as_root env DEBIAN_FRONTEND=noninteractive chroot "$ROOTFS" apt-get -q update >>"$CACHE/debootstrap.log" 2>&1
    as_root env DEBIAN_FRONTEND=noninteractive chroot "$ROOTFS" apt-get -q -y upgrade >>"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 20 "$CACHE/debootstrap.log" >&2
        echo "build-base.sh: apt-get upgrade in the new root failed (log: $CACHE/debootstrap.log)" >&2
        exit 1
    }
    as_root find "$ROOTFS/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    as_root find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
    as_root rm -rf "$ROOTFS"/usr/share/{man,groff,info,lintian,linda}/* \
        "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log \
        "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old
    as_root find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    as_root tar --numeric-owner -C "$ROOTFS" -cf "$TARBALL.new" .
    mv "$TARBALL.new" "$TARBALL"
    podman rmi -f "$NAME" >/dev/null 2>&1 || true # imported again below
    log "base root file system: $(du -h "$TARBALL" | cut -f1) ($TARBALL)"
fi

if ! podman image exists "$NAME"; then
    log "importing $TARBALL as $NAME"
    podman import --quiet --change 'CMD ["bash"]' "$TARBALL" "$NAME" >/dev/null
fi
echo "$NAME"
