#!/usr/bin/env bash
# The committed pe-parser wasm must be what its source builds to. Rebuilds the crate from
# scratch in a temp dir and compares:
#  - same toolchain version as pkg/TOOLCHAIN: the .wasm must be byte-identical, else FAIL;
#  - another version: say so, put the rebuilt .wasm into pkg/ of this checkout (so the
#    tests run against what this source builds to) and pass.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=runtime/pe-parser/pkg
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PE_PARSER_OUT="$tmp/pkg" PE_PARSER_TARGET="$tmp/target" bash runtime/pe-parser/build.sh
if [ ! -f "$pkg/TOOLCHAIN" ] || [ ! -f "$pkg/pe_parser_bg.wasm" ]; then
  echo "check-wasm: $pkg has no committed pe_parser_bg.wasm/TOOLCHAIN; run npm run build:wasm and commit pkg/"
  exit 1
fi
if cmp -s "$tmp/pkg/TOOLCHAIN" "$pkg/TOOLCHAIN"; then
  if cmp -s "$tmp/pkg/pe_parser_bg.wasm" "$pkg/pe_parser_bg.wasm"; then
    echo "check-wasm: OK, committed pe_parser_bg.wasm ($(wc -c < "$pkg/pe_parser_bg.wasm") bytes) is the rebuild, byte for byte ($(head -1 "$pkg/TOOLCHAIN"))"
    exit 0
  fi
  echo "check-wasm: FAIL: $pkg/pe_parser_bg.wasm differs from a rebuild with the same toolchain ($(head -1 "$pkg/TOOLCHAIN"))."
  echo "check-wasm: run npm run build:wasm and commit runtime/pe-parser/pkg/"
  exit 1
fi
echo "check-wasm: toolchain differs: committed with '$(head -1 "$pkg/TOOLCHAIN")', this machine has '$(head -1 "$tmp/pkg/TOOLCHAIN")'."
echo "check-wasm: cannot compare bytes across versions; using the rebuilt wasm for the tests."
cp "$tmp/pkg/pe_parser_bg.wasm" "$pkg/pe_parser_bg.wasm"
exit 0
