#!/usr/bin/env bash
# Runs every test of the repository: the stub runtime's own tests, formatting and lints,
# tenantd's tests, then a short run of every fuzz target (TENANTD_FUZZ_SECONDS each, default 20;
# 0 skips it). Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stub=examples/stub-runtime/Cargo.toml
examples/stub-runtime/build.sh
cargo test --manifest-path "$stub"
# The stub is its own package, outside `--all`, so it is checked explicitly as well.
cargo fmt --all -- --check
cargo fmt --manifest-path "$stub" -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --manifest-path "$stub" --all-targets -- -D warnings
# Bench targets are compiled (and linted) above but only run by scripts/bench.sh.
cargo test --lib --bins --tests "$@"
# Without AddressSanitizer and optimisations the short run builds in less than half the time; it
# still replays every seed and regression and fails on any panic, timeout or memory blow-up. The
# long run (scripts/fuzz.sh 3600) uses both.
fuzz_seconds="${TENANTD_FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" != 0 ]; then
    FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}" FUZZ_DEV="${FUZZ_DEV:-1}" scripts/fuzz.sh "$fuzz_seconds"
fi
