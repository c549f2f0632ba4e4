#!/usr/bin/env node
// Development entry: recompile (incremental) and run, so edits in src/ and commands/ show up at once.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { execute } from '@oclif/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
await execute({ development: true, dir: import.meta.url });
