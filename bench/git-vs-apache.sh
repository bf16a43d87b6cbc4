#!/usr/bin/env bash
# Private git over smart HTTP with Basic auth: Gatehouse's `git` backend
# against the setup it replaces, Apache 2.4 running `git http-backend`
# through mod_cgid, both on the same repository and the same htpasswd.
#
#   apache:     Debian's apache2-bin, mpm_event + mod_cgid, as git's own
#               documentation configures it (git-http-backend(1)):
#               `ScriptAlias /git/ .../git-http-backend/`, `SetEnv
#               GIT_PROJECT_ROOT`, `GIT_HTTP_EXPORT_ALL`, and `AuthType
#               Basic` + `AuthUserFile` + `Require valid-user` on /git/;
#               logs off; its workers run as www-data (Apache will not
#               serve as root), so its repositories belong to www-data.
#   gatehouse:  --workers 2, local mode: a Secret with the same htpasswd
#               line, a Route `PathPrefix /git` with `access` and a `git`
#               backend on its own copy of the repositories.
#
# The repository: FILES files in COMMITS commits (2,000 and 200; each
# commit adds FILES/COMMITS files of about 1 KiB of text), made once by
# this script with the real git.
# Clone: `git clone --bare` of it over HTTP with the user in the URL, in
#   ROUNDS rounds that alternate which server goes first; each round's
#   time ratio is gatehouse / apache; the verdict is the median.
#   Target: <= 1.0.
# Push: the same repository pushed whole (COMMITS commits) into a new
#   empty bare repository on each server, same rounds. Target: <= 1.0.
# The user's password is a bcrypt hash (`htpasswd -B`, cost 5, Apache's
# default for -B): Apache verifies it on every request of a clone,
# Gatehouse once (it remembers a verified password for 5 minutes), which
# is part of what is measured.
#
# Usage (from the repo root): bash bench/git-vs-apache.sh
# Env: ROUNDS (5), COMMITS (200), FILES (2000), KEEP_TMP=1 keeps the temp
#      folder with logs. BENCH_SMOKE=1: one round of a 20-commit, 200-file
#      repository, no verdict; a failed clone or push fails the run.
# Exits 0 whatever the ratios; read the `result` lines.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if smoke; then
    ROUNDS=${ROUNDS:-1}
    COMMITS=${COMMITS:-20}
    FILES=${FILES:-200}
else
    ROUNDS=${ROUNDS:-5}
    COMMITS=${COMMITS:-200}
    FILES=${FILES:-2000}
fi
for name in ROUNDS COMMITS FILES; do
    [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive number, not ${!name}"
done
((FILES >= COMMITS)) || die "FILES ($FILES) must be at least COMMITS ($COMMITS): each commit adds files"

USER_NAME=bench
USER_PASSWORD=bench-password

ensure_git_tools() {
    export PATH="$PATH:/usr/sbin:/sbin"
    local missing=()
    command -v git >/dev/null || missing+=(git)
    command -v htpasswd >/dev/null || missing+=(apache2-utils)
    [[ -x /usr/sbin/apache2 ]] || missing+=(apache2-bin)
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_get install -y "${missing[@]}" || {
        apt_get update
        apt_get install -y "${missing[@]}"
    }
}

ensure_git_tools
build_proxy
id www-data >/dev/null 2>&1 || die "Apache's workers run as www-data, and this machine has no such user"
HTTP_BACKEND="$(git --exec-path)/git-http-backend"
[[ -x $HTTP_BACKEND ]] || die "no git-http-backend at $HTTP_BACKEND"
# www-data must reach Apache's repositories below the temp folder.
chmod 755 "$BENCH_TMP"

# ---------------------------------------------------------------------------
# The repository, made once.
SOURCE="$BENCH_TMP/source"
log "a repository of $FILES files in $COMMITS commits"
git init -q -b main "$SOURCE"
python3 - "$SOURCE" "$FILES" "$COMMITS" <<'EOF'
import os, subprocess, sys
root, files, commits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
           GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
line = "the quick brown fox jumps over the lazy dog {} {}\n"
per_commit = files // commits
made = 0
for c in range(commits):
    count = per_commit if c < commits - 1 else files - made
    for _ in range(count):
        folder = os.path.join(root, f"dir{made % 40:02}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"file{made:05}.txt"), "w") as f:
            f.write("".join(line.format(made, i) for i in range(20)))
        made += 1
    subprocess.run(["git", "-C", root, "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", root, "commit", "-q", "-m", f"commit {c}"], check=True, env=env)
EOF
[[ $(git -C "$SOURCE" rev-list --count HEAD) == "$COMMITS" ]] || die "the source repository does not have $COMMITS commits"

APACHE_ROOT="$BENCH_TMP/apache-repos"
GATEHOUSE_ROOT="$BENCH_TMP/gatehouse-repos"
mkdir -p "$APACHE_ROOT" "$GATEHOUSE_ROOT"
git clone -q --bare "$SOURCE" "$APACHE_ROOT/bench.git"
git clone -q --bare "$SOURCE" "$GATEHOUSE_ROOT/bench.git"
chown -R www-data:www-data "$APACHE_ROOT"

HTPASSWD="$BENCH_TMP/htpasswd"
htpasswd -cbB "$HTPASSWD" "$USER_NAME" "$USER_PASSWORD" 2>/dev/null
chmod 644 "$HTPASSWD"

# ---------------------------------------------------------------------------
# Apache, as git-http-backend(1) sets it up.
APACHE_PORT=$(free_port)
APACHE_DIR="$BENCH_TMP/apache"
mkdir -p "$APACHE_DIR/logs"
chmod 777 "$APACHE_DIR/logs"
MODULES=/usr/lib/apache2/modules
cat >"$APACHE_DIR/apache2.conf" <<EOF
ServerRoot $APACHE_DIR
ServerName 127.0.0.1
Listen 127.0.0.1:$APACHE_PORT
PidFile $APACHE_DIR/apache2.pid
ErrorLog $APACHE_DIR/logs/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module $MODULES/mod_mpm_event.so
LoadModule cgid_module $MODULES/mod_cgid.so
LoadModule alias_module $MODULES/mod_alias.so
LoadModule env_module $MODULES/mod_env.so
LoadModule auth_basic_module $MODULES/mod_auth_basic.so
LoadModule authn_core_module $MODULES/mod_authn_core.so
LoadModule authn_file_module $MODULES/mod_authn_file.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule authz_user_module $MODULES/mod_authz_user.so
ScriptSock $APACHE_DIR/logs/cgisock
KeepAlive On
SetEnv GIT_PROJECT_ROOT $APACHE_ROOT
SetEnv GIT_HTTP_EXPORT_ALL
ScriptAlias /git/ $HTTP_BACKEND/
<Directory "$(dirname "$HTTP_BACKEND")">
    Require all granted
</Directory>
<Location /git/>
    AuthType Basic
    AuthName "Git"
    AuthUserFile $HTPASSWD
    Require valid-user
</Location>
EOF
log "apache (mpm_event, mod_cgid, git http-backend) on 127.0.0.1:$APACHE_PORT"
/usr/sbin/apache2 -t -f "$APACHE_DIR/apache2.conf" 2>&1 | grep -v "Syntax OK" >&2 || true
/usr/sbin/apache2 -f "$APACHE_DIR/apache2.conf" -DFOREGROUND 2>"$APACHE_DIR/logs/stderr.log" &
BENCH_PIDS+=($!)

# ---------------------------------------------------------------------------
# Gatehouse, the same htpasswd line in a Secret beside its Route.
GATEHOUSE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
MANIFESTS="$BENCH_TMP/manifests"
mkdir -p "$MANIFESTS"
cat >"$MANIFESTS/git.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata: {name: git-users}
type: Opaque
stringData:
  htpasswd: |
    $(cat "$HTPASSWD")
---
apiVersion: gatehouse.dev/v1alpha1
kind: Route
metadata: {name: git}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /git}}]
      access: {secret: git-users, realm: Git}
      backends: [{git: {root: "$GATEHOUSE_ROOT"}}]
EOF
"$GATEHOUSE_BIN" --check --manifests "$MANIFESTS" >"$BENCH_TMP/check.txt" 2>&1 \
    || die "gatehouse refuses the git Route (is the git backend in this build?):
$(cat "$BENCH_TMP/check.txt")"
log "gatehouse (--workers 2, git backend) on 127.0.0.1:$GATEHOUSE_PORT"
"$GATEHOUSE_BIN" --listen "127.0.0.1:$GATEHOUSE_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --manifests "$MANIFESTS" --workers 2 --log warn --access-log off \
    2>"$BENCH_TMP/gatehouse.log" &
BENCH_PIDS+=($!)
wait_http_ok "http://127.0.0.1:$ADMIN_PORT/readyz"

url_of() { # $1 server, $2 repository
    local port
    case $1 in
        apache) port=$APACHE_PORT ;;
        gatehouse) port=$GATEHOUSE_PORT ;;
    esac
    echo "http://$USER_NAME:$USER_PASSWORD@127.0.0.1:$port/git/$2"
}

export GIT_TERMINAL_PROMPT=0
# Seconds a command takes, to the millisecond; its output goes to a log.
timed() { # $1 log file, then the command
    local out=$1 started ended
    shift
    started=$EPOCHREALTIME
    if ! "$@" >"$out" 2>&1; then
        die "$* failed:
$(tail -n 20 "$out")
apache: $(tail -n 5 "$APACHE_DIR/logs/error.log" 2>/dev/null)
gatehouse: $(tail -n 5 "$BENCH_TMP/gatehouse.log")"
    fi
    ended=$EPOCHREALTIME
    python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$started" "$ended"
}

clone() { # $1 server, $2 round
    local into="$BENCH_TMP/clone-$1-$2.git"
    timed "$BENCH_TMP/clone-$1-$2.log" git clone -q --bare "$(url_of "$1" bench.git)" "$into"
    [[ $(git -C "$into" rev-list --count main) == "$COMMITS" ]] || die "$1's clone lacks commits"
    rm -rf "$into"
}

push() { # $1 server, $2 round
    local name="push-$2.git"
    case $1 in
        apache)
            git init -q --bare "$APACHE_ROOT/$name"
            chown -R www-data:www-data "$APACHE_ROOT/$name"
            ;;
        gatehouse) git init -q --bare "$GATEHOUSE_ROOT/$name" ;;
    esac
    timed "$BENCH_TMP/push-$1-$2.log" git -C "$SOURCE" push -q "$(url_of "$1" "$name")" main
    local root=$GATEHOUSE_ROOT
    [[ $1 == apache ]] && root=$APACHE_ROOT
    # Root reading www-data's repository: git asks for the exception.
    [[ $(git -c safe.directory="*" -C "$root/$name" rev-list --count main) == "$COMMITS" ]] || die "$1 did not take the whole push"
}

# Both answer an unauthenticated request with 401 before anything is timed.
for server in apache gatehouse; do
    url=$(url_of "$server" bench.git/info/refs?service=git-upload-pack)
    anonymous=${url/$USER_NAME:$USER_PASSWORD@/}
    for _ in $(seq 1 100); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$anonymous" || true)
        [[ $code == 401 ]] && break
        sleep 0.1
    done
    [[ $code == 401 ]] || die "$server answers an anonymous request $code, not 401"
done

declare -A CLONE PUSH
for ((round = 1; round <= ROUNDS; round++)); do
    order=(apache gatehouse)
    ((round % 2 == 0)) && order=(gatehouse apache)
    log "round $round: clone ($(machine_load))"
    for server in "${order[@]}"; do
        CLONE[$server,$round]=$(clone "$server" "$round")
        log "  $server clone: ${CLONE[$server,$round]} s"
    done
    log "round $round: push"
    for server in "${order[@]}"; do
        PUSH[$server,$round]=$(push "$server" "$round")
        log "  $server push: ${PUSH[$server,$round]} s"
    done
done

# ---------------------------------------------------------------------------
summary=$(
    for ((round = 1; round <= ROUNDS; round++)); do
        echo "$round ${CLONE[apache,$round]} ${CLONE[gatehouse,$round]} ${PUSH[apache,$round]} ${PUSH[gatehouse,$round]}"
    done
)
python3 - "$BENCH_SMOKE" "$COMMITS" "$FILES" "$(machine_load)" <<EOF
import statistics, sys
smoke, commits, files, load = sys.argv[1] == "1", sys.argv[2], sys.argv[3], sys.argv[4]
rows = [line.split() for line in """$summary""".strip().splitlines()]
print(f"\ngit-vs-apache: {files} files, {commits} commits; Basic auth (bcrypt); {load} (at end)\n")
print(f"{'round':>6} {'clone apache s':>15} {'clone gatehouse s':>18} {'ratio':>6} {'push apache s':>14} {'push gatehouse s':>17} {'ratio':>6}")
clone_ratios, push_ratios = [], []
for r, ca, cg, pa, pg in rows:
    cr, pr = float(cg) / float(ca), float(pg) / float(pa)
    clone_ratios.append(cr)
    push_ratios.append(pr)
    print(f"{r:>6} {ca:>15} {cg:>18} {cr:>6.2f} {pa:>14} {pg:>17} {pr:>6.2f}")
for what, ratios in (("clone", clone_ratios), ("push", push_ratios)):
    median = statistics.median(ratios)
    if smoke:
        print(f"result SMOKE  {what} time, gatehouse / apache (median of rounds): {median:.2f} (no verdict in smoke mode)")
    else:
        verdict = "PASS" if median <= 1.0 else "FAIL"
        print(f"result {verdict}   {what} time, gatehouse / apache (median of rounds): {median:.2f}, target <= 1.00")
EOF
