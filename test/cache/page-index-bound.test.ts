/**
 * The page store's index is bounded by what is cached, not by what was ever read: an
 * object's record goes with its last page (evicted from disk and from the memory tier), so a
 * worker reading millions of distinct objects under a small quota keeps a small index. (Until
 * 2026-12-03 eviction left every record: 210,000 one-byte objects read through a worker
 * with a 16 MiB quota left 212,014 records, 263 MB of heap, for 4,096 pages.) Records that
 * still matter stay: a page only in the memory tier is still found by an invalidation, and
 * a put whose eviction takes the object's other pages still lands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PageStore } from '../../src/cache/page-store.js';
import { pattern } from './harness.js';

const PAGE = 4096;

async function withStore(opts: { capacityBytes: number; memoryBytes: number }, f: (s: PageStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cache-index-bound-'));
  const store = await PageStore.open({ dir, pageSize: PAGE, ...opts });
  try {
    await f(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const objects = (n: number, size = 1) => Array.from({ length: n }, (_, i) => ({ uri: `s3://b/many/o${i}`, version: 'etag:1', size }));

test('on disk only: as many records as objects with a page on disk, however many were read', async () => {
  await withStore({ capacityBytes: 64 * 8192, memoryBytes: 0 }, async (store) => {
    const refs = objects(3000);
    for (const [i, r] of refs.entries()) await store.put(r, 0, pattern(1, i));
    const st = store.stats();
    assert.ok(st.pages > 0 && st.pages <= 128, `${st.pages} pages`); // (a 1-byte page is charged one 4 KiB block)
    assert.equal(st.objects, st.pages, 'one record per cached object, none for the evicted ones');
    // the evicted ones are gone everywhere: nothing to invalidate, a miss to read
    assert.equal(store.holdsUri(refs[0]!.uri), false);
    assert.equal(await store.get(refs[0]!, 0), null);
    // the newest are there, and read back
    const last = refs.at(-1)!;
    assert.equal(store.holdsUri(last.uri), true);
    assert.deepEqual(await store.get(last, 0), pattern(1, refs.length - 1));
    // read again after eviction: cached again (a new record)
    await store.put(refs[0]!, 0, pattern(1, 0));
    assert.deepEqual(await store.get(refs[0]!, 0), pattern(1, 0));
    assert.equal(store.stats().objects, store.stats().pages);
  });
});

test('memory tier only: records follow the tier, and an invalidation still finds a page held only there', async () => {
  // a disk quota smaller than one page: every page stays in the memory tier only
  await withStore({ capacityBytes: 1000, memoryBytes: 64 * (1 + 256) }, async (store) => {
    const refs = objects(2000);
    for (const [i, r] of refs.entries()) await store.put(r, 0, pattern(1, i));
    const st = store.stats();
    assert.equal(st.pages, 0, 'nothing on disk');
    assert.ok(st.memoryPages > 0 && st.memoryPages <= 64, `${st.memoryPages} in memory`);
    assert.equal(st.objects, st.memoryPages);
    const last = refs.at(-1)!;
    assert.equal(store.holdsUri(last.uri), true);
    assert.deepEqual(store.dropUri(last.uri), { objects: 1, pages: 0 });
    assert.equal(await store.get(last, 0), null, 'dropped from the memory tier');
    assert.equal(store.stats().objects, st.memoryPages - 1);
  });
});

test("a put whose eviction takes its own object's other pages still lands", async () => {
  // room for two pages of one object (page + metadata + trailer, charged in blocks)
  await withStore({ capacityBytes: 3 * 8192, memoryBytes: 0 }, async (store) => {
    const [big] = objects(1, 3 * PAGE);
    for (let i = 0; i < 3; i++) await store.put(big!, i, pattern(PAGE, 10 + i));
    assert.ok(store.stats().pages >= 1);
    assert.deepEqual(await store.get(big!, 2), pattern(PAGE, 12), 'the last page written is cached');
    assert.equal(store.stats().objects, 1);
    assert.equal(store.holdsUri(big!.uri), true);
  });
});
