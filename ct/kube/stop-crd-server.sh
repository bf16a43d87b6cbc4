#!/usr/bin/env bash
# Stops what start-crd-server.sh started and removes its state folder; the
# same as stop-apiserver.sh does for the 1.20 server.
exec bash "$(dirname "${BASH_SOURCE[0]}")/stop-apiserver.sh" "$@"
