#!/usr/bin/env bash
# The mock backend (issue #13) against WireMock standalone, and against
# nginx serving the same bytes as a static file.
#
#   gatehouse:  --workers 2, local mode: a temp manifests folder with a
#               MockProvision `stub` (one rule, a JSON body) and a Route
#               `PathPrefix /stub` with a `mock` backend; the templated and
#               script cases add a provision and a Route each (see
#               GATEHOUSE_TEMPLATE and GATEHOUSE_SCRIPT below); its
#               request journal is always on (no switch), so here the
#               comparison favours WireMock, whose journal is off
#   wiremock:   the standalone jar of the npm package `wiremock`
#               ($WIREMOCK_VERSION, installed into $WIREMOCK_CACHE), on
#               Debian's openjdk-17-jre-headless, JVM defaults, stubs as
#               mapping files in a temp root dir, with the flags WireMock
#               recommends for load (WIREMOCK_FLAGS below): no request
#               journal, no request logging, gzip off (wrk asks for none;
#               this takes the gzip handler off the path), asynchronous
#               responses off (they only help with delayed responses),
#               --container-threads $WIREMOCK_THREADS (Jetty's request
#               pool; its default is sized for tests, not load)
#   nginx:      2 workers, access log off, sendfile on, the stub's bytes as
#               a static file with `default_type application/json`
#
# Cases, each measured with `wrk -t2 -c$CONNECTIONS -d$DURATION --latency`
# after a WARMUP of its own:
#   static:   GET /stub, the same 39 bytes of JSON and the same
#             `Content-Type: application/json` from all three (checked
#             before measuring; a difference fails the run)
#   template: GET /api/items/42?x=abc answered {"item":"42","x":"abc"} by
#             WireMock's response-template transformer
#             ({{request.path.[2]}}, {{request.query.x}}) and by a
#             Gatehouse response template
#   script:   the same answer from a Gatehouse script (GET
#             /script/items/42?x=abc), against WireMock's templated one
# Before the first round WireMock is warmed up on each of its two stubs
# in runs of WIREMOCK_WARMUP (5s) until two runs in a row are no more than
# 5% faster than the best before them (at least 3 runs, at most
# WIREMOCK_WARMUP_RUNS, 12): the JVM's compilers take a while, longer on a
# busy machine (seen: 11k req/s after 13 s of load, 18-30k later in the
# same run; the templated stub rising from 3k to 19k over 35 s).
# ROUNDS rounds alternate the order of the runs (see proxy-vs-nginx.sh:
# interleaving keeps the machine's drift out of a round's ratio); each
# round gives its ratios, and the verdict is the median of the rounds'.
# Targets (req/s):  static:   gatehouse >= 3.0 x WireMock, >= 0.80 x nginx
#                   template: gatehouse >= 2.0 x WireMock's template
#                   script:   gatehouse >= 1.0 x WireMock's template
# p99 and CPU time per request (user + system, from /proc) are printed for
# information.
#
# Templates and scripts: on a build that does not serve them, their case
# is left out with a `result skipped: ... not served yet` line, not a
# failure:
# when `--check` refuses its provision, or when Gatehouse answers it with
# a non-2xx status. A 2xx with another body fails the run (the case's
# YAML below needs adjusting to the syntax that landed).
# Any non-2xx answer during a measured run fails the run: that case is not
# measured again, the others are, their figures are printed with a
# `result FAIL` line for it, and the script exits 1.
#
# Usage (from the repo root): bash bench/mock-vs-wiremock.sh
# Env: DURATION (10s), CONNECTIONS (100), THREADS (2), WARMUP (3s),
#      ROUNDS (5), WIREMOCK_WARMUP (5s), WIREMOCK_WARMUP_RUNS (12),
#      WIREMOCK_THREADS (10),
#      WIREMOCK_VERSION (3.13.2), WIREMOCK_CACHE
#      (~/.cache/gatehouse/wiremock), JAVA_OPTS (none: JVM defaults),
#      KEEP_TMP=1 keeps the temp folder with the logs,
#      GATEHOUSE=0 measures WireMock and nginx alone (no build, no
#      verdict; for checking the peers' half).
#      BENCH_SMOKE=1: one round of 1 s at -c10, WireMock warmed up 3 x 1 s, no
#      verdict; a failed request or a wrong body fails the run.
# The load is printed before each measurement and in the summary: figures
# taken while a build runs are noise. Exits 0 whatever the ratios; read
# the `result` lines.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    : "${DURATION:=1s}" "${CONNECTIONS:=10}" "${WARMUP:=1s}" "${ROUNDS:=1}" "${WIREMOCK_WARMUP:=1s}" "${WIREMOCK_WARMUP_RUNS:=3}"
fi
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-5}
WIREMOCK_WARMUP=${WIREMOCK_WARMUP:-5s}
WIREMOCK_WARMUP_RUNS=${WIREMOCK_WARMUP_RUNS:-12}
WIREMOCK_THREADS=${WIREMOCK_THREADS:-10}
WIREMOCK_VERSION=${WIREMOCK_VERSION:-3.13.2}
WIREMOCK_CACHE=${WIREMOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/wiremock}
GATEHOUSE=${GATEHOUSE:-1}
[[ $WIREMOCK_WARMUP_RUNS =~ ^[1-9][0-9]*$ ]] || die "WIREMOCK_WARMUP_RUNS must be a positive number, not $WIREMOCK_WARMUP_RUNS"
[[ $WIREMOCK_THREADS =~ ^[1-9][0-9]*$ ]] || die "WIREMOCK_THREADS must be a positive number, not $WIREMOCK_THREADS"
[[ $GATEHOUSE == 0 || $GATEHOUSE == 1 ]] || die "GATEHOUSE must be 0 or 1, not $GATEHOUSE"

# ---------------------------------------------------------------------------
# What is measured. The static stub's bytes, the same for all three servers.
STUB_BODY='{"id":7,"name":"stub","tags":["a","b"]}'
STUB_TYPE='application/json'
STUB_PATH=/stub
# The templated answer: a path segment and a query parameter echoed.
TEMPLATE_PATH='/api/items/42?x=abc'
SCRIPT_PATH='/script/items/42?x=abc'
ECHO_BODY='{"item":"42","x":"abc"}'

# Gatehouse's static stub (docs/mock.md).
GATEHOUSE_STATIC="apiVersion: gatehouse.dev/v1alpha1
kind: MockProvision
metadata: {name: stub}
spec:
  rules:
    - name: static
      request: {method: GET, path: $STUB_PATH}
      response:
        body: {json: {id: 7, name: \"stub\", tags: [\"a\", \"b\"]}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: mock}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: $STUB_PATH}}]
      backends: [{mock: {provision: stub}}]"

# THE ONE PLACE TO ADJUST for Gatehouse's response templates: a provision
# answering GET /api/items/{id}?x=... with ECHO_BODY built from the request
# (here {"item":"42","x":"abc"}), as `application/json`, and its Route.
# docs/mock.md, "Templates": `template: true`, each string leaf of a
# `json` body rendered (minijinja).
GATEHOUSE_TEMPLATE='apiVersion: gatehouse.dev/v1alpha1
kind: MockProvision
metadata: {name: template}
spec:
  rules:
    - name: echo
      request: {method: GET, path: {template: "/api/items/{id}"}}
      response:
        template: true
        body: {json: {item: "{{ request.params.id }}", x: "{{ request.query.x }}"}}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: mock-template}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /api/items}}]
      backends: [{mock: {provision: template}}]'

# THE ONE PLACE TO ADJUST for Gatehouse's scripts: the same answer (to
# GET /script/items/{id}?x=...) from a script, and its Route.
# docs/mock.md, "Scripts": Rhai, a map with `json` (Rhai's maps keep their
# keys sorted, so `item` then `x`, as the other two).
GATEHOUSE_SCRIPT='apiVersion: gatehouse.dev/v1alpha1
kind: MockProvision
metadata: {name: script}
spec:
  rules:
    - name: echo
      request: {method: GET, path: {template: "/script/items/{id}"}}
      response:
        script: "#{json: #{item: request.params.id, x: request.query.x}}"
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: mock-script}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /script/items}}]
      backends: [{mock: {provision: script}}]'

# WireMock's two stubs, as mapping files.
write_wiremock_mappings() { # $1 the mappings folder
    python3 - "$1" "$STUB_PATH" "$STUB_BODY" "$STUB_TYPE" <<'EOF'
import json, sys
folder, path, body, content_type = sys.argv[1:5]
stubs = {
    "static": {
        "request": {"method": "GET", "url": path},
        "response": {"status": 200, "body": body, "headers": {"Content-Type": content_type}},
    },
    "template": {
        "request": {"method": "GET", "urlPathPattern": "/api/items/[^/]+"},
        "response": {
            "status": 200,
            "body": '{"item":"{{request.path.[2]}}","x":"{{request.query.x}}"}',
            "headers": {"Content-Type": content_type},
            "transformers": ["response-template"],
        },
    },
}
for name, stub in stubs.items():
    with open(f"{folder}/{name}.json", "w") as f:
        json.dump(stub, f, indent=1)
EOF
}
# ---------------------------------------------------------------------------

# Installs one Debian package when its command is missing.
apt_install() { # $1 the package
    export DEBIAN_FRONTEND=noninteractive
    log "installing $1"
    apt_get install -y "$1" || { apt_get update && apt_get install -y "$1"; }
}

# Java (Debian's openjdk-17-jre-headless) and the `wiremock` npm package,
# whose build/ folder holds WireMock's standalone jar, into $WIREMOCK_CACHE
# (npm from Debian when missing). Sets WIREMOCK_JAR.
ensure_wiremock() {
    command -v java >/dev/null || apt_install openjdk-17-jre-headless
    command -v java >/dev/null || die "java is still missing"
    local package="$WIREMOCK_CACHE/node_modules/wiremock"
    local have=""
    [[ -f $package/package.json ]] \
        && have=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$package/package.json")
    if [[ $have != "$WIREMOCK_VERSION" ]]; then
        command -v npm >/dev/null || apt_install npm
        command -v npm >/dev/null || die "npm is still missing"
        log "npm install wiremock@$WIREMOCK_VERSION into $WIREMOCK_CACHE"
        mkdir -p "$WIREMOCK_CACHE"
        npm install --prefix "$WIREMOCK_CACHE" --no-audit --no-fund --no-save \
            "wiremock@$WIREMOCK_VERSION" >&2
    fi
    WIREMOCK_JAR=$(find "$package" -name 'wiremock-standalone-*.jar' | sort | tail -n 1)
    [[ -n $WIREMOCK_JAR ]] || die "no wiremock-standalone-*.jar in $package"
    local version
    version=$(java -jar "$WIREMOCK_JAR" --version 2>&1) \
        || die "java -jar $WIREMOCK_JAR --version failed: $version"
    log "WireMock $version ($WIREMOCK_JAR) on $(java -version 2>&1 | head -n 1)"
}

ensure_tools
ensure_wiremock
if [[ $GATEHOUSE == 1 ]]; then
    build_proxy
fi

LOAD_AT_START=$(machine_load)
SITE="$BENCH_TMP/site"
WIREMOCK_ROOT="$BENCH_TMP/wiremock"
MANIFESTS="$BENCH_TMP/manifests"
mkdir -p "$SITE" "$WIREMOCK_ROOT/mappings" "$WIREMOCK_ROOT/__files" "$MANIFESTS"
printf '%s' "$STUB_BODY" >"$SITE/stub"
printf '%s' "$ECHO_BODY" >"$BENCH_TMP/echo.expected"
# nginx workers run as an unprivileged user: let them read the site.
chmod 755 "$BENCH_TMP" "$SITE"
chmod 644 "$SITE/stub"
write_wiremock_mappings "$WIREMOCK_ROOT/mappings"

# The cases Gatehouse is measured on: static always; template and script
# when `--check` accepts their provision (else SKIPPED says why).
declare -A SKIPPED=()
GATEHOUSE_CASES=()
if [[ $GATEHOUSE == 1 ]]; then
    GATEHOUSE_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    printf '%s\n' "$GATEHOUSE_STATIC" >"$MANIFESTS/static.yaml"
    "$GATEHOUSE_BIN" --check --manifests "$MANIFESTS" >"$BENCH_TMP/check-static.txt" 2>&1 \
        || die "gatehouse refuses the static stub (is the mock backend in this build?):
$(cat "$BENCH_TMP/check-static.txt")
(GATEHOUSE=0 measures WireMock and nginx alone)"
    GATEHOUSE_CASES+=(static)
    for case in template script; do
        trial="$BENCH_TMP/check-$case"
        mkdir -p "$trial"
        cp "$MANIFESTS/static.yaml" "$trial/"
        if [[ $case == template ]]; then yaml=$GATEHOUSE_TEMPLATE; else yaml=$GATEHOUSE_SCRIPT; fi
        printf '%s\n' "$yaml" >"$trial/$case.yaml"
        if "$GATEHOUSE_BIN" --check --manifests "$trial" >"$trial.txt" 2>&1; then
            cp "$trial/$case.yaml" "$MANIFESTS/"
            GATEHOUSE_CASES+=("$case")
        else
            SKIPPED[$case]="gatehouse --check refuses the provision: $(grep -m 1 -i error "$trial.txt" || head -n 1 "$trial.txt")"
            log "${case}s left out: ${SKIPPED[$case]}"
        fi
    done
fi

NGINX_PORT=$(free_port)
WIREMOCK_PORT=$(free_port)

log "nginx (2 workers, the stub as a static file) on 127.0.0.1:$NGINX_PORT"
start_nginx nginx-static 2 "
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        root $SITE;
        location = $STUB_PATH { default_type $STUB_TYPE; }
    }"

WIREMOCK_FLAGS=(
    --disable-banner
    --no-request-journal
    --disable-request-logging
    --disable-gzip
    --async-response-enabled false
    --container-threads "$WIREMOCK_THREADS"
)
log "wiremock (${WIREMOCK_FLAGS[*]}${JAVA_OPTS:+; JVM: $JAVA_OPTS}) on 127.0.0.1:$WIREMOCK_PORT"
# shellcheck disable=SC2086 # JAVA_OPTS is a list of JVM flags
java ${JAVA_OPTS:-} -jar "$WIREMOCK_JAR" --port "$WIREMOCK_PORT" --bind-address 127.0.0.1 \
    --root-dir "$WIREMOCK_ROOT" "${WIREMOCK_FLAGS[@]}" >"$BENCH_TMP/wiremock.log" 2>&1 &
WIREMOCK_PID=$!
BENCH_PIDS+=("$WIREMOCK_PID")

if [[ $GATEHOUSE == 1 ]]; then
    log "gatehouse (--workers 2, mock: ${GATEHOUSE_CASES[*]}) on 127.0.0.1:$GATEHOUSE_PORT, admin 127.0.0.1:$ADMIN_PORT"
    "$GATEHOUSE_BIN" --listen "127.0.0.1:$GATEHOUSE_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
        --manifests "$MANIFESTS" --workers 2 --log warn --access-log off \
        2>"$BENCH_TMP/gatehouse.log" &
    GATEHOUSE_PID=$!
    BENCH_PIDS+=("$GATEHOUSE_PID")
    wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"
fi

wait_http_ok "http://127.0.0.1:$NGINX_PORT$STUB_PATH"
wait_http_ok "http://127.0.0.1:$WIREMOCK_PORT/__admin/health" 60

# One GET: $1 URL, $2 file prefix -> writes <prefix>.body and <prefix>.head,
# prints "<status> <content type>".
fetch() {
    local status
    status=$(curl -s -o "$2.body" -D "$2.head" -w '%{http_code}' "$1") || status=000
    echo "$status $(awk 'tolower($1) == "content-type:" { sub(/^[^:]*:[ \t]*/, ""); sub(/\r$/, ""); print; exit }' "$2.head")"
}

# Checks that $1 (URL) answers 200 with the bytes in file $2 as
# $STUB_TYPE; dies otherwise. $3 names the server, $4 (optional) is a
# hint added to the error.
expect_answer() {
    local url=$1 expected=$2 name=$3 hint=${4:+; $4} status type
    read -r status type < <(fetch "$url" "$BENCH_TMP/check-$name")
    [[ $status == 200 ]] || die "$name: GET $url answered $status: $(head -c 300 "$BENCH_TMP/check-$name.body")$hint"
    cmp -s "$BENCH_TMP/check-$name.body" "$expected" \
        || die "$name: GET $url answered $(head -c 300 "$BENCH_TMP/check-$name.body"), not $(cat "$expected")$hint"
    [[ $type == "$STUB_TYPE" ]] || die "$name: GET $url answered Content-Type '$type', not '$STUB_TYPE'$hint"
    log "$name: GET $url: 200, $(wc -c <"$expected") bytes as expected, $type, a head of $(wc -c <"$BENCH_TMP/check-$name.head") bytes"
}

expect_answer "http://127.0.0.1:$NGINX_PORT$STUB_PATH" "$SITE/stub" nginx-static
expect_answer "http://127.0.0.1:$WIREMOCK_PORT$STUB_PATH" "$SITE/stub" wiremock-static
expect_answer "http://127.0.0.1:$WIREMOCK_PORT$TEMPLATE_PATH" "$BENCH_TMP/echo.expected" wiremock-template

MEASURED=(nginx-static wiremock-static wiremock-template)
for case in "${GATEHOUSE_CASES[@]}"; do
    case $case in
        static) expect_answer "http://127.0.0.1:$GATEHOUSE_PORT$STUB_PATH" "$SITE/stub" gatehouse-static ;;
        template | script)
            if [[ $case == template ]]; then path=$TEMPLATE_PATH; else path=$SCRIPT_PATH; fi
            read -r status _ < <(fetch "http://127.0.0.1:$GATEHOUSE_PORT$path" "$BENCH_TMP/probe-$case")
            if [[ $status != 2* ]]; then
                SKIPPED[$case]="gatehouse answers GET $path with $status: $(head -c 200 "$BENCH_TMP/probe-$case.body" | tr '\n' ' ')"
                log "${case}s left out: ${SKIPPED[$case]}"
                continue
            fi
            expect_answer "http://127.0.0.1:$GATEHOUSE_PORT$path" "$BENCH_TMP/echo.expected" "gatehouse-$case" \
                "adjust GATEHOUSE_${case^^} in $0 to the syntax that landed (docs/mock.md)" ;;
    esac
    MEASURED+=("gatehouse-$case")
done

# shellcheck disable=SC2207 # pids have no spaces
NGINX_WORKERS=($(pgrep -P "$(cat "$BENCH_TMP/nginx-static/nginx.pid")"))
[[ ${#NGINX_WORKERS[@]} == 2 ]] || die "expected 2 nginx workers, found ${NGINX_WORKERS[*]}"

url_of() { # $1 a measured run's name -> its URL
    case $1 in
        nginx-static) echo "http://127.0.0.1:$NGINX_PORT$STUB_PATH" ;;
        wiremock-static) echo "http://127.0.0.1:$WIREMOCK_PORT$STUB_PATH" ;;
        wiremock-template) echo "http://127.0.0.1:$WIREMOCK_PORT$TEMPLATE_PATH" ;;
        gatehouse-static) echo "http://127.0.0.1:$GATEHOUSE_PORT$STUB_PATH" ;;
        gatehouse-template) echo "http://127.0.0.1:$GATEHOUSE_PORT$TEMPLATE_PATH" ;;
        gatehouse-script) echo "http://127.0.0.1:$GATEHOUSE_PORT$SCRIPT_PATH" ;;
    esac
}
pids_of() { # $1 a measured run's name -> the pids whose CPU it costs
    case $1 in
        nginx-*) echo "${NGINX_WORKERS[*]}" ;;
        wiremock-*) echo "$WIREMOCK_PID" ;;
        gatehouse-*) echo "$GATEHOUSE_PID" ;;
    esac
}

# The JVM compiles what it runs often: run each stub until WireMock's
# rate stops rising.
for name in wiremock-static wiremock-template; do
    best=0 stale=0
    for ((run = 1; run <= WIREMOCK_WARMUP_RUNS; run++)); do
        out="$BENCH_TMP/jvm-warmup-$name-$run.txt"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WIREMOCK_WARMUP" "$(url_of "$name")" >"$out"
        ! grep -q 'Non-2xx' "$out" || die "$name: non-2xx answers during the warm-up: $(grep -h 'Non-2xx' "$out" | xargs)"
        read -r rps _ < <(parse_wrk <"$out")
        log "$name: JVM warm-up run $run ($WIREMOCK_WARMUP): $rps req/s ($(machine_load))"
        # Two runs in a row no more than 5% above the best so far: done.
        if python3 -c 'import sys; sys.exit(float(sys.argv[1]) > 1.05 * float(sys.argv[2]))' "$rps" "$best"; then
            stale=$((stale + 1))
            ((stale < 2)) || break
        else
            stale=0
        fi
        best=$(python3 -c 'import sys; print(max(map(float, sys.argv[1:])))' "$rps" "$best")
    done
done

RESULTS=()
# A run with non-2xx answers: its server's answers failed, which fails the
# whole run; its case is not measured again, the others go on so their
# figures are printed, then the script exits 1.
declare -A BROKEN=()
for round in $(seq 1 "$ROUNDS"); do
    order=("${MEASURED[@]}")
    if ((round % 2 == 0)); then
        order=()
        for ((i = ${#MEASURED[@]} - 1; i >= 0; i--)); do order+=("${MEASURED[i]}"); done
    fi
    for name in "${order[@]}"; do
        [[ -z ${BROKEN[$name]:-} ]] || continue
        # shellcheck disable=SC2046 # pids_of prints pids, split on purpose
        read -r rps p99 cpu < <(measure_wrk "$name, round $round" "$name-$round" "$(url_of "$name")" $(pids_of "$name"))
        out="$BENCH_TMP/wrk-$name-$round.txt"
        # A failed answer while measuring is a broken run, not a slow one.
        if grep -q 'Non-2xx' "$out"; then
            status=$(curl -s -o "$BENCH_TMP/broken-$name.body" -w '%{http_code}' "$(url_of "$name")" || true)
            BROKEN[$name]="round $round: $(grep -h 'Non-2xx' "$out" | xargs) of $(wrk_requests <"$out");\
 one GET now: $status $(head -c 160 "$BENCH_TMP/broken-$name.body" | tr '\n' ' ')"
            if [[ $name == gatehouse-* ]]; then
                # Which slow-work lane refused (a script's is bounded; full: 503).
                BROKEN[$name]+="; $(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | grep -E '^gatehouse_blocking_refused_total' | grep -v ' 0$' | xargs)"
            fi
            echo "error: $name, ${BROKEN[$name]}" >&2
            continue
        fi
        check_wrk "$out" "$name, round $round"
        RESULTS+=("$name $round $rps $p99 $cpu")
    done
done
LOAD_AT_END=$(machine_load)

printf '%s\n' "${RESULTS[@]}" >"$BENCH_TMP/results.txt"
for name in "${!BROKEN[@]}"; do
    printf '%s\t%s\n' "$name" "${BROKEN[$name]}"
done >"$BENCH_TMP/broken.txt"
{
    for case in template script; do
        [[ -n ${SKIPPED[$case]:-} ]] && printf '%s\t%s\n' "$case" "${SKIPPED[$case]}"
    done
    true
} >"$BENCH_TMP/skipped.txt"
python3 - "$BENCH_TMP/results.txt" "$BENCH_TMP/skipped.txt" "$BENCH_TMP/broken.txt" "$DURATION" "$CONNECTIONS" "$GATEHOUSE" \
    "$BENCH_SMOKE" "$LOAD_AT_START" "$LOAD_AT_END" "${WIREMOCK_FLAGS[*]}" <<'EOF'
import statistics
import sys

results, skipped_file, broken_file, duration, connections, gatehouse, smoke, load_start, load_end, wm_flags = sys.argv[1:11]
runs = {}
for line in open(results):
    name, round_, rps, p99, cpu = line.split()
    runs.setdefault(name, {})[int(round_)] = (float(rps), float(p99), float(cpu))
skipped = dict(line.rstrip("\n").split("\t", 1) for line in open(skipped_file) if line.strip())
broken = dict(line.rstrip("\n").split("\t", 1) for line in open(broken_file) if line.strip())
for name in broken:
    runs.pop(name, None)
rounds = sorted(runs["nginx-static" if "nginx-static" in runs else next(iter(runs))])
med = lambda xs: statistics.median(list(xs))

print()
print(f"mock-vs-wiremock: wrk -c{connections} -d{duration}; gatehouse --workers 2, nginx 2 workers, "
      f"WireMock {wm_flags}")
columns = [n for n in ("nginx-static", "wiremock-static", "gatehouse-static", "wiremock-template",
                       "gatehouse-template", "gatehouse-script") if n in runs]
for index, what, fmt in ((0, "req/s", "{:.0f}"), (1, "p99 ms", "{:.2f}"), (2, "CPU us/req", "{:.1f}")):
    print()
    print(f"{what:>11}" + "".join(f"{c:>20}" for c in columns))
    for r in rounds:
        print(f"{r:>11}" + "".join(f"{fmt.format(runs[c][r][index]):>20}" for c in columns))
    print(f"{'median':>11}" + "".join(f"{fmt.format(med(runs[c][r][index] for r in rounds)):>20}" for c in columns))

# (what, numerator run, denominator run, target, the case it needs)
targets = [
    ("static stub req/s, gatehouse / WireMock", "gatehouse-static", "wiremock-static", 3.0, "static"),
    ("static stub req/s, gatehouse / nginx static file", "gatehouse-static", "nginx-static", 0.8, "static"),
    ("templated req/s, gatehouse template / WireMock response-template", "gatehouse-template",
     "wiremock-template", 2.0, "template"),
    ("script req/s, gatehouse script / WireMock response-template", "gatehouse-script",
     "wiremock-template", 1.0, "script"),
]
print()
print(f"{'ratio of req/s, round':<40}" + "".join(f"{r:>8}" for r in rounds) + f"{'median':>8}")
lines = []
for what, num, den, target, case in targets:
    if num in broken or den in broken:
        lines.append(f"result FAIL   {what}: non-2xx answers, {num if num in broken else den} "
                     f"{broken.get(num) or broken.get(den)}; target >= {target:.2f}")
        continue
    if num not in runs:
        if gatehouse == "1":
            lines.append(f"result skipped: {case}s not served yet ({skipped.get(case, 'not measured')}); "
                         f"{what}, target >= {target:.2f}")
        continue
    ratios = [runs[num][r][0] / max(runs[den][r][0], 0.001) for r in rounds]
    value = med(ratios)
    print(f"{num + ' / ' + den:<40}" + "".join(f"{x:>8.2f}" for x in ratios) + f"{value:>8.2f}")
    verdict = "none: a smoke run (BENCH_SMOKE=1)" if smoke == "1" else ("PASS" if value >= target else "FAIL")
    lines.append(f"result {verdict:6} {what} (median of rounds): {value:.2f}, target >= {target:.2f}")
if gatehouse != "1":
    for num, den in (("wiremock-static", "nginx-static"), ("wiremock-template", "wiremock-static")):
        if num not in runs or den not in runs:
            continue
        ratios = [runs[num][r][0] / max(runs[den][r][0], 0.001) for r in rounds]
        print(f"{num + ' / ' + den:<40}" + "".join(f"{x:>8.2f}" for x in ratios) + f"{med(ratios):>8.2f}")
    lines.append("no result: GATEHOUSE=0 measured WireMock and nginx alone")

print()
print(f"{load_start} (at start)")
print(f"{load_end} (at end)")
print()
print("\n".join(lines))
EOF
# Non-2xx answers while measuring fail the run (the figures are printed above).
[[ ! -s $BENCH_TMP/broken.txt ]] || die "non-2xx answers while measuring: $(cut -f1 "$BENCH_TMP/broken.txt" | xargs)"
