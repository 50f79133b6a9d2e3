#!/usr/bin/env bash
# Brings the sample tenants in tenants.d/ up on the local Docker engine: builds tenantd and the
# stub runtime, writes a local config under .tenantd-local/, applies, and shows the status.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
examples/stub-runtime/build.sh

mkdir -p .tenantd-local
cat > .tenantd-local/tenantd.toml <<TOML
tenants_dir = "../tenants.d"
state_dir = "state"
instance = "quickstart"
TOML

./target/release/tenantd --config .tenantd-local/tenantd.toml apply
./target/release/tenantd --config .tenantd-local/tenantd.toml status
echo
echo "Try: curl http://127.0.0.1:<port>/health   (ports above)"
echo "     ./target/release/tenantd --config .tenantd-local/tenantd.toml plan"
