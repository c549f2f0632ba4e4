/**
 * A full cache disk (a 2 MiB tmpfs under a 64 MiB quota) degrades to UFS reads: every read
 * answers the right bytes, nothing fails, and the cache keeps to what the disk holds (found
 * at open, lowered when other data fills the disk), evicting to make room instead of
 * freezing its set. Needs root to mount the tmpfs (skipped otherwise, saying why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileBackend, Harness, mountOf, openCache, pattern } from './harness.js';
import { until } from '../helpers/poll.js';

test('a full cache disk degrades to UFS reads with no failed request, and the cache keeps to what fits', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs (needs root): ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const ufs = fileBackend();
  await ufs.start();
  const cache = await openCache(dir, { capacityBytes: 64 << 20, pageSize: 64 * 1024 });
  const h = new Harness([mountOf('/d', ufs.root('d'))], cache);
  const pageFilesBytes = () =>
    readdirSync(join(dir, 'alluxio-pages-v2'), { recursive: true })
      .filter((f) => String(f).endsWith('.page'))
      .reduce((n, f) => n + statSync(join(dir, 'alluxio-pages-v2', String(f))).size, 0);
  try {
    // A quota larger than the file system: the cache keeps to what fits, from the start.
    const st0 = cache.store.stats();
    assert.ok(st0.effectiveCapacityBytes < 2 << 20, `keeps to the 2 MiB disk (${JSON.stringify(st0)})`);
    const files = Array.from({ length: 16 }, (_, i) => pattern(256 * 1024 + i, 100 + i));
    for (let i = 0; i < files.length; i++) await h.putBehind(`/d/f${i}`, files[i]!);
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(files.map((_, i) => h.read(`/d/f${i}`)));
      got.forEach((g, i) => assert.ok(g!.equals(files[i]!), `round ${round} file ${i}`));
      await until('writes settled', () => cache.reader.inflightPages === 0);
    }
    const c = cache.counters;
    const st = cache.store.stats();
    const onDisk = readdirSync(join(dir, 'alluxio-pages-v2'), { recursive: true }).filter((f) => String(f).endsWith('.page')).length;
    assert.equal(st.pages, onDisk, `only the pages that were written are indexed (${JSON.stringify(st)})`);
    assert.ok(st.pages < 16 * 5, 'not everything fitted');
    assert.ok(c.evictions > 0, 'older pages were evicted to make room');
    assert.ok(st.usedBytes <= st.effectiveCapacityBytes, `used ${st.usedBytes} <= ${st.effectiveCapacityBytes}`);
    // The cached set is not frozen: a file read twice is served from the cache the second time.
    const last = files.length - 1;
    await h.read(`/d/f${last}`);
    await until('written', () => cache.reader.inflightPages === 0);
    const hits0 = c.hits;
    assert.ok((await h.read(`/d/f${last}`))!.equals(files[last]!));
    assert.equal(c.hits - hits0, 5, 'every page of the file read again is a hit');

    // Other data fills the disk after the start (here: the cache emptied, then all but 512 KiB
    // of the disk taken): a write that finds it full lowers the quota, and eviction makes
    // room again (before 2026-12-01 every later miss failed its write).
    await cache.free(h.adapter('/d/x').uri);
    await cache.filesRemoved();
    const filler = join(dir, 'filler');
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k', 'count=64'], { stdio: 'pipe' });
    } catch {
      /* dd stops at the full disk: that is the point */
    }
    truncateSync(filler, statSync(filler).size - 512 * 1024);
    const errors0 = c.writeErrors;
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(files.map((_, i) => h.read(`/d/f${i}`)));
      got.forEach((g, i) => assert.ok(g!.equals(files[i]!), `after the filler: round ${round} file ${i}`));
      await until('writes settled', () => cache.reader.inflightPages === 0);
    }
    assert.ok(c.writeErrors > errors0, `writes found the disk full (${c.writeErrors - errors0})`);
    const st2 = cache.store.stats();
    assert.ok(st2.effectiveCapacityBytes < 512 * 1024, `the quota was lowered to what the disk holds (${st.effectiveCapacityBytes} -> ${st2.effectiveCapacityBytes})`);
    assert.ok(st2.usedBytes <= st2.effectiveCapacityBytes);
    assert.ok(pageFilesBytes() <= st2.effectiveCapacityBytes + 64 * 1024, 'the page files on disk keep to it');
    // The files of the burst's failed writes are removed after it: the next look at the disk
    // (every 5 s while the quota is lowered) lets the cache grow back to what fits.
    const small = pattern(60 * 1024, 7);
    await h.putBehind('/d/small', small);
    await until('a new page gets a place again', async () => {
      const hits1 = c.hits;
      assert.ok((await h.read('/d/small'))!.equals(small));
      await until('written', () => cache.reader.inflightPages === 0);
      return c.hits > hits1;
    }, 60_000, 500);
    assert.ok(cache.store.stats().usedBytes <= cache.store.stats().effectiveCapacityBytes);
  } finally {
    await h.close();
    await ufs.stop();
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});
