#!/bin/sh
# openhim-standin.sh — 'make run OPENHIM=standin': 'make run' wired to the
# OpenHIM stand-in (tests/e2e/openhim_standin.py, OpenHIM core v8.5's API
# and router over real HTTP), the whole loop on one machine:
#
#   1. Bulkhead registers as a mediator and heartbeats; with
#      openhim_install_channels = 1 it creates its default channels;
#   2. the stand-in ticks the polling channel "Bulkhead nightly export
#      poll" (at once, then every OPENHIM_POLL_EVERY s): GET
#      /openhim/poll/nightly runs the schedule "nightly" — declared here,
#      disabled, so OpenHIM's cron is its only trigger;
#   3. the export completes; a worker POSTs the notification to the
#      delivery target "receiver" (declared in the config file below) on
#      the stand-in's router;
#   4. the stand-in, as the receiver, fetches each file with the URL it
#      got, and prints what it read.
#
# Every line the stand-in prints starts with "openhim-standin:".  The
# configuration it runs with is written to var/openhim-standin.conf
# (BULKHEAD_CONFIG); BULKHEAD_* variables still override it.
set -eu
cd "$(dirname "$0")/.."
api=${OPENHIM_API_PORT:-8081}
router=${OPENHIM_ROUTER_PORT:-5001}
every=${OPENHIM_POLL_EVERY:-600}
mkdir -p var
# The operator's token the polling route sends (an admin principal's
# token would do as well); a new one each run unless given.
if [ -z "${BULKHEAD_ADMIN_TOKEN:-}" ]; then
	BULKHEAD_ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
fi
export BULKHEAD_ADMIN_TOKEN
conf=var/openhim-standin.conf
cat >"$conf" <<CONF
# Written by scripts/openhim-standin.sh (each run).
openhim_api_url = http://127.0.0.1:$api
openhim_username = root@openhim.org
openhim_password = openhim-password
openhim_install_channels = 1
# The stand-in's router listens on loopback: the delivery address policy
# (the import fetcher's) lets a private or loopback target through only
# when import_allow names its host.
import_allow = 127.0.0.1
openhim.target.receiver.url = http://127.0.0.1:$router/notify
openhim.target.receiver.username = bulkhead
openhim.target.receiver.password = bulkhead-secret
openhim.target.receiver.channel = Receiver
schedule.nightly.cron = 0 2 * * *
schedule.nightly.kind = export
schedule.nightly.enabled = false
schedule.nightly.params = {"level":"system","types":["Patient"],"deliver":[{"target":"receiver"}]}
CONF
export BULKHEAD_CONFIG="$PWD/$conf"
python3 tests/e2e/openhim_standin.py --api-port "$api" \
    --router-port "$router" --client bulkhead:bulkhead-secret \
    --token "$BULKHEAD_ADMIN_TOKEN" --poll-every "$every" &
standin=$!
trap 'kill "$standin" 2>/dev/null || true' EXIT INT TERM
scripts/run.sh
