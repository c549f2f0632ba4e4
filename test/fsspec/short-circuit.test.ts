/**
 * Short-circuit local reads (docs/rest-api.md): the Python client on the worker's host
 * reads files of file:// mounts from the local file system after the worker resolved
 * them, with a real worker process, a real etcd and Debian's /usr/bin/python3. Whether
 * bytes went over HTTP is read from the worker's own /metrics (see short_circuit.py).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { commit, python, startFsEnv, workerHosts, type FsEnv } from './env.js';

const SCRIPT = join(ROOT, 'test', 'fsspec', 'short_circuit.py');

let env: FsEnv;
let pyEnv: Record<string, string>;

async function run(name: string, extraArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<any> {
  const r = await python([SCRIPT, name, ...extraArgs], { ...pyEnv, ...extraEnv });
  if (r.code !== 0) throw new Error(`short_circuit.py ${name} failed (exit ${r.code}):\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.json();
}

before(async () => {
  env = await startFsEnv();
  pyEnv = { WORKER_HOSTS: workerHosts(env.workers), DATA_DIR: env.data, RO_DIR: env.ro, ALLUXIO_SHORT_CIRCUIT: '' };
});

after(async () => {
  await env?.destroy();
});

test('on the worker host reads are short-circuited: right bytes, same seek/range semantics, no GET reaches the worker', async () => {
  const r = await run('local_reads');
  assert.equal(r.flags.length, 8);
  assert.ok(r.flags.every((f: boolean) => f === true));
  assert.equal(r.httpGets, 0);
  assert.ok(r.infoCalls > 0);
  assert.ok(r.stats.opens >= 10 && r.stats.ranges >= 20, JSON.stringify(r.stats));
  assert.equal(r.stats.fallbacks, 0);
});

test('short_circuit=False reads over HTTP (the worker answers the ranged GETs)', async () => {
  const r = await run('http_reads', ['arg']);
  assert.ok(r.flags.every((f: boolean) => f === false));
  assert.ok(r.httpGets > 0);
});

test('ALLUXIO_SHORT_CIRCUIT=0 turns short-circuit off', async () => {
  const r = await run('http_reads', ['env'], { ALLUXIO_SHORT_CIRCUIT: '0' });
  assert.ok(r.flags.every((f: boolean) => f === false));
  assert.ok(r.httpGets > 0);
});

test('a rewrite rule applies: the short-circuited file is the rule target', async () => {
  mkdirSync(join(env.data, 'scm', 'v2'), { recursive: true });
  mkdirSync(join(env.data, 'scm', 'latest'), { recursive: true });
  writeFileSync(join(env.data, 'scm', 'v2', 'w.bin'), 'v2 weights');
  writeFileSync(join(env.data, 'scm', 'latest', 'w.bin'), 'decoy, hidden by the rule');
  await commit(env, ['path-mapping', 'add', '--id', 'scm-latest', '--from', '/data/scm/latest', '--to', '/data/scm/v2']);
  const r = await run('rule');
  assert.equal(r.localPath, realpathSync(join(env.data, 'scm', 'v2', 'w.bin')));
  assert.deepEqual(Object.values(r.read), ['v2 weights', 'v2 weights']);
  assert.ok(r.stats.opens >= 2 && r.stats.ranges >= 3, JSON.stringify(r.stats));
});

test('a read-only mount: reads short-circuit, writes still go to the worker and are refused', async () => {
  const r = await run('readonly');
  assert.deepEqual(r.codes, ['ReadOnlyMount', 'ReadOnlyMount']);
  for (const m of r.messages) assert.match(m, /\/ro is mounted read-only/);
  assert.equal(readFileSync(join(env.ro, 'readme.txt'), 'utf8'), 'read only');
});

test('a file replaced after the worker answered is not read locally; a missing one neither', async () => {
  const r = await run('changed');
  assert.equal(r.stats.fallbacks, 2);
});
