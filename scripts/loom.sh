#!/usr/bin/env bash
# Runs the loom models of every crate that has them, or (with --mutants)
# proves that each mutant listed in scripts/mutants/*.txt makes its model
# fail.
#
#   scripts/loom.sh            -> "N models passed", exit 1 if any fails
#   scripts/loom.sh --mutants  -> "M/M mutants caught", exit 1 if one survives
#
# Models build once, in release mode with debug assertions (--profile loom),
# with RUSTFLAGS=--cfg loom, into their own target directory so they never
# invalidate the normal build. One build serves every mutant: the mutant is
# chosen at run time by AIO_MUTANT, which only loom builds read.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-target/loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# Loom prints a lot on failure; mutants are expected to fail.
export LOOM_LOG="${LOOM_LOG:-}"

crates=()
for f in scripts/mutants/*.txt; do
  crates+=("$(basename "$f" .txt)")
done

# Build every model binary once and remember where it is.
declare -A bin
for c in "${crates[@]}"; do
  exe=$(cargo test -p "$c" --lib --profile loom --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m.get("profile",{}).get("test"):
        print(m["executable"])' | tail -n1)
  if [ -z "$exe" ]; then
    echo "loom.sh: could not build the loom models of $c:" >&2
    cargo test -p "$c" --lib --profile loom --no-run >&2 || true
    exit 1
  fi
  bin[$c]=$exe
done

if [ "${1:-}" != "--mutants" ]; then
  total=0; failed=0
  for c in "${crates[@]}"; do
    start=$(date +%s)
    out=$(AIO_MUTANT= "${bin[$c]}" --test-threads=2 loom_ 2>&1) || { echo "$out" | tail -n 40; failed=1; }
    n=$(echo "$out" | sed -n 's/^test result: .* \([0-9]*\) passed.*/\1/p' | tail -n1)
    echo "$c: ${n:-0} models passed in $(( $(date +%s) - start ))s"
    total=$((total + ${n:-0}))
  done
  echo "$total models passed"
  exit $failed
fi

caught=0; count=0; survivors=()
while read -r c model mutant; do
  case "$c" in ''|'#'*) continue;; esac
  count=$((count + 1))
  start=$(date +%s)
  if AIO_MUTANT="$mutant" timeout 900 "${bin[$c]}" --test-threads=1 "$model" >/tmp/loom-mutant.log 2>&1; then
    if ! grep -q "^test .*$model .* ok" /tmp/loom-mutant.log; then
      echo "loom.sh: $c has no model matching '$model'" >&2
      exit 1
    fi
    echo "SURVIVED  $c $model $mutant ($(( $(date +%s) - start ))s)"
    survivors+=("$c/$model/$mutant")
  elif ! grep -qE "^test .*$model .*FAILED|^deadlock;|Causality violation|loom-0\.7\.[0-9]+/src/rt/" /tmp/loom-mutant.log; then
    echo "ERROR     $c $model $mutant: the run failed without the model failing:" >&2
    tail -n 20 /tmp/loom-mutant.log >&2
    survivors+=("$c/$model/$mutant")
  else
    why=$(grep -m1 -oE "^deadlock|Causality violation|[Cc]oncurrent (read|write)[a-z ]*|assertion [^,]*|completed other than once|torn entry|out of order" /tmp/loom-mutant.log || true); why=${why%%$'\n'*}
    echo "caught    $c $model $mutant ($(( $(date +%s) - start ))s: ${why:-failed})"
    caught=$((caught + 1))
  fi
done < <(cat scripts/mutants/*.txt)
echo "$caught/$count mutants caught"
[ "$caught" -eq "$count" ]
