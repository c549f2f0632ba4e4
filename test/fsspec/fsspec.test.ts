/**
 * The Python `alluxiofs` package (python/) under Debian's /usr/bin/python3 (fsspec 2022.11,
 * pandas 1.5) against a real worker process and a real etcd. Each test case runs one
 * scenario of python/tests/scenarios.py, which asserts what it checks and prints facts
 * that are checked here too.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RUN } from '../helpers/cli.js';
import { scenario, startFsEnv, workerHosts, type FsEnv } from './env.js';

let env: FsEnv;
let pyEnv: Record<string, string>;

before(async () => {
  env = await startFsEnv();
  pyEnv = {
    WORKER_HOSTS: workerHosts(env.workers),
    DATA_DIR: env.data,
    RO_DIR: env.ro,
    OUTSIDE_DIR: env.outside,
    ALLUXIO_CLI: `${process.execPath} ${RUN}`,
    ALLUXIO_ETCD_ENDPOINTS: env.etcd.endpoint,
    ALLUXIO_CLUSTER: 'default',
    NO_COLOR: '1',
  };
});

after(async () => {
  await env?.destroy();
});

test('pandas reads a CSV through fs.open(file://...), alluxio:/// and an alluxiofs:// URL', async () => {
  const r = await scenario('pandas_csv', pyEnv);
  assert.equal(r.rows, 5000);
  assert.deepEqual(r.columns, ['id', 'name', 'score']);
  assert.equal(r.score_sum, (4999 * 5000) / 2 / 2);
});

test('cat_file with offsets from the end of a file that changes between its info and its read: the end of one version', async () => {
  // (the fsspec probe of 2026-12-02: "the last 100 bytes" of a file grown from 1000 to 5000
  // bytes came back as 4100 bytes, of one shrunk to 1000 as b'', with no error)
  const r = await scenario('tail_ranges', pyEnv);
  assert.deepEqual(r.lengths, [100, 100]);
});

test('checksum and ukey change with the file, not with a config change elsewhere', async () => {
  // (the fsspec probe of 2026-12-02: they hashed the config revision of the answer)
  const r = await scenario('version_keys', pyEnv);
  assert.equal(r.stable, true);
});

test('find, glob, du and walk of a mount whose UFS cannot list raise, not answer an empty tree', async () => {
  // (the fsspec probe of 2026-12-02: with credentials the UFS refused they answered [] and
  // pyarrow read 0 rows, because fsspec's walk omits every listing error)
  const r = await scenario('listing_errors', pyEnv);
  assert.deepEqual(Object.keys(r.raised).sort(), ['du', 'find', 'glob', 'walk']);
});

test('ranged reads and seeks return the right bytes (cat_file ranges, open rb with seek, block sizes)', async () => {
  const r = await scenario('ranges', pyEnv);
  assert.equal(r.size, 3 * 1024 * 1024 + 17);
  assert.ok(r.checked > 1000);
});

test('the same ranged reads and seeks over HTTP (short-circuit off: ALLUXIO_SHORT_CIRCUIT=0)', async () => {
  const r = await scenario('ranges', { ...pyEnv, ALLUXIO_SHORT_CIRCUIT: '0' });
  assert.equal(r.size, 3 * 1024 * 1024 + 17);
  assert.ok(r.checked > 1000);
});

test('binary lines (readline, iteration): the lines of the file, one fetch per block, not per line; short-circuit on and off', async () => {
  for (const env of [pyEnv, { ...pyEnv, ALLUXIO_SHORT_CIRCUIT: '0' }]) {
    const r = await scenario('lines', env);
    assert.equal(r['small.jsonl'].lines, 5000);
    assert.ok(r['small.jsonl'].fetched < 10 * 1024 * 1024, JSON.stringify(r));
  }
});

test('ls (detail and names), info, exists, isdir/isfile, find, glob, walk, du on both path forms', async () => {
  const r = await scenario('listing', pyEnv);
  assert.deepEqual(r, { file: 5, alluxio: 5 });
});

test('a rewrite rule added between two calls applies to the next call (no restart)', async () => {
  const r = await scenario('rule_hot', pyEnv);
  assert.match(r.before, /No such file|no such file/i);
  assert.ok(r.rev2 > r.rev1);
});

test('writes on a writable mount: open wb (multi-block), pipe, text mode, mkdir/makedirs, rm, rm -r', async () => {
  const r = await scenario('writes', pyEnv);
  assert.equal(r.written, 5 * 1024 * 1024 + 3);
});

test('a read-only mount refuses writes with PermissionError carrying the worker message', async () => {
  const r = await scenario('readonly', pyEnv);
  assert.deepEqual(r.codes, ['ReadOnlyMount', 'ReadOnlyMount', 'ReadOnlyMount', 'ReadOnlyMount']);
  for (const m of r.messages) assert.match(m, /\/ro is mounted read-only/);
  assert.equal(readFileSync(join(env.ro, 'readme.txt'), 'utf8'), 'read only');
});

test('errors map to FileNotFoundError, IsADirectoryError, NotADirectoryError with the worker message', async () => {
  const r = await scenario('errors', pyEnv);
  assert.match(r.messages[3], /no mount covers file:\/\/\/etc\/passwd/);
  assert.match(r.messages[4], /is a directory/);
});

test('paths that try to escape a mount (.., .) fail; %2e%2e and %2F are literal names inside it; nothing reaches outside', async () => {
  const r = await scenario('escape', pyEnv);
  assert.equal(r.attempts, 7);
  assert.equal(r.invalid, 7 * 4, JSON.stringify(r));
  assert.equal(readFileSync(join(env.outside, 'secret'), 'utf8'), 'top secret');
});

test('forked processes and pickled filesystems read correctly (no shared keep-alive sockets)', async () => {
  const r = await scenario('processes', pyEnv);
  assert.deepEqual(r, { forked_reads: 24, pickled_reads: 8 });
});
