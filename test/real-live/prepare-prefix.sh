#!/usr/bin/env bash
# Prepares a Wine prefix for the real-process proving ground, once: creates it (wineboot)
# when it does not exist, and installs the bcryptprimitives.dll shim (shim/, built here with
# mingw-w64) into its system32, because Wine 8 lacks the DLL that Rust- and Go-built
# binaries import ProcessPrng from. Idempotent: a prefix already holding the same shim is
# left alone. Usage: WINEPREFIX=DIR prepare-prefix.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${WINEPREFIX:?set WINEPREFIX}"
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ] && [ ! -f "$WINEPREFIX/.hotpatch-prefix-ready" ]; then
  mkdir -p "$WINEPREFIX"
  wineboot -i >/dev/null 2>&1
  touch "$WINEPREFIX/.hotpatch-prefix-ready"
fi
sys32="$WINEPREFIX/drive_c/windows/system32"
mkdir -p "$sys32"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$here/shim"
x86_64-w64-mingw32-gcc -std=c11 -O2 -Wall -Wextra -Werror -s -shared -fno-ident \
  -nostartfiles -Wl,--entry=DllMain -Wl,--no-insert-timestamp -Wl,--build-id=none \
  -o "$tmp/bcryptprimitives.dll" bcryptprimitives.c -ladvapi32
if ! cmp -s "$tmp/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"; then
  # Copy then rename: a process of the prefix may be loading the old copy right now.
  cp "$tmp/bcryptprimitives.dll" "$sys32/.bcryptprimitives.dll.new"
  mv -f "$sys32/.bcryptprimitives.dll.new" "$sys32/bcryptprimitives.dll"
fi
