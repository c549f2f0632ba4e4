/**
 * The host processes' Node flags (src/host/cli-entry.ts HOST_NODE_FLAGS) reach every way a
 * worker starts: bin/run.js's shebang (`alluxio worker start` from a shell), hostCommand
 * (`local start`, `fuse mount --daemon`, the tests); a worker started without them logs a warning.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { HOST_NODE_FLAGS, hostCommand, missingHostFlags } from '../../src/host/cli-entry.js';
import { RUN } from '../helpers/cli.js';

describe('host Node flags', () => {
  it("bin/run.js's shebang carries exactly HOST_NODE_FLAGS, and runs as an executable", () => {
    const shebang = readFileSync(RUN, 'utf8').split('\n')[0]!;
    assert.equal(shebang, `#!/usr/bin/env -S node ${HOST_NODE_FLAGS.join(' ')}`);
    // (executed directly: env -S splits the line, node accepts the flags)
    const r = spawnSync(RUN, ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.execPath.replace(/\/node$/, '')}:${process.env.PATH}` } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /alluxio/i);
  });

  it('hostCommand puts the flags before the entry, and node accepts them', () => {
    const [cmd, args] = hostCommand(['--version'], RUN);
    assert.equal(cmd, process.execPath);
    assert.deepEqual(args, [...HOST_NODE_FLAGS, RUN, '--version']);
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('missingHostFlags names the flags a process lacks', () => {
    assert.deepEqual(missingHostFlags([...HOST_NODE_FLAGS, '--enable-source-maps']), []);
    assert.deepEqual(missingHostFlags([]), [...HOST_NODE_FLAGS]);
  });
});
