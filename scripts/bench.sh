#!/usr/bin/env bash
# Runs the benchmarks and prints their tables (see BENCHMARKS.md). Builds tenantd in release
# first: the compose comparison and the reaction bench run that binary against the real Docker
# engine. The benches run one after the other so none disturbs another.
#
# Environment: N (tenants of the compose comparison, default 50), ROUNDS (its rounds, default 5),
# RUNS (reaction rounds, default 7), IDLE_SECS (idle window, default 60), IDLE_RUNS (idle daemon
# processes, default 3), SCALE_SIZES (default 100,1000,10000), SCALE_RUNS (default 5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(docker info --format 'Docker {{.ServerVersion}}, {{.Driver}}, cgroup v{{.CgroupVersion}}' 2>/dev/null || echo 'no Docker engine')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git status --porcelain -- src Cargo.toml 2>/dev/null | grep -q . && echo ', with uncommitted changes in src/ or Cargo.toml')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

cargo build --release --bin tenantd
export TENANTD_BIN="$PWD/target/release/tenantd"
cargo bench --bench compose_compare
echo "load average between the benches: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --bench replace_under_load
cargo bench --bench daemon_reaction
echo "load average between the benches: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --bench plan_scale
echo "load average between the benches: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --bench daemon_idle
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
