#!/usr/bin/env bash
# Runs every test of the repository: the stub runtime's own tests, formatting and lints, then
# tenantd's tests. Extra arguments go to the final `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stub=examples/stub-runtime/Cargo.toml
examples/stub-runtime/build.sh
cargo test --manifest-path "$stub"
# The stub is its own package, outside `--all`, so it is checked explicitly as well.
cargo fmt --all -- --check
cargo fmt --manifest-path "$stub" -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --manifest-path "$stub" --all-targets -- -D warnings
# Bench targets are compiled (and linted) above but only run by scripts/bench.sh.
cargo test --lib --bins --tests "$@"
