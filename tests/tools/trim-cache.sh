#!/usr/bin/env bash
# Keeps the build cache from filling the disk. The cargo target dir outlives clones (for speed
# only) and grows with every test binary and incremental session that ever ran; a full disk
# fails a build halfway ("No space left on device"), which is how CI once failed. Before a
# build, if the target dir is over its budget or the disk has less free than a cold build
# needs, drop the parts that are rebuilt anyway: a cold build is slower than a warm one, never
# wrong.
#
#   trim-cache.sh TARGET_DIR [BUDGET_GB] [FREE_GB]
set -euo pipefail
target="${1:?usage: trim-cache.sh TARGET_DIR [BUDGET_GB] [FREE_GB]}"
budget_gb="${2:-30}"
free_gb="${3:-40}"
[ -d "$target" ] || exit 0

size_gb() { du -s --block-size=1G "$1" 2>/dev/null | cut -f1; }
free_now_gb() { df --output=avail --block-size=1G "$target" | tail -1 | tr -d ' '; }

used=$(size_gb "$target")
free=$(free_now_gb)
if [ "$used" -le "$budget_gb" ] && [ "$free" -ge "$free_gb" ]; then
  exit 0
fi
echo "trim-cache: $target holds ${used} GB (budget ${budget_gb}), disk has ${free} GB free (want ${free_gb}): removing incremental state and old test binaries" >&2
# Incremental state is the largest part and only speeds up rebuilding an edited crate.
find "$target" -maxdepth 3 -type d -name incremental -prune -exec rm -rf {} +
used=$(size_gb "$target")
free=$(free_now_gb)
if [ "$used" -gt "$budget_gb" ] || [ "$free" -lt "$free_gb" ]; then
  echo "trim-cache: still ${used} GB / ${free} GB free: removing the whole target dir" >&2
  rm -rf "$target"
fi
