#!/usr/bin/env node
// The CLI: the bundle of oclif, our libraries and every command (scripts/bundle.mjs), loaded
// with V8's code cache (src/cli/compile-cache.ts).
import { fileURLToPath } from 'node:url';
import { requireWithCodeCache, runName } from '../dist/src/cli/compile-cache.js';

// oclif checks its own Node engine range on load (semver: ~50 modules); package.json's
// engines already says what this CLI needs.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1';
const cli = requireWithCodeCache(fileURLToPath(new URL('../dist/bundle/alluxio.cjs', import.meta.url)), runName(process.argv.slice(2)));
await cli.main(import.meta.url);
