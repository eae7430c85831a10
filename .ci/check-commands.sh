#!/usr/bin/env bash
# Every external command the project runs must resolve: reads .ci/commands.tsv (command,
# Debian package, why, optional probe), prints each with its package, and fails naming
# every missing command and the package that provides it. .ci/run runs it right after
# .ci/install-apt.sh, so a package the install step forgot fails CI in its first minute
# instead of as skips or odd failures deep in the tests.
set -uo pipefail
cd "$(dirname "$0")/.."
missing=0
while IFS=$'\t' read -r cmd pkg why probe; do
  case "$cmd" in '' | '#'*) continue ;; esac
  if ! path=$(command -v "$cmd"); then
    printf 'MISSING  %-28s apt package: %s  (%s)\n' "$cmd" "$pkg" "$why"
    missing=$((missing + 1))
  elif [ -n "${probe:-}" ] && ! bash -c "$probe" > /dev/null 2>&1; then
    printf 'MISSING  %-28s apt package: %s  (%s): `%s` fails\n' "$cmd" "$pkg" "$why" "$probe"
    missing=$((missing + 1))
  else
    printf 'ok       %-28s %-36s %s\n' "$cmd" "$pkg" "$path"
  fi
done < .ci/commands.tsv
if [ "$missing" -gt 0 ]; then
  echo "check-commands: $missing command(s) missing: add their packages to .ci/install-apt.sh"
  exit 1
fi
echo "check-commands: every command in .ci/commands.tsv resolves"
