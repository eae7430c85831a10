#!/usr/bin/env bash
# The real-PE corpus (samples/real/manifest.json) must be reachable and match its sha256s.
# Fetching it here, once, before the tests also spares parallel test files from each
# downloading it on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
node bin/run-ts.js samples/real/fetch.ts
