#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS_PER_TARGET seconds each (default 30), on the
# stable toolchain. Fails on any crash, panic, leak, timeout or memory blow-up; the input that
# caused it is left in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh            # short run, as CI does
#   scripts/fuzz.sh 3600       # the long run: an hour per target
#
# Inputs that once failed live in fuzz/regressions/<target>/ and are replayed by every run.
# Environment:
#   FUZZ_TARGETS    targets to run, space-separated (default: all of `cargo fuzz list`)
#   FUZZ_SANITIZER  address (default) or none: none builds and runs faster but catches no leaks
#   FUZZ_RSS_MB     memory ceiling of a run, in MB (default 1024); also caps any one allocation
#   FUZZ_DEV        1: build without optimisations; about twice as fast to build from cold and
#                   about ten times slower to run, which suits a short smoke run
set -euo pipefail

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."

# cargo-fuzz passes nightly-only flags (-Zsanitizer, sanitizer coverage); the stable compiler
# accepts them with RUSTC_BOOTSTRAP. Pinned to stable unless the caller picks a toolchain.
export RUSTC_BOOTSTRAP=1
if command -v rustup >/dev/null 2>&1; then
  export RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-stable}"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

sanitizer="${FUZZ_SANITIZER:-address}"
rss_mb="${FUZZ_RSS_MB:-1024}"
build=(--fuzz-dir fuzz --sanitizer "$sanitizer")
if [ "${FUZZ_DEV:-0}" = 1 ]; then
  build+=(--dev)
fi
read -r -a targets <<<"${FUZZ_TARGETS:-$(cargo fuzz list --fuzz-dir fuzz | tr '\n' ' ')}"

# Specs: text up to 16 KiB (the loader refuses over 1 MiB, a cost that is linear). Plans: the
# structured input is small by nature.
max_len() {
  case "$1" in
    plan) echo 4096 ;;
    *) echo 16384 ;;
  esac
}

# How long one input may take, in seconds, before it counts as a failure. The loader's cost is
# linear in the size of a spec (nesting, aliases and error counts are bounded): a 16 KiB spec of
# any shape loads in a small fraction of a second even unoptimised, while the shapes that once
# made it quadratic (fuzz/regressions/spec_load/slow-*) took several seconds each.
timeout_for() {
  case "$1" in
    spec_load) echo 3 ;;
    *) echo 10 ;;
  esac
}

start=$(date +%s)
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for target in "${targets[@]}"; do
    cargo fuzz build "${build[@]}" "$target"
  done
else
  cargo fuzz build "${build[@]}"
fi
echo "fuzz.sh: built in $(($(date +%s) - start))s" >&2

failed=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  dirs=("$corpus")
  if [ -d "fuzz/regressions/$target" ]; then
    dirs+=("fuzz/regressions/$target")
  fi
  flags=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -max_len="$(max_len "$target")"
    -timeout="$(timeout_for "$target")" -print_final_stats=1)
  if [ "$target" != plan ]; then
    flags+=(-dict=fuzz/dicts/spec.dict)
  fi
  echo "fuzz.sh: $target for ${seconds}s" >&2
  if ! cargo fuzz run "${build[@]}" "$target" "${dirs[@]}" -- "${flags[@]}"; then
    failed+=("$target")
  fi
done

echo "fuzz.sh: done in $(($(date +%s) - start))s" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: FAILED: ${failed[*]}; the failing inputs are in fuzz/artifacts/<target>/" >&2
  echo "fuzz.sh: reproduce with RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz <target> <input>" >&2
  exit 1
fi
