#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (default 30 s each) and
# prints the executions per target. Needs the nightly toolchain and
# cargo-fuzz (.ci/run installs it). A crash fails the script and leaves the
# input under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-30}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: needs 'cargo +nightly fuzz' (cargo install cargo-fuzz --locked)" >&2
  exit 1
fi
for t in $(cargo +nightly fuzz list); do
  log=$(mktemp)
  if ! cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz.sh: $t failed" >&2
    exit 1
  fi
  runs=$(grep -oE "Done [0-9]+ runs in [0-9]+ second" "$log" | tail -n1)
  echo "fuzz $t: ${runs:-?}, no crash"
  rm -f "$log"
done
