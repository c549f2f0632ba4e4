/**
 * One cache across the cluster (docs/cluster-cache.md), with real worker processes over an
 * s3:// UFS (s3rver): each file is fetched from the UFS once, by its owner, whichever worker
 * a client asks; a worker killed with -9 in the middle of reads costs at most a retry, never
 * wrong bytes; with --s3-redirect a non-owner answers 307 and a redirected request is never
 * redirected again.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startCachingCluster, type CachingCluster } from '../helpers/cluster-cache.js';
import type { WorkerProcess } from '../helpers/worker.js';
import { placementOrder } from '../../src/domain/placement.js';
import { metric, pattern } from './harness.js';
import { until } from '../helpers/poll.js';

const PAGE = 64 * 1024;

/** Files of the dataset: small, one page, several pages, a partial last page. */
const FILES = Array.from({ length: 12 }, (_, i) => ({ key: `set/f${i}.bin`, data: pattern([100, PAGE, 3 * PAGE + 17, 5000][i % 4]! + i, 40 + i) }));
const TOTAL = FILES.reduce((n, f) => n + f.data.length, 0);
/** A second dataset, loaded with `cache load`. */
const LOADED = Array.from({ length: 9 }, (_, i) => ({ key: `load/g${i}.bin`, data: pattern(2 * PAGE + 1000 * i, 70 + i) }));

describe('one cache across the cluster: ownership, proxy, redirect, failover', () => {
  let c: CachingCluster;
  let workers: WorkerProcess[];
  const get = (w: WorkerProcess, key: string): Promise<Buffer> => c.s3Get(w, key);
  const ufsBytes = (ws: readonly WorkerProcess[]): Promise<number> => c.ufsBytes(ws);
  const nameOf = (w: WorkerProcess): string => c.nameOf(w);

  before(async () => {
    c = await startCachingCluster({ name: 'cluster-cache', files: [...FILES, ...LOADED] });
    workers = c.workers;
  });
  after(async () => {
    await c?.stop();
  });

  test('every worker reports the same ring, shares near 1/3, and owners agree with placementOrder', async () => {
    for (const w of workers) {
      const st = await w.status();
      assert.equal(st.ring.self, nameOf(w));
      const total = st.ring.members.reduce((n: number, m: { share: number }) => n + m.share, 0);
      assert.ok(Math.abs(total - 1) < 1e-9);
      for (const m of st.ring.members) assert.ok(m.share > 0.25 && m.share < 0.42, `share ${m.share} of ${m.name}`);
    }
  });

  test('a dataset read through S3 on one worker, then on the others and over REST, is fetched from the UFS once', async () => {
    const before = await ufsBytes(workers);
    for (const f of FILES) assert.ok((await get(workers[0]!, f.key)).equals(f.data), f.key);
    assert.equal((await ufsBytes(workers)) - before, TOTAL, 'first pass: each byte fetched once, by its owner');
    // Which worker fetched which file: exactly the owner by the documented function.
    const names = workers.map(nameOf);
    const owned = new Map(workers.map((w) => [nameOf(w), 0]));
    for (const f of FILES) {
      const owner = placementOrder(names, `s3://remote/${f.key}`)[0]!;
      owned.set(owner, owned.get(owner)! + f.data.length);
    }
    for (const w of workers) assert.equal(await metric(w, 'alluxio_ufs_read_bytes_total'), owned.get(nameOf(w)), `UFS bytes read by ${w.id}`);
    const warm = await ufsBytes(workers);
    for (const w of workers.slice(1)) for (const f of FILES) assert.ok((await get(w, f.key)).equals(f.data));
    for (const f of FILES) {
      const r = await fetch(`${workers[2]!.restUrl}/api/v1/file?uri=${encodeURIComponent(`alluxio:///data/${f.key}`)}`);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(f.data));
    }
    assert.equal(await ufsBytes(workers), warm, 'later passes read 0 bytes from the UFS');
  });

  test('cache load: each file is loaded once, by its owner; cache status and worker list show the shares', async () => {
    const cli = c.cli;
    const before = await Promise.all(workers.map((w) => metric(w, 'alluxio_ufs_read_bytes_total')));
    const r = await cli(['cache', 'load', '--path', '/data/load', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    const names = workers.map(nameOf);
    const total = LOADED.reduce((n, f) => n + f.data.length, 0);
    for (let i = 0; i < workers.length; i++) {
      const owned = LOADED.filter((f) => placementOrder(names, `s3://remote/${f.key}`)[0] === names[i]).reduce((n, f) => n + f.data.length, 0);
      assert.equal((await metric(workers[i]!, 'alluxio_ufs_read_bytes_total')) - before[i]!, owned, `${workers[i]!.id} loaded what it owns`);
    }
    const st = await cli(['cache', 'status', '--path', '/data/load', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const answers = (JSON.parse(st.stdout) as { workers: { result: { share: number; path: { bytes: number; cachedBytes: number } } }[] }).workers;
    assert.equal(answers.reduce((n, a) => n + a.result.path.bytes, 0), total, 'the owners\' files add up to the dataset');
    assert.equal(answers.reduce((n, a) => n + a.result.path.cachedBytes, 0), total, 'all of it cached, once');
    assert.ok(Math.abs(answers.reduce((n, a) => n + a.result.share, 0) - 1) < 1e-9);
    const wl = await cli(['worker', 'list', '--json']);
    assert.equal(wl.code, 0, wl.stderr);
    const listed = (JSON.parse(wl.stdout) as { workers: { id: string; caching: boolean; share: number }[] }).workers;
    assert.equal(listed.length, 3);
    for (const w of listed) {
      assert.equal(w.caching, true);
      // the CLI computes the share from the records; each worker from its ring: the same figure
      assert.equal(w.share, answers[workers.findIndex((x) => x.id === w.id)]!.result.share, w.id);
    }
    const table = await cli(['worker', 'list']);
    for (const line of table.stdout.trim().split('\n')) assert.match(line, /\t\d+\.\d%$/, 'last column: the share');
  });

  test('cache load --wait with a worker refusing the load (16 loads running there): exit 3 naming it, the others load their share', { timeout: 180_000 }, async () => {
    const cli = c.cli;
    const [w0] = workers as [WorkerProcess];
    // 16 loads held on w0: files of a UFS that answers HEAD and never answers a GET (a hung
    // endpoint), named so that w0 owns them (each worker loads the files it owns)
    const held = new Set<ServerResponse>();
    const hung = createServer((req, res) => {
      if (req.method !== 'HEAD') return void held.add(res);
      res.writeHead(200, { 'content-length': '10', etag: '"held"', 'last-modified': new Date(0).toUTCString() }).end();
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
    const m = await cli(['mount', 'add', '--path', '/hung', '--ufs-uri', 's3://hung/', '--option', `s3a.endpoint=${endpoint}`, '--option', 's3a.accessKeyId=k', '--option', 's3a.secretKey=s', '--option', 's3a.socket.timeout=10m', '--wait']);
    assert.equal(m.code, 0, m.stderr);
    const names = workers.map(nameOf);
    const keys = Array.from({ length: 200 }, (_, i) => `p${i}`).filter((k) => placementOrder(names, `s3://hung/${k}`)[0] === nameOf(w0)).slice(0, 16);
    assert.equal(keys.length, 16);
    try {
      assert.equal((await cli(['cache', 'free', '--path', '/data/load', '--yes'])).code, 0);
      for (const k of keys) {
        const res = await fetch(`${w0.restUrl}/api/v1/cache/load?path=${encodeURIComponent(`/hung/${k}`)}`, { method: 'POST' });
        assert.equal(res.status, 202, await res.text());
      }
      const r = await cli(['cache', 'load', '--path', '/data/load', '--wait', '--json'], { timeoutMs: 120_000 });
      assert.equal(r.code, 3, r.stdout + r.stderr);
      const doc = JSON.parse(r.stdout) as { error: { code: string; message: string; details: { refused: { worker: string; code: string }[]; rounds: number } } };
      assert.equal(doc.error.code, 'InvalidState');
      assert.match(doc.error.message, new RegExp(`worker ${w0.id} refused it \\(InvalidState: 16 loads are running`));
      assert.deepEqual(doc.error.details.refused.map((x) => [x.worker, x.code]), [[w0.id, 'InvalidState']]);
      assert.equal(doc.error.details.rounds, 1, 'a refusal is not asked again round after round');
      // the two others loaded what they own
      const st = (await cli(['cache', 'status', '--path', '/data/load', '--json'])).json() as { workers: { worker: string; result: { path: { cachedBytes: number } } }[] };
      for (const w of workers.slice(1)) {
        const owned = LOADED.filter((f) => placementOrder(names, `s3://remote/${f.key}`)[0] === nameOf(w)).reduce((n, f) => n + f.data.length, 0);
        assert.equal(st.workers.find((a) => a.worker === w.id)?.result.path.cachedBytes, owned, `${w.id} loaded its share`);
      }
    } finally {
      hung.close();
      for (const res of held) res.destroy();
    }
    // the hung loads fail with their connections; the load then goes through everywhere
    await until('w0 takes loads again', async () => (await cli(['cache', 'load', '--path', '/data/load', '--wait'])).code === 0 || undefined, 60_000);
    assert.equal((await cli(['mount', 'remove', '--path', '/hung', '--yes'])).code, 0);
  });

  test('an object replaced in the UFS within the metadata TTL: a GET never mixes versions, it serves the new one whole', async () => {
    const key = 'swap/obj.bin';
    const v1 = pattern(3 * PAGE, 81);
    const v2 = pattern(3 * PAGE, 82); // same size: only the ETag tells them apart
    const ufs = new S3Client({ endpoint: c.ufsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      for (const via of ['owner', 'proxy'] as const) {
        const k = `${key}.${via}`;
        await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: k, Body: v1 }));
        const w = via === 'owner' ? c.ownerOf(k) : workers.find((x) => x !== c.ownerOf(k))!;
        // the last page of v1 read (its metadata now cached for the TTL, 10 s; a cold open
        // fetches from the page read on, so pages 0 and 1 stay missing), then v1 replaced
        const from = 2 * PAGE + 5;
        const first = await fetch(`${w.s3Url}/data/${k}`, { headers: { range: `bytes=${from}-${from + 99}` } });
        assert.ok(Buffer.from(await first.arrayBuffer()).equals(v1.subarray(from, from + 100)), `${via}: first range`);
        await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: k, Body: v2 }));
        const whole = await fetch(`${w.s3Url}/data/${k}`);
        assert.equal(whole.status, 200, `${via}: ${await whole.clone().text()}`);
        const body = Buffer.from(await whole.arrayBuffer());
        assert.ok(body.equals(v2), `${via}: the new version, whole (the old one's pages cannot be completed from the UFS)`);
        assert.equal(whole.headers.get('etag'), `"${createHash('md5').update(body).digest('hex')}"`, `${via}: the ETag names the bytes sent`);
      }
    } finally {
      ufs.destroy();
    }
  });

  test('an object replaced in the UFS by a shorter one within the metadata TTL: a range past its new end is 416 with the new size (not a 400 or a cut connection)', async () => {
    // (pages past the reader's read-ahead of 16 from the first range stay uncached)
    const v1 = pattern(40 * PAGE, 84);
    const v2 = pattern(10 * PAGE, 85);
    const ufs = new S3Client({ endpoint: c.ufsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      for (const via of ['owner', 'proxy'] as const) {
        const k = `shrink/obj.bin.${via}`;
        await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: k, Body: v1 }));
        const w = via === 'owner' ? c.ownerOf(k) : workers.find((x) => x !== c.ownerOf(k))!;
        const first = await fetch(`${w.s3Url}/data/${k}`, { headers: { range: 'bytes=0-99' } }); // the metadata of v1 cached
        assert.ok(Buffer.from(await first.arrayBuffer()).equals(v1.subarray(0, 100)));
        await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: k, Body: v2 }));
        for (const range of [`bytes=${30 * PAGE}-`, `bytes=${30 * PAGE}-${30 * PAGE + 99}`]) {
          const s3 = await fetch(`${w.s3Url}/data/${k}`, { headers: { range } });
          assert.equal(s3.status, 416, `${via} S3 ${range}: ${await s3.clone().text()}`);
          assert.equal(s3.headers.get('content-range'), `bytes */${v2.length}`, `${via} S3 ${range}`);
          await s3.arrayBuffer();
          const rest = await fetch(`${w.restUrl}/api/v1/file?uri=${encodeURIComponent(`alluxio:///data/${k}`)}`, { headers: { range } });
          assert.equal(rest.status, 416, `${via} REST ${range}: ${await rest.clone().text()}`);
          await rest.arrayBuffer();
        }
        const whole = await fetch(`${w.s3Url}/data/${k}`);
        assert.ok(Buffer.from(await whole.arrayBuffer()).equals(v2), `${via}: then the new version whole`);
      }
    } finally {
      ufs.destroy();
    }
  });

  test('an overwrite, a copy and a delete through one worker are seen at once through the others (no metadata TTL window)', async () => {
    const s3 = workers.map((w) => new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 }));
    const read = async (i: number, key: string) => Buffer.from(await (await s3[i]!.send(new GetObjectCommand({ Bucket: 'data', Key: key }))).Body!.transformToByteArray());
    const md5 = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;
    try {
      for (let round = 0; round < 3; round++) {
        const key = `rw/obj-${round}.bin`;
        const v1 = pattern(2 * PAGE + 7, 90 + round);
        const v2 = pattern(2 * PAGE + 7, 95 + round); // same size: only the version tells them apart
        await s3[round]!.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: v1 }));
        // every worker reads v1: its metadata is cached for the TTL (10 s), its owner holds its pages
        for (let i = 0; i < workers.length; i++) assert.ok((await read(i, key)).equals(v1), `round ${round}: v1 on ${workers[i]!.id}`);
        const told = await metric(workers[round]!, 'alluxio_peer_invalidations_total');
        await s3[round]!.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: v2 }));
        assert.equal(await metric(workers[round]!, 'alluxio_peer_invalidations_total'), told + workers.length - 1, 'the writer told every other worker');
        for (let i = 0; i < workers.length; i++) {
          assert.ok((await read(i, key)).equals(v2), `round ${round}: v2 at once on ${workers[i]!.id}`);
          assert.equal((await s3[i]!.send(new HeadObjectCommand({ Bucket: 'data', Key: key }))).ETag, md5(v2));
        }
        // a copy made on another worker right after an overwrite copies the new bytes
        const other = (round + 1) % workers.length;
        const v3 = pattern(2 * PAGE + 7, 99 + round);
        await s3[round]!.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: v3 }));
        await s3[other]!.send(new CopyObjectCommand({ Bucket: 'data', Key: `${key}.copy`, CopySource: `data/${key}` }));
        assert.ok((await read(round, `${key}.copy`)).equals(v3), `round ${round}: the copy holds the new bytes`);
        // a delete: gone at once everywhere
        await s3[other]!.send(new DeleteObjectCommand({ Bucket: 'data', Key: key }));
        for (let i = 0; i < workers.length; i++) {
          await assert.rejects(read(i, key), (e) => (e as Error).name === 'NoSuchKey', `round ${round}: deleted, on ${workers[i]!.id}`);
        }
      }
    } finally {
      for (const c of s3) c.destroy();
    }
  });

  test('a conditional PUT refused at its commit (412: the object changed while its body streamed) tells no other worker', async () => {
    // Conditional writes as a lock (If-Match on a log entry) lose such races all the time;
    // each loser dropped the object from every worker's cache.
    const s3 = new S3Client({ endpoint: workers[1]!.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    try {
      const key = 'race/lock.json';
      const v1 = await s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: 'v1' }));
      const told = await metric(workers[0]!, 'alluxio_peer_invalidations_total');
      const body = Buffer.alloc(24 << 20, 7);
      const req = request(`${workers[0]!.s3Url}/data/${key}`, { method: 'PUT', headers: { 'content-length': String(body.length), 'if-match': v1.ETag! } });
      const answer = new Promise<IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
      // 16 MiB is more than the sockets hold: drained, the worker is reading the body, so
      // its condition was checked before it (and held) and the commit checks it again
      req.write(body.subarray(0, 16 << 20));
      await once(req, 'drain');
      await s3.send(new PutObjectCommand({ Bucket: 'data', Key: key, Body: 'v2' }));
      req.end(body.subarray(16 << 20));
      const res = await answer;
      res.resume();
      assert.equal(res.statusCode, 412);
      assert.equal(await metric(workers[0]!, 'alluxio_peer_invalidations_total'), told, 'the refused write told no one');
      const now = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: key }));
      assert.equal(await now.Body!.transformToString(), 'v2');
    } finally {
      s3.destroy();
    }
  });

  test('keys a and a/x in the UFS: S3 listings show both, as S3 does; the POSIX view (REST list) shows the directory', async () => {
    const ufs = new S3Client({ endpoint: c.ufsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const s3 = new S3Client({ endpoint: workers[1]!.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    try {
      for (const [k, body] of [['twin/a', 'object a'], ['twin/a/inside', 'below a'], ['twin/a.txt', 'x'], ['twin/ab/c', 'y']] as const) {
        await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: k, Body: body }));
      }
      const delimited = await s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'twin/a', Delimiter: '/' }));
      assert.deepEqual((delimited.Contents ?? []).map((o) => o.Key), ['twin/a', 'twin/a.txt']);
      assert.deepEqual((delimited.CommonPrefixes ?? []).map((p) => p.Prefix), ['twin/a/', 'twin/ab/']);
      const flat = await s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'twin/' }));
      assert.deepEqual((flat.Contents ?? []).map((o) => o.Key), ['twin/a', 'twin/a.txt', 'twin/a/inside', 'twin/ab/c'], 'S3 byte order');
      const paged: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'twin/', MaxKeys: 1, ...(token ? { ContinuationToken: token } : {}) }));
        paged.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.NextContinuationToken;
      } while (token);
      assert.deepEqual(paged, ['twin/a', 'twin/a.txt', 'twin/a/inside', 'twin/ab/c'], 'one key per page');
      assert.equal(Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'data', Key: 'twin/a' }))).Body!.transformToByteArray()).toString(), 'object a');
      const rest = (await (await fetch(`${workers[1]!.restUrl}/api/v1/list?uri=${encodeURIComponent('alluxio:///data/twin')}`)).json()) as { entries: { name: string; type: string }[] };
      assert.deepEqual(rest.entries.map((e) => `${e.name.split('/').pop()}:${e.type}`), ['a:directory', 'a.txt:file', 'ab:directory']);
      // cache status walks each file once, the object a and what lies below a/ included
      let files = 0;
      for (const w of workers) files += ((await (await fetch(`${w.restUrl}/api/v1/cache/status?path=${encodeURIComponent('/data/twin')}`)).json()) as { path: { files: number } }).path.files;
      assert.equal(files, 4, 'a, a.txt, a/inside, ab/c: each counted once, by its owner');
      // a directory marker over a file is refused (the name could then be reached as neither)
      await assert.rejects(s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'twin/a.txt/', Body: '' })), (e) => (e as Error).name === 'InvalidRequest');
      // a recursive delete of the name removes the object and what lies below it (it removed the object only)
      const delA = await fetch(`${workers[0]!.restUrl}/api/v1/file?uri=${encodeURIComponent('alluxio:///data/twin/a')}&recursive=true`, { method: 'DELETE' });
      assert.equal(delA.status, 200, await delA.clone().text());
      const afterA = await ufs.send(new ListObjectsV2Command({ Bucket: 'remote', Prefix: 'twin/' }));
      assert.deepEqual((afterA.Contents ?? []).map((o) => o.Key), ['twin/a.txt', 'twin/ab/c']);
      // a recursive delete removes the rest (it stopped at a name listed twice, NotFound, leaving the rest)
      await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: 'twin/ab', Body: 'object ab' }));
      const del = await fetch(`${workers[2]!.restUrl}/api/v1/file?uri=${encodeURIComponent('alluxio:///data/twin')}&recursive=true`, { method: 'DELETE' });
      assert.equal(del.status, 200, await del.clone().text());
      const left = await ufs.send(new ListObjectsV2Command({ Bucket: 'remote', Prefix: 'twin/' }));
      assert.deepEqual((left.Contents ?? []).map((o) => o.Key), []);
    } finally {
      ufs.destroy();
      s3.destroy();
    }
  });

  test('a peer read names a version: the owner refuses (409) another one, and cannot be made to loop', async () => {
    const f = FILES[2]!;
    const owner = workers.find((w) => placementOrder(workers.map(nameOf), `s3://remote/${f.key}`)[0] === nameOf(w))!;
    const ok = await fetch(`${owner.restUrl}/api/v1/peer/read?uri=${encodeURIComponent(`s3://remote/${f.key}`)}&version=x&size=${f.data.length}`, { headers: { range: 'bytes=0-9' } });
    // s3:// pages are keyed by ETag; a made-up version is not the object's: never its bytes
    assert.notEqual(ok.status, 200);
    const outside = await fetch(`${owner.restUrl}/api/v1/peer/read?uri=${encodeURIComponent('s3://other-bucket/x')}&version=x&size=1`);
    assert.equal(outside.status, 404);
    const escape = await fetch(`${owner.restUrl}/api/v1/peer/read?uri=${encodeURIComponent('s3://remote/set/../../etc/passwd')}&version=x&size=1`);
    assert.equal(escape.status, 404);
    // A range too large for one buffer is streamed: the owner still answers 409 before the
    // status line (it cut the connection, which readers take for a failed peer).
    const ufs = new S3Client({ endpoint: c.ufsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const big = pattern(5 * PAGE + 3, 93);
    const put = await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: 'peer/big.bin', Body: big }));
    ufs.destroy();
    const bigOwner = c.ownerOf('peer/big.bin');
    // The size is the request's: a claimed 2^53-1 bytes of the right version used to build one
    // slice per page before the first byte (the worker ran out of heap and died), and a page
    // listing looped over every index of the claimed range (minutes of a blocked loop).
    const version = `etag:${put.ETag!.replace(/"/g, '')}`;
    const huge = Number.MAX_SAFE_INTEGER;
    const claimed = await fetch(`${bigOwner.restUrl}/api/v1/peer/read?uri=${encodeURIComponent('s3://remote/peer/big.bin')}&version=${version}&size=${huge}`).then(
      async (r) => `${r.status} ${await r.arrayBuffer().then(() => 'whole', () => 'cut')}`,
      (e: Error) => `cut before the status line: ${e.message}`,
    );
    assert.doesNotMatch(claimed, /^200 whole/, 'never a whole answer for bytes the object does not have (an error, or a cut body)');
    const listed = await fetch(`${bigOwner.restUrl}/api/v1/peer/pages?uri=${encodeURIComponent('s3://remote/peer/big.bin')}&version=${version}&size=${huge}&start=0&end=${huge - 1}`);
    assert.equal(listed.status, 200, await listed.clone().text());
    assert.ok(((await listed.json()) as { pages: unknown[] }).pages.length <= 6);
    assert.equal((await fetch(`${bigOwner.restUrl}/healthz`)).status, 200, 'the owner lives on');
    const stale = await fetch(`${bigOwner.restUrl}/api/v1/peer/read?uri=${encodeURIComponent('s3://remote/peer/big.bin')}&version=etag:0123456789abcdef0123456789abcdef&size=${big.length}`, { headers: { range: `bytes=0-${big.length - 1}` } });
    assert.equal(stale.status, 409, await stale.clone().text());
    assert.equal(((await stale.json()) as { error: { code: string } }).error.code, 'Conflict');
  });
  test('the owner hangs (SIGSTOP, its sockets open): a GET through another worker is served after a failed health check, not after the 30 s idle deadline', async () => {
    const ufs = new S3Client({ endpoint: c.ufsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    const data = pattern(3 * PAGE + 5, 91);
    const key = 'hung/owned.bin';
    await ufs.send(new PutObjectCommand({ Bucket: 'remote', Key: key, Body: data }));
    ufs.destroy();
    const owner = c.ownerOf(key);
    const reader = workers.find((w) => w !== owner)!;
    owner.pause();
    try {
      const t0 = Date.now();
      assert.ok((await get(reader, key)).equals(data), 'every byte, from the next owner or the UFS');
      assert.ok(Date.now() - t0 < 25_000, `served in ${Date.now() - t0} ms: not after the peer read's 30 s idle deadline`);
      assert.match(reader.log(), /stopped answering \(its \/healthz did not answer within 4000 ms\)/);
    } finally {
      owner.resume();
    }
    await c.waitForRing();
  });
});

describe('cache load across a ring change', () => {
  let c: CachingCluster;
  before(async () => {
    // A lease long enough that a worker killed just before the load is still in the ring when
    // the load starts, however slow the machine (the load then waits for it to leave).
    c = await startCachingCluster({ name: 'load-ring', files: LOADED, leaseTtl: '20s' });
  });
  after(async () => {
    await c?.stop();
  });

  test('a worker dead when the load starts (its lease not yet expired): the load is started again once it left, and every file ends up cached by its owner now', { timeout: 180_000 }, async () => {
    const [w0, w1, w2] = c.workers as [WorkerProcess, WorkerProcess, WorkerProcess];
    await w2.kill9(); // still in the ring for its lease (20 s): its files are given to nobody
    const r = await c.cli(['cache', 'load', '--path', '/data/load', '--wait', '--json'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = r.json() as { rounds: number; left: string[]; totals: { filesDone: number } };
    assert.ok(doc.rounds >= 2, `started again after the ring changed: ${JSON.stringify(doc)}`);
    assert.deepEqual(doc.left, [w2.id]);
    assert.match(r.stderr, new RegExp(`the ring changed during the load \\(${w2.id} left\\)`));
    const st = await c.cli(['cache', 'status', '--path', '/data/load', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const answers = (st.json() as { workers: { worker: string; result: { path: { bytes: number; cachedBytes: number } } }[] }).workers;
    const total = LOADED.reduce((n, f) => n + f.data.length, 0);
    assert.deepEqual(answers.map((a) => a.worker).sort(), [w0.id, w1.id].sort());
    assert.equal(answers.reduce((n, a) => n + a.result.path.cachedBytes, 0), total, 'the whole dataset cached by the two owners there are now');
  });

  test('a worker hung when the load is asked of it (gone from the ring by the first look): the load is started again, not reported done with its share missing', { timeout: 240_000 }, async () => {
    const [w0, w1] = c.workers as [WorkerProcess, WorkerProcess, WorkerProcess];
    assert.equal((await c.cli(['cache', 'free', '--path', '/data/load', '--yes'])).code, 0);
    // The POST waits 30 s for the hung worker; its lease (20 s) runs out meanwhile.
    w1.pause();
    try {
      const r = await c.cli(['cache', 'load', '--path', '/data/load', '--wait', '--json'], { timeoutMs: 180_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const doc = r.json() as { rounds: number; left: string[] };
      assert.ok(doc.rounds >= 2, `started again after the ring changed: ${JSON.stringify(doc)}`);
      assert.deepEqual(doc.left, [w1.id]);
      const st = await c.cli(['cache', 'status', '--path', '/data/load', '--json']);
      const answers = (st.json() as { workers: { worker: string; result: { path: { cachedBytes: number } } | null }[] }).workers;
      const total = LOADED.reduce((n, f) => n + f.data.length, 0);
      assert.equal(answers.find((a) => a.worker === w0.id)?.result?.path.cachedBytes, total, 'the whole dataset cached by the one worker left');
    } finally {
      w1.resume();
    }
  });
});
