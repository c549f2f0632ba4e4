#!/usr/bin/env node
// Development entry: rebuild (tsc, bundle, manifest) and run, so edits in src/ and commands/ show up at once.
'use strict';
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

execFileSync('bash', [join(__dirname, '..', 'scripts', 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
require('./run.js');
