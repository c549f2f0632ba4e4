/**
 * The s3:// UFS adapter against real S3-compatible servers started here: s3rver (npm), and
 * a real worker process serving a file:// mount over its S3 API. The same checks run on
 * both: stat/list/read/ranges/write (single and multipart)/delete/mkdir, read-only, and
 * containment under the mount's key prefix.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseMount } from '../../src/domain/mounts.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { S3Ufs, s3OptionsFromMount } from '../../src/ufs/s3.js';
import { freePort } from '../../src/local/etcd-server.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { cliFor } from '../helpers/cli.js';

const require = createRequire(import.meta.url);
const code = (c: string) => (e: unknown) => e instanceof AlluxioError && e.code === c;

interface Backend {
  name: string;
  bucket: string;
  options: Record<string, string>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function s3rverBackend(): Backend {
  let server: { run(): Promise<unknown>; close(): Promise<void> } | undefined;
  let dir = '';
  const b: Backend = {
    name: 's3rver',
    bucket: 'ufs-test',
    options: {},
    async start() {
      dir = mkdtempSync(join(tmpdir(), 's3rver-'));
      const port = await freePort();
      const S3rver = require('s3rver');
      server = new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: 'ufs-test' }] });
      await server!.run();
      b.options = { 's3a.endpoint': `http://127.0.0.1:${port}`, 's3a.accessKeyId': 'S3RVER', 's3a.secretKey': 'S3RVER', 's3a.multipart.size': '5' };
    },
    async stop() {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return b;
}

function workerBackend(): Backend {
  let etcd: TestEtcd | undefined;
  let worker: WorkerProcess | undefined;
  let dir = '';
  const b: Backend = {
    name: 'worker (file:// mount over S3)',
    bucket: 'wrk',
    options: {},
    async start() {
      etcd = await startTestEtcd();
      dir = mkdtempSync(join(tmpdir(), 'ufs-s3-worker-'));
      mkdirSync(join(dir, 'wrk'));
      const r = await cliFor(etcd.endpoint)(['mount', 'add', '--path', '/wrk', '--ufs-uri', `file://${join(dir, 'wrk')}`]);
      if (r.code !== 0) throw new Error(r.stderr);
      worker = await startWorker(etcd.endpoint, { env: { ALLUXIO_S3_STAGING_DIR: join(dir, 'staging') } });
      b.options = { 's3a.endpoint': worker.s3Url, 's3a.accessKeyId': 'alluxio', 's3a.secretKey': 'alluxio', 's3a.path.style.access': 'true', 's3a.multipart.size': '5' };
    },
    async stop() {
      await worker?.stop();
      await etcd?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return b;
}

test('s3a.* options map onto the client (and Alluxio aliases are accepted)', () => {
  const o = s3OptionsFromMount({ 's3a.endpoint': 'minio:9000', 's3a.accessKeyId': 'a', 's3a.secretKey': 'b', 's3a.region': 'eu-west-1' });
  assert.equal(o.endpoint, 'https://minio:9000');
  assert.equal(o.pathStyle, true);
  assert.equal(o.region, 'eu-west-1');
  const a = s3OptionsFromMount({ 'aws.accessKeyId': 'a', 'aws.secretKey': 'b', 'alluxio.underfs.s3.endpoint': 'http://x:1', 'alluxio.underfs.s3.disable.dns.buckets': 'false' });
  assert.equal(a.accessKeyId, 'a');
  assert.equal(a.pathStyle, false);
  assert.equal(s3OptionsFromMount({}).pathStyle, false);
  assert.throws(() => s3OptionsFromMount({ 's3a.accessKeyId': 'only-half' }), code('InvalidOption'));
  assert.throws(() => s3OptionsFromMount({ 's3a.path.style.access': 'maybe' }), code('InvalidOption'));
});

for (const backend of [s3rverBackend(), workerBackend()]) {
  describe(`s3:// adapter against ${backend.name}`, () => {
    let ufs: S3Ufs;
    let other: S3Ufs;
    before(async () => {
      await backend.start();
      ufs = S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: `s3://${backend.bucket}/base/inner`, options: backend.options }));
      // a second adapter at the bucket root, to see every key that was written
      other = S3Ufs.fromMount(parseMount({ path: '/all', ufsUri: `s3://${backend.bucket}/`, options: backend.options }));
    });
    after(async () => {
      await ufs?.close();
      await other?.close();
      await backend.stop();
    });

    test('write, stat, read (whole and ranges), list, delete, mkdir', async () => {
      const e = await ufs.write(['dir', 'a.txt'], Readable.from([Buffer.from('0123456789')]));
      assert.equal(e.size, 10);
      assert.equal(e.type, 'file');
      const st = await ufs.stat(['dir', 'a.txt']);
      assert.equal(st?.size, 10);
      assert.ok(st?.etag);
      assert.equal((await ufs.stat(['dir']))?.type, 'directory');
      assert.equal(await ufs.stat(['nope']), null);
      assert.equal(await text(await ufs.read(['dir', 'a.txt'])), '0123456789');
      assert.equal(await text(await ufs.read(['dir', 'a.txt'], { start: 3, end: 5 })), '345');
      await ufs.write(['dir', 'b-c'], Readable.from([Buffer.from('x')]));
      await ufs.write(['dir', 'sub', 'deep'], Readable.from([Buffer.from('y')]));
      await ufs.mkdir(['dir', 'empty']);
      assert.equal((await ufs.stat(['dir', 'empty']))?.type, 'directory', 'a directory with only its marker');
      assert.equal((await ufs.stat(['dir', 'sub']))?.type, 'directory', 'a directory with objects below it, no marker');
      assert.equal(await ufs.stat(['dir', 'su']), null, 'a prefix of a directory name is not one');
      // readFirst of a name that is no object: what stat says, no body
      assert.equal((await ufs.readFirst!(['dir', 'empty'], { start: 0, end: 9 }))?.entry?.type, 'directory');
      assert.equal((await ufs.readFirst!(['dir', 'sub'], { start: 0, end: 9 }))?.entry?.type, 'directory');
      assert.deepEqual(await ufs.readFirst!(['dir', 'su'], { start: 0, end: 9 }), { entry: null });
      const names = (await ufs.list(['dir'])).map((x) => `${x.name}:${x.type}`);
      assert.deepEqual(names, ['a.txt:file', 'b-c:file', 'empty:directory', 'sub:directory']);
      assert.deepEqual((await ufs.list([])).map((x) => x.name), ['dir']);
      await assert.rejects(ufs.list(['missing']), code('NotFound'));
      await assert.rejects(ufs.list(['dir', 'a.txt']), code('NotADirectory'));
      await assert.rejects(ufs.read(['dir', 'missing']), code('NotFound'));
      await ufs.delete(['dir', 'b-c']);
      assert.equal(await ufs.stat(['dir', 'b-c']), null);
      await assert.rejects(ufs.delete(['dir', 'sub']), code('DirectoryNotEmpty'));
      await ufs.delete(['dir', 'empty']);
      assert.equal(await ufs.stat(['dir', 'empty']), null);
    });

    if (backend.name === 's3rver') test('a name that is an object and a directory (keys a and a/x) is listed twice, the file first', async () => {
      await ufs.write(['both', 'pair'], Readable.from([Buffer.from('object')]));
      await ufs.write(['both', 'pair', 'inner'], Readable.from([Buffer.from('below')]));
      await ufs.write(['both', 'pais'], Readable.from([Buffer.from('s')]));
      assert.deepEqual((await ufs.list(['both'])).map((x) => `${x.name}:${x.type}`), ['pair:file', 'pair:directory', 'pais:file']);
      assert.equal((await ufs.stat(['both', 'pair']))?.type, 'file', 'stat: the object (one HEAD)');
      assert.deepEqual((await ufs.list(['both', 'pair'])).map((x) => x.name), ['inner']);
    });

    test('large writes go multipart and read back intact', async () => {
      const big = Buffer.alloc(11 * 1024 * 1024 + 5);
      for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
      const chunks: Buffer[] = [];
      for (let i = 0; i < big.length; i += 1 << 20) chunks.push(big.subarray(i, i + (1 << 20)));
      const e = await ufs.write(['big.bin'], Readable.from(chunks));
      assert.equal(e.size, big.length);
      const back: Buffer[] = [];
      for await (const c of await ufs.read(['big.bin'])) back.push(c as Buffer);
      assert.ok(Buffer.concat(back).equals(big));
    });

    test('aroundCommit: the object lands only at the commit; a wrapper that throws leaves nothing (and no open upload)', async () => {
      const big = Buffer.alloc(6 * 1024 * 1024, 7); // multipart at s3a.multipart.size 5 MiB
      for (const body of [Buffer.from('small'), big]) {
        const seen: (number | null)[] = [];
        const e = await ufs.write(['commit', 'a'], Readable.from([body]), {
          aroundCommit: async (commit) => {
            seen.push((await ufs.stat(['commit', 'a']))?.size ?? null); // staged, not visible yet
            const done = await commit();
            seen.push((await ufs.stat(['commit', 'a']))?.size ?? null);
            return done;
          },
        });
        assert.equal(e.size, body.length);
        assert.deepEqual(seen, [null, body.length]);
        await ufs.delete(['commit', 'a']);
        await assert.rejects(
          ufs.write(['commit', 'b'], Readable.from([body]), {
            aroundCommit: async () => {
              throw new AlluxioError('Conflict', 'a condition failed');
            },
          }),
          code('Conflict'),
        );
        assert.equal(await ufs.stat(['commit', 'b']), null, `${body.length} bytes: nothing landed`);
      }
      if (backend.name !== 's3rver') {
        // (s3rver has no ListMultipartUploads; the worker has)
        const open = await other.client.send(new ListMultipartUploadsCommand({ Bucket: backend.bucket }));
        assert.deepEqual((open.Uploads ?? []).map((u) => u.Key), [], 'the abandoned multipart upload was aborted');
      }
    });

    test('everything stays under the mount key prefix; hostile segments are refused', async () => {
      for (const bad of ['..', '.', '', 'a/b', '\u0000']) {
        await assert.rejects(ufs.write([bad], Readable.from([Buffer.from('x')])), code('InvalidPath'), JSON.stringify(bad));
        await assert.rejects(ufs.stat([bad]), code('InvalidPath'));
      }
      // names that look like traversal in other encodings are plain key characters
      await ufs.write(['..%2F..%5Cx'], Readable.from([Buffer.from('z')]));
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await other.client.send(new ListObjectsV2Command({ Bucket: backend.bucket, ...(token ? { ContinuationToken: token } : {}) }));
        keys.push(...(page.Contents ?? []).map((c) => c.Key!));
        token = page.NextContinuationToken;
      } while (token);
      assert.ok(keys.length > 0);
      for (const k of keys) assert.ok(k.startsWith('base/inner/'), `key ${k} is outside the mount prefix`);
      assert.ok(keys.includes('base/inner/..%2F..%5Cx'));
    });

    test('objects written by others are listed; read-only adapters refuse writes', async () => {
      await other.client.send(new PutObjectCommand({ Bucket: backend.bucket, Key: 'base/inner/ext/obj', Body: 'external' }));
      assert.deepEqual((await ufs.list(['ext'])).map((x) => x.name), ['obj']);
      const ro = S3Ufs.fromMount(parseMount({ path: '/ro', ufsUri: `s3://${backend.bucket}/base/inner`, options: backend.options, readOnly: true }));
      try {
        await assert.rejects(ro.write(['ro.txt'], Readable.from([Buffer.from('x')])), code('ReadOnlyMount'));
        await assert.rejects(ro.delete(['ext', 'obj']), code('ReadOnlyMount'));
        await assert.rejects(ro.mkdir(['d']), code('ReadOnlyMount'));
        assert.equal(await text(await ro.read(['ext', 'obj'])), 'external');
      } finally {
        await ro.close();
      }
    });
  });
}

