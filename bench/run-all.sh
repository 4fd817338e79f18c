#!/usr/bin/env bash
# Runs every benchmark against the release build and prints medians and ratios.
set -euo pipefail
cd "$(dirname "$0")"
for b in startup throughput followers paging export push rebase cache latency logs dockerfile edit-loop; do
  python3 "$b.py"
  # The push of text, which compresses (the random app's does not), against the same target.
  if [ "$b" = push ]; then DATA=text python3 push.py; fi
done
