/**
 * A worker paused in the middle of requests (SIGSTOP: a stalled disk, a long pause of the
 * process) whose clients gave up and closed meanwhile does not make their changes when it
 * resumes. Before, an s3:// mount took such a PUT: alluxiofs had retried it on another
 * worker and written a newer version since, which the old PUT then overwrote (p10-py probe,
 * 3 of 3). PUT and DELETE, through S3 and REST, over an s3:// UFS (s3rver).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startCachingCluster, type CachingCluster } from '../helpers/cluster-cache.js';
import { until } from '../helpers/poll.js';

const KEYS = ['p/s3-put', 'p/rest-put', 'p/s3-delete', 'p/rest-delete'];
let c: CachingCluster;
let ufs: S3Client;

before(async () => {
  c = await startCachingCluster({ name: 'paused-writes', files: KEYS.map((key) => ({ key, data: 'newer' })), workers: 1 });
  ufs = new S3Client({ endpoint: c.ufsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});
after(async () => {
  ufs?.destroy();
  await c?.stop();
});

/** Send a whole request and close without waiting for the answer (a client that timed out). */
function sendAndClose(url: string, head: string, body = ''): Promise<void> {
  const u = new URL(url);
  return new Promise<void>((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`${head}\r\nHost: ${u.host}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, () => {
        s.end(); // (the kernel has it all: the paused worker reads request and close together)
        resolve();
      });
    });
    s.on('error', reject);
  });
}

async function ufsText(key: string): Promise<string | null> {
  try {
    return await (await ufs.send(new GetObjectCommand({ Bucket: 'remote', Key: key }))).Body!.transformToString();
  } catch (e) {
    if ((e as { name?: string }).name === 'NoSuchKey') return null;
    throw e;
  }
}

test('PUT and DELETE through S3 and REST whose clients left while the worker was paused change nothing when it resumes', { timeout: 180_000 }, async () => {
  const w = c.workers[0]!;
  for (const k of KEYS) assert.equal(await ufsText(k), 'newer');
  const rest = (key: string) => `/api/v1/file?uri=${encodeURIComponent(`alluxio:///data/${key}`)}`;
  const pid = w.process.pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    await Promise.all([
      sendAndClose(w.s3Url, 'PUT /data/p/s3-put HTTP/1.1', 'stale'),
      sendAndClose(w.restUrl, `PUT ${rest('p/rest-put')} HTTP/1.1`, 'stale'),
      sendAndClose(w.s3Url, 'DELETE /data/p/s3-delete HTTP/1.1'),
      sendAndClose(w.restUrl, `DELETE ${rest('p/rest-delete')} HTTP/1.1`),
    ]);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await until(
    'the resumed worker refused the four changes',
    () => (w.log().match(/the client closed its connection before the change was made/g)?.length ?? 0) >= 4 || undefined,
    60_000,
  ).catch(async (e: Error) => {
    const now = await Promise.all(KEYS.map(async (k) => `${k}=${await ufsText(k)}`));
    throw new Error(`${e.message}: ${now.join(' ')}\n${w.log().slice(-2000)}`);
  });
  for (const k of KEYS) assert.equal(await ufsText(k), 'newer', `${k} unchanged in the UFS`);
  // A CompleteMultipartUpload is made anyway (it may outlast any client timeout: it
  // assembles the whole object first); the client's retry then finds it completed.
  const up = await (await fetch(`${w.s3Url}/data/p/mp?uploads`, { method: 'POST' })).text();
  const id = /<UploadId>([^<]+)<\/UploadId>/.exec(up)![1]!;
  const part = await fetch(`${w.s3Url}/data/p/mp?partNumber=1&uploadId=${encodeURIComponent(id)}`, { method: 'PUT', body: 'multipart body' });
  const doc = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${part.headers.get('etag')}</ETag></Part></CompleteMultipartUpload>`;
  process.kill(pid, 'SIGSTOP');
  try {
    await sendAndClose(w.s3Url, `POST /data/p/mp?uploadId=${encodeURIComponent(id)} HTTP/1.1`, doc);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await until('the Complete landed', async () => (await ufsText('p/mp')) === 'multipart body' || undefined, 60_000);
  const retry = await fetch(`${w.s3Url}/data/p/mp?uploadId=${encodeURIComponent(id)}`, { method: 'POST', body: doc });
  assert.equal(retry.status, 200, await retry.text());
  // and a client that waits is served as before
  const r = await fetch(`${w.restUrl}${rest('p/rest-put')}`, { method: 'PUT', body: 'waited' });
  assert.equal(r.status, 201);
  assert.equal(await ufsText('p/rest-put'), 'waited');
});
