#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the language snapshot suite, and the runtime
# tests that load and attach real BPF programs (needs root, like spyglass itself).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SPYGLASS_SETUP_NO_BUILD=1 ./scripts/setup.sh >/dev/null
. scripts/cargo-env.sh
# Snapshots are reviewed, never written by a test run.
export INSTA_UPDATE=no
# The runtime tests also run `spyglass-run`, a binary of the runtime crate that `cargo
# test` does not build.
cargo build --release --locked --workspace --bins
cargo test --release --locked -- --test-threads=2
