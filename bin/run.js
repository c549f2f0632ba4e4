#!/usr/bin/env -S node --initial-old-space-size=128
// The shebang's flags are HOST_NODE_FLAGS (src/host/cli-entry.ts), for `alluxio worker start`
// run from a shell; whoever runs `node bin/run.js` for a host process passes them itself.
// The CLI: the bundle of oclif, our libraries and every command (scripts/bundle.mjs), loaded
// with V8's code cache (src/cli/compile-cache.ts, bundled as dist/bundle/boot.cjs). CommonJS
// (bin/package.json): an ES module entry would start Node's ES module loader for nothing.
'use strict';
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { requireWithCodeCache, runName } = require('../dist/bundle/boot.cjs');

// oclif checks its own Node engine range on load (semver: ~50 modules); package.json's
// engines already says what this CLI needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1';
const bundle = join(__dirname, '..', 'dist', 'bundle', 'alluxio.cjs');
const cli = requireWithCodeCache(bundle, runName(process.argv.slice(2)));
// oclif finds package.json by walking up from the bundle (not from bin/, which has its own).
cli.main(pathToFileURL(bundle).href).catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
