#!/usr/bin/env bash
# Runs every benchmark against the release build and prints medians and ratios.
set -euo pipefail
cd "$(dirname "$0")"
for b in startup throughput followers paging export push rebase cache latency logs dockerfile edit-loop; do
  python3 "$b.py"
done
