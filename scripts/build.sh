#!/usr/bin/env bash
# Compile TypeScript (strict) and refresh the oclif manifest.
set -euo pipefail
cd "$(dirname "$0")/.."
node node_modules/typescript/bin/tsc -p tsconfig.json
node node_modules/oclif/bin/run.js manifest >/dev/null
