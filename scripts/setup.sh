#!/usr/bin/env bash
# Installs every system package spyglass needs to build and test (idempotent),
# builds it, and runs a real one-liner on this kernel as a smoke test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PKGS=(llvm-19-dev libpolly-19-dev libelf-dev zlib1g-dev libzstd-dev pkg-config
      build-essential bpftool bpftrace strace python3 git curl ca-certificates
      systemtap-sdt-dev prometheus)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# A Rust toolchain, from rustup when the machine has none (Debian's rustc is too old).
. scripts/cargo-env.sh
if ! command -v cargo >/dev/null 2>&1; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  . scripts/cargo-env.sh
fi

[ "${SPYGLASS_SETUP_NO_BUILD:-}" = 1 ] && exit 0
cargo build --release --locked
# A real one-liner: compiled, loaded and attached on this kernel.
./target/release/spyglass -e 'tracepoint:raw_syscalls:sys_enter { @syscalls[comm] = count(); } interval:ms:200 { exit(); }'
