#!/usr/bin/env bash
# Compile TypeScript (strict) and refresh the oclif manifest.
set -euo pipefail
cd "$(dirname "$0")/.."
# Drop compiled files whose source is gone (a deleted test or command must not keep running).
if [ -d dist ]; then
  node -e '
    const fs = require("fs"), path = require("path");
    const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
    for (const f of walk("dist")) {
      const m = /^dist\/(.*)\.js(\.map)?$/.exec(f);
      if (m && !fs.existsSync(m[1] + ".ts")) fs.rmSync(f);
    }'
fi
node node_modules/typescript/bin/tsc -p tsconfig.json
node scripts/bundle.mjs
node node_modules/oclif/bin/run.js manifest >/dev/null
