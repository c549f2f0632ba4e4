/**
 * CompleteMultipartUpload answers S3's "<md5 of the part md5s>-N" ETag, and every later
 * answer about that version agrees on every worker: HEAD, GET, ListObjectsV2, If-Match /
 * If-None-Match, the REST API. The ETag is declared in etcd for that version of the object
 * (src/cluster/object-etags.ts): an overwrite through any worker, or a change in the UFS
 * behind the workers' back, ends it (the record is deleted), and the object shows its own
 * ETag again.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { etcdctl } from '../helpers/etcdctl.js';
import { startWorker, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';
import { s3rverBackend, type UfsBackend } from '../cache/harness.js';

const md5 = (b: Buffer): Buffer => createHash('md5').update(b).digest();

describe('multipart ETags: "<md5 of part md5s>-N", the same on every worker and API', () => {
  let etcd: TestEtcd;
  let dir: string;
  const workers: WorkerProcess[] = [];
  const clients: S3Client[] = [];
  const cluster = `me${process.pid}`;
  const part1 = Buffer.alloc(5 * 1024 * 1024, 7);
  const part2 = Buffer.from('the last part');
  const want = `"${createHash('md5').update(Buffer.concat([md5(part1), md5(part2)])).digest('hex')}-2"`;

  const s3 = (w: WorkerProcess): S3Client => {
    const c = new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    clients.push(c);
    return c;
  };
  const head = async (w: WorkerProcess, key: string): Promise<string> => (await s3(w).send(new HeadObjectCommand({ Bucket: 'data', Key: key }))).ETag!;
  const records = (): number => etcdctl(etcd.endpoint, 'get', '--prefix', '--keys-only', `/alluxio/${cluster}/objects/etag/`).split('\n').filter((l) => l.trim() !== '').length;

  async function upload(w: WorkerProcess, key: string): Promise<string> {
    const c = s3(w);
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'data', Key: key }));
    const p1 = await c.send(new UploadPartCommand({ Bucket: 'data', Key: key, UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await c.send(new UploadPartCommand({ Bucket: 'data', Key: key, UploadId, PartNumber: 2, Body: part2 }));
    const done = await c.send(
      new CompleteMultipartUploadCommand({ Bucket: 'data', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }),
    );
    return done.ETag!;
  }

  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'mp-etag-'));
    const r = await cliFor(etcd.endpoint, cluster)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${dir}`]);
    assert.equal(r.code, 0, r.stderr);
    for (const id of ['m1', 'm2']) workers.push(await startWorker(etcd.endpoint, { cluster, id, env: { ALLUXIO_S3_STAGING_DIR: join(dir, '..', `${id}-staging-${process.pid}`) } }));
  });
  after(async () => {
    clients.forEach((c) => c.destroy());
    await stopWorkers(workers);
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
    for (const id of ['m1', 'm2']) rmSync(join(dir, '..', `${id}-staging-${process.pid}`), { recursive: true, force: true });
  });

  test('Complete answers the multipart form; HEAD, GET, listings, conditions and REST agree, on both workers', async () => {
    const [a, b] = workers as [WorkerProcess, WorkerProcess];
    assert.equal(await upload(a, 'mp/one.bin'), want);
    assert.equal(await head(a, 'mp/one.bin'), want, 'at once on the worker that completed it');
    assert.equal((await s3(a).send(new GetObjectCommand({ Bucket: 'data', Key: 'mp/one.bin' }))).ETag, want);
    await until('the other worker reports the multipart ETag', async () => (await head(b, 'mp/one.bin')) === want);
    const listed = await s3(b).send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'mp/' }));
    assert.deepEqual(listed.Contents?.map((c) => [c.Key, c.ETag]), [['mp/one.bin', want]]);
    const url = `${b.s3Url}/data/mp/one.bin`;
    assert.equal((await fetch(url, { headers: { 'if-match': want } })).status, 200);
    assert.equal((await fetch(url, { headers: { 'if-none-match': want } })).status, 304);
    assert.equal((await fetch(url, { method: 'HEAD', headers: { 'if-match': '"0123"' } })).status, 412);
    const info = (await (await fetch(`${b.restUrl}/api/v1/info?uri=${encodeURIComponent('alluxio:///data/mp/one.bin')}`)).json()) as { etag: string };
    assert.equal(`"${info.etag}"`, want);
    assert.equal(records(), 1);
  });

  test('a conditional PUT against the multipart ETag: a refused or cut write leaves it, If-Match of it writes', async () => {
    const [a] = workers as [WorkerProcess, WorkerProcess];
    assert.equal(await upload(a, 'mp/four.bin'), want);
    const url = `${a.s3Url}/data/mp/four.bin`;
    const put = (headers: Record<string, string>, body = 'next'): Promise<Response> => fetch(url, { method: 'PUT', headers, body });
    // (before 2026-12-03 the write dropped the record before its condition was checked: a PUT
    // with If-Match of the ETag every answer gave was 412, and a refused one changed the ETag)
    assert.equal((await put({ 'if-match': '"0123"' })).status, 412);
    assert.equal(await head(a, 'mp/four.bin'), want, 'a refused conditional write changes nothing');
    assert.equal((await put({ 'if-none-match': '*' })).status, 412);
    assert.equal((await put({ 'content-md5': md5(Buffer.from('other')).toString('base64') })).status, 400);
    assert.equal(await head(a, 'mp/four.bin'), want, 'nor does a body refused for its digest');
    const ok = await put({ 'if-match': want });
    assert.equal(ok.status, 200, await ok.text());
    assert.notEqual(ok.headers.get('etag'), want);
    assert.equal(await head(a, 'mp/four.bin'), ok.headers.get('etag'));
    await until('its record is deleted by the write', () => records() === 1);
  });

  test('an overwrite through the other worker ends it: the object shows its own ETag everywhere, the record is gone', async () => {
    const [a, b] = workers as [WorkerProcess, WorkerProcess];
    assert.equal(await upload(a, 'mp/two.bin'), want);
    await until('both report it', async () => (await head(b, 'mp/two.bin')) === want);
    const put = await s3(b).send(new PutObjectCommand({ Bucket: 'data', Key: 'mp/two.bin', Body: 'replaced' }));
    assert.notEqual(put.ETag, want);
    assert.equal(await head(b, 'mp/two.bin'), put.ETag);
    await until('the first worker no longer reports it', async () => (await head(a, 'mp/two.bin')) === put.ETag);
    await until('only the record of mp/one.bin is left', () => records() === 1);
  });

  test('a change behind the workers\' back (another version in the UFS) ends it too; the inert record goes with the next write through a worker', async () => {
    const [a, b] = workers as [WorkerProcess, WorkerProcess];
    assert.equal(await upload(b, 'mp/three.bin'), want);
    await until('both report it', async () => (await head(a, 'mp/three.bin')) === want);
    writeFileSync(join(dir, 'mp', 'three.bin'), 'changed in the UFS');
    await until('neither reports the multipart ETag for the new version', async () => (await head(a, 'mp/three.bin')) !== want && (await head(b, 'mp/three.bin')) !== want);
    assert.equal(records(), 2, 'a worker with stale metadata cannot tell newer from older: nobody deletes on a mismatch');
    await s3(a).send(new PutObjectCommand({ Bucket: 'data', Key: 'mp/three.bin', Body: 'written through a worker' }));
    await until('the record is deleted by the write', () => records() === 1);
  });
});

describe('multipart ETags on an s3:// UFS, through a worker without a cache (GETs opened with one UFS request)', () => {
  let etcd: TestEtcd;
  let ufs: UfsBackend;
  let worker: WorkerProcess;
  let staging: string;
  let client: S3Client;
  const cluster = `mes${process.pid}`;
  const part1 = Buffer.alloc(5 * 1024 * 1024, 9);
  const part2 = Buffer.from('the tail');
  const want = `"${createHash('md5').update(Buffer.concat([md5(part1), md5(part2)])).digest('hex')}-2"`;

  before(async () => {
    etcd = await startTestEtcd();
    ufs = s3rverBackend();
    await ufs.start();
    const root = ufs.root('mp-etag');
    const opts = Object.entries(root.options).flatMap(([k, v]) => ['--option', `${k}=${v}`]);
    const r = await cliFor(etcd.endpoint, cluster)(['mount', 'add', '--path', '/data', '--ufs-uri', root.uri, ...opts]);
    assert.equal(r.code, 0, r.stderr);
    staging = mkdtempSync(join(tmpdir(), 'mp-etag-s3-staging-'));
    worker = await startWorker(etcd.endpoint, { cluster, env: { ALLUXIO_S3_STAGING_DIR: staging } });
    client = new S3Client({ endpoint: worker.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  });
  after(async () => {
    client?.destroy();
    await stopWorkers([worker]);
    await ufs?.stop();
    await etcd?.destroy();
    rmSync(staging, { recursive: true, force: true });
  });

  test('GET, conditional GETs and the REST read of a multipart-uploaded object answer its bytes and its multipart ETag', async () => {
    const key = 'mp/s3.bin';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'data', Key: key }));
    const p1 = await client.send(new UploadPartCommand({ Bucket: 'data', Key: key, UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await client.send(new UploadPartCommand({ Bucket: 'data', Key: key, UploadId, PartNumber: 2, Body: part2 }));
    const done = await client.send(
      new CompleteMultipartUploadCommand({ Bucket: 'data', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }),
    );
    assert.equal(done.ETag, want);
    // (until 2026-12-03 the object opened with one UFS request lost its methods when given
    // the declared ETag: every such GET answered 500, and its UFS connection was left open)
    const url = `${worker.s3Url}/data/${key}`;
    const whole = await fetch(url);
    assert.equal(whole.status, 200, await whole.clone().text());
    assert.equal(whole.headers.get('etag'), want);
    assert.ok(Buffer.from(await whole.arrayBuffer()).equals(Buffer.concat([part1, part2])));
    const ranged = await fetch(url, { headers: { range: `bytes=${part1.length}-` } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), 'the tail');
    assert.equal((await fetch(url, { headers: { 'if-none-match': want } })).status, 304);
    assert.equal((await fetch(url, { headers: { 'if-match': '"0123"' } })).status, 412);
    const rest = await fetch(`${worker.restUrl}/api/v1/file?uri=${encodeURIComponent(`alluxio:///data/${key}`)}`, { headers: { range: `bytes=${part1.length}-` } });
    assert.equal(rest.status, 206, await rest.clone().text());
    assert.equal(rest.headers.get('etag'), want);
    assert.equal(await rest.text(), 'the tail');
  });
});
