/**
 * A worker configured with key pairs (ALLUXIO_S3_CREDENTIALS, the S3 API's variable)
 * protects its REST data API with the same SigV4 verifier as S3: unsigned requests,
 * wrong secrets and unknown keys are refused before anything is read, written or deleted
 * (short-circuit grants included); requests signed by an independent SigV4 implementation
 * (@smithy/signature-v4, the AWS SDK's signer) for service "alluxio" or "s3" are served,
 * PUT bodies streamed as UNSIGNED-PAYLOAD. Health, readiness, metrics and status stay open.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { TEMP_PREFIX } from '../../src/ufs/file.js';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { makeMountTree, type MountTree } from '../helpers/mount-tree.js';
import { startWorker, stopWorkers, type WorkerProcess } from '../helpers/worker.js';

const AK = 'AKIDREST';
const SK = 'rest/s3cr3t+key';

let etcd: TestEtcd;
let tree: MountTree;
let worker: WorkerProcess;
let port: number;

before(async () => {
  etcd = await startTestEtcd();
  tree = makeMountTree('rest-auth-');
  const cli = cliFor(etcd.endpoint);
  const r = await cli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${tree.data}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  mkdirSync(join(tree.data, 'dir', 'sub'), { recursive: true });
  writeFileSync(join(tree.data, 'dir', 'sub', 'keep.txt'), 'keep me');
  writeFileSync(join(tree.data, 'doc.txt'), 'protected content');
  worker = await startWorker(etcd.endpoint, { env: { ALLUXIO_S3_CREDENTIALS: `${AK}:${SK},OTHER:other-secret` } });
  port = worker.restPort;
});

after(async () => {
  await stopWorkers([worker]);
  await etcd?.destroy();
  if (tree) rmSync(tree.dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(method: string, path: string, query: Record<string, string>, headers: Record<string, string>, body?: Buffer): Promise<Reply> {
  const qs = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: qs ? `${path}?${qs}` : path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function signed(
  method: string,
  path: string,
  query: Record<string, string>,
  opts: { ak?: string; sk?: string; service?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Reply> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: opts.ak ?? AK, secretAccessKey: opts.sk ?? SK },
    region: 'us-east-1',
    service: opts.service ?? 'alluxio',
    sha256: Sha256,
  });
  const req = await signer.sign({
    method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port,
    path,
    query,
    headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(opts.headers ?? {}) },
  });
  return send(method, path, query, req.headers as Record<string, string>, opts.body);
}

function errorOf(r: Reply): { code: string; message: string } {
  assert.equal(r.headers['content-type'], 'application/json', r.body);
  const doc = JSON.parse(r.body) as { error: { code: string; message: string } };
  assert.equal(typeof doc.error?.message, 'string', r.body);
  return doc.error;
}

test('unsigned requests are refused on every data endpoint, and nothing is read, written or deleted', async () => {
  const get = await send('GET', '/api/v1/file', { uri: 'alluxio:///data/doc.txt' }, {});
  assert.equal(get.status, 401);
  assert.equal(errorOf(get).code, 'AccessDenied');
  assert.doesNotMatch(get.body, /protected content/);
  for (const [endpoint, query] of [
    ['info', { uri: 'alluxio:///data/doc.txt' }],
    ['info', { uri: 'alluxio:///data/doc.txt', shortCircuit: 'true' }],
    ['list', { uri: 'alluxio:///data' }],
    ['mounts', {}],
    ['resolve', { uri: 'alluxio:///data/doc.txt' }],
  ] as const) {
    const r = await send('GET', `/api/v1/${endpoint}`, query, {});
    assert.equal(r.status, 401, `${endpoint}: ${r.body}`);
    assert.equal(errorOf(r).code, 'AccessDenied');
    assert.doesNotMatch(r.body, /localPath|doc\.txt"|file:\/\//, endpoint);
  }
  const put = await send('PUT', '/api/v1/file', { uri: 'alluxio:///data/evil.txt' }, { 'content-type': 'application/octet-stream' }, Buffer.from('evil'));
  assert.equal(put.status, 401);
  assert.equal(existsSync(join(tree.data, 'evil.txt')), false);
  const del = await send('DELETE', '/api/v1/file', { uri: 'alluxio:///data/dir', recursive: 'true' }, {});
  assert.equal(del.status, 401);
  assert.equal(readFileSync(join(tree.data, 'dir', 'sub', 'keep.txt'), 'utf8'), 'keep me');
  const mk = await send('POST', '/api/v1/mkdir', { uri: 'alluxio:///data/newdir' }, {});
  assert.equal(mk.status, 401);
  assert.equal(existsSync(join(tree.data, 'newdir')), false);
  // a UFS-native URI is no way around it either
  const native = await send('GET', '/api/v1/file', { uri: `file://${tree.data}/doc.txt` }, {});
  assert.equal(native.status, 401);
});

test('wrong secrets, unknown keys, foreign services and tampered requests are refused (403; a foreign service 400)', async () => {
  const wrong = await signed('GET', '/api/v1/file', { uri: 'alluxio:///data/doc.txt' }, { sk: 'not-the-secret' });
  assert.equal(wrong.status, 403);
  assert.equal(errorOf(wrong).code, 'SignatureDoesNotMatch');
  const wrongPut = await signed('PUT', '/api/v1/file', { uri: 'alluxio:///data/evil.txt' }, { sk: 'not-the-secret', body: Buffer.from('evil') });
  assert.equal(wrongPut.status, 403);
  assert.equal(existsSync(join(tree.data, 'evil.txt')), false);
  const wrongDel = await signed('DELETE', '/api/v1/file', { uri: 'alluxio:///data/dir', recursive: 'true' }, { sk: 'nope' });
  assert.equal(wrongDel.status, 403);
  assert.equal(existsSync(join(tree.data, 'dir', 'sub', 'keep.txt')), true);
  const unknown = await signed('GET', '/api/v1/info', { uri: 'alluxio:///data/doc.txt' }, { ak: 'NOBODY', sk: 'x' });
  assert.equal(unknown.status, 403);
  assert.equal(errorOf(unknown).code, 'InvalidAccessKeyId');
  const ec2 = await signed('GET', '/api/v1/info', { uri: 'alluxio:///data/doc.txt' }, { service: 'ec2' });
  assert.equal(ec2.status, 400);
  assert.equal(errorOf(ec2).code, 'AuthorizationHeaderMalformed');
  assert.match(errorOf(ec2).message, /incorrect service "ec2"/);
  // a valid signature for one file does not open another
  const signer = new SignatureV4({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'us-east-1', service: 'alluxio', sha256: Sha256 });
  const s = await signer.sign({ method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port, path: '/api/v1/file', query: { uri: 'alluxio:///data/doc.txt' }, headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const swapped = await send('GET', '/api/v1/file', { uri: 'alluxio:///data/dir/sub/keep.txt' }, s.headers as Record<string, string>);
  assert.equal(swapped.status, 403);
  assert.equal(errorOf(swapped).code, 'SignatureDoesNotMatch');
  const asDelete = await send('DELETE', '/api/v1/file', { uri: 'alluxio:///data/doc.txt' }, s.headers as Record<string, string>);
  assert.equal(asDelete.status, 403);
  assert.equal(existsSync(join(tree.data, 'doc.txt')), true);
});

test('signed requests (service alluxio or s3, either key pair) read, write, list and delete', async () => {
  const get = await signed('GET', '/api/v1/file', { uri: 'alluxio:///data/doc.txt' });
  assert.equal(get.status, 200, get.body);
  assert.equal(get.body, 'protected content');
  const range = await signed('GET', '/api/v1/file', { uri: 'alluxio:///data/doc.txt' }, { headers: { range: 'bytes=0-8' }, service: 's3' });
  assert.equal(range.status, 206, range.body);
  assert.equal(range.body, 'protected');
  const body = Buffer.from('written with a signature, é');
  const put = await signed('PUT', '/api/v1/file', { uri: 'alluxio:///data/new dir/é+x.txt' }, { ak: 'OTHER', sk: 'other-secret', headers: { 'content-type': 'application/octet-stream' }, body });
  assert.equal(put.status, 201, put.body);
  assert.ok(readFileSync(join(tree.data, 'new dir', 'é+x.txt')).equals(body));
  const list = await signed('GET', '/api/v1/list', { uri: 'alluxio:///data/new dir' });
  assert.equal(list.status, 200, list.body);
  assert.deepEqual((JSON.parse(list.body) as { entries: { name: string }[] }).entries.map((e) => e.name), ['alluxio:///data/new dir/é+x.txt']);
  const sc = await signed('GET', '/api/v1/info', { uri: 'alluxio:///data/doc.txt', shortCircuit: 'true' });
  assert.equal(sc.status, 200, sc.body);
  assert.equal(JSON.parse(sc.body).localPath, join(tree.data, 'doc.txt'));
  const del = await signed('DELETE', '/api/v1/file', { uri: 'alluxio:///data/new dir', recursive: 'true' });
  assert.equal(del.status, 200, del.body);
  assert.equal(existsSync(join(tree.data, 'new dir')), false);
});

test('a signed body hash is checked: a PUT whose body does not match it is 400 XAmzContentSHA256Mismatch and writes nothing', async () => {
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const good = Buffer.from('the body that was signed');
  // The body swapped after signing (a hex hash in the signed x-amz-content-sha256).
  const swapped = await signed('PUT', '/api/v1/file', { uri: 'alluxio:///data/hashed.txt' }, { headers: { 'x-amz-content-sha256': sha(good) }, body: Buffer.from('another body that was sent') });
  assert.equal(swapped.status, 400, swapped.body);
  assert.equal(errorOf(swapped).code, 'XAmzContentSHA256Mismatch');
  assert.equal(existsSync(join(tree.data, 'hashed.txt')), false);
  // A large body (streamed to the UFS as it arrives) with one byte changed at the end: no file, no temp file.
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  const bigBad = Buffer.from(big);
  bigBad[bigBad.length - 1] = 8;
  const late = await signed('PUT', '/api/v1/file', { uri: 'alluxio:///data/hashed-big.bin' }, { headers: { 'x-amz-content-sha256': sha(big) }, body: bigBad });
  assert.equal(late.status, 400, late.body);
  assert.equal(errorOf(late).code, 'XAmzContentSHA256Mismatch');
  assert.deepEqual(readdirSync(tree.data).filter((n) => n.includes('hashed') || n.startsWith(TEMP_PREFIX)), []);
  // The matching body lands.
  const ok = await signed('PUT', '/api/v1/file', { uri: 'alluxio:///data/hashed.txt' }, { headers: { 'x-amz-content-sha256': sha(good) }, body: good });
  assert.equal(ok.status, 201, ok.body);
  assert.equal(readFileSync(join(tree.data, 'hashed.txt'), 'utf8'), good.toString());
  rmSync(join(tree.data, 'hashed.txt'));
});

test('SigV2 (header or presigned) is refused with 400 InvalidRequest, even validly signed: it does not cover uri, so one signature would serve any file', async () => {
  const date = new Date().toUTCString();
  const v2 = (sts: string) => createHmac('sha1', SK).update(sts).digest('base64');
  const put = await send('PUT', '/api/v1/file', { uri: 'alluxio:///data/v2.txt' }, { date, authorization: `AWS ${AK}:${v2(`PUT\n\napplication/octet-stream\n${date}\n/api/v1/file`)}`, 'content-type': 'application/octet-stream' }, Buffer.from('v2'));
  assert.equal(put.status, 400, put.body);
  assert.equal(errorOf(put).code, 'InvalidRequest');
  assert.ok(!existsSync(join(tree.data, 'v2.txt')), 'nothing written');
  const expires = String(Math.floor(Date.now() / 1000) + 3600);
  for (const uri of ['alluxio:///data/doc.txt', 'alluxio:///data/dir/sub/keep.txt']) {
    const get = await send('GET', '/api/v1/file', { uri, AWSAccessKeyId: AK, Expires: expires, Signature: v2(`GET\n\n\n${expires}\n/api/v1/file`) }, {});
    assert.equal(get.status, 400, get.body);
    assert.equal(errorOf(get).code, 'InvalidRequest');
    assert.doesNotMatch(get.body, /protected content|keep me/);
  }
  const del = await send('DELETE', '/api/v1/file', { uri: 'alluxio:///data/dir', recursive: 'true', AWSAccessKeyId: AK, Expires: expires, Signature: v2(`DELETE\n\n\n${expires}\n/api/v1/file`) }, {});
  assert.equal(del.status, 400, del.body);
  assert.ok(existsSync(join(tree.data, 'dir', 'sub', 'keep.txt')), 'nothing deleted');
});

test('health, readiness, metrics and status stay open', async () => {
  for (const p of ['/healthz', '/readyz', '/metrics', '/api/v1/status']) {
    const r = await send('GET', p, {}, {});
    assert.equal(r.status, 200, `${p}: ${r.body}`);
  }
});
