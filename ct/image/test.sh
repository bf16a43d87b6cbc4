#!/usr/bin/env bash
# Builds the container image from the top-level Dockerfile and runs it, as CI
# does (.ci/run), with podman and no registry (../shared/container-build.md):
#
#   bash ct/image/test.sh [BINARIES_DIR]
#
# 1. installs podman, buildah, debootstrap... with apt when missing, and
#    hadolint (ct/kube/fetch-helm.sh); writes the containers.conf these
#    machines need (runc, ulimits) and points CONTAINERS_CONF at it;
# 2. lints the Dockerfile with hadolint;
# 3. makes the Debian base locally once (ct/image/build-base.sh: debootstrap,
#    cached in ~/.cache/gatehouse/image);
# 4. builds the image from release binaries already built (BINARIES=prebuilt):
#    BINARIES_DIR, or $GATEHOUSE_IMAGE_BINARIES, or else
#    `cargo build --release --locked -p gatehouse-proxy` and `... -p
#    gatehouse-operator` into $CARGO_TARGET_DIR (default
#    ~/.cache/gatehouse/target), no-ops when they are fresh; they are
#    stripped into dist/ (the build context);
# 5. runs it read-only as user 10001: the proxy on its embedded example (the
#    README's first command) answers its curls, a second proxy with
#    --data-dir on the image's volume takes a git push and a depot write,
#    and the operator prints its version;
# 6. prints the image's size and what it is made of.
#
# Environment: IMAGE (default localhost/gatehouse:ci), IMAGE_GITWEB=1 to
# also build WITH_GITWEB=true and check gitweb.cgi runs, IMAGE_FROM_SOURCE=1
# to compile inside the build (ct/image/from-source.sh) instead of step 4.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

CACHE="${GATEHOUSE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/image}"
IMAGE="${IMAGE:-localhost/gatehouse:ci}"
log() { echo "==> $*" >&2; }
fail() {
    echo "ct/image/test.sh: $*" >&2
    exit 1
}
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }
elapsed() { echo "$(($(date +%s) - $1))s"; }

# What this run starts is removed at exit.
CONTAINERS=()
VOLUMES=()
SCRATCH=$(mktemp -d)
cleanup() {
    for c in "${CONTAINERS[@]}"; do podman rm -f -v -t 2 "$c" >/dev/null 2>&1 || true; done
    for v in "${VOLUMES[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

# --- 1. tools ------------------------------------------------------------------
# command -> Debian package
declare -A PACKAGE=(
    [podman]=podman [buildah]=buildah [debootstrap]=debootstrap
    [fuse-overlayfs]=fuse-overlayfs [newuidmap]=uidmap [slirp4netns]=slirp4netns
    [runc]=runc [skopeo]=skopeo [curl]=curl [git]=git [python3]=python3
)
missing=()
for tool in "${!PACKAGE[@]}"; do
    command -v "$tool" >/dev/null || missing+=("${PACKAGE[$tool]}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing ${missing[*]} (apt)"
    if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -q >&2 \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
            install -y -q "${missing[@]}" >&2; }; then
        fail "could not install ${missing[*]}: run as root (or with sudo) 'apt-get install -y ${missing[*]}'"
    fi
fi
for tool in "${!PACKAGE[@]}"; do
    command -v "$tool" >/dev/null || fail "'$tool' is still missing: apt-get install -y ${PACKAGE[$tool]}"
done
HADOLINT=${HADOLINT:-$(command -v hadolint || true)}
if [[ -z $HADOLINT ]]; then
    log "hadolint from ct/kube/fetch-helm.sh"
    tools_bin=$(bash ct/kube/fetch-helm.sh | tail -n 1) || fail "ct/kube/fetch-helm.sh failed: hadolint is needed to lint the Dockerfile"
    HADOLINT=$tools_bin/hadolint
fi
[[ -x $HADOLINT ]] || fail "hadolint is missing ($HADOLINT): bash ct/kube/fetch-helm.sh installs it"

# runc (crun fails on these machines' hybrid cgroups) and ulimits no higher
# than the sandbox's own, for every podman command below.
mkdir -p "$CACHE"
cat >"$CACHE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$CACHE/containers.conf"
podman --version

# --- 2. lint -------------------------------------------------------------------
echo "== hadolint Dockerfile ($("$HADOLINT" --version | head -n 1))"
"$HADOLINT" Dockerfile
echo "no findings"

# --- 3. the base ---------------------------------------------------------------
t=$(date +%s)
BASE=$(bash ct/image/build-base.sh | tail -n 1)
echo "== base image $BASE ($(elapsed "$t"))"

# --- 4. the image --------------------------------------------------------------
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
build_args=(
    --build-arg "BASE=$BASE"
    --build-arg "VERSION=$VERSION"
    --build-arg "REVISION=$REVISION"
    --build-arg "CREATED=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)" # the commit's: a rebuild of one commit is all cached
)
OLD_ID=$(podman image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
if [[ ${IMAGE_FROM_SOURCE:-} == 1 ]]; then
    t=$(date +%s)
    RUST_IMAGE=$(bash ct/image/from-source.sh "$BASE" | tail -n 1)
    echo "== building $IMAGE from source in $RUST_IMAGE"
    podman build --layers --pull=never --build-arg "RUST_IMAGE=$RUST_IMAGE" --build-arg BINARIES=build \
        "${build_args[@]}" --iidfile "$SCRATCH/iid" -t "$IMAGE" .
    echo "== built $IMAGE from source in $(elapsed "$t")"
else
    BINARIES_DIR="${1:-${GATEHOUSE_IMAGE_BINARIES:-}}"
    if [[ -z $BINARIES_DIR ]]; then
        export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/target}"
        command -v cargo >/dev/null || fail "cargo is missing: give the folder of release binaries (bash ct/image/test.sh DIR) or install Rust"
        # One package a build, as bench/ builds them: building the two at
        # once unifies their dependencies' features (futures-util, base64...),
        # which makes a proxy binary of its own, and CI would then link the
        # proxy twice with fat LTO (minutes each). So these are the benches'.
        t=$(date +%s)
        for package in gatehouse-proxy gatehouse-operator; do
            echo "== cargo build --release --locked -p $package (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
            cargo build --release --locked -p "$package"
        done
        echo "built or fresh in $(elapsed "$t")"
        BINARIES_DIR=$CARGO_TARGET_DIR/release
    fi
    for bin in gatehouse-proxy gatehouse-operator; do
        [[ -x $BINARIES_DIR/$bin ]] || fail "$BINARIES_DIR/$bin is missing: build it with cargo build --release --locked -p gatehouse-proxy -p gatehouse-operator"
    done
    # The context's dist/ (git-ignored): the binaries stripped of their debug
    # line tables and symbols, 153 MB -> 32 MB (the Dockerfile's build stage
    # strips the same way).
    command -v strip >/dev/null || fail "strip is missing: apt-get install -y binutils"
    mkdir -p dist
    for bin in gatehouse-proxy gatehouse-operator; do
        strip -o "dist/$bin.new" "$BINARIES_DIR/$bin"
        mv "dist/$bin.new" "dist/$bin"
    done
    echo "== building $IMAGE from $BINARIES_DIR ($(du -ch dist/gatehouse-* | tail -n 1 | cut -f1) stripped)"
    t=$(date +%s)
    podman build --layers --pull=never --build-arg BINARIES=prebuilt "${build_args[@]}" --iidfile "$SCRATCH/iid" -t "$IMAGE" .
    echo "== built $IMAGE in $(elapsed "$t")"
fi

# podman exits 0 when stopped by a signal: only an image ID says it built.
[[ -s $SCRATCH/iid ]] || fail "podman build of $IMAGE did not finish"
# The image this tag named before (another commit's) goes, so a CI machine
# that keeps its storage does not gather one a commit.
NEW_ID=$(cat "$SCRATCH/iid")
if [[ -n $OLD_ID && $OLD_ID != "${NEW_ID#sha256:}" ]]; then
    podman rmi "$OLD_ID" >/dev/null 2>&1 || true
fi

# --- 5. run it -------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The image as Kubernetes runs it with the chart: read-only root, /tmp a
# tmpfs, numeric user 10001; on the host's network unless told otherwise.
run_proxy() { # NAME NETWORK, then podman run's options, the image and its command
    local name=$1 network=$2
    shift 2
    CONTAINERS+=("$name")
    podman run -d --pull=never --name "$name" --read-only --tmpfs /tmp --user 10001:10001 --network "$network" "$@" >/dev/null
}
wait_ready() { # NAME URL
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
        if [[ $(podman inspect -f '{{.State.Running}}' "$1") != true ]]; then
            podman logs "$1" >&2
            fail "container $1 stopped before its /healthz answered"
        fi
        sleep 0.1
    done
    podman logs "$1" >&2
    fail "container $1: no answer from $2 within 10 s"
}
failures=0
expect() { # WHAT EXPECTED ACTUAL
    if [[ $3 == "$2" ]]; then
        echo "ok   $1: $3"
    else
        echo "FAIL $1: expected $2, got $3"
        failures=$((failures + 1))
    fi
}
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

echo "== the proxy on its embedded example: the image's CMD as it is, read-only, user 10001, port 8080 published"
# Its own network namespace, so the example's /status Route reaches the
# admin API at its default 127.0.0.1:9901 inside, and port 8080 (the
# image's GATEHOUSE_LISTEN=0.0.0.0:8080) is published on a free host port.
HTTP=$(free_port)
run_proxy gatehouse-ct-example-$$ bridge -p "127.0.0.1:$HTTP:8080" "$IMAGE"
U=http://127.0.0.1:$HTTP
t=$(date +%s%N)
wait_ready gatehouse-ct-example-$$ "$U/status"
echo "serving after $((($(date +%s%N) - t) / 1000000)) ms"
expect "GET / (the example site)" "200 Gatehouse is running" \
    "$(status "$U/") $(curl -s "$U/" | sed -n 's:.*<title>\(.*\)</title>.*:\1:p')"
expect "GET /status (a Route to the admin API's /readyz)" 200 "$(status "$U/status")"
expect "GET /old/page?x=1" "301 $U/new/page?x=1" \
    "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$U/old/page?x=1")"
expect "GET /nothing" 404 "$(status "$U/nothing")"
# A depot write: the embedded example's data dir is below /tmp.
expect "PUT /depot/configs/readme.md as editor" 200 \
    "$(status -u editor:editor -T README.md "$U/depot/configs/readme.md")"
expect "GET /depot/configs/readme.md" "$(md5sum <README.md | cut -d' ' -f1)" \
    "$(curl -s "$U/depot/configs/readme.md" | md5sum | cut -d' ' -f1)"
expect "GET /api/v1/interests (the mock)" 200 "$(status "$U/api/v1/interests")"

echo "== the data dir volume: a proxy with --data-dir /var/lib/gatehouse takes a git push and a depot write"
mkdir -p "$SCRATCH/manifests"
cp examples/local/depot.yaml "$SCRATCH/manifests/"
cat >"$SCRATCH/manifests/git.yaml" <<'EOF'
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: git}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /git}}]
      access:
        secret: depot-editors
        read: {anonymous: true}
      backends:
        - git: {createOnPush: true}
EOF
chmod -R a+rX "$SCRATCH"
VOLUME=gatehouse-ct-data-$$
VOLUMES+=("$VOLUME")
podman volume create "$VOLUME" >/dev/null
HTTP=$(free_port)
ADMIN=$(free_port)
run_proxy gatehouse-ct-writer-$$ host -v "$SCRATCH/manifests:/etc/gatehouse/manifests:ro" -v "$VOLUME:/var/lib/gatehouse" \
    "$IMAGE" gatehouse-proxy --listen "127.0.0.1:$HTTP" --admin-listen "127.0.0.1:$ADMIN" \
    --manifests /etc/gatehouse/manifests --data-dir /var/lib/gatehouse
wait_ready gatehouse-ct-writer-$$ "http://127.0.0.1:$ADMIN/healthz"
U=http://127.0.0.1:$HTTP
expect "admin /healthz" 200 "$(status "http://127.0.0.1:$ADMIN/healthz")"
expect "admin /readyz" 200 "$(status "http://127.0.0.1:$ADMIN/readyz")"
expect "admin /metrics" 200 "$(status "http://127.0.0.1:$ADMIN/metrics")"
git_() { git -c init.defaultBranch=main -c user.name=ct -c user.email=ct@example.com "$@"; }
git_ init -q "$SCRATCH/work"
echo "pushed through the image" >"$SCRATCH/work/file.txt"
git_ -C "$SCRATCH/work" add file.txt
git_ -C "$SCRATCH/work" commit -q -m "a commit"
if git_ -C "$SCRATCH/work" push -q "http://editor:editor@127.0.0.1:$HTTP/git/demo.git" main 2>"$SCRATCH/push.err"; then
    echo "ok   git push (createOnPush: git init --bare, git receive-pack in the image)"
else
    cat "$SCRATCH/push.err"
    expect "git push" ok failed
fi
git_ clone -q -b main "$U/git/demo.git" "$SCRATCH/clone" 2>&1 || true
expect "git clone of what was pushed" "pushed through the image" "$(cat "$SCRATCH/clone/file.txt" 2>/dev/null)"
expect "PUT /depot/configs/x.txt as editor" 200 "$(status -u editor:editor -T README.md "$U/depot/configs/x.txt")"
expect "the repository on the volume, owned by" 10001 \
    "$(podman run --rm --pull=never --read-only -v "$VOLUME:/var/lib/gatehouse" --entrypoint /usr/bin/stat "$IMAGE" \
        -c %u /var/lib/gatehouse/git/demo.git 2>&1)"

echo "== the operator"
expect "gatehouse-operator --version" "gatehouse-operator $VERSION" \
    "$(podman run --rm --pull=never --read-only --user 10001:10001 "$IMAGE" gatehouse-operator --version)"

if [[ ${IMAGE_GITWEB:-} == 1 ]]; then
    echo "== WITH_GITWEB=true"
    t=$(date +%s)
    podman build --layers --pull=never --build-arg BINARIES=prebuilt --build-arg WITH_GITWEB=true "${build_args[@]}" -t "$IMAGE-gitweb" .
    echo "built in $(elapsed "$t"), $(podman image inspect -f '{{.Size}}' "$IMAGE-gitweb" | awk '{printf "%.0f MB", $1/1e6}')"
    # gitweb.cgi as the cgi backend runs it, on the repository pushed above.
    # shellcheck disable=SC2016 # Perl's variable, not the shell's
    echo '$projectroot = "/var/lib/gatehouse/git";' >"$SCRATCH/gitweb.conf"
    chmod a+r "$SCRATCH/gitweb.conf"
    podman run --rm --pull=never --read-only --tmpfs /tmp --user 10001:10001 -v "$VOLUME:/var/lib/gatehouse" \
        -v "$SCRATCH/gitweb.conf:/etc/gatehouse/gitweb.conf:ro" \
        -e GATEWAY_INTERFACE=CGI/1.1 -e REQUEST_METHOD=GET -e QUERY_STRING= -e SCRIPT_NAME=/gitweb \
        -e GITWEB_CONFIG=/etc/gatehouse/gitweb.conf --entrypoint /usr/share/gitweb/gitweb.cgi \
        "$IMAGE-gitweb" >"$SCRATCH/gitweb.out" 2>&1 || true
    expect "gitweb.cgi lists the pushed repository" "Status: 200 OK, demo.git listed" \
        "$(head -n 1 "$SCRATCH/gitweb.out" | tr -d '\r'), $(grep -q 'demo.git' "$SCRATCH/gitweb.out" && echo demo.git listed)"
fi

# --- 6. what it is made of -------------------------------------------------------
echo "== $IMAGE: $(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1/1e6}') uncompressed"
podman history --no-trunc --format '{{.Size}}\t{{.CreatedBy}}' "$IMAGE" | grep -v '^0 B' \
    | sed -e 's:/bin/sh -c #(nop) ::' -e 's/|[0-9]* [A-Z_]*=[^ ]* .*/RUN (the user, its data dir; gitweb when asked)/' | cut -c 1-110
echo "   binaries: $(podman run --rm --pull=never --entrypoint /usr/bin/du "$IMAGE" -h /usr/local/bin/gatehouse-proxy /usr/local/bin/gatehouse-operator | tr '\t\n' ' ')"
echo "   from Debian's packages (their records in /var/lib/dpkg/status.d): $(podman run --rm --pull=never --entrypoint /usr/bin/ls "$IMAGE" /var/lib/dpkg/status.d | tr '\n' ' ')- of git only git, git-http-backend and the templates, of ca-certificates the bundle"
echo "   labels: $(podman image inspect -f '{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}' "$IMAGE" | tr ' ' '\n' | grep -c opencontainers) org.opencontainers.image.*; user $(podman image inspect -f '{{.Config.User}}' "$IMAGE"); entrypoint $(podman image inspect -f '{{.Config.Entrypoint}} {{.Config.Cmd}}' "$IMAGE")"

echo "== image check: $failures failure(s), $(elapsed "$started") in all"
[[ $failures -eq 0 ]]
