#!/usr/bin/env bash
# Checks the Grafana dashboard gatehouse.json beside this script.
#
#   bash helm/gatehouse/dashboards/check.sh           # static checks (CI)
#   bash helm/gatehouse/dashboards/check.sh --live    # and against a real Prometheus
#   bash helm/gatehouse/dashboards/check.sh --render dashboard.png  # --live, then every
#       panel drawn from that Prometheus where its gridPos puts it (render.py)
#
# Static, always:
#   (c) JSON sanity: every panel (rows' nested panels too) has a unique id, a
#       gridPos inside the 24-column grid, a datasource (the ${datasource}
#       variable), and every target an expr and a unique refId;
#   (a) every panel's and template variable's PromQL, template variables
#       substituted ($__rate_interval, $__range, $namespace, ...), is checked by
#       `promtool check rules` (one recording rule per query), and every metric
#       a query names is registered in the code (proxy/src, operator/src;
#       _bucket/_sum/_count only for histograms).
# --live, also (b):
#   starts a real proxy (local mode: the examples plus an HTTPS Route with a
#   generated certificate, a dead and a silent upstream, admin over TLS with
#   a token, as the chart runs it), a second proxy programmed by a real
#   operator against the test API server (ct/kube, when its binaries are
#   cached; else the operator panels are expected empty), drives load (site,
#   404s, 502/504s, depot PUTs and refusals, mocks, HTTPS, a refused TLS
#   handshake, a rejected config), lets a real Prometheus scrape every
#   /metrics each second, then runs every query against its HTTP API over the
#   load window and prints which return data. Fails when a query errors, a
#   metric a query names was never scraped, or a query comes back empty that
#   is not listed as expected-empty below (with its reason).
#
# Needs python3, promtool (Debian: apt-get install prometheus), and for
# --live prometheus, openssl, curl; wrk is used when present.
# Binaries: $GATEHOUSE_PROXY_BIN / $GATEHOUSE_OPERATOR_BIN, else
# target/release/, else $CARGO_TARGET_DIR/release/, else $PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
dashboard="$here/gatehouse.json"
live=false
operator=auto
load_seconds="${LOAD_SECONDS:-20}"
render=""
while (($#)); do
    case "$1" in
    --live) live=true ;;
    --no-operator) operator=false ;;
    --render)
        [[ $# -ge 2 ]] || { echo "--render needs a file (a .png)" >&2; exit 2; }
        render=$(realpath -m "$2")
        live=true
        shift
        ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (use --live, --no-operator, --render FILE.png)" >&2; exit 2 ;;
    esac
    shift
done
log() { echo "==> $*" >&2; }
need() { command -v "$1" >/dev/null || { echo "check.sh: $1 is missing ($2)" >&2; exit 1; }; }
need python3 "Debian: python3"
need promtool "Debian: apt-get install prometheus"

work="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-dashboard.XXXXXX")"
pids=()
kube_state=""
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n $kube_state ]]; then bash "$repo/ct/kube/stop-apiserver.sh" "$kube_state" >/dev/null 2>&1 || true; fi
    if [[ ${KEEP:-} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- (c) and the query list --------------------------------------------------
log "JSON sanity and query extraction: $dashboard"
python3 - "$dashboard" "$repo" "$work" <<'PY'
import json, re, sys, pathlib
path, repo, work = sys.argv[1:4]
d = json.load(open(path))
errors = []
def err(m): errors.append(m)
if d.get("schemaVersion", 0) < 36: err(f"schemaVersion {d.get('schemaVersion')} < 36")
names = {v.get("name") for v in d.get("templating", {}).get("list", [])}
if "datasource" not in names: err("no ${datasource} template variable")
panels = []
for p in d.get("panels", []):
    panels.append(p)
    panels.extend(p.get("panels", []))  # a collapsed row keeps its panels inside
ids = {}
queries = []  # (label, expr)
for p in panels:
    pid, title = p.get("id"), p.get("title", "?")
    if not isinstance(pid, int): err(f"panel {title!r}: no integer id")
    elif pid in ids: err(f"panel {title!r}: id {pid} also used by {ids[pid]!r}")
    else: ids[pid] = title
    g = p.get("gridPos") or {}
    if not all(isinstance(g.get(k), int) for k in "hwxy"): err(f"panel {title!r}: gridPos needs h, w, x, y")
    elif g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24: err(f"panel {title!r}: gridPos outside the 24 columns")
    if p.get("type") == "row": continue
    ds = p.get("datasource")
    if not isinstance(ds, dict) or ds.get("uid") != "${datasource}": err(f"panel {title!r}: datasource is not ${{datasource}}: {ds}")
    targets = p.get("targets") or []
    if not targets: err(f"panel {title!r}: no targets")
    refs = set()
    for t in targets:
        r = t.get("refId")
        if not r or r in refs: err(f"panel {title!r}: missing or repeated refId {r!r}")
        refs.add(r)
        tds = t.get("datasource")
        if tds is not None and tds.get("uid") != "${datasource}": err(f"panel {title!r} {r}: target datasource {tds}")
        if not t.get("expr", "").strip(): err(f"panel {title!r} {r}: empty expr")
        else: queries.append((f"panel {pid} {title} [{r}]", t["expr"]))
# overlap check: panels of one grid must not cover each other
cells = {}
for p in panels:
    g = p.get("gridPos") or {}
    if not all(isinstance(g.get(k), int) for k in "hwxy"): continue
    for yy in range(g["y"], g["y"] + g["h"]):
        for xx in range(g["x"], g["x"] + g["w"]):
            if (xx, yy) in cells and p.get("type") != "row":
                err(f"panel {p.get('title')!r} overlaps {cells[(xx, yy)]!r}"); break
            cells[(xx, yy)] = p.get("title")
        else: continue
        break
for v in d["templating"]["list"]:
    if v.get("type") != "query": continue
    q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query", "")
    m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", q)
    if not m: err(f"variable {v['name']}: only label_values(selector, label) is checked, got {q!r}"); continue
    queries.append((f"variable {v['name']}", f"count by ({m.group(2)}) ({m.group(1)})"))
# metrics the code registers (name literals in the *Opts::new / *::new calls)
src = ""
for sub in ("proxy/src", "operator/src"):
    for f in pathlib.Path(repo, sub).rglob("*.rs"): src += f.read_text()
registered = set(re.findall(r'\b(?:Opts|HistogramOpts|IntGauge|IntCounter|Gauge|Counter)::new\(\s*"(gatehouse_\w+)"', src))
histograms = set(re.findall(r'HistogramOpts::new\(\s*"(gatehouse_\w+)"', src))
if len(registered) < 10: err(f"found only {len(registered)} registered metrics in the code: is {repo} the repository?")
used = set()
for label, expr in queries:
    for name in re.findall(r"\bgatehouse_\w+", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name in registered: pass
        elif base in histograms: pass
        else: err(f"{label}: metric {name} is not registered in proxy/src or operator/src")
        used.add(name)
if errors:
    print("\n".join("  " + e for e in errors)); sys.exit(1)
json.dump({"queries": queries, "metrics": sorted(used)}, open(f"{work}/queries.json", "w"), indent=1)
print(f"  {len(panels)} panels (rows included), {sum(1 for p in panels if p.get('type') != 'row')} with queries, "
      f"ids unique, gridPos and datasource set; {len(queries)} queries naming {len(used)} metrics, "
      f"all registered in the code ({len(registered)} registered)")
PY

# Template variables: "All" everywhere; $__rate_interval as for a 30 s scrape
# (4 x the interval), unless --live sets it for its 1 s scrape.
substitute() { # RATE RANGE < queries.json > lines of "label<TAB>expr"
    # shellcheck disable=SC2016 # the $ are PromQL template variables
    python3 -c '
import json, sys
rate, rng = sys.argv[1], sys.argv[2]
for label, e in json.load(sys.stdin)["queries"]:
    for k, v in (("$__rate_interval", rate), ("$__interval", rate), ("$__range", rng),
                 ("$namespace", ".*"), ("$job", ".*"), ("$route", ".*")):
        e = e.replace(k, v)
    assert "$" not in e, f"{label}: unsubstituted variable in {e}"
    print(label + "\t" + " ".join(e.split()))
' "$1" "$2" <"$work/queries.json"
}

# --- (a) promtool -------------------------------------------------------------
substitute 2m 1h >"$work/queries.tsv"
python3 - "$work/queries.tsv" >"$work/rules.yml" <<'PY'
import json, sys
print("groups:\n  - name: gatehouse-dashboard\n    rules:")
for i, line in enumerate(open(sys.argv[1])):
    label, expr = line.rstrip("\n").split("\t")
    print(f"      # {label}\n      - record: gatehouse_dashboard:query_{i}\n        expr: {json.dumps(expr)}")
PY
log "promtool check rules ($(wc -l <"$work/queries.tsv") queries)"
if ! promtool check rules "$work/rules.yml" >"$work/promtool.out" 2>&1; then
    cat "$work/promtool.out" >&2
    echo "check.sh: promtool refused a query (above; the rules file numbers them in dashboard order)" >&2
    exit 1
fi
sed 's/^/  /' "$work/promtool.out"

$live || { log "static checks passed (run with --live to query a real Prometheus)"; exit 0; }

# --- (b) live -----------------------------------------------------------------
need prometheus "Debian: apt-get install prometheus"
need openssl "Debian: openssl"
need curl "Debian: curl"
find_bin() { # NAME ENV_VALUE
    local b
    for b in "$2" "$repo/target/release/$1" "${CARGO_TARGET_DIR:-$repo/target}/release/$1" "$(command -v "$1" 2>/dev/null || true)"; do
        if [[ -n $b && -x $b ]]; then echo "$b"; return; fi
    done
    echo "check.sh: no $1 binary: build it (cargo build --release -p $1) or set its GATEHOUSE_*_BIN" >&2
    exit 1
}
proxy_bin="$(find_bin gatehouse-proxy "${GATEHOUSE_PROXY_BIN:-}")"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_up() { # URL [curl args...]
    local url="$1"; shift
    for _ in $(seq 1 100); do curl -sf -o /dev/null "$@" "$url" && return 0; sleep 0.1; done
    echo "check.sh: $url did not answer" >&2; exit 1
}
P=$(free_port); T=$(free_port); A=$(free_port); P2=$(free_port); A2=$(free_port)
DEAD=$(free_port); SILENT=$(free_port); OK=$(free_port); PROM=$(free_port); OP=$(free_port)

log "certificates (admin CA + server cert for gatehouse-proxy-admin, HTTPS cert for secure.localhost)"
certs="$work/certs"; mkdir -p "$certs"
(
    cd "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=gatehouse-admin-ca -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=gatehouse-proxy-admin -keyout admin.key -out admin.csr 2>/dev/null
    printf 'subjectAltName=DNS:gatehouse-proxy-admin\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile admin.ext -out admin.crt 2>/dev/null
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >token
)
m="$work/manifests"
cp -r "$repo/examples/local" "$m"
mkdir -p "$m/secure-tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 20 -subj /CN=secure.localhost \
    -addext subjectAltName=DNS:secure.localhost -keyout "$m/secure-tls/tls.key" -out "$m/secure-tls/tls.crt" 2>/dev/null
cat >"$m/check.yaml" <<YAML
# Added by dashboards/check.sh: HTTPS, a good, a refused and a silent upstream.
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: secure}
spec:
  hostnames: [secure.localhost]
  tls: {secretName: secure-tls}
  rules:
    - backends: [{name: site, static: {root: site}}]
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: upstreams}
spec:
  hostnames: [upstreams.localhost]
  rules:
    - matches: [{path: {type: PathPrefix, value: /dead}}]
      backends: [{name: dead, url: "http://127.0.0.1:$DEAD"}]
    - matches: [{path: {type: PathPrefix, value: /silent}}]
      backends: [{name: silent, url: "http://127.0.0.1:$SILENT"}]
      timeouts: {request: 2s, backendRequest: 500ms}
    - backends: [{name: ok, url: "http://127.0.0.1:$OK"}]
YAML
mkdir -p "$work/www"; echo hello >"$work/www/index.html"
python3 -m http.server "$OK" --bind 127.0.0.1 --directory "$work/www" >"$work/ok.log" 2>&1 &
pids+=($!)
# accepts connections (the kernel's backlog) and never answers: timeouts
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(512); time.sleep(3600)' "$SILENT" &
pids+=($!)

log "proxy: traffic :$P, HTTPS :$T, admin https :$A (token, TLS); second proxy admin :$A2 for the operator"
"$proxy_bin" --listen "127.0.0.1:$P" --listen-tls "127.0.0.1:$T" --admin-listen "127.0.0.1:$A" \
    --manifests "$m" --data-dir "$work/data" --admin-token-file "$certs/token" \
    --admin-tls-cert "$certs/admin.crt" --admin-tls-key "$certs/admin.key" >"$work/proxy.log" 2>&1 &
pids+=($!)
echo '{"routes": []}' >"$work/empty.json"
"$proxy_bin" --listen "127.0.0.1:$P2" --admin-listen "127.0.0.1:$A2" --config-file "$work/empty.json" >"$work/proxy2.log" 2>&1 &
pids+=($!)
admin_curl=(--cacert "$certs/ca.crt" --resolve "gatehouse-proxy-admin:$A:127.0.0.1")
wait_up "https://gatehouse-proxy-admin:$A/readyz" "${admin_curl[@]}"
wait_up "http://127.0.0.1:$A2/healthz"
# /metrics needs no token (only /config, /depots, /mocks do): scraped as the ServiceMonitor does
scraped="$(curl -sf "${admin_curl[@]}" "https://gatehouse-proxy-admin:$A/metrics" || true)"
[[ $scraped == *$'\ngatehouse_config_generation '* ]] \
    || { echo "check.sh: /metrics over admin TLS without a token did not answer" >&2; exit 1; }

operator_scrape=""
if [[ $operator == auto ]]; then
    kube_cache="${GATEHOUSE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/kube}/bin"
    operator_bin="$(find_bin gatehouse-operator "${GATEHOUSE_OPERATOR_BIN:-}" 2>/dev/null || true)"
    if [[ -x $kube_cache/kube-apiserver && -n $operator_bin ]] && command -v etcd >/dev/null; then
        operator=true
    else
        operator=false
        log "no cached test API server (ct/kube/build-apiserver.sh) or operator binary: operator panels expected empty"
    fi
fi
if [[ $operator == true ]]; then
    log "test API server, CRDs, two proxy Pods (one live, one whose admin port is closed), operator metrics :$OP"
    kube_state="$work/kube"
    export GATEHOUSE_KUBE_STATE="$kube_state"
    kube_env=$(bash "$repo/ct/kube/start-apiserver.sh" | tail -n 1)
    export KUBECONFIG="${kube_env#export KUBECONFIG=}"
    "$operator_bin" crds >"$work/crds.yaml"
    PYTHONPATH="$repo/ct/kube" python3 - "$KUBECONFIG" "$work/crds.yaml" "$A2" "$DEAD" <<'PY'
import json, sys
import testapi
kubeconfig, crds, live_port, dead_port = sys.argv[1:5]
call = testapi.client(kubeconfig)
testapi.install_crds(call, crds)
for name, port in (("proxy-live", live_port), ("proxy-dead", dead_port)):
    testapi.running_proxy_pod(call, name, {"gatehouse.dev/proxy": "check"}, port)
testapi.wait_for_routes(call)
route = {"apiVersion": "gatehouse.dev/v1alpha1", "kind": "Route", "metadata": {"name": "moved"},
         "spec": {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
                  "filters": [{"type": "RequestRedirect", "requestRedirect": {"statusCode": 301,
                               "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}]}]}}
assert call("POST", "/apis/gatehouse.dev/v1alpha1/namespaces/default/routes", json.dumps(route).encode()) in (201, 409)
PY
    "$operator_bin" run --proxy-selector gatehouse.dev/proxy=check --operator-namespace default \
        --metrics-listen "127.0.0.1:$OP" --push-timeout 1s >"$work/operator.log" 2>&1 &
    pids+=($!)
    wait_up "http://127.0.0.1:$OP/healthz"
    operator_scrape="
  - job_name: operator
    static_configs: [{targets: ['127.0.0.1:$OP']}]
    relabel_configs: *gatehouse"
fi

log "prometheus :$PROM, scraping every 1 s"
cat >"$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  # As the ServiceMonitor: https with the admin CA and server name, no token
  # (/metrics needs none), a namespace target label, job = the release.
  - job_name: proxy-admin
    scheme: https
    tls_config: {ca_file: '$certs/ca.crt', server_name: gatehouse-proxy-admin}
    static_configs: [{targets: ['127.0.0.1:$A']}]
    relabel_configs: &gatehouse
      - {target_label: namespace, replacement: live-check}
      - {target_label: job, replacement: gatehouse}
  - job_name: proxy-2
    static_configs: [{targets: ['127.0.0.1:$A2']}]
    relabel_configs: *gatehouse$operator_scrape
YAML
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/tsdb" \
    --web.listen-address "127.0.0.1:$PROM" --log.level warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$PROM/-/ready"

log "load for ${load_seconds} s"
start=$(date +%s)
end=$((start + load_seconds))
loop() { # curl arguments...; repeats until the end of the load window
    while (($(date +%s) < end)); do curl -s -o /dev/null --max-time 3 "$@" || true; sleep 0.05; done
}
loop "http://127.0.0.1:$P/" &
pids+=($!)
loop "http://127.0.0.1:$P/nothing" &
pids+=($!)
loop "http://127.0.0.1:$P/old/page?x=1" &
pids+=($!)
loop -H 'Host: upstreams.localhost' "http://127.0.0.1:$P/" &
pids+=($!)
loop -H 'Host: upstreams.localhost' "http://127.0.0.1:$P/dead" &
pids+=($!)
loop -H 'Host: upstreams.localhost' "http://127.0.0.1:$P/silent" &
pids+=($!)
loop "http://127.0.0.1:$P/api/v1/interests" &
pids+=($!)
loop "http://127.0.0.1:$P/api/v1/hello?name=ann" &
pids+=($!)
loop -d '{"client_id": 7, "interests": ["tv"]}' "http://127.0.0.1:$P/api/v1/interests" &
pids+=($!)
loop -u editor:editor -T "$repo/README.md" "http://127.0.0.1:$P/depot/configs/readme.md" &
pids+=($!)
loop -T "$repo/README.md" "http://127.0.0.1:$P/depot/configs/readme.md" &  # 401
pids+=($!)
loop "http://127.0.0.1:$P/depot/configs/missing.md" &                    # 404
pids+=($!)
loop --cacert "$m/secure-tls/tls.crt" --resolve "secure.localhost:$T:127.0.0.1" "https://secure.localhost:$T/" &
pids+=($!)
loop -k --resolve "unknown.localhost:$T:127.0.0.1" "https://unknown.localhost:$T/" &  # no certificate: refused
pids+=($!)
loop "http://127.0.0.1:$P2/old/x" &
pids+=($!)
if command -v wrk >/dev/null; then
    wrk -t1 -c2 -d"${load_seconds}s" "http://127.0.0.1:$P/" >"$work/wrk.log" 2>&1 &
    pids+=($!)
fi
# A broken manifest (a rejected config), then it removed and a Route added
# (a swap: a new generation and an apply duration observed under load)
sleep $((load_seconds / 3))
printf 'apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: broken}\nspec: {rules: [{backends: [{weight: -1}]}]}\n' >"$m/broken.yaml"
sleep 3
rm "$m/broken.yaml"
printf 'apiVersion: gatehouse.dev/v1alpha1\nkind: Route\nmetadata: {name: added}\nspec:\n  rules:\n    - matches: [{path: {type: Exact, value: /added}}]\n      filters: [{type: RequestRedirect, requestRedirect: {statusCode: 302, path: {type: ReplaceFullPath, replaceFullPath: /}}}]\n' >"$m/added.yaml"
sleep $((end - $(date +%s) > 0 ? end - $(date +%s) : 0))
sleep 3 # the last scrapes
stop=$(date +%s)

log "querying Prometheus over the load window ($start..$stop)"
substitute 10s "$((stop - start))s" >"$work/live.tsv"
python3 - "$work/live.tsv" "$work/queries.json" "http://127.0.0.1:$PROM" "$start" "$stop" "$operator" <<'PY'
import json, sys, urllib.parse, urllib.request
tsv, qjson, prom, start, stop, operator = sys.argv[1:7]
operator = operator == "true"
def api(path, **params):
    url = f"{prom}/api/v1/{path}?" + urllib.parse.urlencode(params)
    try:
        return json.load(urllib.request.urlopen(url, timeout=30))
    except urllib.error.HTTPError as e:
        return json.load(e)
# Panels that may be empty here, and why.
reasons = {}
if not operator:
    for t in ("Leaders", "Proxies in sync", "Pushes", "Push failures by proxy", "Push duration",
              "Reconciles by result", "Leader by replica"):
        reasons[t] = "no operator ran (--no-operator, or no cached test API server)"
# Panels the load must move above 0, and what in it does.
positive = {"Rejected configs in range": "a broken manifest written mid-load"}
zero = []
failed, empty, data, nan = [], [], [], []
for line in open(tsv):
    label, expr = line.rstrip("\n").split("\t")
    r = api("query_range", query=expr, start=start, end=stop, step="2")
    if r.get("status") != "success":
        failed.append((label, r.get("error"))); continue
    values = [float(v) for s in r["data"]["result"] for _, v in s["values"]]
    real = [v for v in values if v == v]  # not NaN
    title = label.split(" ", 2)[-1].rsplit(" [", 1)[0] if label.startswith("panel") else label
    if real and title in positive and max(real) <= 0:
        zero.append(label); print(f"  ZERO   {label}: expected above 0 after {positive[title]}")
    elif real:
        data.append(label); print(f"  data   {label}: {len(r['data']['result'])} series")
    elif values:
        nan.append(label); print(f"  NaN    {label}: series, but every value NaN (no observation in a window)")
    elif title in reasons:
        print(f"  empty  {label}: expected, {reasons[title]}")
    else:
        empty.append(label); print(f"  EMPTY  {label}")
metrics = json.load(open(qjson))["metrics"]
if not operator:
    metrics = [m for m in metrics if not m.startswith("gatehouse_operator_")]
missing = []
for name in metrics:
    r = api("query", query=f'count({{__name__="{name}"}})', time=stop)
    if not r["data"]["result"]: missing.append(name)
print(f"live: {len(data)} queries returned data, {len(zero)} stayed 0 where the load moves them, {len(nan)} only NaN, {len(empty)} unexpectedly empty, "
      f"{len(failed)} errors; {len(metrics) - len(missing)}/{len(metrics)} metrics the dashboard names were scraped"
      + ("" if operator else " (the operator's not counted: none ran)"))
for label, e in failed: print(f"  ERROR {label}: {e}")
for name in missing: print(f"  never scraped: {name}")
sys.exit(1 if failed or empty or missing or nan or zero else 0)
PY
log "live check passed"

if [[ -n $render ]]; then
    # matplotlib in the tools' virtualenv (ct/kube/fetch-helm.sh makes it).
    tools=$(bash "$repo/ct/kube/fetch-helm.sh" | tail -n 1)
    py="$(dirname "$tools")/venv/bin/python3"
    "$py" -c 'import matplotlib' 2>/dev/null || "$(dirname "$tools")/venv/bin/pip" install -q matplotlib >&2
    "$py" "$here/render.py" "$dashboard" "$work/live.tsv" "http://127.0.0.1:$PROM" "$start" "$stop" "$render"
fi
