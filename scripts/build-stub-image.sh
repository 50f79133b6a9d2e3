#!/usr/bin/env bash
# Builds the stub runtime image under the given tag and prints its image id on stdout (the only
# thing printed there). Safe to run concurrently: builds take turns, so a second build of the same
# tag is answered from the build cache with the same image instead of leaving a dangling one.
set -euo pipefail
tag="${1:?usage: scripts/build-stub-image.sh TAG}"
stub="$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples/stub-runtime" && pwd)"

mkdir -p "$stub/target"
# Not build.sh's lock file: build.sh takes that one itself, and flock on it here would deadlock.
exec 9>"$stub/target/image.lock"
flock 9

"$stub/build.sh" >&2
docker build -q -t "$tag" "$stub"
