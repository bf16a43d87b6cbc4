#!/usr/bin/env bash
# The black-box suite, as a user drives Gatehouse: curl, git and openssl
# against the proxy's ports. One PASS or FAIL line a check; exit 1 when any
# failed.
#
# Local mode (the default): starts the release binary as a process on free
# loopback ports with a --manifests folder holding the suite's resources
# (ct/suite/*.yaml), a tiny upstream (python3 -m http.server) and a TLS
# Secret folder made with openssl, and checks through the proxy's ports.
#
# --kube: the same resources, applied with kubectl into a namespace of a
# cluster where a release of helm/gatehouse runs; the proxy is reached at
# --url (its traffic Service's address, or a port-forward:
#   kubectl port-forward svc/<release>-gatehouse-proxy 8080:80 8443:443).
#
# Run `ct/test.sh --help` for the flags.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

usage() {
    cat <<'EOF'
Usage: ct/test.sh [--kube [options]] [--only LIST] [--skip LIST] [--keep]

The black-box suite (routes, static, depot, mock, git, auth, tls) through the
proxy's ports, one PASS/FAIL line a check, exit 1 when any failed.

Local mode (default): runs gatehouse-proxy as a process with a --manifests
folder of ct/suite/*.yaml. The binary: $GATEHOUSE_PROXY_BIN, else
$GATEHOUSE_BIN_DIR/gatehouse-proxy, else ${CARGO_TARGET_DIR:-target}/release/
gatehouse-proxy (built with `cargo build --release -p gatehouse-proxy` when
missing).

--kube                 against an installed release (kubectl and its current
                       context, or $KUBECONFIG): the suite's resources are applied
                       into --namespace and deleted at the end (unless --keep)
  --url URL            where the proxy's HTTP port is reached (required): the
                       Service's address, or `kubectl port-forward
                       svc/<release>-gatehouse-proxy 8080:80 8443:443` and
                       http://127.0.0.1:8080
  --https-url URL      its HTTPS port (https://127.0.0.1:8443); without it the
                       tls checks are skipped, saying so
  --release NAME       the release (default: gatehouse); names the namespace and
                       class defaults
  --namespace NS       where the resources go (default: the release's namespace,
                       else the context's)
  --class NAME         the Routes' className (default: the release operator's
                       --class, else gatehouse)
  --upstream-service NAME:PORT
                       a Service of the namespace that answers GET / with 200,
                       for the routes check (default: the suite makes the Service
                       ct-upstream with Endpoints to this machine's address and a
                       python3 http.server there: fine when the proxies run on
                       this machine or can reach it)
  --static-root DIR    the static check's folder, as the proxies see it
                       (default: ct/suite/site of this checkout, absolute: right
                       when the proxies run on this machine; on a cluster give a
                       folder the proxy Pods have, or --skip static)
--only LIST, --skip LIST   comma-separated checks: routes,static,depot,mock,git,auth,tls
--keep                 keep the work folder (and, with --kube, the resources)

Environment: GATEHOUSE_CT_TIMEOUT (seconds to wait for the config to be
served, default 30), KUBECTL (default: kubectl).
EOF
}

kube=0 url="" https_url="" release=gatehouse namespace="" class="" upstream_service="" static_root=""
only="" skip="" keep=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --kube) kube=1 ;;
    --url) url=${2:?--url needs a URL}; shift ;;
    --https-url) https_url=${2:?--https-url needs a URL}; shift ;;
    --release) release=${2:?--release needs a name}; shift ;;
    --namespace | -n) namespace=${2:?--namespace needs a name}; shift ;;
    --class) class=${2:?--class needs a name}; shift ;;
    --upstream-service) upstream_service=${2:?--upstream-service needs NAME:PORT}; shift ;;
    --static-root) static_root=${2:?--static-root needs a folder}; shift ;;
    --only) only=${2:?--only needs a list}; shift ;;
    --skip) skip=${2:?--skip needs a list}; shift ;;
    --keep) keep=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "ct/test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

timeout_s=${GATEHOUSE_CT_TIMEOUT:-30}
KUBECTL=${KUBECTL:-kubectl}
need() { command -v "$1" >/dev/null || { echo "ct/test.sh: '$1' is missing: $2" >&2; exit 2; }; }
need curl "apt-get install -y curl"
need git "apt-get install -y git"
need openssl "apt-get install -y openssl"
need python3 "apt-get install -y python3"

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-ct.XXXXXX")
pids=()
applied=0
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $kube == 1 && $applied == 1 && $keep == 0 ]]; then
        "$KUBECTL" delete -n "$namespace" --ignore-not-found --wait=false -f "$work/manifests" >/dev/null 2>&1 || true
        "$KUBECTL" delete -n "$namespace" --ignore-not-found --wait=false secret/ct-tls service/ct-upstream endpoints/ct-upstream >/dev/null 2>&1 || true
    fi
    if [[ $keep == 1 ]]; then echo "(kept: $work)"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# ---- checks -----------------------------------------------------------------
passed=0 failed=0 skipped=0
failures=()
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); failures+=("$1"); }
skip_check() { echo "SKIP $1: $2"; skipped=$((skipped + 1)); }
wanted() {
    [[ -n $only && ",$only," != *",$1,"* ]] && return 1
    [[ ",$skip," == *",$1,"* ]] && return 1
    return 0
}
# req ARGS...: one curl, the status in $code, the body in $work/body, the
# headers in $work/headers. Never fails the script.
req() {
    code=$(curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 20 "$@" 2>"$work/curl.err") || code="000 ($(head -c 300 "$work/curl.err"))"
}
body() { cat "$work/body" 2>/dev/null; }
header() { grep -i "^$1:" "$work/headers" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
# expect NAME WANT_CODE [BODY_SUBSTRING]: checks the last req.
expect() {
    local name=$1 want=$2 text=${3:-}
    if [[ $code != "$want" ]]; then
        fail "$name" "status $code, want $want; body: $(body | head -c 300)"
    elif [[ -n $text ]] && ! grep -qF -- "$text" "$work/body"; then
        fail "$name" "body lacks '$text': $(body | head -c 300)"
    else
        pass "$name"
    fi
}

# ---- the suite's resources ---------------------------------------------------
mkdir -p "$work/manifests" "$work/upstream" "$work/tls"
echo "ct-upstream-marker $$" >"$work/upstream/ct-upstream.txt"
render() { # render CLASS UPSTREAM_YAML STATIC_ROOT
    local f
    for f in ct/suite/*.yaml; do
        # The upstream backend is one YAML line at the placeholder's indent.
        sed -e "s|@CLASS@|$1|g" -e "s|@UPSTREAM@|$2|g" -e "s|@STATIC_ROOT@|$3|g" "$f" >"$work/manifests/$(basename "$f")"
    done
}
make_tls() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
        -subj "/CN=gatehouse ct CA" -keyout "$work/tls/ca.key" -out "$work/tls/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=tls.ct.gatehouse.test" \
        -keyout "$work/tls/tls.key" -out "$work/tls/tls.csr" 2>/dev/null
    printf 'subjectAltName=DNS:tls.ct.gatehouse.test\n' >"$work/tls/ext"
    openssl x509 -req -in "$work/tls/tls.csr" -CA "$work/tls/ca.crt" -CAkey "$work/tls/ca.key" \
        -CAcreateserial -days 90 -extfile "$work/tls/ext" -out "$work/tls/tls.crt" 2>/dev/null
}
make_tls

start_upstream() { # start_upstream BIND_ADDRESS: sets upstream_port
    upstream_port=$(free_port)
    python3 -m http.server --bind "$1" --directory "$work/upstream" "$upstream_port" >"$work/upstream.log" 2>&1 &
    pids+=($!)
    local _
    for _ in $(seq 1 50); do
        curl -s -o /dev/null "http://127.0.0.1:$upstream_port/" && return 0
        sleep 0.1
    done
    echo "ct/test.sh: the upstream (python3 -m http.server) did not start: $(cat "$work/upstream.log")" >&2
    exit 2
}

upstream_marker=1
if [[ $kube == 0 ]]; then
    # ---- local mode: the binary as a process --------------------------------
    proxy_bin=${GATEHOUSE_PROXY_BIN:-${GATEHOUSE_BIN_DIR:-${CARGO_TARGET_DIR:-$repo/target}/release}/gatehouse-proxy}
    if [[ ! -x $proxy_bin ]]; then
        if [[ -n ${GATEHOUSE_PROXY_BIN:-} || -n ${GATEHOUSE_BIN_DIR:-} ]]; then
            echo "ct/test.sh: no executable proxy at $proxy_bin" >&2
            exit 2
        fi
        echo "== $proxy_bin is missing: cargo build --release -p gatehouse-proxy" >&2
        cargo build --release --locked -p gatehouse-proxy >&2
    fi
    start_upstream 127.0.0.1
    render gatehouse "url: \"http://127.0.0.1:$upstream_port\"" "$repo/ct/suite/site"
    # Local mode's Secret folder: named after the Secret, tls.crt and tls.key.
    mkdir -p "$work/manifests/ct-tls"
    cp "$work/tls/tls.crt" "$work/tls/tls.key" "$work/manifests/ct-tls/"
    http_port=$(free_port) tls_port=$(free_port) admin_port=$(free_port)
    "$proxy_bin" --manifests "$work/manifests" --data-dir "$work/data" \
        --listen "127.0.0.1:$http_port" --listen-tls "127.0.0.1:$tls_port" \
        --admin-listen "127.0.0.1:$admin_port" >"$work/proxy.log" 2>&1 &
    pids+=($!)
    url="http://127.0.0.1:$http_port"
    https_url="https://127.0.0.1:$tls_port"
    echo "== local mode: $proxy_bin on $url and $https_url (log: $work/proxy.log)"
    ready=0
    for _ in $(seq 1 $((timeout_s * 10))); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/readyz") == 200 ]] && { ready=1; break; }
        sleep 0.1
    done
    if [[ $ready == 0 ]]; then
        echo "FAIL start: the proxy was not ready within ${timeout_s}s; its log:"
        tail -n 30 "$work/proxy.log"
        exit 1
    fi
else
    # ---- --kube: an installed release ----------------------------------------
    need "$KUBECTL" "Debian's kubernetes-client, or see https://kubernetes.io/docs/tasks/tools/"
    [[ -n $url ]] || { echo "ct/test.sh --kube needs --url (the proxy's HTTP address; see --help)" >&2; exit 2; }
    "$KUBECTL" version >/dev/null 2>&1 || {
        echo "ct/test.sh: the cluster does not answer (context: $("$KUBECTL" config current-context 2>&1))" >&2
        exit 2
    }
    release_selector="app.kubernetes.io/instance=$release,app.kubernetes.io/component=operator"
    if [[ -z $namespace ]]; then
        namespace=$("$KUBECTL" get deployments -A -l "$release_selector" -o jsonpath='{.items[0].metadata.namespace}' 2>/dev/null || true)
        [[ -n $namespace ]] || namespace=$("$KUBECTL" config view --minify -o jsonpath='{..namespace}' 2>/dev/null || true)
        [[ -n $namespace ]] || namespace=default
    fi
    if [[ -z $class ]]; then
        args=$("$KUBECTL" get deployments -n "$namespace" -l "$release_selector" \
            -o jsonpath='{range .items[0].spec.template.spec.containers[*]}{.args}{.command}{end}' 2>/dev/null || true)
        class=$(echo "$args" | grep -oE -- '--class[=" ,]+[a-z0-9.-]+' | head -n 1 | sed -E 's/--class[=" ,]+//' || true)
        [[ -n $class ]] || class=gatehouse
    fi
    if [[ -n $upstream_service ]]; then
        upstream_yaml="service: {name: ${upstream_service%%:*}, port: ${upstream_service##*:}}"
        upstream_marker=0
    else
        # A Service without a selector and Endpoints to this machine's own
        # address (the API server refuses loopback Endpoints), served by an
        # http.server listening there.
        host_ip=${GATEHOUSE_CT_HOST_IP:-$(hostname -I 2>/dev/null | awk '{print $1}')}
        [[ -n $host_ip ]] || host_ip=$(ip -4 route get 1.1.1.1 2>/dev/null | grep -oE 'src [0-9.]+' | cut -d' ' -f2 || true)
        [[ -n $host_ip ]] || { echo "ct/test.sh: no address of this machine for the upstream's Endpoints: set GATEHOUSE_CT_HOST_IP or use --upstream-service" >&2; exit 2; }
        start_upstream 0.0.0.0
        cat <<EOF | "$KUBECTL" apply -n "$namespace" -f - >/dev/null
apiVersion: v1
kind: Service
metadata: {name: ct-upstream, labels: {app.kubernetes.io/part-of: gatehouse-ct}}
spec: {ports: [{name: http, port: $upstream_port, targetPort: $upstream_port}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ct-upstream, labels: {app.kubernetes.io/part-of: gatehouse-ct}}
subsets: [{addresses: [{ip: "$host_ip"}], ports: [{name: http, port: $upstream_port}]}]
EOF
        upstream_yaml="service: {name: ct-upstream, port: $upstream_port}"
    fi
    render "$class" "$upstream_yaml" "${static_root:-$repo/ct/suite/site}"
    applied=1
    "$KUBECTL" create secret tls ct-tls -n "$namespace" --cert "$work/tls/tls.crt" --key "$work/tls/tls.key" \
        --dry-run=client -o yaml | "$KUBECTL" apply -n "$namespace" -f - >/dev/null
    "$KUBECTL" apply -n "$namespace" -f "$work/manifests" >/dev/null
    echo "== --kube: release $release, namespace $namespace, class $class, context $("$KUBECTL" config current-context 2>/dev/null), proxy at $url ${https_url:-(no --https-url)}"
    # The operator compiles and pushes: wait until the suite's last Route serves.
    ready=0
    for _ in $(seq 1 $((timeout_s * 5))); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/ct/mock/hello") == 200 ]] &&
            [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/ct/old/x") == 301 ]]; then
            ready=1
            break
        fi
        sleep 0.2
    done
    if [[ $ready == 0 ]]; then
        echo "FAIL start: the suite's Routes were not served at $url within ${timeout_s}s; their status:"
        "$KUBECTL" get routes -n "$namespace" -o wide || true
        exit 1
    fi
fi
host_port=${url#*://}
host_port=${host_port%%/*}

# ---- routes ------------------------------------------------------------------
if wanted routes; then
    req "$url/ct/upstream/ct-upstream.txt"
    if [[ $upstream_marker == 1 ]]; then
        expect "routes: a proxied upstream, prefix rewritten" 200 "ct-upstream-marker $$"
    else
        req "$url/ct/upstream/"
        expect "routes: a proxied upstream (--upstream-service)" 200
    fi
    if [[ $(header x-ct-route) == ct-upstream ]]; then pass "routes: the response header filter"; else fail "routes: the response header filter" "x-ct-route is '$(header x-ct-route)'"; fi
    req "$url/ct/old/page?x=1"
    if [[ $code == 301 && $(header location) == *"/ct/new/page?x=1" ]]; then pass "routes: a redirect keeps the rest of the path and the query"; else fail "routes: a redirect" "status $code, Location '$(header location)'"; fi
    req "$url/ct/nowhere-$$"
    expect "routes: no Route matches: 404" 404
fi

# ---- static ------------------------------------------------------------------
if wanted static; then
    req "$url/ct/static/hello.txt"
    expect "static: a file" 200 "hello from the ct suite"
    etag=$(header etag)
    req -H "If-None-Match: $etag" "$url/ct/static/hello.txt"
    expect "static: its ETag gives a 304" 304
    req "$url/ct/static/"
    expect "static: index.html for a folder" 200 "gatehouse ct suite"
    req "$url/ct/static/no-such-file"
    expect "static: a missing file is 404" 404
fi

# ---- depot -------------------------------------------------------------------
if wanted depot; then
    file="$url/ct/depot/ct-files/suite-$$.txt"
    echo "first $$" >"$work/first.txt"
    echo "second $$" >"$work/second.txt"
    req -T "$work/first.txt" "$file"
    expect "depot: a PUT without a login is 401" 401
    req -u ct:ct-pass -T "$work/first.txt" "$file"
    if [[ $code == 200 && $(header etag) == '"1"' ]]; then pass "depot: PUT makes revision 1"; else fail "depot: PUT makes revision 1" "status $code, ETag $(header etag), body $(body | head -c 300)"; fi
    req -u ct:ct-pass -T "$work/second.txt" "$file"
    if [[ $code == 200 && $(header etag) == '"2"' ]]; then pass "depot: a second PUT makes revision 2"; else fail "depot: a second PUT makes revision 2" "status $code, ETag $(header etag)"; fi
    req "$file"
    expect "depot: GET (anonymous) returns the current revision" 200 "second $$"
    req "$file?revision=1"
    expect "depot: GET ?revision=1 returns the first" 200 "first $$"
    req "$file?revision=all"
    if [[ $code == 200 ]] && grep -q '"1"\|: *1\b' "$work/body" && grep -q '"2"\|: *2\b' "$work/body"; then
        pass "depot: ?revision=all lists the history"
    else
        fail "depot: ?revision=all lists the history" "status $code: $(body | head -c 300)"
    fi
fi

# ---- mock --------------------------------------------------------------------
if wanted mock; then
    req "$url/ct/mock/hello"
    expect "mock: a stub answer" 200 '"hello":"ct"'
    req "$url/ct/mock/echo/abc$$"
    expect "mock: a templated answer" 200 "echo abc$$"
    req "$url/ct/mock/none"
    if [[ $code =~ ^4 ]]; then pass "mock: no rule matches: $code"; else fail "mock: no rule matches" "status $code"; fi
fi

# ---- git ---------------------------------------------------------------------
if wanted git; then
    repo_url="${url%/}/ct/git/suite-$$.git"
    authed_url="${url%%://*}://ct:ct-pass@${url#*://}"
    authed_url="${authed_url%/}/ct/git/suite-$$.git"
    export GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 HOME="$work/home"
    mkdir -p "$HOME"
    git config --global user.name ct && git config --global user.email ct@gatehouse.test
    git config --global init.defaultBranch main
    git config --global credential.helper ""
    git init -q "$work/src"
    echo "pushed $$" >"$work/src/README"
    git -C "$work/src" add README && git -C "$work/src" commit -qm "ct $$"
    if git -C "$work/src" push -q "$repo_url" main >"$work/git.log" 2>&1; then
        fail "git: an anonymous push is refused" "it was accepted"
    else
        pass "git: an anonymous push is refused"
    fi
    if git -C "$work/src" push -q "$authed_url" main >"$work/git.log" 2>&1; then
        pass "git: a push with Basic auth makes the repository (createOnPush)"
    else
        fail "git: a push with Basic auth" "$(tail -n 5 "$work/git.log")"
    fi
    # -b main: the repository the push made has the server's default HEAD.
    if git clone -q -b main "$repo_url" "$work/clone" >"$work/git.log" 2>&1 && grep -q "pushed $$" "$work/clone/README"; then
        pass "git: an anonymous clone gets the pushed commit"
    else
        fail "git: an anonymous clone" "$(tail -n 5 "$work/git.log")"
    fi
    req "${url%/}/ct/git/no-such-$$.git/info/refs?service=git-upload-pack"
    expect "git: a missing repository is 404" 404
fi

# ---- auth --------------------------------------------------------------------
if wanted auth; then
    req "$url/ct/private/"
    if [[ $code == 401 && $(header www-authenticate) == *'realm="ct-private"'* ]]; then
        pass "auth: 401 and the realm without credentials"
    else
        fail "auth: 401 without credentials" "status $code, WWW-Authenticate '$(header www-authenticate)'"
    fi
    req -u ct:wrong "$url/ct/private/"
    expect "auth: 401 with a wrong password" 401
    req -u ct:ct-pass "$url/ct/private/"
    expect "auth: 200 with the user's password" 200 '"hello":"ct"'
fi

# ---- tls ---------------------------------------------------------------------
if wanted tls; then
    if [[ -z $https_url ]]; then
        skip_check "tls" "no --https-url given"
    else
        tls_host_port=${https_url#*://}
        tls_host_port=${tls_host_port%%/*}
        [[ $tls_host_port == *:* ]] || tls_host_port="$tls_host_port:443"
        connect=(--connect-to "tls.ct.gatehouse.test:443:$tls_host_port")
        req --cacert "$work/tls/ca.crt" "${connect[@]}" https://tls.ct.gatehouse.test/
        expect "tls: HTTPS with the Secret's certificate, verified with openssl's CA" 200 '"hello":"ct"'
        req "${connect[@]}" https://tls.ct.gatehouse.test/
        if [[ $code == 000* ]]; then pass "tls: refused without the CA (not a public certificate)"; else fail "tls: refused without the CA" "status $code"; fi
        issuer=$(echo | openssl s_client -connect "$tls_host_port" -servername tls.ct.gatehouse.test 2>/dev/null | openssl x509 -noout -subject 2>/dev/null || true)
        if [[ $issuer == *tls.ct.gatehouse.test* ]]; then pass "tls: SNI picks the Route's certificate"; else fail "tls: SNI picks the Route's certificate" "openssl s_client saw '$issuer'"; fi
        req -H "Host: tls.ct.gatehouse.test" "$url/x"
        if [[ $code == 308 && $(header location) == https://tls.ct.gatehouse.test* ]]; then
            pass "tls: plain HTTP for the TLS host is a 308 to HTTPS"
        else
            fail "tls: plain HTTP for the TLS host is a 308" "status $code, Location '$(header location)'"
        fi
    fi
fi

echo "== $passed passed, $failed failed, $skipped skipped (${host_port})"
if [[ $failed -gt 0 ]]; then
    printf 'failed: %s\n' "${failures[@]}"
    if [[ $kube == 0 ]]; then
        echo "the proxy's log (last 30 lines):"
        tail -n 30 "$work/proxy.log"
    fi
    exit 1
fi
