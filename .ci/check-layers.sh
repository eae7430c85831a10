#!/usr/bin/env bash
# Import layers (.dependency-cruiser.cjs): compiler stages import only earlier stages, no
# import cycles, no library or build code (samples/) importing a test helper. Fails with the offending imports.
set -euo pipefail
cd "$(dirname "$0")/.."
npx depcruise --config .dependency-cruiser.cjs compiler runtime formats common cli samples
