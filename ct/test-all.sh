#!/usr/bin/env bash
# Every test of the workspace: the README's test command.
#
# Builds the test API server once (kube-apiserver 1.20 from Debian's source,
# about 15 minutes; cached in ~/.cache/gatehouse/kube after that) and
# Kubernetes 1.36's standalone CRD API server (Debian sid, about 12
# minutes once; ~/.cache/gatehouse/crd-server), starts both, runs `cargo test --workspace`, then the API-server tests that a plain
# `cargo test` shows as ignored (named `api_server_*`; tests ignored as
# known bugs stay ignored), then the browser tests (named `browser_*`: a
# headless Chromium from Debian's `chromium` and `chromium-driver`), the
# `real_htpasswd_*` tests (Apache's `htpasswd`, Debian's apache2-utils), the
# `gitweb_*` tests (Debian's gitweb through the cgi backend), stops
# the server on exit, and exits non-zero when any cargo run failed.
# Arguments go to every cargo run (`bash ct/test-all.sh --release`).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test API server (kube-apiserver 1.20 from Debian's source, cached after the first build)"
kube_bin=$(bash ct/kube/build-apiserver.sh | tail -n 1)
export GATEHOUSE_TEST_KUBECTL="$kube_bin/kubectl"
# The state folder is chosen here, so a start that fails half-way is stopped too.
GATEHOUSE_KUBE_STATE=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-kube.XXXXXX")
export GATEHOUSE_KUBE_STATE
crd_state=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-crd.XXXXXX")
trap 'bash ct/kube/stop-crd-server.sh "$crd_state"; bash ct/kube/stop-apiserver.sh "$GATEHOUSE_KUBE_STATE"' EXIT
kube_env=$(bash ct/kube/start-apiserver.sh | tail -n 1)
export GATEHOUSE_TEST_KUBECONFIG="${kube_env#export KUBECONFIG=}"

echo "== Kubernetes 1.36's CRD API server (CEL rules and their cost budget, which 1.20 drops; built once from Debian sid)"
bash ct/kube/build-crd-server.sh >/dev/null
crd_env=$(KUBECONFIG="$GATEHOUSE_TEST_KUBECONFIG" GATEHOUSE_CRD_STATE=$crd_state bash ct/kube/start-crd-server.sh | tail -n 1)
export GATEHOUSE_TEST_CRD_KUBECONFIG="${crd_env#export GATEHOUSE_TEST_CRD_KUBECONFIG=}"

echo "== cargo test --workspace"
status=0
# --no-fail-fast: every failure is shown, not just the first test binary's.
cargo test --workspace --locked --no-fail-fast "$@" || status=$?

echo "== the API-server tests (ignored by a plain cargo test)"
# --tests: doc tests hold none, and rustdoc would build them all again.
cargo test --workspace --locked --no-fail-fast --tests "$@" -- --ignored api_server_ || status=$?

echo "== the browser tests (headless Chromium; ignored by a plain cargo test)"
if [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ]; then
  cargo test --workspace --locked --no-fail-fast --tests "$@" -- --ignored browser_ || status=$?
else
  echo "chromium or chromedriver is missing: apt-get install -y chromium chromium-driver (.ci/run does)" >&2
  status=1
fi

echo "== the real_htpasswd_ tests (Apache's htpasswd both ways; ignored by a plain cargo test)"
if command -v htpasswd >/dev/null; then
  cargo test --workspace --locked --no-fail-fast --tests "$@" -- --ignored real_htpasswd_ || status=$?
else
  echo "Apache's htpasswd is missing: apt-get install -y apache2-utils (.ci/run does)" >&2
  status=1
fi

echo "== the gitweb_ tests (Debian's gitweb as a CGI program; ignored by a plain cargo test)"
# Debian's git ships gitweb.cgi; the gitweb package brings Perl's CGI module it needs.
if [ -f /usr/share/gitweb/gitweb.cgi ] && perl -MCGI -e 1 2>/dev/null; then
  cargo test --workspace --locked --no-fail-fast --tests "$@" -- --ignored gitweb_ || status=$?
else
  echo "gitweb is missing: apt-get install -y gitweb (.ci/run does)" >&2
  status=1
fi

exit "$status"
