#!/usr/bin/env bash
# The depot backend: GETs of a 1 KiB file against nginx serving the same
# bytes as a static file, and durable PUTs against the machine's own
# ceiling for a durable write, measured by this script on the same disk.
#
#   gatehouse:  --workers 2, local mode: a temp manifests folder with a
#               DepotRepo `bench` and a Route `PathPrefix /depot` with a
#               `depot` backend; --data-dir in the temp folder
#   nginx:      2 workers, access log off, serving the same 1 KiB as a
#               static file (sendfile on, as in static-vs-nginx.sh)
#
# GET: each server is warmed up, then measured in turn with
#   `wrk -t2 -c$CONNECTIONS -d$DURATION --latency`, in ROUNDS rounds that
#   alternate which goes first (see proxy-vs-nginx.sh: interleaving keeps
#   the machine's drift out of a round's ratio); the verdict is the median
#   of the rounds' ratios. Target: depot req/s >= 0.80 x nginx (p99 and
#   CPU per request printed for information).
# PUT: the ceiling is a loop of the durable-write steps a check-in cannot
#   do without (open a temp file, write 1 KiB, fsync, rename over the
#   file, fsync the folder), single writer, for PUT_DURATION, in a folder
#   on the data dir's file system. Gatehouse gets PUTs of distinct 1 KiB
#   bodies (distinct: a PUT equal to latest makes no revision) from wrk
#   with a Lua script (written by this one) at one connection to one file, and, for
#   information, at 8 connections to one file and to 8 files per wrk
#   thread. Each round's ceiling and one-connection run alternate which
#   goes first; the verdict is the median of the rounds' ratios.
#   Target: PUT/s at c=1 >= 0.80 x the ceiling. A 1 KiB check-in goes
#   by the data dir's write-ahead log (docs/depot.md, "Durability"): one
#   record fdatasynced, one flush where the ceiling's loop makes two. For
#   information, a third loop does what HouseDepot's layout makes a
#   check-in do without the log (a body over 64 KiB; see durable_loop);
#   and eight writers of the ceiling's loop at once (one file each) are
#   set beside the eight clients on eight files.
#   Every PUT run writes into its own new DepotRepo (`put-<round>-<kind>`), so each starts from an
#   empty folder: a check-in reads its file's folder, and a folder grows
#   by a revision per PUT (DEPTH=N bounds it, as a DepotRepo's `depth`).
#   After each run the revisions on disk are counted: at least one per
#   acknowledged PUT.
#   Before each PUT run (ceiling or Gatehouse) the script syncs, then
#   waits SETTLE seconds. Why: ext4 without a journal (this machine's
#   root) skips, when it allocates an inode, every inode freed in the last
#   60 s (300 s while its inode table block is dirty; fs/ext4/ialloc.c,
#   recently_deleted), scanning past each. An inode then costs what the
#   file system's recent deletions cost (seen: 30-330 us), and a run right
#   after many deletions (another run, a cleanup) pays for them: same
#   build, c=1 at 0.24 of the ceiling in one round, 0.76 in the next. A
#   check-in makes two inodes (the revision, one link; the ceiling one),
#   so it feels this twice. SETTLE=60 gives each run a clean start.
#
# Usage (from the repo root): bash bench/depot.sh
# Env: DURATION (10s, GET runs), PUT_DURATION (DURATION), SETTLE (0), CONNECTIONS (100),
#      THREADS (2), WARMUP (3s), ROUNDS (5), DEPTH (unset: the PUT repos
#      keep every revision), KEEP_TMP=1 keeps the temp folder with logs.
#      BENCH_SMOKE=1: one round of 1 s at -c10, no verdict; a failed
#      request, a wrong body or a missing revision fails the run.
# The load is printed before each measurement and in the summary: figures
# taken while a build runs are noise. Exits 0 whatever the ratios; read
# the `result` lines.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    : "${DURATION:=1s}" "${CONNECTIONS:=10}" "${WARMUP:=1s}" "${ROUNDS:=1}"
fi
DURATION=${DURATION:-10s}
PUT_DURATION=${PUT_DURATION:-$DURATION}
CONNECTIONS=${CONNECTIONS:-100}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-5}
DEPTH=${DEPTH:-}
SETTLE=${SETTLE:-0}
[[ $SETTLE =~ ^[0-9]+$ ]] || die "SETTLE must be whole seconds, not $SETTLE"
[[ -z $DEPTH || $DEPTH =~ ^[1-9][0-9]*$ ]] || die "DEPTH must be a positive number, not $DEPTH"
[[ $PUT_DURATION =~ ^[0-9]+s$ ]] || die "PUT_DURATION must be whole seconds like 10s, not $PUT_DURATION"

ensure_tools
build_proxy

LOAD_AT_START=$(machine_load)
SITE="$BENCH_TMP/site"
DATA="$BENCH_TMP/data"
LOOPS_DIR="$BENCH_TMP/loops"
MANIFESTS="$BENCH_TMP/manifests"
mkdir -p "$SITE" "$DATA" "$LOOPS_DIR" "$MANIFESTS"
head -c 1024 /dev/urandom >"$SITE/1k.bin"
# nginx workers run as an unprivileged user: let them read the site.
chmod 755 "$BENCH_TMP" "$SITE"
chmod 644 "$SITE/1k.bin"
# The ceiling must be the data dir's disk, not another file system.
[[ $(stat -c %d "$DATA") == $(stat -c %d "$LOOPS_DIR") ]] \
    || die "$DATA and $LOOPS_DIR are on different file systems"

NGINX_PORT=$(free_port)
GATEHOUSE_PORT=$(free_port)
ADMIN_PORT=$(free_port)

log "nginx (2 workers, static 1 KiB) on 127.0.0.1:$NGINX_PORT"
start_nginx nginx-static 2 "
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        root $SITE;
    }"

# One DepotRepo for the GETs, and a new one for each PUT run.
PUT_KINDS=(c1 c8 c8files)
{
    cat <<EOF
apiVersion: gatehouse.dev/v1alpha1
kind: DepotRepo
metadata: {name: bench}
spec: {}
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: depot}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /depot}}]
      backends: [{name: files, depot: {}}]
EOF
    for round in $(seq 1 "$ROUNDS"); do
        for kind in "${PUT_KINDS[@]}"; do
            printf -- '---\napiVersion: gatehouse.dev/v1alpha1\nkind: DepotRepo\n'
            printf 'metadata: {name: put-%s-%s}\nspec: {%s}\n' "$round" "$kind" "${DEPTH:+depth: $DEPTH}"
        done
    done
} >"$MANIFESTS/depot.yaml"

log "gatehouse (--workers 2, depot, --data-dir $DATA) on 127.0.0.1:$GATEHOUSE_PORT, admin 127.0.0.1:$ADMIN_PORT"
"$GATEHOUSE_BIN" --listen "127.0.0.1:$GATEHOUSE_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --manifests "$MANIFESTS" --data-dir "$DATA" --workers 2 --log warn --access-log off \
    2>"$BENCH_TMP/gatehouse.log" &
GATEHOUSE_PID=$!
BENCH_PIDS+=("$GATEHOUSE_PID")

wait_http_ok "http://127.0.0.1:$NGINX_PORT/1k.bin"
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"
DEPOT_URL="http://127.0.0.1:$GATEHOUSE_PORT/depot/bench/1k.bin"
status=$(curl -s -o /dev/null -w '%{http_code}' -T "$SITE/1k.bin" "$DEPOT_URL")
[[ $status == 200 ]] || die "PUT $DEPOT_URL answered $status: $(tail -n 5 "$BENCH_TMP/gatehouse.log")"
for url in "$DEPOT_URL" "http://127.0.0.1:$NGINX_PORT/1k.bin"; do
    cmp -s <(curl -s "$url") "$SITE/1k.bin" || die "$url does not answer the 1 KiB file's bytes"
done

# shellcheck disable=SC2207 # pids have no spaces
NGINX_WORKERS=($(pgrep -P "$(cat "$BENCH_TMP/nginx-static/nginx.pid")"))
[[ ${#NGINX_WORKERS[@]} == 2 ]] || die "expected 2 nginx workers, found ${NGINX_WORKERS[*]}"

# wrk's requests for the PUT runs: each body (1 KiB) starts with its wrk
# thread's id and a counter, so no two are equal and every PUT makes a
# revision. PUT_PATH is the file; with FILES > 1 each thread spreads its
# PUTs over FILES files of its own, PUT_PATH-<thread>-<i>, round robin.
cat >"$BENCH_TMP/put.lua" <<'EOF'
local counter = 0
local files = tonumber(os.getenv("FILES") or "1")
local base = os.getenv("PUT_PATH")
local pad = string.rep("x", 1024)
local next_id = 0
function setup(thread)
    thread:set("id", next_id)
    next_id = next_id + 1
end
function request()
    counter = counter + 1
    local head = string.format("%d-%d-", id, counter)
    local path = base
    if files > 1 then
        path = string.format("%s-%d-%d", base, id, counter % files)
    end
    return wrk.format("PUT", path, nil, head .. string.sub(pad, 1, 1024 - #head))
end
EOF

# GET: $1 name, $2 url, $3 round -> prints "<req/s> <p99 ms> <CPU us/request>".
measure_get() {
    local name=$1 pids
    if [[ $name == nginx ]]; then pids=("${NGINX_WORKERS[@]}"); else pids=("$GATEHOUSE_PID"); fi
    measure_wrk "GET $name, round $3" "get-$name-$3" "$2" "${pids[@]}"
}

# The ceiling: write 1 KiB + fsync + rename + fsync of the folder, in a
# loop, one writer. Prints "<writes/s> <p99 ms>".
# Flush what earlier runs left dirty and let their freed inodes age (see
# the header), so each PUT run starts alike.
settle() {
    sync
    sleep "$SETTLE"
}

# A loop of durable writes, one writer, in a folder on the data dir's
# disk: $1 round, $2 mode -> prints "<writes/s> <p99 ms>".
#   ceiling: write 1 KiB + fsync + rename + fsync of the folder, what any
#     durable write needs (the target's reference);
#   layout: the same bytes as HouseDepot's layout keeps them, as a
#     check-in without the log does (a body over 64 KiB): a temp file
#     written and fsynced, linked as `f~N`, one symbolic link to it renamed
#     (hard-linked) over `f~latest`, `f~current` and `f`, fsync of the
#     folder. For information.
durable_loop() {
    settle
    log "PUT $2 loop, round $1, for $PUT_DURATION ($(machine_load))"
    # A new folder each run, nothing removed: deletions would cost the
    # runs after them (see the header).
    mkdir -p "$LOOPS_DIR/$2-$1"
    python3 - "$LOOPS_DIR/$2-$1" "${PUT_DURATION%s}" "$2" <<'EOF'
import os
import sys
import time

folder, seconds, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
dirfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
join = lambda name: os.path.join(folder, name)
pad = b"x" * 1024
took = []
start = time.perf_counter()
if mode == "ceiling8":
    # Eight writers at once, each its own file in the one folder: what the
    # disk gives durable writes when they come together (fsyncs batch).
    import threading
    def writer(i):
        n = 0
        while True:
            t0 = time.perf_counter()
            if t0 - start >= seconds:
                return
            n += 1
            temp = join(".f%d.tmp-%d" % (i, n))
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            os.write(fd, (b"%d-%d-" % (i, n) + pad)[:1024])
            os.fsync(fd)
            os.close(fd)
            os.rename(temp, join("f%d" % i))
            os.fsync(dirfd)
            took.append(time.perf_counter() - t0)
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
while mode != "ceiling8":
    t0 = time.perf_counter()
    if t0 - start >= seconds:
        break
    n = len(took) + 1
    temp = join(".f.tmp-%d" % n)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    os.write(fd, (b"%d-" % n + pad)[:1024])
    os.fsync(fd)
    os.close(fd)
    if mode == "ceiling":
        os.rename(temp, join("f"))
    else:
        os.link(temp, join("f~%d" % n))
        os.unlink(temp)
        made = join(".f.link-%d" % n)
        os.symlink("f~%d" % n, made)
        for name in ("f~latest", "f~current"):
            os.link(made, join(".f.name"), follow_symlinks=False)
            os.rename(join(".f.name"), join(name))
        os.rename(made, join("f"))
    os.fsync(dirfd)
    took.append(time.perf_counter() - t0)
elapsed = time.perf_counter() - start
took.sort()
print(f"{len(took) / elapsed:.1f} {took[min(len(took) - 1, int(len(took) * 0.99))] * 1000:.3f}")
EOF
}

# Gatehouse PUTs: $1 round, $2 kind (c1, c8, c8files) -> prints
# "<PUT/s> <p99 ms> <CPU us/PUT> <revisions on disk> <acknowledged PUTs>".
measure_put() {
    local round=$1 kind=$2 repo="put-$1-$2" threads connections files=1 out before after
    settle
    case $kind in
        c1) threads=1 connections=1 ;;
        c8) threads=2 connections=8 ;;
        c8files) threads=2 connections=8 files=8 ;;
    esac
    out="$BENCH_TMP/wrk-put-$kind-$round.txt"
    log "PUT gatehouse $kind, round $round: wrk -t$threads -c$connections -d$PUT_DURATION, $files file(s) a thread, into DepotRepo $repo ($(machine_load))"
    before=$(cpu_ticks "$GATEHOUSE_PID")
    PUT_PATH="/depot/$repo/f" FILES=$files wrk -t"$threads" -c"$connections" -d"$PUT_DURATION" --latency \
        -s "$BENCH_TMP/put.lua" "http://127.0.0.1:$GATEHOUSE_PORT" | tee "$out" >&2
    after=$(cpu_ticks "$GATEHOUSE_PID")
    # Revisions on disk: regular files f~N / f-T-I~N (links and temps not counted).
    local revisions
    revisions=$(find "$DATA/default/$repo" -type f -regex '.*/f[-0-9]*~[0-9]+' 2>/dev/null | wc -l)
    echo "$(parse_wrk <"$out")" \
        "$(cpu_us_per_request $((after - before)) "$(wrk_requests <"$out")")" \
        "$revisions" "$(wrk_requests <"$out")"
}

RESULTS=()
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order=(nginx gatehouse); else order=(gatehouse nginx); fi
    for name in "${order[@]}"; do
        if [[ $name == nginx ]]; then url="http://127.0.0.1:$NGINX_PORT/1k.bin"; else url=$DEPOT_URL; fi
        read -r rps p99 cpu < <(measure_get "$name" "$url" "$round")
        RESULTS+=("get-$name $round $rps $p99 $cpu 0 0")
    done
done
for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then order=(ceiling c1 layout); else order=(layout c1 ceiling); fi
    for kind in "${order[@]}" c8 ceiling8 c8files; do
        if [[ $kind == ceiling || $kind == layout || $kind == ceiling8 ]]; then
            read -r rate p99 < <(durable_loop "$round" "$kind")
            RESULTS+=("put-$kind $round $rate $p99 0 0 0")
        else
            read -r rate p99 cpu revisions acked < <(measure_put "$round" "$kind")
            RESULTS+=("put-$kind $round $rate $p99 $cpu $revisions $acked")
            # A PUT acknowledged without its revision on disk is a bug,
            # whatever the figures.
            ((revisions >= acked)) || die "put-$round-$kind: $acked PUTs acknowledged, $revisions revisions on disk"
        fi
    done
done
LOAD_AT_END=$(machine_load)

for file in "$BENCH_TMP"/wrk-*.txt; do
    check_wrk "$file" "$(basename "$file" .txt)"
done

printf '%s\n' "${RESULTS[@]}" >"$BENCH_TMP/results.txt"
python3 - "$BENCH_TMP/results.txt" "$DURATION" "$PUT_DURATION" "$CONNECTIONS" "${DEPTH:-all}" \
    "$BENCH_SMOKE" "$LOAD_AT_START" "$LOAD_AT_END" <<'EOF'
import statistics
import sys

results, duration, put_duration, connections, depth, smoke, load_start, load_end = sys.argv[1:9]
runs = {}
for line in open(results):
    name, round_, rate, p99, cpu, revisions, acked = line.split()
    runs.setdefault(name, {})[int(round_)] = (float(rate), float(p99), float(cpu), int(revisions), int(acked))
rounds = sorted(runs["get-nginx"])
med = lambda xs: statistics.median(list(xs))
verdicts = []

print()
print(f"depot GET: 1 KiB, wrk -c{connections} -d{duration}; nginx static file vs depot, both 2 workers")
print(f"{'round':>6}{'req/s nginx':>13}{'depot':>9}{'ratio':>7}"
      f"{'p99 ms nginx':>14}{'depot':>9}{'ratio':>7}"
      f"{'CPU us/req nginx':>18}{'depot':>9}{'ratio':>7}")
for r in rounds:
    n, g = runs["get-nginx"][r], runs["get-gatehouse"][r]
    print(f"{r:>6}{n[0]:>13.0f}{g[0]:>9.0f}{g[0] / n[0]:>7.2f}"
          f"{n[1]:>14.2f}{g[1]:>9.2f}{g[1] / max(n[1], 0.001):>7.2f}"
          f"{n[2]:>18.1f}{g[2]:>9.1f}{g[2] / max(n[2], 0.1):>7.2f}")
get_ratio = [med(runs["get-gatehouse"][r][i] / max(runs["get-nginx"][r][i], 0.001) for r in rounds) for i in range(3)]
print(f"{'median':>6}{med(runs['get-nginx'][r][0] for r in rounds):>13.0f}"
      f"{med(runs['get-gatehouse'][r][0] for r in rounds):>9.0f}{get_ratio[0]:>7.2f}"
      f"{med(runs['get-nginx'][r][1] for r in rounds):>14.2f}"
      f"{med(runs['get-gatehouse'][r][1] for r in rounds):>9.2f}{get_ratio[1]:>7.2f}"
      f"{med(runs['get-nginx'][r][2] for r in rounds):>18.1f}"
      f"{med(runs['get-gatehouse'][r][2] for r in rounds):>9.1f}{get_ratio[2]:>7.2f}")
verdicts.append(("GET req/s depot/nginx (median of rounds)", get_ratio[0], ">= 0.80", get_ratio[0] >= 0.8))

print()
print(f"depot PUT: distinct 1 KiB bodies for {put_duration} a run, each run into a new DepotRepo "
      f"(depth: {depth}); ceiling: write + fsync + rename + fsync folder, one writer")
print(f"{'round':>6}{'ceiling/s':>11}{'p99 ms':>8}"
      f"{'c=1 PUT/s':>11}{'p99 ms':>8}{'ratio':>7}{'CPU us':>8}"
      f"{'c=8 PUT/s':>11}{'p99 ms':>8}{'ratio':>7}"
      f"{'c=8 files':>11}{'p99 ms':>8}{'ratio':>7}{'revs/acked':>12}")
for r in rounds:
    c, one, eight, files = (runs[k][r] for k in ("put-ceiling", "put-c1", "put-c8", "put-c8files"))
    ok = all(x[3] >= x[4] for x in (one, eight, files))
    print(f"{r:>6}{c[0]:>11.1f}{c[1]:>8.2f}"
          f"{one[0]:>11.1f}{one[1]:>8.2f}{one[0] / c[0]:>7.2f}{one[2]:>8.0f}"
          f"{eight[0]:>11.1f}{eight[1]:>8.2f}{eight[0] / c[0]:>7.2f}"
          f"{files[0]:>11.1f}{files[1]:>8.2f}{files[0] / c[0]:>7.2f}"
          f"{'all there' if ok else 'MISSING':>12}")
put_ratio = {k: med(runs[k][r][0] / max(runs["put-ceiling"][r][0], 0.001) for r in rounds)
             for k in ("put-c1", "put-c8", "put-c8files")}
print(f"{'median':>6}{med(runs['put-ceiling'][r][0] for r in rounds):>11.1f}"
      f"{med(runs['put-ceiling'][r][1] for r in rounds):>8.2f}"
      f"{med(runs['put-c1'][r][0] for r in rounds):>11.1f}{med(runs['put-c1'][r][1] for r in rounds):>8.2f}"
      f"{put_ratio['put-c1']:>7.2f}{med(runs['put-c1'][r][2] for r in rounds):>8.0f}"
      f"{med(runs['put-c8'][r][0] for r in rounds):>11.1f}{med(runs['put-c8'][r][1] for r in rounds):>8.2f}"
      f"{put_ratio['put-c8']:>7.2f}"
      f"{med(runs['put-c8files'][r][0] for r in rounds):>11.1f}{med(runs['put-c8files'][r][1] for r in rounds):>8.2f}"
      f"{put_ratio['put-c8files']:>7.2f}")
verdicts.append(("PUT/s c=1 / ceiling (median of rounds)", put_ratio["put-c1"], ">= 0.80", put_ratio["put-c1"] >= 0.8))

print()
print("for information: HouseDepot's layout without the log (a check-in of a body over 64 KiB, no proxy:"
      " temp, fsync, link f~N, one symlink as f~latest, f~current and f, fsync folder)")
print(f"{'round':>6}{'ceiling/s':>11}{'layout/s':>10}{'ratio':>7}{'c=1 PUT/s':>11}{'vs layout':>11}")
for r in rounds:
    c, lay, one = (runs[k][r][0] for k in ("put-ceiling", "put-layout", "put-c1"))
    print(f"{r:>6}{c:>11.1f}{lay:>10.1f}{lay / c:>7.2f}{one:>11.1f}{one / max(lay, 0.001):>11.2f}")
layout_ratio = med(runs["put-layout"][r][0] / max(runs["put-ceiling"][r][0], 0.001) for r in rounds)
vs_layout = med(runs["put-c1"][r][0] / max(runs["put-layout"][r][0], 0.001) for r in rounds)
print(f"{'median':>6}{'':>11}{'':>10}{layout_ratio:>7.2f}{'':>11}{vs_layout:>11.2f}")

print()
print("for information: eight at once, against eight writers of the ceiling's loop (one file each, one folder)")
print(f"{'round':>6}{'ceiling x8/s':>14}{'c=8 files':>11}{'ratio':>7}{'c=1 ceiling':>13}{'x8 gain':>9}")
for r in rounds:
    c8, files, c = (runs[k][r][0] for k in ("put-ceiling8", "put-c8files", "put-ceiling"))
    print(f"{r:>6}{c8:>14.1f}{files:>11.1f}{files / max(c8, 0.001):>7.2f}{c:>13.1f}{c8 / max(c, 0.001):>9.2f}")
print(f"{'median':>6}{'':>14}{'':>11}"
      f"{med(runs['put-c8files'][r][0] / max(runs['put-ceiling8'][r][0], 0.001) for r in rounds):>7.2f}")

print()
print(f"{load_start} (at start)")
print(f"{load_end} (at end)")
print()
for name, value, target, ok in verdicts:
    verdict = "none: a smoke run (BENCH_SMOKE=1)" if smoke == "1" else ("PASS" if ok else "FAIL")
    print(f"result {verdict:6} {name}: {value:.2f}, target {target}")
EOF
