/**
 * The cache as S3 and REST (FSSpec) clients see it, in a real worker process with
 * --cache-dir: over a file:// mount and over an s3:// UFS (s3rver). Reads go through the
 * front ends onto DataPath, so this needs the front ends on DataPath (S3 and REST).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, S3Client, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { freePort } from '../../src/local/etcd-server.js';
import { metric, pattern } from './harness.js';

const require = createRequire(import.meta.url);
const PAGE = 64 * 1024;

describe('S3 and REST reads through a worker cache', () => {
  let etcd: TestEtcd;
  let dir: string;
  let w: WorkerProcess | undefined;
  let s3: S3Client;
  let ufsS3: S3Client;
  let s3rver: { run(): Promise<unknown>; close(): Promise<void> } | undefined;
  const cluster = `f${process.pid}`;

  const get = async (bucket: string, key: string, range?: string): Promise<Buffer> => {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: range } : {}) }));
    return Buffer.from(await r.Body!.transformToByteArray());
  };
  const restGet = async (path: string): Promise<Buffer> => {
    const r = await fetch(`${w!.restUrl}/api/v1/file?uri=${encodeURIComponent(`alluxio://${path}`)}`);
    assert.equal(r.status, 200, await r.clone().text());
    return Buffer.from(await r.arrayBuffer());
  };

  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'cache-fe-'));
    mkdirSync(join(dir, 'ufs'));
    const port = await freePort();
    const S3rver = require('s3rver');
    s3rver = new S3rver({ port, address: '127.0.0.1', directory: join(dir, 's3rver'), silent: true, configureBuckets: [{ name: 'remote' }] });
    await s3rver!.run();
    const endpoint = `http://127.0.0.1:${port}`;
    ufsS3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const cli = cliFor(etcd.endpoint, cluster);
    for (const args of [
      ['mount', 'add', '--path', '/local', '--ufs-uri', `file://${join(dir, 'ufs')}`],
      ['mount', 'add', '--path', '/remote', '--ufs-uri', 's3://remote/', '--option', `s3a.endpoint=${endpoint}`, '--option', 's3a.accessKeyId=S3RVER', '--option', 's3a.secretKey=S3RVER', '--option', 'cache.metadata.ttl=0'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, r.stderr);
    }
    w = await startWorker(etcd.endpoint, { cluster, extraArgs: ['--cache-dir', join(dir, 'cache'), '--cache-size', '64MiB', '--page-size', '64KiB'] });
    s3 = new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'alluxio', secretAccessKey: 'alluxio' }, maxAttempts: 1 });
  });
  after(async () => {
    s3?.destroy();
    ufsS3?.destroy();
    await w?.stop();
    await s3rver?.close();
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('file:// mount: the second S3 GET and the REST read are served from the cache; ranges byte-exact', async () => {
    const data = pattern(5 * PAGE + 321, 7);
    writeFileSync(join(dir, 'ufs', 'big.bin'), data);
    const before = await metric(w!, 'alluxio_ufs_read_bytes_total');
    assert.ok((await get('local', 'big.bin')).equals(data));
    assert.equal((await metric(w!, 'alluxio_ufs_read_bytes_total')) - before, data.length);
    const warm = await metric(w!, 'alluxio_ufs_read_bytes_total');
    assert.ok((await get('local', 'big.bin')).equals(data));
    const hit0 = await metric(w!, 'alluxio_cache_bytes_read_total');
    assert.ok((await restGet('/local/big.bin')).equals(data));
    assert.equal((await metric(w!, 'alluxio_cache_bytes_read_total')) - hit0, data.length, 'the REST read came from the cache');
    for (const [s, e] of [[PAGE - 2, PAGE + 2], [0, 0], [3 * PAGE - 1, 5 * PAGE + 320], [123, 4 * PAGE]] as const) {
      assert.ok((await get('local', 'big.bin', `bytes=${s}-${e}`)).equals(data.subarray(s, e + 1)), `range ${s}-${e}`);
    }
    assert.equal(await metric(w!, 'alluxio_ufs_read_bytes_total'), warm, 'warm reads read nothing from the UFS');
  });

  test('a PUT through S3 replaces the cached object at once', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'local', Key: 'o.txt', Body: 'first' }));
    assert.equal((await get('local', 'o.txt')).toString(), 'first');
    await s3.send(new PutObjectCommand({ Bucket: 'local', Key: 'o.txt', Body: 'second!' }));
    assert.equal((await get('local', 'o.txt')).toString(), 'second!');
  });

  test('a copy whose source changed behind the worker within the metadata TTL copies one whole version (CopyObject, UploadPartCopy), as a GET serves one', async () => {
    // (p10-cache probe: both answered 409 OperationAborted for the rest of the TTL, where a
    // GET serves the current version once the old one is refused; /local has the default TTL)
    const size = 3 * 1024 * 1024 + 7; // 49 pages: a ranged GET caches the first ones only
    const src = join(dir, 'ufs', 'behind', 'src.bin');
    mkdirSync(join(dir, 'ufs', 'behind'), { recursive: true });
    const versions = [pattern(size, 41), pattern(size, 42), pattern(size, 43)];
    writeFileSync(src, versions[0]!);
    assert.ok((await get('local', 'behind/src.bin', 'bytes=0-99')).equals(versions[0]!.subarray(0, 100)));
    writeFileSync(src, versions[1]!); // in place, same size: another version behind the worker
    await s3.send(new CopyObjectCommand({ Bucket: 'local', Key: 'behind/copy.bin', CopySource: 'local/behind/src.bin' }));
    const copied = await get('local', 'behind/copy.bin');
    assert.ok(copied.equals(versions[1]!) || copied.equals(versions[0]!), 'one whole version');
    assert.ok((await get('local', 'behind/src.bin', 'bytes=0-99')).length === 100);
    writeFileSync(src, versions[2]!);
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'local', Key: 'behind/part.bin' }));
    const part = await s3.send(new UploadPartCopyCommand({ Bucket: 'local', Key: 'behind/part.bin', UploadId: up.UploadId!, PartNumber: 1, CopySource: 'local/behind/src.bin', CopySourceRange: 'bytes=1048576-3145727' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'local', Key: 'behind/part.bin', UploadId: up.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag! }] } }));
    const slice = await get('local', 'behind/part.bin');
    assert.ok(versions.some((v) => slice.equals(v.subarray(1048576, 3145728))), 'the range of one whole version');
  });

  test('s3:// UFS with TTL 0: cached reads, and an overwrite in the UFS is seen at once', async () => {
    const data = pattern(3 * PAGE + 5, 8);
    await ufsS3.send(new PutObjectCommand({ Bucket: 'remote', Key: 'r.bin', Body: data }));
    assert.ok((await get('remote', 'r.bin')).equals(data));
    const warm = await metric(w!, 'alluxio_ufs_read_bytes_total');
    assert.ok((await get('remote', 'r.bin')).equals(data));
    assert.equal(await metric(w!, 'alluxio_ufs_read_bytes_total'), warm);
    const next = pattern(3 * PAGE + 5, 9);
    await ufsS3.send(new PutObjectCommand({ Bucket: 'remote', Key: 'r.bin', Body: next }));
    assert.ok((await get('remote', 'r.bin')).equals(next), 'the new version, not the cached one');
  });
});
