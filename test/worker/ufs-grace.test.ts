/**
 * A read in flight through a worker survives a mount update that repoints its s3:// mount:
 * the worker keeps the replaced UFS adapter open for a grace period (UfsRegistry) instead of
 * closing it, with its sockets, the moment the URI leaves the snapshot.
 *
 * Real etcd, s3rver (a real S3-compatible server on a free loopback port) as the UFS, one
 * real worker process; the client GETs a large object through the worker's S3 API, stops
 * reading after the first bytes (so the worker's upstream GET stays open, held back by TCP
 * flow control), the mount is repointed to another bucket with --wait, then the client
 * reads on: every byte must arrive and match. A new GET then serves the new bucket.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/poll.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../src/local/etcd-server.js';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startWorkers, stopWorkers, type WorkerProcess } from '../helpers/worker.js';

const require = createRequire(import.meta.url);
const cluster = 'ufsgrace';
const big = randomBytes(48 * 1024 * 1024 + 4321);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let etcd: TestEtcd;
let dir: string;
let s3rver: { run(): Promise<unknown>; close(): Promise<void> } | undefined;
let s3: S3Client | undefined;
let workers: WorkerProcess[] = [];
let endpoint: string;

before(async () => {
  etcd = await startTestEtcd();
  dir = mkdtempSync(join(tmpdir(), 'alluxio-test-ufsgrace-'));
  const port = await freePort();
  const S3rver = require('s3rver');
  s3rver = new S3rver({ port, address: '127.0.0.1', directory: join(dir, 's3'), silent: true, configureBuckets: [{ name: 'old' }, { name: 'new' }] });
  await s3rver!.run();
  endpoint = `http://127.0.0.1:${port}`;
  s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  await s3.send(new PutObjectCommand({ Bucket: 'old', Key: 'tables/big.bin', Body: big }));
  await s3.send(new PutObjectCommand({ Bucket: 'new', Key: 'tables/big.bin', Body: 'the new bucket\n' }));
  const cli = cliFor(etcd.endpoint, cluster);
  const r = await cli(['mount', 'add', '--path', '/lake', '--ufs-uri', 's3://old/tables/', '--option', `s3a.endpoint=${endpoint}`, '--option', 's3a.accessKeyId=S3RVER', '--option', 's3a.secretKey=S3RVER']);
  assert.equal(r.code, 0, r.stderr);
  workers = await startWorkers(etcd.endpoint, 1, { cluster });
});

after(async () => {
  try {
    await stopWorkers(workers);
  } finally {
    s3?.destroy();
    await s3rver?.close();
    await etcd?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

function getObject(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, resolve).once('error', reject));
}

function readRest(res: IncomingMessage, first: Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks = [...first];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => (res.complete ? resolve(Buffer.concat(chunks)) : reject(new Error('response ended before all bytes arrived'))));
    res.once('aborted', () => reject(new Error('response aborted')));
    res.once('error', reject);
    res.resume();
  });
}

test('an S3 GET from an s3:// mount survives a mount update to another URI (--wait) mid-transfer', async () => {
  const w = workers[0]!;
  const res = await getObject(`${w.s3Url}/lake/big.bin`);
  assert.equal(res.statusCode, 200);
  // Take the first bytes, then stop reading: the worker's GET from s3rver stays open.
  const first: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    res.once('data', (c: Buffer) => {
      res.pause();
      first.push(c);
      resolve();
    });
    res.once('error', reject);
  });

  const cli = cliFor(etcd.endpoint, cluster);
  const upd = await cli(['mount', 'update', '--path', '/lake', '--ufs-uri', 's3://new/tables/', '--wait', '--wait-timeout', '20s', '--json']);
  assert.equal(upd.code, 0, upd.stderr);
  assert.equal((upd.json() as { wait: { workers: number } }).wait.workers, 1, 'the worker applied the update');
  // New requests already use the new URI (the old adapter has been replaced) before the
  // read opened on the old one goes on.
  await until('new requests served from the new URI', async () => {
    const fresh = await getObject(`${w.s3Url}/lake/big.bin`);
    return fresh.statusCode === 200 && (await readRest(fresh, [])).toString('utf8') === 'the new bucket\n';
  });

  const body = await readRest(res, first);
  assert.equal(body.length, big.length);
  assert.equal(sha(body), sha(big), 'every byte of the object opened before the update');
});
