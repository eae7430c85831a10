#!/usr/bin/env bash
# Makes the pinned wasm-pack and wasm-bindgen CLI available and prints the directory that
# holds them (build.sh puts it first on PATH). Installs them from crates.io with
# `cargo install --locked` when missing or at another version, once per machine (README:
# Build has the measured time).
#   bash runtime/pe-parser/tools.sh           -> /root/.cache/hotpatch/wasm-tools/bin
#   HOTPATCH_WASM_TOOLS=DIR bash .../tools.sh install root other than the default cache
# Why these versions: wasm-bindgen's CLI must equal the crate's wasm-bindgen dependency
# (Cargo.toml pins it with =), and wasm-pack uses a wasm-bindgen on PATH only at that exact
# version (otherwise it downloads one, which this build never lets it do). 0.2.129, not the
# newest: crates.io's index here lacks a dependency version 0.2.130's Cargo.lock names.
set -euo pipefail
WASM_PACK_VERSION=0.15.1
WASM_BINDGEN_VERSION=0.2.129
root="${HOTPATCH_WASM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/hotpatch/wasm-tools}"
bin="$root/bin"

has() { # has TOOL VERSION: the installed binary reports exactly that version
  [ -x "$bin/$1" ] && [ "$("$bin/$1" --version 2>/dev/null | awk '{print $2}')" = "$2" ]
}

install_tool() { # install_tool CRATE VERSION
  echo "tools.sh: installing $1 $2 into $root (cargo install --locked)" >&2
  local start=$SECONDS
  # Host build with Debian's toolchain (the same packages build.sh installs); -j 2 and nice
  # because CI machines here are small and shared.
  RUSTC=/usr/bin/rustc nice -n 10 /usr/bin/cargo install "$1" --version "$2" --locked --root "$root" -j "${CARGO_BUILD_JOBS:-2}" >&2
  echo "tools.sh: $1 $2 installed in $((SECONDS - start)) s" >&2
}

has wasm-bindgen "$WASM_BINDGEN_VERSION" || install_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
has wasm-pack "$WASM_PACK_VERSION" || install_tool wasm-pack "$WASM_PACK_VERSION"
echo "$bin"
