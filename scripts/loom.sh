#!/usr/bin/env bash
# Runs the loom models of every crate that has them, or (with --mutants)
# proves that each mutant listed in scripts/mutants/*.txt makes its model
# fail in the way the list (and aio_core::sync::Mutant) expects.
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
# Each line: crate, model (test-name filter), mutant (AIO_MUTANT value),
# expected failure (aio_core::sync::Expect): deadlock | causality | race |
# panic:<the assertion's text>. A mutant counts as caught only if its model
# fails with that kind; any other failure (a panic inside loom's runtime,
# another assertion, a crash) is reported as WRONG and counts as a survivor.
#
# The first panic message of the run decides the kind: loom stops at the
# first failing execution, and whatever follows is a consequence of it. (For
# six mutants, ring-no-recheck, available-no-gen-check, delivered-unstamped,
# pool-sleep-unlocked, pool-confirm-on-drain and dispatch-no-notify, the
# deadlock or assertion is followed by a second panic from a loom object
# dropped while unwinding, and the test binary aborts with "panic in a
# destructor during cleanup" instead of printing FAILED; the first panic is
# still the model's verdict, so it is judged the same way, once the log
# shows the model started.)
first_panic() { # the message of the first panic in log $1
  awk '/ panicked at /{p=1; next} p{print; exit}' "$1"
}
kind_of() { # the failure kind of message $1
  case "$1" in
    "deadlock; threads"*) echo deadlock ;;
    "Causality violation: Concurrent read and write accesses"*|"Causality violation: Concurrent write accesses"*) echo race ;;
    "Causality violation"*) echo causality ;;
    *) echo "panic:$1" ;;
  esac
}
log=/tmp/loom-mutant.$$.log
while read -r c model mutant expect; do
  case "$c" in ''|'#'*) continue;; esac
  count=$((count + 1))
  if [ -z "$expect" ]; then
    echo "loom.sh: $c $mutant has no expected failure kind in scripts/mutants/$c.txt" >&2
    exit 1
  fi
  start=$(date +%s)
  if AIO_MUTANT="$mutant" timeout 900 "${bin[$c]}" --test-threads=1 "$model" >"$log" 2>&1; then
    if ! grep -q "^test .*$model .* ok" "$log"; then
      echo "loom.sh: $c has no model matching '$model'" >&2
      exit 1
    fi
    echo "SURVIVED  $c $model $mutant ($(( $(date +%s) - start ))s)"
    survivors+=("$c/$model/$mutant")
    continue
  fi
  secs=$(( $(date +%s) - start ))
  if ! grep -q "^test .*$model" "$log"; then
    echo "ERROR     $c $model $mutant: the run failed before the model ran:" >&2
    tail -n 20 "$log" >&2
    survivors+=("$c/$model/$mutant")
    continue
  fi
  msg=$(first_panic "$log")
  got=$(kind_of "$msg")
  case "$expect" in
    panic:*)
      # The model's own assertion: the text matches and the panic is not
      # raised inside loom's runtime.
      ok=0
      if [[ "$got" == panic:* ]] && grep -qF -- "${expect#panic:}" <<<"$msg" \
        && ! grep -m1 ' panicked at ' "$log" | grep -q '/loom-0\.[0-9.]*/src/'; then ok=1; fi ;;
    deadlock|causality|race)
      if [ "$got" = "$expect" ]; then ok=1; else ok=0; fi ;;
    *) echo "loom.sh: $c $mutant: unknown expected kind '$expect'" >&2; exit 1 ;;
  esac
  if [ "$ok" = 1 ]; then
    echo "caught    $c $model $mutant (${secs}s: $expect)"
    caught=$((caught + 1))
  else
    echo "WRONG     $c $model $mutant (${secs}s: expected $expect, got ${got:-no panic})"
    tail -n 20 "$log" >&2
    survivors+=("$c/$model/$mutant")
  fi
done < <(cat scripts/mutants/*.txt)
rm -f "$log"
echo "$caught/$count mutants caught"
[ "$caught" -eq "$count" ]
