/**
 * The alluxiofs package against a worker that requires authentication
 * (ALLUXIO_S3_CREDENTIALS): with the right keys (arguments, or ALLUXIO_* / AWS_* env) it
 * signs every request with SigV4 and reads, writes, lists and deletes, short-circuit
 * grants included; a wrong secret, an unknown key or no keys give PermissionError and
 * change nothing. Scenarios: python/tests/auth_scenarios.py.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { makeMountTree, type MountTree } from '../helpers/mount-tree.js';
import { startWorker, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { PY_TESTS, python, workerHosts } from './env.js';

const AK = 'AKIDPY';
const SK = 'py/s3cr3t+key';

let etcd: TestEtcd;
let tree: MountTree;
let worker: WorkerProcess;

before(async () => {
  etcd = await startTestEtcd();
  tree = makeMountTree('fsspec-auth-');
  const r = await cliFor(etcd.endpoint)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${tree.data}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  worker = await startWorker(etcd.endpoint, { env: { ALLUXIO_S3_CREDENTIALS: `OTHER:x,${AK}:${SK}`, ALLUXIO_S3_REGION: 'eu-west-1' } });
});

after(async () => {
  await stopWorkers([worker]);
  await etcd?.destroy();
  if (tree) rmSync(tree.dir, { recursive: true, force: true });
});

async function scenario(name: string): Promise<any> {
  const r = await python([join(PY_TESTS, 'auth_scenarios.py'), name], {
    WORKER_HOSTS: workerHosts([worker]),
    DATA_DIR: tree.data,
    GOOD_AK: AK,
    GOOD_SK: SK,
    ALLUXIO_S3_REGION: 'eu-west-1',
  });
  assert.equal(r.code, 0, `scenario ${name} failed (exit ${r.code}):\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.json();
}

test('the right keys as arguments: writes, reads (short-circuit and over HTTP), listing, delete', async () => {
  const out = await scenario('signed_rw');
  assert.ok(out.stats1.opens >= 1, JSON.stringify(out));
  assert.equal(out.stats0.opens, 0);
});

test('keys from the environment: ALLUXIO_ACCESS_KEY/ALLUXIO_SECRET_KEY before AWS_*, arguments before both', async () => {
  const out = await scenario('keys_from_env');
  assert.deepEqual(out, { aws: 'from env', alluxio_wins: 'SignatureDoesNotMatch', alluxio: 'from env', explicit_wins: 'SignatureDoesNotMatch' });
});

test('a wrong secret, an unknown key or no keys: PermissionError, nothing written or deleted, no short-circuit', async () => {
  const out = await scenario('refused');
  assert.deepEqual(out.wrong, ['SignatureDoesNotMatch']);
  assert.deepEqual(out.unknown, ['InvalidAccessKeyId']);
  assert.deepEqual(out.anonymous, ['AccessDenied']);
  assert.match(out.half, /access_key and secret_key/);
});
