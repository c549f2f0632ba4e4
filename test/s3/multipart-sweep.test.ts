/**
 * Staging is bounded: multipart uploads abandoned for longer than the maximum age
 * (ALLUXIO_S3_MULTIPART_MAX_AGE) are removed with their parts, uploads still in use are
 * kept. 100 abandoned uploads (a part each) are made through the JS SDK, aged on disk,
 * and the worker sweeps them when it starts on the same staging directory; the kept
 * upload still completes. A bad maximum age stops the worker with a clear error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, ListMultipartUploadsCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { until } from '../helpers/poll.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { startS3Env, type S3Env } from './env.js';

const ID = /^[0-9a-f]{32}$/;

function uploadsOnDisk(staging: string): string[] {
  try {
    return readdirSync(staging).filter((n) => ID.test(n));
  } catch {
    return [];
  }
}

function bytesOnDisk(staging: string): number {
  let n = 0;
  for (const id of uploadsOnDisk(staging)) for (const f of readdirSync(join(staging, id))) n += statSync(join(staging, id, f)).size;
  return n;
}

describe('S3 multipart staging is bounded', () => {
  let env: S3Env;
  let staging: string;
  let second: WorkerProcess | undefined;
  const maxAge = { ALLUXIO_S3_MULTIPART_MAX_AGE: '1h' };

  before(async () => {
    env = await startS3Env({ workerEnv: maxAge });
    staging = join(env.dir, 'staging');
  });
  after(async () => {
    await second?.stop();
    await env?.destroy();
  });

  it('100 uploads idle past the maximum age are removed with their parts; an active one is kept and completes', async () => {
    const s3 = env.sdk();
    const part = Buffer.alloc(64 * 1024, 7);
    const ids: string[] = [];
    for (let i = 0; i < 100; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, j) => {
          const c = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'data', Key: `abandoned/${i + j}.bin` }));
          await s3.send(new UploadPartCommand({ Bucket: 'data', Key: `abandoned/${i + j}.bin`, UploadId: c.UploadId!, PartNumber: 1, Body: part }));
          ids.push(c.UploadId!);
        }),
      );
    }
    const kept = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'data', Key: 'kept.bin' }));
    const keptPart = await s3.send(new UploadPartCommand({ Bucket: 'data', Key: 'kept.bin', UploadId: kept.UploadId!, PartNumber: 1, Body: Buffer.from('still in use') }));
    assert.equal(uploadsOnDisk(staging).length, 101);
    assert.ok(bytesOnDisk(staging) >= 100 * part.length);
    await env.worker.stop();

    // Age the 100 (their directory and files) by two hours; the kept one stays fresh.
    const old = new Date(Date.now() - 2 * 3_600_000);
    for (const id of ids) {
      for (const f of readdirSync(join(staging, id))) utimesSync(join(staging, id, f), old, old);
      utimesSync(join(staging, id), old, old);
    }

    second = await startWorker(env.etcd.endpoint, { env: { ALLUXIO_S3_STAGING_DIR: staging, ...maxAge } });
    await until('the abandoned uploads removed', () => uploadsOnDisk(staging).length === 1);
    assert.deepEqual(uploadsOnDisk(staging), [kept.UploadId]);
    const s3b = new S3Client({ endpoint: second.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    try {
      const listed = await s3b.send(new ListMultipartUploadsCommand({ Bucket: 'data' }));
      assert.deepEqual((listed.Uploads ?? []).map((u) => u.UploadId), [kept.UploadId]);
      await s3b.send(new CompleteMultipartUploadCommand({ Bucket: 'data', Key: 'kept.bin', UploadId: kept.UploadId!, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: keptPart.ETag! }] } }));
      const got = await s3b.send(new GetObjectCommand({ Bucket: 'data', Key: 'kept.bin' }));
      assert.equal(await got.Body!.transformToString(), 'still in use');
      assert.deepEqual(uploadsOnDisk(staging), []);
    } finally {
      s3b.destroy();
    }
    assert.match(second.log(), /removed abandoned multipart uploads/);
  });

  it('a maximum age below 1s (or not a duration) stops the worker with a clear error', async () => {
    for (const bad of ['0s', 'soon']) {
      const w = await startWorker(env.etcd.endpoint, { noWait: true, env: { ALLUXIO_S3_STAGING_DIR: staging, ALLUXIO_S3_MULTIPART_MAX_AGE: bad } });
      const code = await w.exited;
      assert.notEqual(code, 0);
      assert.match(w.log(), /ALLUXIO_S3_MULTIPART_MAX_AGE/);
      assert.doesNotMatch(w.log(), /\n\s+at /, 'no stack trace');
    }
  });
});
