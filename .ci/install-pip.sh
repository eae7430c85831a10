#!/usr/bin/env bash
# Installs the PyPI packages the tests need (test/support/pip-packages.txt: LIEF, the second
# reference parser of runtime/pe/lief-diff.test.ts) for Debian's /usr/bin/python3, which is
# externally managed: `pip install --target` into a cache directory named after the pinned
# line, which the tests put on PYTHONPATH (test/support/tools.ts computes the same path).
# Binary wheels only; a no-op when already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${XDG_CACHE_HOME:-$HOME/.cache}/hotpatch/pip"
while read -r req; do
  [ -z "$req" ] && continue
  dir="$root/$req"
  if [ -f "$dir/.complete" ]; then echo "install-pip: $req present"; continue; fi
  rm -rf "$dir"
  /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --only-binary=:all: --target "$dir" "$req"
  touch "$dir/.complete"
  echo "install-pip: $req -> $dir"
done < test/support/pip-packages.txt
