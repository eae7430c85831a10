#!/usr/bin/env bash
# The committed win32 agent must be exactly what its source builds to (deterministic build).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp -d)/agent.exe"
bash runtime/backends/win32-agent/build.sh "$out"
if ! cmp -s "$out" runtime/backends/win32-agent/agent.exe; then
  echo "runtime/backends/win32-agent/agent.exe differs from a rebuild of agent.c: run npm run agent:build and commit it"
  exit 1
fi
echo "agent.exe matches its source"
