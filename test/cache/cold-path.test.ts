/**
 * The cold path's cheaper steps, on real files and a real s3rver:
 *  - page files are recycled (src/cache/spare-files.ts): a dropped page's file becomes the
 *    next page's (same inode), emptied while it waits, bounded in number, reused after a
 *    restart; every page still reads back byte-exact;
 *  - a worker without a cache opens an s3:// object for a GET with ONE UFS request
 *    (src/frontends/common/primed-object.ts): the whole object, a closed or open range, a
 *    second read of another range of the same version, another version in between
 *    (Conflict), missing objects and suffix-less fallbacks.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import { WorkerCache } from '../../src/cache/cache.js';
import { PageStore } from '../../src/cache/page-store.js';
import { SpareFiles } from '../../src/cache/spare-files.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { Harness, mountOf, pattern, s3rverBackend } from './harness.js';
import { until } from '../helpers/poll.js';

const PAGE = 64 * 1024;
const spareDir = (dir: string) => join(dir, 'alluxio-pages-v2', 'spare');

test('a page file that holds another page or another object is refused (a recycled file read late), not served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-otherpage-'));
  try {
    const store = await PageStore.open({ dir, capacityBytes: 64 << 20, pageSize: PAGE, memoryBytes: 0 });
    const a = { uri: 's3://b/a', version: 'etag:1', size: 2 * PAGE };
    const b = { uri: 's3://b/b', version: 'etag:1', size: 2 * PAGE };
    for (const [r, seed] of [[a, 1], [b, 2]] as const) for (let i = 0; i < 2; i++) await store.put(r, i, pattern(PAGE, seed * 10 + i));
    const pa = store.pageFiles(a, 0, 1).pages;
    const pb = store.pageFiles(b, 0, 1).pages;
    // a's page 0 file now holds a's page 1 (same length, same object): the index says so
    writeFileSync(pa[0]!.path, readFileSync(pa[1]!.path));
    assert.equal(await store.get(a, 0), null);
    // b's page 1 file now holds a's page 1 (same index, same length, another object): the metadata says so
    writeFileSync(pb[1]!.path, readFileSync(pa[1]!.path));
    assert.equal(await store.get(b, 1), null);
    assert.equal(store.counters.corruptPages, 2);
    assert.ok((await store.get(a, 1))!.equals(pattern(PAGE, 11)), 'the real pages still read back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('free drops the pages held only in memory, found by page id or by walking the memory tier', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-memfree-'));
  try {
    // a disk quota smaller than one page: every page stays in the memory tier only
    const store = await PageStore.open({ dir, capacityBytes: 1000, pageSize: PAGE, memoryBytes: 16 << 20 });
    const small = Array.from({ length: 20 }, (_, i) => ({ uri: `s3://b/mem/t${i}`, version: 'etag:1', size: 100 }));
    for (const [i, r] of small.entries()) await store.put(r, 0, pattern(100, i));
    // 3 pages of a 40-page object: more pages than the tier will hold entries when it is dropped
    const big = { uri: 's3://b/mem/big', version: 'etag:1', size: 40 * PAGE };
    for (let i = 0; i < 3; i++) await store.put(big, i, pattern(PAGE, 100 + i));
    assert.equal(store.stats().pages, 0, 'nothing on disk');
    assert.equal(store.stats().memoryPages, 23);

    // one page id to look up (1 <= 23 entries)
    assert.deepEqual(await store.dropPrefix('s3://b/mem/t0'), { objects: 1, pages: 0 });
    assert.equal(await store.get(small[0]!, 0), null);
    assert.ok((await store.get(small[1]!, 0))!.equals(pattern(100, 1)));
    assert.equal(store.stats().memoryPages, 22);

    // the rest, the 40-page object among them once fewer than 40 entries are left
    await store.dropPrefix('s3://b/mem');
    assert.equal(store.stats().memoryPages, 0);
    assert.equal(store.stats().memoryUsedBytes, 0);
    for (const r of small) assert.equal(await store.get(r, 0), null);
    for (let i = 0; i < 3; i++) assert.equal(await store.get(big, i), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a free of 1,000 objects forgets their pages and leaves their files to the writer thread; a page written again meanwhile keeps its file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-batchfree-'));
  const pageFilesOnDisk = () => (readdirSync(join(dir, 'alluxio-pages-v2'), { recursive: true }) as string[]).filter((f) => f.endsWith('.page')).length;
  let store: PageStore | undefined;
  try {
    store = await PageStore.open({ dir, capacityBytes: 1 << 30, pageSize: PAGE, memoryBytes: 0 });
    const refs = Array.from({ length: 1000 }, (_, i) => ({ uri: `s3://b/many/f${i}`, version: 'etag:1', size: 100 }));
    for (const [i, r] of refs.entries()) await store.put(r, 0, pattern(100, i));
    assert.equal(pageFilesOnDisk(), 1000);

    assert.deepEqual(await store.dropPrefix('s3://b/many'), { objects: 1000, pages: 1000 });
    // the index forgot every page (the files go in the writer thread, after)
    assert.equal(store.stats().pages, 0);
    assert.equal(store.stats().usedBytes, 0);
    assert.equal(await store.get(refs[999]!, 0), null);

    // the last page is fetched and written again before its old file is removed
    await store.put(refs[999]!, 0, pattern(100, 999));
    await store.filesRemoved();
    assert.equal(pageFilesOnDisk(), 1, 'only the page written again');
    assert.ok((await store.get(refs[999]!, 0))!.equals(pattern(100, 999)));
  } finally {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("free forgets the URI's own pages before it returns, however many URIs the index holds", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-freeown-'));
  const cache = await WorkerCache.open({ dir, capacityBytes: 1000, pageSize: PAGE, memoryBytes: 64 << 20 });
  try {
    const b = Buffer.alloc(10, 1);
    for (let i = 0; i < 600; i++) await cache.store.put({ uri: `s3://b/z/f${i}`, version: 'etag:1', size: 10 }, 0, b);
    // last in the index: a walk of it reaches them after two turns of the loop
    await cache.store.put({ uri: 's3://b/z/dir', version: 'etag:1', size: 10 }, 0, b);
    await cache.store.put({ uri: 's3://b/z/dir/child', version: 'etag:1', size: 10 }, 0, b);
    const freeing = cache.free('s3://b/z/dir');
    assert.equal(cache.store.holdsUri('s3://b/z/dir'), false, 'the name itself: gone when free returns');
    assert.deepEqual(await freeing, { objects: 2, pages: 0 });
    assert.equal(cache.store.holdsUri('s3://b/z/dir/child'), false, 'below it: gone when the free resolves');
    assert.equal(cache.store.holdsUri('s3://b/z/f0'), true, 'beside it: kept');
  } finally {
    await cache.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a free of many objects lets the event loop turn between slices, and drops them all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-slicedfree-'));
  let store: PageStore | undefined;
  try {
    // memory tier only: 5,000 tiny objects in a few ms, no files
    store = await PageStore.open({ dir, capacityBytes: 1000, pageSize: PAGE, memoryBytes: 64 << 20 });
    const n = 5000;
    const b = Buffer.alloc(10, 1);
    for (let i = 0; i < n; i++) await store.put({ uri: `s3://b/big/f${i}`, version: 'etag:1', size: 10 }, 0, b);
    await store.put({ uri: 's3://b/other', version: 'etag:1', size: 10 }, 0, b);
    const seen: number[] = [];
    const tick = () => {
      seen.push(store!.stats().objects);
      if (seen.length < 1000) setImmediate(tick);
    };
    const freeing = store.dropPrefix('s3://b/big');
    setImmediate(tick);
    assert.deepEqual(await freeing, { objects: n, pages: 0 }); // pages: those on disk
    // the loop ran while the free was under way: it saw the index part-way
    assert.ok(seen.some((c) => c > 1 && c < n + 1), `a turn of the loop in the middle of the free (saw ${seen.slice(0, 8).join(', ')})`);
    assert.equal(store.stats().objects, 1, 'the object outside the prefix stays');
    assert.equal(store.stats().memoryPages, 1);
  } finally {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a large page (written through the pool, not the thread) dropped and written again at once keeps its new file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-largeagain-'));
  const big = 256 * 1024; // over the thread's 64 KiB: written from its own buffer through libuv's pool
  let store: PageStore | undefined;
  try {
    store = await PageStore.open({ dir, capacityBytes: 1 << 30, pageSize: big, memoryBytes: 0 });
    for (let round = 0; round < 20; round++) {
      const r = { uri: 's3://b/large', version: 'etag:1', size: 2 * big };
      const bytes = pattern(2 * big, round);
      await Promise.all([0, 1].map((i) => store!.put(r, i, bytes.subarray(i * big, (i + 1) * big))));
      assert.deepEqual(await store.dropPrefix('s3://b/large'), { objects: 1, pages: 2 });
      // written again before the thread has removed the old files
      await Promise.all([0, 1].map((i) => store!.put(r, i, bytes.subarray(i * big, (i + 1) * big))));
      await store.filesRemoved();
      for (const i of [0, 1]) assert.ok((await store.get(r, i))?.equals(bytes.subarray(i * big, (i + 1) * big)), `round ${round} page ${i}`);
      assert.equal(store.counters.readErrors, 0);
      await store.dropPrefix('s3://b/large');
    }
  } finally {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('close waits for large pages being written: one freed meanwhile leaves no file for the next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-closing-'));
  const big = 256 * 1024; // through libuv's pool, not the thread
  let store: PageStore | undefined;
  try {
    store = await PageStore.open({ dir, capacityBytes: 1 << 30, pageSize: big, memoryBytes: 0 });
    const r = { uri: 's3://b/closing', version: 'etag:1', size: 8 * big };
    const bytes = pattern(8 * big, 3);
    const puts = [...Array(8).keys()].map((i) => store!.put(r, i, bytes.subarray(i * big, (i + 1) * big)));
    assert.deepEqual(await store.dropPrefix('s3://b/closing'), { objects: 1, pages: 0 }, 'freed while being written');
    await store.close(); // a worker stopping
    await Promise.all(puts);
    store = await PageStore.open({ dir, capacityBytes: 1 << 30, pageSize: big, memoryBytes: 0 });
    assert.equal(store.stats().pages, 0, 'no freed page came back at the next start');
  } finally {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a read that finds its page file gone or recycled does not drop the page written again meanwhile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-readrace-'));
  const big = 256 * 1024;
  let store: PageStore | undefined;
  try {
    store = await PageStore.open({ dir, capacityBytes: 1 << 30, pageSize: big, memoryBytes: 0 });
    const r = { uri: 's3://b/race', version: 'etag:1', size: big };
    const bytes = pattern(big, 9);
    for (let round = 0; round < 30; round++) {
      await store.put(r, 0, bytes);
      const reading = store.get(r, 0); // open, read, close through the pool
      await store.dropPrefix('s3://b/race'); // the file goes (thread) ...
      await store.put(r, 0, bytes); // ... and the page is written again, after the drop
      const got = await reading; // the old read: the bytes, or a miss if the file had gone
      if (got) assert.ok(got.equals(bytes));
      assert.equal(store.stats().pages, 1, `round ${round}: the page written again is still indexed`);
      assert.ok((await store.get(r, 0))?.equals(bytes), `round ${round}: and served`);
      await store.dropPrefix('s3://b/race');
      await store.filesRemoved();
    }
  } finally {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dropped page files are recycled for the next pages (same inodes), emptied meanwhile, and reused after a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-recycle-'));
  try {
    let store = await PageStore.open({ dir, capacityBytes: 64 << 20, pageSize: PAGE, memoryBytes: 0 });
    const a = { uri: 's3://b/a', version: 'etag:1', size: 3 * PAGE };
    const da = pattern(a.size, 1);
    for (let i = 0; i < 3; i++) await store.put(a, i, da.subarray(i * PAGE, (i + 1) * PAGE));
    const inodes = new Set(store.pageFiles(a, 0, 2).pages.map((p) => statSync(p.path).ino));
    assert.equal(inodes.size, 3);
    assert.deepEqual(await store.dropPrefix('s3://b/a'), { objects: 1, pages: 3 });
    await store.filesRemoved();
    const spares = readdirSync(spareDir(dir));
    assert.equal(spares.length, 3);
    for (const s of spares) assert.equal(statSync(join(spareDir(dir), s)).size, 0, 'a spare holds no data');

    // another object's pages take the spares: no new inode, the bytes are the new ones
    const b = { uri: 's3://b/b', version: 'etag:2', size: 2 * PAGE + 100 };
    const db = pattern(b.size, 2);
    for (let i = 0; i < 3; i++) await store.put(b, i, db.subarray(i * PAGE, Math.min(b.size, (i + 1) * PAGE)));
    const files = store.pageFiles(b, 0, 2).pages;
    assert.deepEqual(new Set(files.map((p) => statSync(p.path).ino)), inodes);
    assert.equal(readdirSync(spareDir(dir)).length, 0);
    for (let i = 0; i < 3; i++) assert.ok((await store.get(b, i))!.equals(db.subarray(i * PAGE, Math.min(b.size, (i + 1) * PAGE))));

    // after a restart: the pages are still served (checksums verified), spares are adopted
    await store.dropPrefix('s3://b/b');
    const c = { uri: 's3://b/c', version: 'etag:3', size: PAGE };
    await store.put(c, 0, pattern(PAGE, 3));
    store = await PageStore.open({ dir, capacityBytes: 64 << 20, pageSize: PAGE, memoryBytes: 0 });
    assert.ok((await store.get(c, 0))!.equals(pattern(PAGE, 3)));
    assert.equal(readdirSync(spareDir(dir)).length, 2);
    await store.put(b, 0, db.subarray(0, PAGE));
    assert.equal(readdirSync(spareDir(dir)).length, 1);
    assert.ok((await store.get(b, 0))!.equals(db.subarray(0, PAGE)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spares are bounded: beyond the limit a dropped file is deleted; stray names in the spare directory are removed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spares-'));
  try {
    const sd = join(dir, 'spare');
    writeFileSync(join(dir, 'x0'), 'data');
    writeFileSync(join(dir, 'x1'), 'data');
    writeFileSync(join(dir, 'x2'), 'data');
    const s = SpareFiles.open(sd, 2);
    for (const n of ['x0', 'x1', 'x2']) s.give(join(dir, n));
    assert.equal(s.size, 2);
    assert.deepEqual(readdirSync(dir).sort(), ['spare']);
    assert.equal(readdirSync(sd).length, 2);
    writeFileSync(join(sd, 'not-a-spare'), '');
    const again = SpareFiles.open(sd, 1);
    assert.equal(again.size, 1);
    assert.equal(readdirSync(sd).length, 1, 'one kept (the bound), the other and the stray name deleted');
    assert.equal(again.take(join(dir, 'y')), true);
    assert.equal(again.take(join(dir, 'z')), false);
    assert.deepEqual(readdirSync(dir).sort(), ['spare', 'y']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('a worker without a cache: a GET on s3:// is one request', () => {
  const backend = s3rverBackend();
  let h: Harness;
  const calls = { stat: 0, readFirst: 0, read: 0 };
  const reset = () => Object.assign(calls, { stat: 0, readFirst: 0, read: 0 });
  /** The bodies readFirst answered, in order. */
  const bodies: Readable[] = [];
  before(async () => {
    await backend.start();
    h = new Harness([mountOf('/s3', backend.root('nocache'))], undefined);
    const a = h.adapter('/s3/x');
    for (const k of Object.keys(calls) as (keyof typeof calls)[]) {
      const real = (a as any)[k].bind(a);
      (a as any)[k] = async (...args: unknown[]) => {
        calls[k]++;
        const r = await real(...args);
        if (k === 'readFirst' && r) bodies.push(r.body);
        return r;
      };
    }
  });
  after(async () => {
    await h?.close();
    await backend.stop();
  });

  test('whole objects and closed or open ranges: metadata and bytes from one GetObject', async () => {
    const data = pattern(10_000, 5);
    await h.putBehind('/s3/obj', data);
    const t = h.target('/s3/obj');
    reset();
    const whole = await h.dp.open(t, { reads: { start: 0 } });
    assert.equal(whole!.entry.size, data.length);
    assert.ok(whole!.entry.etag);
    assert.ok((await whole!.bytes()).equals(data));
    assert.deepEqual(calls, { stat: 0, readFirst: 1, read: 0 });

    reset();
    const part = await h.dp.open(t, { firstByte: 100, reads: { start: 100, end: 199 } });
    assert.ok((await buffer(await part!.stream({ start: 100, end: 199 }))).equals(data.subarray(100, 200)));
    // a second read of another range: the same version, by ETag
    assert.ok((await part!.bytes({ start: 5000, end: 5009 })).equals(data.subarray(5000, 5010)));
    assert.deepEqual(calls, { stat: 0, readFirst: 1, read: 1 });

    reset();
    const tail = await h.dp.open(t, { firstByte: 9000, reads: { start: 9000, end: 1e12 } });
    assert.ok((await tail!.bytes({ start: 9000, end: data.length - 1 })).equals(data.subarray(9000)));
    assert.deepEqual(calls, { stat: 0, readFirst: 1, read: 0 });
  });

  test('another version between the open and a later read is Conflict; unread bodies are dropped on close', async () => {
    await h.putBehind('/s3/v', pattern(5000, 6));
    const o = await h.dp.open(h.target('/s3/v'), { reads: { start: 0 } });
    await h.putBehind('/s3/v', pattern(5000, 7));
    await assert.rejects(o!.bytes({ start: 0, end: 9 }), (e) => e instanceof AlluxioError && e.code === 'Conflict');
    const again = await h.dp.open(h.target('/s3/v'), { reads: { start: 0 } });
    const body = bodies[bodies.length - 1]!;
    assert.equal(body.destroyed, false, 'the body is held for the read the open announced');
    again!.close();
    // closed without reading: the body is dropped (its connection is not left waiting on it)
    await until('the unread body is destroyed', () => body.destroyed);
    assert.ok((await h.read('/s3/v'))!.equals(pattern(5000, 7)));
  });

  test('a directory holding a name that is an object and a directory (keys a and a/x) is renamed whole', async () => {
    for (const [p, d] of [['/s3/mv/a', 'object'], ['/s3/mv/a/x', 'below'], ['/s3/mv/z', 'last']] as const) await h.putBehind(p, Buffer.from(d));
    await h.dp.rename(h.target('/s3/mv'), h.target('/s3/mv2'), 'directory', false);
    const a = h.adapter('/s3/mv2');
    const rel = h.target('/s3/mv2').rel;
    assert.deepEqual((await a.list(rel)).map((e) => `${e.name}:${e.type}`), ['a:file', 'a:directory', 'z:file']);
    assert.equal((await h.read('/s3/mv2/a/x'))!.toString(), 'below');
    assert.equal((await h.read('/s3/mv2/a'))!.toString(), 'object');
    assert.equal(await a.stat(h.target('/s3/mv').rel), null, 'nothing left behind (it stopped at a, NotFound, leaving z)');
  });

  test('missing: answered by the GET and its directory probes; empty, past the end, a directory, HEAD and reads without a hint stat as before', async () => {
    reset();
    assert.equal(await h.dp.open(h.target('/s3/missing'), { reads: { start: 0 } }), null);
    assert.deepEqual(calls, { stat: 0, readFirst: 1, read: 0 });
    await h.putBehind('/s3/d/child', pattern(3, 9));
    reset();
    const dir = await h.dp.open(h.target('/s3/d'), { reads: { start: 0 } });
    assert.equal(dir!.entry.type, 'directory');
    dir!.close();
    assert.deepEqual(calls, { stat: 1, readFirst: 1, read: 0 });
    await h.putBehind('/s3/empty', Buffer.alloc(0));
    const empty = await h.dp.open(h.target('/s3/empty'), { reads: { start: 0 } });
    assert.equal(empty!.entry.size, 0);
    await h.putBehind('/s3/short', pattern(10, 8));
    const past = await h.dp.open(h.target('/s3/short'), { firstByte: 50, reads: { start: 50 } });
    assert.equal(past!.entry.size, 10);
    reset();
    const head = await h.dp.open(h.target('/s3/short'), { noBytes: true });
    assert.equal(head!.entry.size, 10);
    assert.ok((await h.read('/s3/short'))!.equals(pattern(10, 8)));
    assert.equal(calls.readFirst, 0);
  });
});

test('large pages waiting for the disk are bounded as small ones are: beyond 64 MiB a page stays uncached (counted)', async () => {
  // Only pages up to 64 KiB had the bound: on a slow or hung cache disk every fetched large
  // page stayed in memory until the quota's worth was reserved (400 MiB for 400 pages).
  const dir = mkdtempSync(join(tmpdir(), 'cache-backlog-'));
  const MiB = 1 << 20;
  const store = await PageStore.open({ dir, capacityBytes: 1 << 30, pageSize: MiB, memoryBytes: 0 });
  try {
    const ref = { uri: 's3://b/backlog', version: 'etag:1', size: 100 * MiB };
    const page = Buffer.alloc(MiB, 7);
    // all put in one turn: none has reached the disk when the next is offered
    const puts = Promise.all(Array.from({ length: 100 }, (_, i) => store.put(ref, i, page)));
    // a load waits for room instead (readers do not): not while 64 MiB wait for the disk
    let room = false;
    const roomed = store.roomForWrites().then(() => (room = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(room, false, 'no room while the backlog is full');
    await puts;
    await roomed;
    assert.equal(store.counters.writesSkipped, 36);
    assert.equal(store.stats().pages, 64);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
