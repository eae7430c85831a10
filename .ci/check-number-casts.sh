#!/usr/bin/env bash
# Typed addresses in the compiler (issue #13): no `as number` cast in compiler/, tests
# included (scripts/number-casts.ts names any, with file and line).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent check:casts
