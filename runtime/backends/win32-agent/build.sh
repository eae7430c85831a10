#!/usr/bin/env bash
# Builds the win32 agent deterministically: same source + same mingw-w64 -> same agent.exe,
# whatever the checkout path (the compile runs on a relative file name, the PE timestamp is
# left out, symbols are stripped). Usage: build.sh [OUT]   (default: agent.exe next to this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/agent.exe}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
cd "$here"
x86_64-w64-mingw32-gcc -std=c11 -O2 -Wall -Wextra -Werror -s \
  -ffile-prefix-map="$here"=. -fno-ident \
  -Wl,--no-insert-timestamp -Wl,--build-id=none \
  -o "$out" agent.c -lsynchronization
