# Gatehouse: one image holding both programs, the proxy and the operator.
#
#   podman build -t gatehouse .        # or: docker build -t gatehouse .
#   podman run --rm -p 8080:8080 gatehouse     # the proxy on its embedded example
#   podman run --rm gatehouse gatehouse-operator --version
#
# Build arguments:
#   BINARIES=build|prebuilt  build: compile in RUST_IMAGE (10-20 minutes on
#                            2 cores); prebuilt: take release binaries already
#                            built, from the context folder dist/
#                            (dist/gatehouse-proxy, dist/gatehouse-operator;
#                            ct/image/test.sh puts them there, stripped).
#                            Only the chosen stage is built.
#   RUST_IMAGE               the builder (default: Docker Hub's rust:1-bookworm)
#   BASE                     the runtime base (default: Debian's bookworm-slim;
#                            ct/image/build-base.sh makes an equal one locally)
#   WITH_GITWEB=false|true   add Debian's gitweb (and Perl's CGI module) for a
#                            `cgi` backend at /usr/share/gitweb/gitweb.cgi
#   VERSION, REVISION, CREATED   OCI labels
#
# At run time: user 10001:10001, no shell needed, a read-only root file
# system works; the programs write only to /tmp and to the data dir,
# /var/lib/gatehouse (a VOLUME: `--data-dir /var/lib/gatehouse` for the
# depot and git writer).

ARG RUST_IMAGE=docker.io/library/rust:1-bookworm
ARG BASE=docker.io/library/debian:bookworm-slim
ARG BINARIES=build

# --- binaries compiled here -------------------------------------------------
FROM ${RUST_IMAGE} AS binaries-build
WORKDIR /src
COPY . .
# The registry and the target folder are cache mounts: a second build
# compiles only what changed. Stripped of the release profile's debug line
# tables and of symbols, the two programs weigh 32 MB instead of 153; a
# panic still names its file and line (they are in the message, not in the
# debug info).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p gatehouse-proxy -p gatehouse-operator \
    && mkdir -p /out \
    && strip -o /out/gatehouse-proxy target/release/gatehouse-proxy \
    && strip -o /out/gatehouse-operator target/release/gatehouse-operator

# --- or binaries built before, from the context folder dist/ -----------------
FROM ${BASE} AS binaries-prebuilt
COPY dist/gatehouse-proxy dist/gatehouse-operator /out/

# The one of the two BINARIES names; the other stage is never built.
# hadolint ignore=DL3006
FROM binaries-${BINARIES} AS binaries

# --- Debian's packages, of which the runtime takes what the programs use ----
# git's package brings Perl, curl and 20 programs (105 MB with its
# dependencies); serving git over HTTP needs 6 MB of it: the `git` program
# (its builtins: init, upload-pack, receive-pack, pack-objects...), `git
# http-backend` and the templates `git init` copies. Their libraries (zlib,
# PCRE2, libc) are in the base already. The packages' dpkg records go to
# /var/lib/dpkg/status.d/ (the distroless layout, which image scanners
# read) and their copyright files along.
FROM ${BASE} AS packages
# Not pinned (DL3008), deliberately: Debian removes a package's old version
# from its mirror when a security or point release replaces it, so pinned
# versions would break the build within weeks; a rebuild takes the suite's
# fixes instead. The suite (bookworm) is what is pinned, by BASE.
# - git: `git http-backend` (smart HTTP) and `git init --bare` for git backends;
# - ca-certificates: the operator's and upstreams' TLS (the bundle file);
# - tini: PID 1, which reaps the orphans a killed CGI program (git
#   http-backend's own children) leaves, where the proxy would leave them
#   as zombies, and passes signals on.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git tini \
    && rm -rf /var/lib/apt/lists/*
RUN set -eu; x=/extra; \
    mkdir -p $x/usr/bin $x/usr/lib/git-core $x/usr/share/git-core $x/etc/ssl/certs $x/var/lib/dpkg/status.d; \
    cp -a /usr/lib/git-core/git /usr/lib/git-core/git-http-backend $x/usr/lib/git-core/; \
    find /usr/lib/git-core -maxdepth 1 -type l -lname git -exec cp -a {} $x/usr/lib/git-core/ \; ; \
    ln -s ../lib/git-core/git $x/usr/bin/git; \
    cp -a /usr/share/git-core/templates $x/usr/share/git-core/; \
    cp -a /usr/bin/tini $x/usr/bin/; \
    cp -a /etc/ssl/certs/ca-certificates.crt $x/etc/ssl/certs/; \
    for p in git ca-certificates tini; do \
        dpkg-query -s "$p" > "$x/var/lib/dpkg/status.d/$p"; \
        mkdir -p "$x/usr/share/doc/$p"; cp "/usr/share/doc/$p/copyright" "$x/usr/share/doc/$p/"; \
    done

# --- the runtime ---------------------------------------------------------------
FROM ${BASE}
ARG BASE
ARG WITH_GITWEB=false
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

# The user, its data dir, and gitweb when asked for: Debian's packages whole
# (gitweb is a Perl program, so Perl comes anyway). Not pinned: see above.
# hadolint ignore=DL3008
RUN groupadd --gid 10001 gatehouse \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/gatehouse --no-create-home \
        --shell /usr/sbin/nologin gatehouse \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/gatehouse \
    && if [ "$WITH_GITWEB" = true ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends git gitweb libcgi-pm-perl \
        && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log; \
    fi

COPY --from=packages /extra/ /
COPY --from=binaries /out/gatehouse-proxy /out/gatehouse-operator /usr/local/bin/

LABEL org.opencontainers.image.title="gatehouse" \
      org.opencontainers.image.description="Gatehouse: a Kubernetes operator and HTTP proxy (Routes, static files, a file depot, git over HTTP, mocks); both programs in /usr/local/bin" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE}"

# Any proxy started in the image listens on every interface (a container's
# loopback is its own); the admin API stays on loopback unless given a
# token or client CA (--admin-listen with --admin-token-file).
ENV GATEHOUSE_LISTEN=0.0.0.0:8080
USER 10001:10001
WORKDIR /var/lib/gatehouse
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8080 8443 9901
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gatehouse-proxy"]
