/**
 * Migrating a file:// mount to an s3:// UFS (s3rver, a real S3-compatible server on a free
 * loopback port): the copier writes through the s3:// adapter (options incl. credentials
 * given to `migrate start`), verification hashes both sides, cutover puts the new URI AND
 * options on the mount, and a real worker then serves the objects from S3. Secrets stay
 * redacted in every output.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../src/local/etcd-server.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { must, populate, startMigEnv, waitStatus, type MigEnv } from './env.js';

const require = createRequire(import.meta.url);
let env: MigEnv;
let s3rver: { run(): Promise<unknown>; close(): Promise<void> } | undefined;
let s3dir = '';
let endpoint = '';
let worker: WorkerProcess | undefined;
const clients: S3Client[] = [];

before(async () => {
  env = await startMigEnv();
  s3dir = mkdtempSync(join(tmpdir(), 'migrate-s3rver-'));
  const port = await freePort();
  const S3rver = require('s3rver');
  s3rver = new S3rver({ port, address: '127.0.0.1', directory: s3dir, silent: true, configureBuckets: [{ name: 'new-bucket' }] });
  await s3rver!.run();
  endpoint = `http://127.0.0.1:${port}`;
});
after(async () => {
  for (const c of clients) c.destroy();
  await worker?.stop();
  await s3rver?.close();
  rmSync(s3dir, { recursive: true, force: true });
  await env?.destroy();
});

test('file:// -> s3:// with checksum verification; cutover carries the options; a worker serves from S3', async () => {
  const old = env.mkdir('old');
  const files = populate(old, { 'a.csv': 1234, 'dir/b.bin': 300_000, 'dir/sub/c.txt': 7, 'big.bin': 6 * 1024 * 1024 });
  must(await env.cli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${old}`]), 'mount add');
  worker = await startWorker(env.etcd.endpoint, { leaseTtl: '3s' });
  const opts = ['--option', `s3a.endpoint=${endpoint}`, '--option', 's3a.accessKeyId=S3RVER', '--option', 's3a.secretKey=S3RVER', '--option', 's3a.multipart.size=5'];
  const start = must(await env.cli(['migrate', 'start', '--path', '/data', '--to', 's3://new-bucket/data/', ...opts, '--verify', 'checksum', '--json']), 'start').json();
  assert.equal(start.options['s3a.secretKey'], '***');
  const ready = await waitStatus(env, start.id, (d) => d.state === 'ready', 'ready');
  assert.equal(ready.to, 's3://new-bucket/data/');
  assert.equal(ready.binding.to.options['s3a.secretKey'], '***');
  assert.equal(ready.binding.to.options['s3a.endpoint'], endpoint);
  assert.deepEqual(ready.files, { done: 4, total: 4 });

  // The objects are in S3 under the prefix, byte for byte.
  const direct = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  clients.push(direct);
  const listed = await direct.send(new ListObjectsV2Command({ Bucket: 'new-bucket', Prefix: 'data/' }));
  assert.deepEqual(listed.Contents?.map((o) => o.Key).sort(), ['data/a.csv', 'data/big.bin', 'data/dir/b.bin', 'data/dir/sub/c.txt']);

  const cut = must(await env.cli(['migrate', 'cutover', '--id', start.id, '--wait', '--json']), 'cutover').json();
  assert.equal(cut.mount.ufsUri, 's3://new-bucket/data/');
  assert.equal(cut.mount.options['s3a.secretKey'], '***');
  assert.equal(cut.wait.workers, 1);
  const ml = must(await env.cli(['mount', 'list', '--json', '--show-secrets']), 'mount list').json();
  assert.deepEqual(ml.mounts[0].options, { 's3a.endpoint': endpoint, 's3a.accessKeyId': 'S3RVER', 's3a.secretKey': 'S3RVER', 's3a.multipart.size': '5' });

  // Through the worker's S3 API, now backed by s3rver.
  const viaWorker = new S3Client({ endpoint: worker.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });
  clients.push(viaWorker);
  for (const [k, b] of files) {
    const r = await viaWorker.send(new GetObjectCommand({ Bucket: 'data', Key: k }));
    assert.ok(Buffer.from(await r.Body!.transformToByteArray()).equals(b), k);
  }
  const resolved = must(await env.cli(['resolve', '/data/dir/b.bin', '--json']), 'resolve').json();
  assert.equal(resolved.ufsUri, 's3://new-bucket/data/dir/b.bin');

  const rb = must(await env.cli(['migrate', 'rollback', '--id', start.id, '--wait', '--json']), 'rollback').json();
  assert.deepEqual(rb.mount, { path: '/data', ufsUri: `file://${old}/`, readOnly: false, options: {} });
});
