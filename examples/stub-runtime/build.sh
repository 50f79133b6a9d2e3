#!/usr/bin/env bash
# Builds the static stub-runtime binary and lays out dist/ for the FROM-scratch Dockerfile:
#   dist/stub-runtime   the binary
#   dist/rootfs/        empty directories the image needs owned by 10001 (scratch has no RUN)
# Safe to run concurrently: builds are serialised by a lock, and every file in dist/ is replaced
# by rename, so a `docker build` reading dist/ meanwhile sees either the old or the new file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
triple=x86_64-unknown-linux-gnu
mkdir -p "$here/target" "$here/dist"

exec 9>"$here/target/build.lock"
flock 9

# Set, not appended to: the binary must be static whatever flags the caller's environment carries.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --locked --release \
    --manifest-path "$here/Cargo.toml" --target "$triple" --target-dir "$here/target"

# Staged under target/ (same filesystem, so mv is a rename) and outside the Docker build context.
staging="$(mktemp -d "$here/target/dist-staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
install -m 0755 "$here/target/$triple/release/stub-runtime" "$staging/stub-runtime"
mkdir -p "$staging/rootfs/home/node/.openclaw/workspaces" "$staging/rootfs/data"
chmod -R 0755 "$staging/rootfs"

mv -f "$staging/stub-runtime" "$here/dist/stub-runtime"
# A directory cannot be renamed over a non-empty one; rootfs only ever holds the same empty
# directories, so it is moved into place once and left alone afterwards.
if [ ! -d "$here/dist/rootfs" ]; then
    mv -T "$staging/rootfs" "$here/dist/rootfs"
fi
echo "built $here/dist/stub-runtime" >&2
