#!/usr/bin/env bash
# Brings the sample tenants in tenants.d/ up on the local Docker engine: builds tenantd and the
# stub runtime, writes a local config under .tenantd-local/, applies, and shows the status.
# `./scripts/quickstart.sh down` removes them again (their volumes are kept, as always).
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

if [ "${1:-}" = "down" ]; then
    # An empty tenants directory, explicitly allowed: every quickstart tenant is deleted.
    cat > .tenantd-local/down.toml <<TOML
tenants_dir = "empty.d"
state_dir = "state"
instance = "quickstart"
$network
TOML
    "$tenantd" --config .tenantd-local/down.toml apply --allow-empty
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
"$tenantd" --config .tenantd-local/tenantd.toml status
echo
echo "Try: curl http://127.0.0.1:<port>/health   (ports above)"
echo "     $tenantd --config .tenantd-local/tenantd.toml plan --detailed-exitcode"
echo "     ./scripts/quickstart.sh down"
