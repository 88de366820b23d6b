#!/usr/bin/env bash
# Installs every system package spyglass needs to build and test (idempotent),
# builds it, and runs a real one-liner on this kernel as a smoke test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PKGS=(llvm-19-dev libpolly-19-dev libelf-dev zlib1g-dev libzstd-dev pkg-config
      build-essential bpftool bpftrace python3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

[ "${SPYGLASS_SETUP_NO_BUILD:-}" = 1 ] && exit 0
cargo build --release --locked
# A real one-liner: compiled, loaded and attached on this kernel.
./target/release/spyglass -e 'tracepoint:syscalls:sys_enter_getpid { @calls = count(); } interval:ms:200 { exit(); }'
