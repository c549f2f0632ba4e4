/**
 * Reads through owners (src/cache/cluster-read.ts + peer-client.ts) against peers that fail
 * in the ways real ones do: cut the body half-way, refuse connections, answer 404/503, send
 * a range they were not asked for, report another version (409). Whatever happens, the bytes
 * are the object's, in order, continued from where the failing peer stopped; a Conflict ends
 * the read. The peers are real HTTP servers speaking the peer-read protocol; the end-to-end
 * version with worker processes killed -9 is in cluster.test.ts / cluster-redirect.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { clusterObject } from '../../src/cache/cluster-read.js';
import { PeerClient } from '../../src/cache/peer-client.js';
import type { PageSource } from '../../src/cache/source.js';
import type { Ring, RingMember } from '../../src/cluster/ring.js';
import { announceChange } from '../../src/cache/announce.js';
import pino from 'pino';
import { AlluxioError, isAlluxioError } from '../../src/domain/errors.js';
import { pattern } from './harness.js';

const DATA = pattern(300_000, 3);
const REF = { uri: 's3://b/k', version: 'etag:abc', size: DATA.length };
const servers: http.Server[] = [];
after(() => servers.forEach((s) => s.close()));

type Behaviour = 'ok' | 'cut' | '404' | '503' | '409' | 'bad-range';

async function peer(name: string, behaviour: Behaviour, seen: string[] = []): Promise<RingMember> {
  const s = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/api/v1/peer/invalidate') {
      seen.push(`${name} told ${url.searchParams.get('uri')}`);
      return res.writeHead(204).end();
    }
    seen.push(`${name} ${req.headers.range}`);
    assert.equal(url.pathname, '/api/v1/peer/read');
    assert.equal(url.searchParams.get('uri'), REF.uri);
    assert.equal(url.searchParams.get('version'), REF.version);
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))!;
    const start = Number(a);
    const end = Number(b);
    if (behaviour === '404' || behaviour === '503' || behaviour === '409') {
      res.writeHead(Number(behaviour), { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: 'X', message: `peer says ${behaviour}` } }));
    }
    const from = behaviour === 'bad-range' ? start + 1 : start;
    res.writeHead(206, { 'content-range': `bytes ${from}-${end}/${REF.size}`, 'content-length': end - from + 1 });
    if (behaviour === 'cut') {
      res.write(DATA.subarray(start, start + Math.floor((end - start + 1) / 3)));
      setImmediate(() => res.destroy());
      return;
    }
    res.end(DATA.subarray(from, end + 1));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  return { id: name, name: `127.0.0.1:${port}`, host: '127.0.0.1', s3Port: 0, restPort: port, scheme: 'http', s3TlsPort: null, restTlsPort: null, tlsClientAuth: false };
}

function deadPeer(): RingMember {
  // a port nothing listens on (the first peer's port, once closed, could be reused; 1 is never ours)
  return { id: 'dead', name: '127.0.0.1:1', host: '127.0.0.1', s3Port: 0, restPort: 1, scheme: 'http', s3TlsPort: null, restTlsPort: null, tlsClientAuth: false };
}

/** A ring of `members`, this process not one of them (announceChange tells them all). */
function ringOf(members: RingMember[]): Ring {
  return { order: () => [...members], current: () => members, selfName: undefined, selfShare: () => undefined };
}
const silent = pino({ level: 'silent' });

function fallback(log: string[]): PageSource {
  return {
    kind: 'test-ufs',
    read: async (_ref, r) => {
      log.push(`fallback ${r.start}-${r.end}`);
      return Readable.from([DATA.subarray(r.start, r.end + 1)]);
    },
  };
}

async function readAll(owners: RingMember[], peers = new PeerClient(), log: string[] = [], range?: { start: number; end: number }): Promise<Buffer> {
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => peers.healthy(owners), peers, fallback: fallback(log) });
  const parts: Buffer[] = [];
  for await (const c of await o.stream(range)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('the first owner serves; no other source is asked', async () => {
  const seen: string[] = [];
  const log: string[] = [];
  assert.ok((await readAll([await peer('a', 'ok', seen), await peer('b', 'ok', seen)], undefined, log)).equals(DATA));
  assert.deepEqual(seen, [`a bytes=0-${REF.size - 1}`]);
  assert.deepEqual(log, []);
});

test('an owner that cuts the body: the next owner continues from the byte where it stopped', async () => {
  const seen: string[] = [];
  const peers = new PeerClient();
  const a = await peer('a', 'cut', seen);
  const got = await readAll([a, await peer('b', 'ok', seen)], peers);
  assert.ok(got.equals(DATA));
  assert.equal(seen.length, 2);
  const resumedAt = Number(/^b bytes=(\d+)-/.exec(seen[1]!)![1]);
  assert.ok(resumedAt > 0 && resumedAt < REF.size, `resumed at ${resumedAt}`);
  assert.equal(peers.counters.failures, 1);
  assert.deepEqual(peers.healthy([a, { name: 'other' }]).map((p) => p.name), ['other'], 'the failed peer is left out for a while');
  // ... of reads only: a change is still announced to it. (An owner cuts a stream on purpose
  // when the object changes under it; the fuzz probe of 2026-12-02: changes skipped it for
  // 5 s after such a read, and it served the old version for its metadata TTL.)
  await announceChange({ ring: ringOf([a]), peers }, silent, REF.uri, false);
  assert.deepEqual(seen.slice(2), [`a told ${REF.uri}`]);
  assert.equal(peers.counters.invalidationFailures, 0);
});

test('an owner that finds no such object (404) is not suspect: the fallback decides, and when it finds nothing either the read ends and the metadata goes', async () => {
  // An object deleted behind Alluxio within the metadata TTL: the owner's 404 used to mark it
  // suspect, and for 5 s every file it owned was read from the UFS here and cached twice.
  const seen: string[] = [];
  const log: string[] = [];
  const peers = new PeerClient();
  const n = await peer('n', '404', seen);
  assert.ok((await readAll([n, await peer('b', 'ok', seen)], peers, log)).equals(DATA), 'the fallback served (a mount table behind ours)');
  assert.deepEqual(seen, [`n bytes=0-${REF.size - 1}`], 'no other owner asked');
  assert.deepEqual(log, [`fallback 0-${REF.size - 1}`]);
  assert.equal(peers.healthy([n]).length, 1, 'not suspect');
  let changed = 0;
  const gone: PageSource = {
    kind: 'test-ufs',
    read: async () => {
      throw new AlluxioError('NotFound', 'no such object');
    },
  };
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => [n], peers, fallback: gone, onChanged: () => changed++ });
  await assert.rejects(() => o.bytes({ start: 0, end: 99 }), (e) => isAlluxioError(e) && e.code === 'NotFound');
  assert.equal(changed, 1, 'the caller forgets its metadata');
});

test('refused, 503 and a wrong Content-Range each move on; with every owner failing, the fallback serves the rest', async () => {
  const log: string[] = [];
  const got = await readAll([deadPeer(), await peer('u', '503'), await peer('r', 'bad-range')], new PeerClient(), log);
  assert.ok(got.equals(DATA));
  assert.deepEqual(log, [`fallback 0-${REF.size - 1}`]);
  const cutLog: string[] = [];
  const part = await readAll([await peer('c', 'cut')], new PeerClient(), cutLog, { start: 1000, end: 250_000 });
  assert.ok(part.equals(DATA.subarray(1000, 250_001)));
  assert.equal(cutLog.length, 1);
  assert.match(cutLog[0]!, /^fallback (\d+)-250000$/);
  assert.ok(Number(/^fallback (\d+)/.exec(cutLog[0]!)![1]) > 1000);
});

test('another version (409) ends the read with Conflict: no fallback, the caller re-stats', async () => {
  const log: string[] = [];
  let conflicts = 0;
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: ((o) => () => o)([await peer('v', '409'), await peer('ok', 'ok')]), peers: new PeerClient(), fallback: fallback(log), onChanged: () => conflicts++ });
  await assert.rejects(
    () => o.bytes({ start: 0, end: 99 }),
    (e) => isAlluxioError(e) && e.code === 'Conflict' && /409/.test(e.message),
  );
  assert.equal(conflicts, 1);
  assert.deepEqual(log, []);
});

test('co-located reads: a page file is used only when it is exactly that page of that version (length, CRC, metadata)', async () => {
  const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { PageStore } = await import('../../src/cache/page-store.js');
  const { readPageFile } = await import('../../src/cache/colocated.js');
  const dir = mkdtempSync(join(tmpdir(), 'colocated-'));
  try {
    const ps = 64 * 1024;
    const store = await PageStore.open({ dir, capacityBytes: 16 << 20, pageSize: ps, memoryBytes: 0 });
    const ref = { uri: 's3://b/k', version: 'etag:v1', size: 3 * ps + 10 };
    const data = pattern(ref.size, 9);
    for (let i = 0; i < 4; i++) await store.put(ref, i, data.subarray(i * ps, Math.min(ref.size, (i + 1) * ps)));
    const listed = store.pageFiles(ref, 0, 3);
    assert.equal(listed.pageSize, ps);
    assert.deepEqual(listed.pages.map((p) => p.index), [0, 1, 2, 3]);
    for (const p of listed.pages) assert.ok((await readPageFile(p.path, ref, p.index, ps))!.equals(data.subarray(p.index * ps, Math.min(ref.size, (p.index + 1) * ps))));
    assert.equal(store.counters.colocatedBytes, ref.size);
    // another version, another size, another page size: not this page
    assert.equal(await readPageFile(listed.pages[1]!.path, { ...ref, version: 'etag:v2' }, 1, ps), null);
    assert.equal(await readPageFile(listed.pages[3]!.path, { ...ref, size: ref.size + 1 }, 3, ps), null);
    assert.equal(await readPageFile(listed.pages[0]!.path, ref, 0, ps * 2), null);
    // a flipped byte fails the CRC; a missing file is a miss
    const f = readFileSync(listed.pages[2]!.path);
    f[100] = f[100]! ^ 0xff;
    writeFileSync(listed.pages[2]!.path, f);
    assert.equal(await readPageFile(listed.pages[2]!.path, ref, 2, ps), null);
    assert.equal(await readPageFile(join(dir, 'nope.page'), ref, 0, ps), null);
    assert.deepEqual(store.pageFiles({ ...ref, version: 'etag:other' }, 0, 3).pages, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An owner that accepts peer reads and never answers; `asked()` counts the requests. */
async function hungOwner(): Promise<{ hung: http.Server; owner: RingMember; asked: () => number }> {
  let n = 0;
  const hung = http.createServer(() => {
    n++; // accept the request, never answer
  });
  servers.push(hung);
  await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
  const port = (hung.address() as AddressInfo).port;
  const owner: RingMember = { id: 'hung', name: `127.0.0.1:${port}`, host: '127.0.0.1', s3Port: 0, restPort: port, scheme: 'http', s3TlsPort: null, restTlsPort: null, tlsClientAuth: false };
  return { hung, owner, asked: () => n };
}

test('destroying a read whose owner hangs ends it at once (no wait for the idle timeout, no failover)', async () => {
  const { until } = await import('../helpers/poll.js');
  const { hung, owner, asked } = await hungOwner();
  const peers = new PeerClient({ idleTimeoutMs: 120_000 });
  const log: string[] = [];
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => [owner], peers, fallback: fallback(log) });
  const s = await o.stream();
  s.on('error', () => {});
  s.resume();
  await until('the owner got the request', () => asked() === 1);
  let closed = false;
  s.on('close', () => (closed = true));
  s.destroy();
  await until('the stream closed (long before the 120 s idle timeout)', () => closed, 20_000);
  assert.deepEqual(log, [], 'a reader that went away does not fail over');
  assert.equal(peers.counters.failures, 0, 'and does not mark the owner as failed');
  hung.closeAllConnections();
});

test('an owner that takes the request and never answers fails the read at the idle deadline, saying so; the reader fails over to the UFS', async () => {
  const { hung, owner, asked } = await hungOwner();
  const peers = new PeerClient({ idleTimeoutMs: 1000 });
  await assert.rejects(peers.read(owner, REF, { start: 0, end: 9 }), (e) => isAlluxioError(e) && e.code === 'UfsUnavailable' && /peer read from worker 127\.0\.0\.1:\d+ failed: no answer within 1000 ms/.test(e.message));
  const log: string[] = [];
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => [owner], peers, fallback: fallback(log) });
  const got: Buffer[] = [];
  for await (const c of await o.stream()) got.push(c as Buffer);
  assert.ok(Buffer.concat(got).equals(DATA), 'the bytes came from the fallback');
  assert.ok(log.length > 0, 'after the deadline, the read went to the UFS');
  assert.equal(asked(), 2);
  peers.close();
  hung.closeAllConnections();
});

/** A member record for a test server on `port`. */
function member(id: string, port: number): RingMember {
  return { id, name: `127.0.0.1:${port}`, host: '127.0.0.1', s3Port: 0, restPort: port, scheme: 'http', s3TlsPort: null, restTlsPort: null, tlsClientAuth: false };
}

test('an owner that stops answering altogether (its /healthz too) is found out by a health check long before the idle deadline; the read fails over', async () => {
  const { hung, owner, asked } = await hungOwner(); // answers nothing, /healthz included
  const peers = new PeerClient({ idleTimeoutMs: 120_000, livenessMs: 1000 });
  const t0 = Date.now();
  await assert.rejects(peers.read(owner, REF, { start: 0, end: 9 }), (e) => isAlluxioError(e) && e.code === 'UfsUnavailable' && /stopped answering \(its \/healthz did not answer within 2000 ms\)/.test(e.message));
  assert.ok(Date.now() - t0 < 60_000, 'not the 120 s idle deadline');
  const log: string[] = [];
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => [owner], peers, fallback: fallback(log) });
  const got: Buffer[] = [];
  for await (const c of await o.stream()) got.push(c as Buffer);
  assert.ok(Buffer.concat(got).equals(DATA), 'the bytes came from the fallback');
  assert.ok(log.length > 0);
  assert.ok(asked() >= 3, 'two reads and at least one health check reached it');
  // Found hung by its health check: a change skips it for a while (no deadline spent on it)
  const before = asked();
  await announceChange({ ring: ringOf([owner]), peers }, silent, REF.uri, false);
  assert.equal(asked(), before, 'not asked');
  assert.equal(peers.counters.invalidationFailures, 1, 'counted as not confirmed');
  peers.close();
  hung.closeAllConnections();
});

test('an owner that is alive but slow to answer (a cold page behind a slow UFS) is waited for: its health checks answer, no failover', async () => {
  let checks = 0;
  const waiting: http.ServerResponse[] = [];
  const slow = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      checks++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      // The read is answered only after two health checks: no timing assumed.
      if (checks === 2) for (const w of waiting.splice(0)) w.writeHead(206, { 'content-range': `bytes 0-9/${REF.size}`, 'content-length': '10' }).end(DATA.subarray(0, 10));
      return;
    }
    waiting.push(res);
  });
  servers.push(slow);
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  const owner = member('slow', (slow.address() as AddressInfo).port);
  const peers = new PeerClient({ idleTimeoutMs: 120_000, livenessMs: 2000 });
  const log: string[] = [];
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => [owner], peers, fallback: fallback(log) });
  assert.ok((await o.bytes({ start: 0, end: 9 })).equals(DATA.subarray(0, 10)));
  assert.deepEqual(log, [], 'no failover');
  assert.equal(peers.counters.failures, 0);
  assert.ok(checks >= 2);
  peers.close();
  slow.closeAllConnections();
});

test('a body that keeps flowing is never checked: a peer whose /healthz fails still serves its slow, steady read to the end', async () => {
  let checks = 0;
  const steady = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      checks++;
      req.socket.destroy(); // a check would fail: none must be made while bytes arrive
      return;
    }
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))!;
    let pos = Number(a);
    const end = Number(b);
    res.writeHead(206, { 'content-range': `bytes ${pos}-${end}/${REF.size}`, 'content-length': end - pos + 1 });
    const timer = setInterval(() => {
      const next = Math.min(end + 1, pos + 5000);
      res.write(DATA.subarray(pos, next));
      pos = next;
      if (pos > end) {
        clearInterval(timer);
        res.end();
      }
    }, 50); // 300 KB in ~3 s: longer than the liveness period (2 s), never silent for it
  });
  servers.push(steady);
  await new Promise<void>((r) => steady.listen(0, '127.0.0.1', r));
  const owner = member('steady', (steady.address() as AddressInfo).port);
  const peers = new PeerClient({ idleTimeoutMs: 120_000, livenessMs: 2000 });
  const log: string[] = [];
  const ac = new AbortController();
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => [owner], peers, fallback: fallback(log) });
  const got: Buffer[] = [];
  for await (const c of await o.stream()) got.push(c as Buffer);
  assert.ok(Buffer.concat(got).equals(DATA));
  assert.deepEqual(log, [], 'no failover');
  assert.equal(checks, 0, 'no health check while the body flowed');
  // the caller's signal keeps no listener of a finished read (they piled up, one per read)
  for (let i = 0; i < 12; i++) await peers.read(owner, REF, { start: 0, end: 9 }, ac.signal).then(async (b) => { for await (const _ of b) void _; });
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  peers.close();
  steady.closeAllConnections();
});

test('an owner that stops answering in the middle of a body: the body fails at the next health check, and the read continues on the fallback', async () => {
  let stopped = false;
  const stall = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      if (!stopped) res.writeHead(200).end('{"ok":true}');
      return; // stopped: never answers
    }
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range))!;
    const start = Number(a);
    const end = Number(b);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${REF.size}`, 'content-length': end - start + 1 });
    res.write(DATA.subarray(start, start + 1000), () => (stopped = true)); // then nothing, ever
  });
  servers.push(stall);
  await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
  const owner = member('stall', (stall.address() as AddressInfo).port);
  const peers = new PeerClient({ idleTimeoutMs: 120_000, livenessMs: 1000 });
  const log: string[] = [];
  const t0 = Date.now();
  const o = clusterObject({ entry: { name: 'k', type: 'file', size: REF.size, mtimeMs: 0 }, ref: REF, owners: () => [owner], peers, fallback: fallback(log) });
  const got: Buffer[] = [];
  for await (const c of await o.stream()) got.push(c as Buffer);
  assert.ok(Buffer.concat(got).equals(DATA), 'every byte, in order');
  assert.deepEqual(log, [`fallback 1000-${REF.size - 1}`], 'continued from the byte where the owner stopped');
  assert.ok(Date.now() - t0 < 60_000, 'not the 120 s idle deadline');
  assert.equal(peers.counters.failures, 1);
  peers.close();
  stall.closeAllConnections();
});

test('an owner whose body stops half-way fails the read at the idle deadline, saying so', async () => {
  const stall = http.createServer((req, res) => {
    res.writeHead(206, { 'content-range': `bytes 0-99/${REF.size}`, 'content-length': '100' });
    res.write(DATA.subarray(0, 10)); // then nothing
  });
  servers.push(stall);
  await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
  const port = (stall.address() as AddressInfo).port;
  const owner: RingMember = { id: 'stall', name: `127.0.0.1:${port}`, host: '127.0.0.1', s3Port: 0, restPort: port, scheme: 'http', s3TlsPort: null, restTlsPort: null, tlsClientAuth: false };
  const peers = new PeerClient({ idleTimeoutMs: 1000 });
  const body = await peers.read(owner, REF, { start: 0, end: 99 });
  const got: Buffer[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of body) got.push(c as Buffer);
    })(),
    (e) => (e as Error).message === 'no answer within 1000 ms',
  );
  assert.ok(Buffer.concat(got).equals(DATA.subarray(0, 10)));
  peers.close();
  stall.closeAllConnections();
});

test('announcing a change: a peer confirms with 204; a hung, dead or refusing one fails in bounded time, saying what happened, and is counted', async () => {
  const seen: string[] = [];
  const s = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(req.url!.includes('refuse') ? 403 : 204).end();
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  const ok: RingMember = { ...deadPeer(), id: 'ok', name: `127.0.0.1:${port}`, restPort: port };
  const peers = new PeerClient();
  try {
    await peers.invalidate(ok, 's3://b/a dir/k+1', true);
    assert.deepEqual(seen, ['POST /api/v1/peer/invalidate?uri=s3%3A%2F%2Fb%2Fa%20dir%2Fk%2B1&tree=true']);
    await assert.rejects(peers.invalidate(ok, 's3://b/refuse', false), (e) => isAlluxioError(e) && /worker 127\.0\.0\.1:\d+ did not confirm it dropped s3:\/\/b\/refuse: answered 403/.test(e.message));
    await assert.rejects(peers.invalidate(deadPeer(), 's3://b/k', false), (e) => isAlluxioError(e) && /did not confirm it dropped s3:\/\/b\/k: .*ECONNREFUSED/.test(e.message));
    const { hung, owner } = await hungOwner();
    await assert.rejects(peers.invalidate(owner, 's3://b/k', false, 1000), (e) => isAlluxioError(e) && /did not confirm it dropped s3:\/\/b\/k: no answer within 1000 ms/.test(e.message));
    hung.closeAllConnections();
    assert.deepEqual([peers.counters.invalidations, peers.counters.invalidationFailures], [4, 3]);
  } finally {
    peers.close();
  }
});

/** A peer that confirms every invalidation (204), and the request targets it saw. */
async function confirmingPeer(): Promise<{ seen: string[]; port: number }> {
  const seen: string[] = [];
  const s = http.createServer((req, res) => {
    seen.push(String(req.url));
    res.writeHead(204).end();
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { seen, port: (s.address() as AddressInfo).port };
}

test('announcing a change to the ring: every other member is told; one that did not confirm is skipped (and counted) while suspect', async () => {
  const { announceChange } = await import('../../src/cache/announce.js');
  const { seen, port } = await confirmingPeer();
  const ok: RingMember = { ...deadPeer(), id: 'ok', name: `127.0.0.1:${port}`, restPort: port };
  const self: RingMember = { ...deadPeer(), id: 'self', name: 'me:1' };
  const { hung, owner } = await hungOwner();
  const ring = { current: () => [ok, owner, self], order: () => [], selfName: 'me:1', selfShare: () => undefined };
  const peers = new PeerClient();
  const warnings: string[] = [];
  const log = { warn: (o: { peer: string }) => warnings.push(o.peer) } as unknown as import('pino').Logger;
  try {
    await announceChange({ ring, peers }, log, 's3://b/k', false); // the hung one: its deadline
    assert.deepEqual(warnings, [owner.name]);
    await announceChange({ ring, peers }, log, 's3://b/k2', true); // skipped while suspect
    assert.equal(seen.length, 2, 'the member that answers was told both times');
    assert.match(seen[1]!, /uri=s3%3A%2F%2Fb%2Fk2&tree=true$/);
    assert.deepEqual([peers.counters.invalidations, peers.counters.invalidationFailures], [4, 2], 'the skip is counted as a failure');
    assert.equal(peers.counters.failures, 0, 'not a peer read failure');
  } finally {
    peers.close();
    hung.closeAllConnections();
  }
});

test('a worker restarted under the same name is asked again at once: the skip holds only against the incarnation that did not confirm', async () => {
  // (the cluster probe of 2026-12-03: a worker restarted within the suspect period was skipped,
  // and served the version before the next change for its whole metadata TTL)
  const { announceChange } = await import('../../src/cache/announce.js');
  const { seen, port } = await confirmingPeer();
  const { hung, owner } = await hungOwner();
  const before: RingMember = { ...owner, incarnation: '101@2026-12-03T10:00:00.000Z' };
  // the same name, a new process: its record has another pid and start time; it answers
  const after: RingMember = { ...before, host: '127.0.0.1', restPort: port, incarnation: '202@2026-12-03T10:00:01.000Z' };
  let members = [before];
  const ring = { current: () => members, order: () => [], selfName: 'me:1', selfShare: () => undefined };
  const peers = new PeerClient();
  const log = { warn: () => undefined } as unknown as import('pino').Logger;
  try {
    await announceChange({ ring, peers }, log, 's3://b/v2', false); // the old process: no confirmation
    assert.equal(peers.counters.invalidationFailures, 1);
    await announceChange({ ring, peers }, log, 's3://b/v3', false);
    assert.equal(peers.counters.invalidationFailures, 2, 'the same incarnation: skipped while suspect');
    members = [after];
    await announceChange({ ring, peers }, log, 's3://b/v4', false);
    assert.equal(seen.length, 1, 'the restarted worker was told');
    assert.match(seen[0]!, /uri=s3%3A%2F%2Fb%2Fv4$/);
    assert.equal(peers.counters.invalidationFailures, 2);
  } finally {
    peers.close();
    hung.closeAllConnections();
  }
});
