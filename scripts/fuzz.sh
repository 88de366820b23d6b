#!/usr/bin/env bash
# Coverage-guided fuzzing of the compiler with cargo-fuzz (libFuzzer, nightly toolchain).
#   ./scripts/fuzz.sh [SECONDS]   runs each target (parse, sema, codegen) for SECONDS (60)
#   ./scripts/fuzz.sh --ci        what .ci/run does: 30 s each
# Seeds are every .bt of the repository; the corpus grows in fuzz/corpus/TARGET. Any panic,
# abort, input slower than 5 s or over 2 GB of memory fails the run and leaves the input in
# fuzz/artifacts/TARGET/ (make it a regression test in tests/lang/fuzz/ before fixing it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/cargo-env.sh

secs=${1:-60}
[ "$secs" = --ci ] && secs=30

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz

# No sanitizer (the code under test is safe Rust and LLVM, which is not instrumented), but
# debug assertions, so arithmetic overflow is caught too.
flags=(-s none -a)
cargo +nightly fuzz build "${flags[@]}"

seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir "$seeds/bt"
git ls-files '*.bt' | while read -r f; do cp "$f" "$seeds/bt/$(echo "$f" | tr / _)"; done

log=$seeds/log
for t in parse sema codegen; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  echo "== fuzzing $t for ${secs}s"
  status=0
  cargo +nightly fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" "$seeds/bt" -- \
    -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY|thread .* panicked|Done)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    exit "$status"
  fi
done
