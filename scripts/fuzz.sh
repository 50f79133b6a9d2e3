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

# Specs: text up to 64 KiB, enough for a shape whose cost grows faster than its size to show
# (the loader refuses over 1 MiB, and its cost is linear). Plans: the structured input is small by
# nature.
max_len() {
  case "$1" in
    plan) echo 4096 ;;
    spec_load) echo 65536 ;;
    *) echo 16384 ;;
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
  # -timeout: an input that takes longer fails the run. A 64 KiB spec of any shape takes at most
  # about 3 s in spec_load unoptimised (loaded three times, printed back and rendered); the shapes
  # that once made the loader quadratic (fuzz/regressions/spec_load/slow-*) took 6 s for 64 KiB of
  # brackets optimised, and the alias fan-out ran out of memory.
  flags=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -max_len="$(max_len "$target")" -timeout=10
    -print_final_stats=1)
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
