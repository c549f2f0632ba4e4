#!/usr/bin/env node
// Development entry: rebuild (tsc, bundle, manifest) and run, so edits in src/ and commands/ show up at once.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync('bash', [join(root, 'scripts/build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
await import('./run.js');
