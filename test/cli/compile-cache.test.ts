/**
 * The code-cache loader of the bundled CLI (src/cli/compile-cache.ts), in child processes
 * as the CLI uses it: the cache is written on the first run of each command and accepted
 * after; a stale, corrupt or unwritable cache costs a normal compile, never a failure.
 * And the real CLI: its bundle, its stubs and `alluxio help`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, runCli } from '../helpers/cli.js';
import { runName } from '../../src/cli/compile-cache.js';

const LOADER = pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'compile-cache.js')).href;

/** Load `bundle` through the loader in a child process (node `flags`), as run `run`; what the module computed. */
function load(bundle: string, run: string, flags: string[] = []): { out: string; err: string } {
  const runner = join(dirname(bundle), 'runner.mjs');
  writeFileSync(runner, `import { requireWithCodeCache } from ${JSON.stringify(LOADER)};\nconsole.log(requireWithCodeCache(process.argv[2], process.argv[3]).answer());\n`);
  const r = spawnSync(process.execPath, [...flags, runner, bundle, run], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  return { out: r.stdout.trim(), err: r.stderr };
}

/** The cache files beside `bundle` (one per Node version and flag set). */
function caches(bundle: string): string[] {
  return readdirSync(dirname(bundle))
    .filter((f) => f.endsWith('.v8cache'))
    .map((f) => join(dirname(bundle), f));
}

describe('compile cache', () => {
  it('is written by the first run of each command, then read; stale, corrupt or unwritable caches only cost a compile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alluxio-ccache-'));
    try {
      const bundle = join(dir, 'b.cjs');
      // A module with a function big enough to be worth caching; it uses require and __dirname like the bundle.
      writeFileSync(bundle, `const path = require('node:path');\nexports.answer = () => [${Array.from({ length: 200 }, (_, i) => i).join(',')}].reduce((a, b) => a + b, 0) + ':' + path.basename(__dirname);\n`);
      const expected = `19900:${dir.split('/').pop()}`;
      assert.equal(load(bundle, 'mount list').out, expected);
      assert.equal(caches(bundle).length, 1);
      const cache = caches(bundle)[0]!;
      const list = (file = cache) => {
        const b = readFileSync(file);
        assert.equal(b.toString('latin1', 0, 4), 'AXC1');
        return JSON.parse(b.toString('utf8', 8, 8 + b.readUInt32BE(4))) as string[];
      };
      assert.deepEqual(list(), ['mount list']);
      const written = statSync(cache).mtimeMs;
      // The same command again: read, not written.
      assert.equal(load(bundle, 'mount list').out, expected);
      assert.equal(statSync(cache).mtimeMs, written);
      // Another command: the cache grows to cover it.
      assert.equal(load(bundle, 'worker list').out, expected);
      assert.deepEqual(list(), ['mount list', 'worker list']);

      // Other V8 flags: a cache of their own, and the first one is left alone.
      const grown = statSync(cache).mtimeMs;
      assert.equal(load(bundle, 'mount list', ['--max-old-space-size=300']).out, expected);
      assert.equal(caches(bundle).length, 2);
      assert.equal(load(bundle, 'mount list').out, expected);
      assert.equal(statSync(cache).mtimeMs, grown);
      for (const c of caches(bundle)) if (c !== cache) rmSync(c);

      // A bundle replaced by another of the SAME length, its mtime kept (a deploy with
      // rsync -a): V8 would accept the old bytecode, but the cache is named by the bundle's
      // identity (ctime changed), so the new code runs and gets a cache of its own.
      const { mtime } = statSync(bundle);
      const source = readFileSync(bundle, 'utf8');
      const changed = source.replace('reduce((a, b) => a + b, 0)', 'reduce((a, b) => a - b, 0)');
      assert.equal(changed.length, source.length);
      writeFileSync(bundle, changed);
      utimesSync(bundle, mtime, mtime);
      assert.equal(load(bundle, 'mount list').out, `-19900:${dir.split('/').pop()}`);
      const fresh = caches(bundle).find((c) => c !== cache)!;
      assert.deepEqual(list(fresh), ['mount list']);
      rmSync(cache);

      // A corrupt cache (no header, then a header over garbage): a normal compile, the module
      // runs, and the cache is written again.
      for (const garbage of [Buffer.alloc(4096, 7), Buffer.concat([Buffer.from('AXC1'), Buffer.from([0, 0, 0, 2]), Buffer.from('[]'), Buffer.alloc(4096, 9)])]) {
        writeFileSync(fresh, garbage);
        const r = load(bundle, 'mount list');
        assert.equal(r.out, `-19900:${dir.split('/').pop()}`);
        assert.equal(r.err, '');
        assert.deepEqual(list(fresh), ['mount list']);
      }

      // A read-only directory (an installed package): runs, writes nothing, says nothing.
      rmSync(fresh);
      rmSync(join(dir, 'runner.mjs'));
      load(bundle, 'warm'); // writes runner.mjs (and a cache) while the directory is writable
      for (const c of caches(bundle)) rmSync(c);
      chmodSync(dir, 0o555);
      try {
        if (process.getuid?.() !== 0) {
          const ro = load(bundle, 'mount list');
          assert.equal(ro.out, expected);
          assert.equal(ro.err, '');
        }
      } finally {
        chmodSync(dir, 0o755);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a run by its command words only', () => {
    assert.equal(runName(['mount', 'list', '--json']), 'mount list');
    assert.equal(runName(['resolve', '/model/latest/x']), 'resolve');
    assert.equal(runName(['history', 'show', '12']), 'history show');
    assert.equal(runName(['path-mapping', 'test', '/a']), 'path-mapping test');
    assert.equal(runName(['--version']), '--version');
    assert.equal(runName([]), '');
  });

  it('the bundled CLI: help, a command through its stub, and the cache beside the bundle', async () => {
    const help = await runCli(['help', 'mount', 'add']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Mount a UFS URI at a top-level Alluxio path/);
    assert.match(help.stdout, /--ufs-uri/);
    const usage = await runCli(['mount', 'add', '--path', '/x']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /ufs-uri/);
    assert.ok(caches(join(ROOT, 'dist', 'bundle', 'alluxio.cjs')).some((c) => statSync(c).size > 0));
  });
});
