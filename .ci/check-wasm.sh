#!/usr/bin/env bash
# The committed pe-parser package must be what its source builds to. Rebuilds it from
# scratch with wasm-pack (runtime/pe-parser/build.sh) in a temp dir and compares every file
# wasm-pack writes (the .wasm, the wasm-bindgen JS glue and .d.ts files, package.json):
#  - same toolchain as pkg/TOOLCHAIN (rustc, cargo, wasm-pack, wasm-bindgen): each file must
#    be byte-identical, else FAIL;
#  - another toolchain: say so, put the rebuilt package into pkg/ of this checkout (so the
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
built="$(cd "$tmp/pkg" && find . -type f | sort)"
committed="$(cd "$pkg" && find . -type f | sort)"
if cmp -s "$tmp/pkg/TOOLCHAIN" "$pkg/TOOLCHAIN"; then
  if [ "$built" != "$committed" ]; then
    echo "check-wasm: FAIL: $pkg holds other files than wasm-pack writes:"
    diff <(echo "$committed") <(echo "$built") || true
    exit 1
  fi
  bad=0
  for f in $built; do
    cmp -s "$tmp/pkg/$f" "$pkg/$f" || { echo "check-wasm: FAIL: $pkg/${f#./} differs from a rebuild with the same toolchain"; bad=1; }
  done
  if [ $bad -eq 0 ]; then
    echo "check-wasm: OK, the committed package ($(echo $built | wc -w) files, pe_parser_bg.wasm $(wc -c < "$pkg/pe_parser_bg.wasm") bytes) is the rebuild, byte for byte ($(head -1 "$pkg/TOOLCHAIN" | cut -d' ' -f1-2), $(sed -n 3p "$pkg/TOOLCHAIN"), $(sed -n 4p "$pkg/TOOLCHAIN"))"
    exit 0
  fi
  echo "check-wasm: run npm run build:wasm and commit runtime/pe-parser/pkg/"
  exit 1
fi
echo "check-wasm: toolchain differs: committed with '$(tr '\n' ';' < "$pkg/TOOLCHAIN")', this machine has '$(tr '\n' ';' < "$tmp/pkg/TOOLCHAIN")'."
echo "check-wasm: cannot compare bytes across versions; using the rebuilt package for the tests."
rm -rf "${pkg:?}"/*
cp -r "$tmp/pkg/." "$pkg/"
exit 0
