#!/usr/bin/env bash
# Brings the sample tenants in tenants.d/ up on the local Docker engine: builds tenantd and the
# stub runtime, writes a local config under .tenantd-local/, applies, starts the daemon
# (`tenantd run`) in the background, logging to .tenantd-local/daemon.log, and shows the status.
# `./scripts/quickstart.sh down` stops the daemon and removes the tenants again (their volumes
# are kept, as always).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
mkdir -p .tenantd-local/empty.d
tenantd=./target/release/tenantd

# tenantd keeps tenants off the host's own services with nftables rules, which only root (or
# CAP_NET_ADMIN) with `nft` can install. Elsewhere the quickstart runs without them, and says so.
network=""
if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null; then
    network=$'[network]\nhost_firewall = "external"'
    echo "warning: not root or no nft: the sample tenants run WITHOUT tenantd's host rules" \
        "(host_firewall = \"external\"; see README, Safety)" >&2
fi

daemon_pid=.tenantd-local/daemon.pid
# A daemon this script started before holds the state directory: it is stopped (SIGTERM leaves
# the tenants running) before anything else uses that directory.
stop_daemon() {
    [ -f "$daemon_pid" ] || return 0
    pid="$(cat "$daemon_pid")"
    if kill -0 "$pid" 2>/dev/null && grep -q tenantd "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1 # polling interval while it exits
        done
        echo "stopped the daemon (pid $pid)"
    fi
    rm -f "$daemon_pid"
}
stop_daemon

if [ "${1:-}" = "down" ]; then
    # An empty tenants directory, explicitly allowed: every quickstart tenant is deleted.
    cat > .tenantd-local/down.toml <<TOML
tenants_dir = "empty.d"
state_dir = "state"
instance = "quickstart"
$network
TOML
    "$tenantd" --config .tenantd-local/down.toml apply --allow-empty
    rm -f .tenantd-local/down.toml
    echo "Volumes are kept; remove them with: docker volume rm \$(docker volume ls -q --filter label=io.tenantd.instance=quickstart)"
    if [ -z "$network" ]; then
        echo "The host rules stay, now empty; remove them with: nft delete table inet tenantd_quickstart"
    fi
    exit 0
fi

examples/stub-runtime/build.sh
cat > .tenantd-local/tenantd.toml <<TOML
tenants_dir = "../tenants.d"
state_dir = "state"
instance = "quickstart"
$network
TOML

"$tenantd" --config .tenantd-local/tenantd.toml apply

# The daemon keeps them converged from here on: it follows edits of tenants.d/, repairs what
# is changed behind its back and supervises their health.
log=.tenantd-local/daemon.log
setsid nohup "$tenantd" --config .tenantd-local/tenantd.toml run >"$log" 2>&1 </dev/null &
echo $! >"$daemon_pid"
for _ in $(seq 1 300); do
    grep -q "tenantd is running" "$log" 2>/dev/null && break
    if ! kill -0 "$(cat "$daemon_pid")" 2>/dev/null; then
        echo "error: the daemon exited; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1 # polling interval while it starts
done
grep -q "tenantd is running" "$log" || { echo "error: the daemon did not start within 30 s; see $log" >&2; exit 1; }
"$tenantd" --config .tenantd-local/tenantd.toml status
echo
echo "The daemon runs (pid $(cat "$daemon_pid"), log $log). Try:"
echo "     curl http://127.0.0.1:<port>/health   (ports above)"
echo "     edit tenants.d/acme.yaml, then: $tenantd --config .tenantd-local/tenantd.toml status"
echo "     ./scripts/quickstart.sh down          (stops the daemon, removes the tenants)"
