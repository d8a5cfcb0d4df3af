#!/bin/sh
# openhim-standin.sh — 'make run' wired to the OpenHIM stand-in
# (tests/e2e/openhim_standin.py, OpenHIM core v8.5's API and router over
# real HTTP): Bulkhead registers as a mediator, heartbeats, gets the
# delivery target "receiver" as mediator config, and posts a notification
# there when a job that names it completes.  Try, in another shell:
#
#   build/bulkhead jobs submit export '{"deliver":[{"target":"receiver"}]}'
#
# and watch this one: the stand-in prints the notification it routed,
# with the download URLs the receiver would fetch.
set -eu
cd "$(dirname "$0")/.."
api=${OPENHIM_API_PORT:-8081}
router=${OPENHIM_ROUTER_PORT:-5001}
python3 tests/e2e/openhim_standin.py --api-port "$api" \
    --router-port "$router" &
standin=$!
trap 'kill "$standin" 2>/dev/null || true' EXIT INT TERM
export BULKHEAD_OPENHIM_API_URL="http://127.0.0.1:$api"
export BULKHEAD_OPENHIM_USERNAME=root@openhim.org
export BULKHEAD_OPENHIM_PASSWORD=openhim-password
scripts/run.sh
