#!/usr/bin/env bash
# Builds the pe-parser crate with wasm-pack (wasm-bindgen generates the JS glue and .d.ts)
# and refreshes pkg/, the committed artefact.
#   bash runtime/pe-parser/build.sh            build into runtime/pe-parser/pkg/
#   PE_PARSER_OUT=DIR bash .../build.sh        write the package into DIR instead
#   PE_PARSER_TARGET=DIR bash .../build.sh     cargo's target directory
# Toolchain: Debian's Rust (rustc-web, cargo-web, rust-web-src) with -Z build-std, since
# Debian ships no wasm32 std; the pinned wasm-pack and wasm-bindgen CLI from tools.sh. No
# linker needs naming: the target's default, rust-lld (package rust-web-llvm), is a symlink
# to lld-22's lld. The output is deterministic: no absolute paths (remapped), no debug
# info, one codegen unit, LTO.
set -euo pipefail
crate="$(cd "$(dirname "$0")" && pwd)"
out="${PE_PARSER_OUT:-$crate/pkg}"

need=()
# Debian 13+ has no rustc-web family: its own rustc is the equivalent (.ci/install-apt.sh).
major="$(cut -d. -f1 /etc/debian_version 2>/dev/null || true)"
if [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -le 12 ]; then
  toolchain=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22)
else
  toolchain=(rustc cargo rust-src rust-llvm lld-22)
fi
for p in "${toolchain[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "build.sh: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

tools="$(bash "$crate/tools.sh")"
# wasm-pack runs `cargo` and `rustc` from PATH: Debian's, ahead of any rustup proxy.
export PATH="$tools:/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
# Paths that could leak into panic locations or symbol names are remapped to fixed ones.
export RUSTFLAGS="--remap-path-prefix=$crate=/pe-parser --remap-path-prefix=/usr/lib/rustlib/src/rust=/rust --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
export CARGO_TARGET_DIR="${PE_PARSER_TARGET:-$crate/target}"

# --mode force: skip wasm-pack's checks that the wasm32 target's std is installed (it is
# not: -Z build-std builds it) and of the rustc version. wasm-bindgen comes from PATH at the
# crate's exact version, so nothing is downloaded; wasm-opt is off in Cargo.toml.
# --target web: an ES module that runs in Node, Deno, browsers and workers and is
# initialised from bytes, a Module or a URL (runtime/pe/wasm.ts); no `node:` import.
mkdir -p "$out"
wasm-pack --log-level warn build "$crate" --release --target web --mode force --no-gitignore \
  --out-dir "$out" --out-name pe_parser -- -Z build-std=core,alloc --locked

{ rustc --version; cargo --version; wasm-pack --version; wasm-bindgen --version; } > "$out/TOOLCHAIN"
echo "build.sh: $(wc -c < "$out/pe_parser_bg.wasm") bytes -> $out/pe_parser_bg.wasm ($(head -1 "$out/TOOLCHAIN"))"
