#!/usr/bin/env bash
# Runs every bench script once in smoke mode (BENCH_SMOKE=1: one short
# round, no verdict on the figures; see lib.sh), so a bench that no longer
# runs fails CI instead of rotting. Scripts are found by glob: a new
# bench/*.sh is included without a change here.
#
# Usage (from the repo root): bash bench/smoke.sh
# Each script's output goes to a log in the temp folder; a failing one's
# last lines are printed. Exits 1 if any script failed, naming them.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

failed=()
for script in "$BENCH_DIR"/*.sh; do
    name=$(basename "$script")
    [[ $name == lib.sh || $name == smoke.sh ]] && continue
    log "$name (BENCH_SMOKE=1)"
    started=$SECONDS
    if BENCH_SMOKE=1 bash "$script" >"$BENCH_TMP/$name.log" 2>&1; then
        log "$name: ok in $((SECONDS - started)) s"
    else
        status=$?
        failed+=("$name")
        echo "error: $name exited $status after $((SECONDS - started)) s; its last lines:" >&2
        tail -n 30 "$BENCH_TMP/$name.log" | sed 's/^/    /' >&2
    fi
done
((${#failed[@]} == 0)) || die "bench scripts that failed in smoke mode: ${failed[*]}"
log "every bench script ran in smoke mode"
