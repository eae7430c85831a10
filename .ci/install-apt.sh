#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, only those missing.
# Installed with --no-install-recommends, so every package whose *command* a script or test
# runs is named here itself (wine64 only recommends wine, rustc-web only recommends
# rust-web-llvm). .ci/check-commands.sh then proves each command resolves (.ci/commands.tsv
# lists the commands and their packages).
#
# Debian 12 and 13 differ only in the Rust toolchain for the wasm32 pe-parser:
#  - 12 (bookworm): its rustc (1.63) is too old; the rustc-web family (rustc-web, cargo-web,
#    rust-web-src, rust-web-llvm for rust-lld; Rust 1.8x+) is the newer Rust Debian keeps
#    for Firefox ESR. Same /usr/bin/rustc and /usr/bin/cargo paths.
#  - 13 (trixie) and later: the rustc-web family is gone; Debian's own rustc is recent, and
#    rustc, cargo, rust-src, rust-llvm (rust-lld) and libstd-rust-dev-wasm32 (the prebuilt
#    wasm32 std) are the equivalent.
# The branch is on the major version in /etc/debian_version ("12.11", "13.2", or a codename
# like "trixie/sid" on testing, which counts as 13+).
set -euo pipefail
debian_major="$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo 0)"
case "$debian_major" in
  '' | *[!0-9]*) debian_major=99 ;;
esac
if [ "$debian_major" -le 12 ]; then
  rust=(rustc-web cargo-web rust-web-src rust-web-llvm)
else
  rust=(rustc cargo rust-src rust-llvm libstd-rust-dev-wasm32)
fi
pkgs=(
  "${rust[@]}" lld-22                                     # pe-parser -> wasm32 (rust-lld)
  gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64               # samples, win32 agent
  clang-22                                                # second compiler for the samples
  wine wine64                                             # `wine` runs them
  python3-pefile python3-pip                              # reference parsers for differential tests (pefile; pip installs LIEF)
  bsdiff xdelta3 zstd                                     # size baselines
  protobuf-compiler                                       # protoc: interop check of the package format (formats/interop.test.ts)
  ca-certificates git                                     # npm pack of the real corpus, clean clones in tests
  openssl                                                 # PEM interop test of hotpatch keygen
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all present: ${pkgs[*]}"
fi
