/**
 * The s3:// adapter's own signed GETs (src/ufs/s3-get.ts, signer src/domain/sigv4.ts)
 * against a real s3rver, which verifies SigV4 signatures: keys that need encoding, ranges
 * (closed, open-ended, past the end), metadata equal to what the SDK's HeadObject reports,
 * missing keys, wrong credentials, If-Match on another version. Retries and the session
 * token against a plain HTTP server of this test that answers like S3 and checks the
 * signature with the S3 front end's verifier.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTcpServer } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseMount } from '../../src/domain/mounts.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { S3Ufs } from '../../src/ufs/s3.js';
import { S3ObjectGetter, S3GetError } from '../../src/ufs/s3-get.js';
import { verifySignature } from '../../src/frontends/s3/sigv4.js';
import { signV4 } from '../../src/domain/sigv4.js';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { freePort } from '../../src/local/etcd-server.js';

const require = createRequire(import.meta.url);
const code = (c: string) => (e: unknown) => e instanceof AlluxioError && e.code === c;

describe('s3:// signed GETs against s3rver', () => {
  let server: { run(): Promise<unknown>; close(): Promise<void> } | undefined;
  let dir = '';
  let options: Record<string, string> = {};
  let ufs: S3Ufs;
  const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff));
  const names = ['plain.bin', 'a b+c%d é€.bin', "q'(x)*~!.bin"];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 's3rver-get-'));
    const port = await freePort();
    const S3rver = require('s3rver');
    server = new S3rver({ port, address: '127.0.0.1', directory: dir, silent: true, configureBuckets: [{ name: 'get-test' }] });
    await server!.run();
    options = { 's3a.endpoint': `http://127.0.0.1:${port}`, 's3a.accessKeyId': 'S3RVER', 's3a.secretKey': 'S3RVER' };
    ufs = S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: 's3://get-test/pre fix', options }));
    for (const n of names) await ufs.client.send(new PutObjectCommand({ Bucket: 'get-test', Key: `pre fix/d/${n}`, Body: data }));
  });
  after(async () => {
    await ufs?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('keys that need encoding read back whole and by range; metadata as HeadObject reports it', async () => {
    for (const n of names) {
      assert.ok((await buffer(await ufs.read(['d', n]))).equals(data), n);
      assert.ok((await buffer(await ufs.read(['d', n], { start: 100, end: 4195 }))).equals(data.subarray(100, 4196)), n);
      const st = await ufs.stat(['d', n]);
      const first = await ufs.readFirst(['d', n], { start: 4096, end: 8191 });
      assert.ok(first && st);
      assert.deepEqual(first.entry, st, n);
      // stat is our own signed HEAD now: the same entry as the SDK's HeadObject gives
      const h = await ufs.client.send(new HeadObjectCommand({ Bucket: 'get-test', Key: `pre fix/d/${n}` }));
      assert.deepEqual(st, { name: n, type: 'file', size: Number(h.ContentLength), mtimeMs: h.LastModified!.getTime(), etag: h.ETag!.replace(/"/g, '') }, n);
      assert.ok((await buffer(first.body!)).equals(data.subarray(4096, 8192)));
    }
  });

  test('readFirst: an open end reads to the end; past the end is null; a missing key or a directory is its entry, no body', async () => {
    const rest = await ufs.readFirst(['d', 'plain.bin'], { start: 9000, end: Number.POSITIVE_INFINITY });
    assert.ok(rest?.body);
    assert.equal(rest.entry.size, data.length);
    assert.ok((await buffer(rest.body)).equals(data.subarray(9000)));
    assert.equal(await ufs.readFirst(['d', 'plain.bin'], { start: 20_000, end: 30_000 }), null);
    assert.deepEqual(await ufs.readFirst(['d', 'missing'], { start: 0, end: 10 }), { entry: null });
    assert.deepEqual(await ufs.readFirst(['d'], { start: 0, end: 10 }), { entry: { name: 'd', type: 'directory', size: 0, mtimeMs: 0 } });
  });

  test('a missing key is NotFound; If-Match on another version is Conflict', async () => {
    await assert.rejects(ufs.read(['d', 'missing']), (e) => code('NotFound')(e) && /GetObject on s3:\/\/get-test\/.*: NoSuchKey/.test((e as Error).message));
    const st = await ufs.stat(['d', 'plain.bin']);
    assert.ok((await buffer(await ufs.read(['d', 'plain.bin'], { start: 0, end: 9 }, st!.etag))).equals(data.subarray(0, 10)));
    await assert.rejects(ufs.read(['d', 'plain.bin'], { start: 0, end: 9 }, '0123456789abcdef0123456789abcdef'), code('Conflict'));
    // a range past the end: the object is another, shorter version than the one read (it was InvalidArgument, a 400)
    await assert.rejects(ufs.read(['d', 'plain.bin'], { start: data.length + 10, end: data.length + 20 }, st!.etag), code('Conflict'));
    await assert.rejects(ufs.read(['d', 'plain.bin'], { start: data.length + 10, end: data.length + 20 }), code('Conflict'));
  });

  test('an unknown access key is UfsAccessDenied', async () => {
    // (s3rver checks the access key, not V4 signatures: the signature itself is checked
    // against the AWS SDK's signer and the S3 front end's verifier below)
    const bad = S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: 's3://get-test/pre fix', options: { ...options, 's3a.accessKeyId': 'WRONG' } }));
    try {
      await assert.rejects(bad.read(['d', 'plain.bin']), code('UfsAccessDenied'));
      await assert.rejects(bad.readFirst(['d', 'plain.bin'], { start: 0, end: 9 }), code('UfsAccessDenied'));
      await assert.rejects(bad.stat(['d', 'plain.bin']), code('UfsAccessDenied'));
    } finally {
      await bad.close();
    }
  });
});

test('the signer agrees with the AWS SDK signer (keys that need encoding, range, If-Match, session token)', async () => {
  const now = Date.UTC(2026, 11, 1, 3, 45, 0);
  for (const path of ['/bk/plain.bin', '/bk/a%20b%2Bc%25d%20%C3%A9%E2%82%AC.bin', "/bk/q%27%28x%29%2A~%21.bin", '/bk/dir/sub/x']) {
    const extra = { range: 'bytes=0-4095', 'if-match': '"abc"', 'x-amz-security-token': 'TOKEN/with+chars=' };
    const ours = signV4({ method: 'GET', rawPath: path, rawQuery: '', host: 'h.example:9000', accessKey: 'AK', secret: 'SK', region: 'eu-west-1', service: 's3', now, headers: extra });
    const aws = await new SignatureV4({ credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'TOKEN/with+chars=' }, region: 'eu-west-1', service: 's3', sha256: Sha256, uriEscapePath: false }).sign(
      { method: 'GET', protocol: 'http:', hostname: 'h.example', port: 9000, path, query: {}, headers: { host: 'h.example:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', range: extra.range, 'if-match': extra['if-match'] } },
      { signingDate: new Date(now) },
    );
    assert.equal(ours.authorization, aws.headers.authorization, path);
  }
});

describe('s3:// signed GETs: retries and session tokens', () => {
  let srv: Server;
  let port = 0;
  const seen: IncomingMessage[] = [];
  /** Per request: what to answer (status and S3 error code), in order; then 206 with 'hello'. */
  let script: { status: number; code: string }[] = [];
  before(async () => {
    srv = createServer((req, res) => {
      seen.push(req);
      try {
        // The S3 front end's verifier: the signature must cover every x-amz-* header sent.
        verifySignature({ method: req.method!, rawPath: req.url!.split('?')[0]!, rawQuery: '', headers: req.headers }, new Map([['AK', 'SK']]), { services: ['s3'] });
      } catch (e) {
        res.writeHead(403).end(`<Error><Code>SignatureDoesNotMatch</Code><Message>${(e as Error).message}</Message></Error>`);
        return;
      }
      const next = script.shift();
      if (next) {
        res.writeHead(next.status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0"?><Error><Code>${next.code}</Code><Message>try &amp; again</Message></Error>`);
        return;
      }
      res.writeHead(206, { 'content-range': 'bytes 0-4/5', etag: '"e1"', 'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT' }).end('hello');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    port = (srv.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => srv.close(() => r())));

  const getter = (sessionToken?: string) =>
    new S3ObjectGetter({ bucket: 'bk', region: 'eu-west-1', pathStyle: true, endpoint: `http://127.0.0.1:${port}/base/`, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', ...(sessionToken ? { sessionToken } : {}) }, maxAttempts: 3 });

  test('5xx and throttling answers are retried up to maxAttempts; 4xx are not', async () => {
    const g = getter();
    try {
      seen.length = 0;
      script = [{ status: 500, code: 'InternalError' }, { status: 503, code: 'SlowDown' }];
      const res = await g.get('k/x y', { range: 'bytes=0-4' });
      assert.equal(res.statusCode, 206);
      assert.equal((await buffer(res.body)).toString(), 'hello');
      assert.equal(seen.length, 3);
      assert.equal(seen[0]!.url, '/base/bk/k/x%20y');
      assert.equal(seen[0]!.headers.range, 'bytes=0-4');

      seen.length = 0;
      script = [{ status: 500, code: 'InternalError' }, { status: 500, code: 'InternalError' }, { status: 500, code: 'InternalError' }];
      await assert.rejects(g.get('k'), (e) => e instanceof S3GetError && e.name === 'InternalError' && e.$metadata.httpStatusCode === 500 && e.message === 'try & again');
      assert.equal(seen.length, 3);

      seen.length = 0;
      script = [{ status: 404, code: 'NoSuchKey' }];
      await assert.rejects(g.get('k'), (e) => e instanceof S3GetError && e.name === 'NoSuchKey' && e.$metadata.httpStatusCode === 404);
      assert.equal(seen.length, 1);
    } finally {
      g.destroy();
    }
  });

  test('a session token is sent and signed', async () => {
    const g = getter('TOKEN/with+chars=');
    try {
      seen.length = 0;
      script = [];
      const res = await g.get('k', { ifMatch: '"e1"' });
      await buffer(res.body);
      assert.equal(res.statusCode, 206);
      const h = seen[0]!.headers;
      assert.equal(h['x-amz-security-token'], 'TOKEN/with+chars=');
      assert.match(String(h.authorization), /SignedHeaders=[^,]*if-match[^,]*x-amz-security-token/);
      assert.match(String(h.authorization), /Credential=AK\/\d{8}\/eu-west-1\/s3\/aws4_request/);
    } finally {
      g.destroy();
    }
  });

  test('a connection reset before an answer is retried', async () => {
    let connections = 0;
    const rst = createTcpServer((sock) => {
      connections++;
      sock.resetAndDestroy();
    });
    await new Promise<void>((r) => rst.listen(0, '127.0.0.1', r));
    const g = new S3ObjectGetter({ bucket: 'bk', region: 'us-east-1', pathStyle: true, endpoint: `http://127.0.0.1:${(rst.address() as AddressInfo).port}`, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' }, maxAttempts: 2 });
    try {
      await assert.rejects(g.get('k'), (e) => (e as NodeJS.ErrnoException).code === 'ECONNRESET');
      assert.equal(connections, 2);
    } finally {
      g.destroy();
      await new Promise<void>((r) => rst.close(() => r()));
    }
  });

  test('a UFS that takes the request and never answers: reads fail at s3a.socket.timeout, saying so, without retries; listings too', async () => {
    let connections = 0;
    const held = new Set<import('node:net').Socket>();
    const silent = createTcpServer((sock) => {
      connections++;
      held.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const ufs = S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: 's3://bkt/', options: { 's3a.endpoint': endpoint, 's3a.accessKeyId': 'AK', 's3a.secretKey': 'SK', 's3a.socket.timeout': '1s' } }));
    try {
      for (const [what, call] of [
        ['GetObject', () => ufs.read(['k'])],
        ['GetObject', () => ufs.readFirst(['k'], { start: 0, end: 9 })],
        ['HeadObject', () => ufs.stat(['k'])],
      ] as const) {
        connections = 0;
        const t0 = Date.now();
        await assert.rejects(call(), (e) => code('UfsUnavailable')(e) && new RegExp(`${what} on s3://bkt/: TimeoutError: no answer from 127\\.0\\.0\\.1:\\d+ within 1000 ms \\(s3a\\.socket\\.timeout\\)`).test((e as Error).message));
        assert.ok(Date.now() - t0 >= 900, `${what} waited for the deadline`);
        assert.equal(connections, 1, `${what}: a deadline is not retried`);
      }
      // what stays on the SDK (listings, directory checks, writes) has the same deadline
      await assert.rejects(ufs.list([]), (e) => code('UfsUnavailable')(e) && /ListObjectsV2 on s3:\/\/bkt\/: TimeoutError: .*timed out after 1000 ms of inactivity/.test((e as Error).message));
    } finally {
      await ufs.close();
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test('a body that stops half-way fails the read at s3a.socket.timeout, saying so', async () => {
    const stall = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': '100', etag: '"e1"' });
      res.write(Buffer.alloc(10, 1)); // then nothing
    });
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(stall.address() as AddressInfo).port}`;
    const ufs = S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: 's3://bkt/', options: { 's3a.endpoint': endpoint, 's3a.accessKeyId': 'AK', 's3a.secretKey': 'SK', 's3a.socket.timeout': '1s' } }));
    try {
      const body = await ufs.read(['k']);
      await assert.rejects(buffer(body), (e) => (e as Error).name === 'TimeoutError' && /^no body bytes from 127\.0\.0\.1:\d+ for 1000 ms \(s3a\.socket\.timeout\)$/.test((e as Error).message));
    } finally {
      await ufs.close();
      stall.closeAllConnections();
      await new Promise<void>((r) => stall.close(() => r()));
    }
  });

  test('a store that ignores Range (200, the whole object): reads get exactly the bytes they asked for', async () => {
    const obj = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) & 0xff));
    const ranges: (string | undefined)[] = [];
    const store = createServer((req, res) => {
      ranges.push(req.headers.range);
      res.writeHead(200, { 'content-length': String(obj.length), etag: '"e1"', 'last-modified': new Date(0).toUTCString() });
      if (req.method === 'HEAD') return res.end();
      // in several writes, so the slices cross chunk boundaries
      for (let off = 0; off < obj.length; off += 16_384) res.write(obj.subarray(off, off + 16_384));
      res.end();
    });
    await new Promise<void>((r) => store.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
    const ufs = S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: 's3://bkt/', options: { 's3a.endpoint': endpoint, 's3a.accessKeyId': 'AK', 's3a.secretKey': 'SK' } }));
    try {
      for (const [start, end] of [[0, 4], [3, 9], [16_380, 16_390], [100_000, 299_999], [299_999, 299_999], [5, 1_000_000], [0, 299_999]] as const) {
        const got = await buffer(await ufs.read(['k'], { start, end }, 'e1'));
        assert.ok(got.equals(obj.subarray(start, end + 1)), `read ${start}-${end}: ${got.length} bytes`);
      }
      assert.equal(ranges.at(-1), 'bytes=0-299999', 'the range was asked for');
      assert.ok((await buffer(await ufs.read(['k']))).equals(obj), 'no range: the whole object');
      for (const [start, end] of [[0, 99], [1000, 2047], [250_000, Infinity]] as const) {
        const first = await ufs.readFirst(['k'], { start, end });
        assert.equal(first?.entry?.size, obj.length, `readFirst ${start}-${end}: the size is the whole object's`);
        assert.equal(first?.entry?.etag, 'e1');
        const got = await buffer(first!.body!);
        assert.ok(got.equals(obj.subarray(start, Number.isFinite(end) ? end + 1 : undefined)), `readFirst ${start}-${end}: ${got.length} bytes`);
      }
    } finally {
      await ufs.close();
      store.closeAllConnections();
      await new Promise<void>((r) => store.close(() => r()));
    }
  });

  test('a name that is no object: the marker HEAD and the listing go out together, after ONE request for the name; a marker gives the directory its ETag and date', async () => {
    // The store answers neither directory probe until both arrived: probes made one after
    // the other would wait for the deadline and fail.
    const seen: string[] = [];
    let marker = 404;
    let listed = 0;
    let listStatus = 200;
    let held: (() => void)[] = [];
    const store = createServer((req, res) => {
      const what = `${req.method} ${req.url!.split('&')[0]}`;
      seen.push(what);
      if (req.url === '/bkt/k' || req.url === '/bkt/k?x-id=GetObject') {
        res.writeHead(404, { 'content-type': 'application/xml' }).end(req.method === 'HEAD' ? undefined : '<Error><Code>NoSuchKey</Code><Message>none</Message></Error>');
        return;
      }
      const answer = req.url === '/bkt/k/'
        ? () => res.writeHead(marker, marker === 200 ? { 'content-length': '0', etag: '"m"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' } : {}).end()
        : listStatus !== 200
          ? () => res.writeHead(listStatus, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code><Message>no listing</Message></Error>')
          : () =>
              res.writeHead(200, { 'content-type': 'application/xml' }).end(
                `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix>k/</Prefix><KeyCount>${listed}</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated>${listed ? '<Contents><Key>k/x</Key><Size>1</Size></Contents>' : ''}</ListBucketResult>`,
              );
      held.push(answer);
      if (held.length === 2) for (const a of held.splice(0)) a();
    });
    await new Promise<void>((r) => store.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
    const ufs = S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: 's3://bkt/', options: { 's3a.endpoint': endpoint, 's3a.accessKeyId': 'AK', 's3a.secretKey': 'SK', 's3a.socket.timeout': '20s' } }));
    const dir = { name: 'k', type: 'directory', size: 0, mtimeMs: 0 };
    const withMarker = { ...dir, mtimeMs: Date.parse('Tue, 01 Dec 2026 10:00:00 GMT'), etag: 'm' }; // the marker's
    try {
      assert.deepEqual(await ufs.readFirst(['k'], { start: 0, end: 9 }), { entry: null }, 'missing');
      assert.deepEqual(seen.slice(0, 1), ['GET /bkt/k']);
      assert.deepEqual(seen.slice(1).sort(), ['GET /bkt/?list-type=2', 'HEAD /bkt/k/'], 'the name is not asked for again');
      seen.length = 0;
      assert.equal(await ufs.stat(['k']), null);
      assert.deepEqual(seen.slice(0, 1), ['HEAD /bkt/k']);
      assert.equal(seen.length, 3);
      marker = 200; // a directory with its marker: a gateway over a file system lists nothing in it
      assert.deepEqual(await ufs.stat(['k']), withMarker);
      assert.deepEqual(await ufs.readFirst(['k'], { start: 0, end: 9 }), { entry: withMarker });
      marker = 404;
      listed = 1; // keys below it, no marker
      assert.deepEqual(await ufs.stat(['k']), dir);
      assert.deepEqual(await ufs.readFirst(['k'], { start: 0, end: 9 }), { entry: dir });
      listed = 0;
      listStatus = 403; // neither says directory, one failed: that failure
      await assert.rejects(ufs.stat(['k']), (e) => code('UfsAccessDenied')(e) && /ListObjectsV2 on s3:\/\/bkt\/: AccessDenied/.test((e as Error).message));
      marker = 200; // the marker answers even though the listing failed
      assert.deepEqual(await ufs.stat(['k']), withMarker);
    } finally {
      await ufs.close();
      held = [];
      store.closeAllConnections();
      await new Promise<void>((r) => store.close(() => r()));
    }
  });

  test('s3a.socket.timeout must be a positive duration', () => {
    for (const bad of ['0s', 'soon', '-1']) {
      assert.throws(() => S3Ufs.fromMount(parseMount({ path: '/m', ufsUri: 's3://bkt/', options: { 's3a.socket.timeout': bad } })), (e) => code('InvalidOption')(e) && /s3a\.socket\.timeout/.test((e as Error).message), bad);
    }
  });
});
