#!/usr/bin/env bash
# Every test of the project, in the order a reviewer would want them to fail:
# formatting, lints, the test suites of every crate (unit, integration, doc,
# C), then the loom models and the proof that each mutant is caught.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "scripts/imports.py --check (no import cycle between the files of a crate)"
python3 scripts/imports.py --check >/dev/null || { python3 scripts/imports.py; exit 1; }

step "cargo doc (rustdoc warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
# The protocol narrations are the docs of private modules: only a build
# with private items checks their intra-doc links to the code they narrate.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --quiet

step "cargo test --workspace"
# Refresh target/debug/libaio_posix.so first: cargo puts target/debug on
# the tests' LD_LIBRARY_PATH, so the linked C tests load that copy.
cargo build -p aio-posix-cabi --quiet
cargo test --workspace --no-fail-fast 2>&1 | tee target/test.log
# Sum up every test binary's result line into one closing line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "cargo test: %d passed, %d failed\n", p, f }' target/test.log

step "scripts/fallback.sh (the C tests with io_uring refused by seccomp)"
scripts/fallback.sh

step "scripts/loom.sh"
scripts/loom.sh

step "scripts/loom.sh --mutants"
scripts/loom.sh --mutants

step "scripts/fuzz.sh (bounded)"
scripts/fuzz.sh "${AIO_FUZZ_SECS:-30}"
