#!/usr/bin/env bash
# Stops what start-apiserver.sh started (the pids in $1/pids) and removes
# its state folder: SIGTERM, then SIGKILL after 5 s for anything still up
# (the API server can hang in its shutdown once etcd has gone).
set -u
state=${1:?usage: stop-apiserver.sh STATE_FOLDER}
[[ -f $state/pids ]] || exit 0
pids=$(cat "$state/pids")
# Reverse order: controller manager, API server, then etcd.
for pid in $(echo "$pids" | tac); do kill "$pid" 2>/dev/null; done
for _ in $(seq 1 50); do
    alive=0
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
done
for pid in $pids; do kill -9 "$pid" 2>/dev/null; done
rm -rf "$state"
exit 0
