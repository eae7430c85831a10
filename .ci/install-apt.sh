#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, only those missing.
# Installed with --no-install-recommends, so every package whose *command* a script or test
# runs is named here itself (wine64 only recommends wine, rustc-web only recommends
# rust-web-llvm). .ci/check-commands.sh then proves each command resolves.
set -euo pipefail
pkgs=(
  rustc-web cargo-web rust-web-src rust-web-llvm lld-22   # pe-parser -> wasm32 (rust-lld)
  gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64               # samples, win32 agent
  clang-22                                                # second compiler for the samples
  wine wine64                                             # `wine` runs them
  python3-pefile                                          # reference parser for differential tests
  bsdiff xdelta3 zstd                                     # size baselines
  protobuf-compiler                                       # protoc: interop check of the package format (formats/interop.test.ts)
  ca-certificates git                                     # npm pack of the real corpus, clean clones in tests
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
