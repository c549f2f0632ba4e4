/**
 * A full cache disk (a 2 MiB tmpfs under a 64 MiB quota) degrades to UFS reads: every read
 * answers the right bytes, failed page writes are counted, nothing fails. Needs root to
 * mount the tmpfs (skipped otherwise, saying why).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileBackend, Harness, mountOf, openCache, pattern } from './harness.js';
import { until } from '../helpers/poll.js';

test('a full cache disk degrades to UFS reads with no failed request', async (t) => {
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
  try {
    const files = Array.from({ length: 16 }, (_, i) => pattern(256 * 1024 + i, 100 + i));
    for (let i = 0; i < files.length; i++) await h.putBehind(`/d/f${i}`, files[i]!);
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(files.map((_, i) => h.read(`/d/f${i}`)));
      got.forEach((g, i) => assert.ok(g!.equals(files[i]!), `round ${round} file ${i}`));
      await until('writes settled', () => cache.reader.inflightPages === 0);
    }
    const c = cache.counters;
    assert.ok(c.writeErrors > 0, `page writes failed on the full disk (${c.writeErrors})`);
    const st = cache.store.stats();
    const onDisk = readdirSync(join(dir, 'alluxio-pages-v2'), { recursive: true }).filter((f) => String(f).endsWith('.page')).length;
    assert.equal(st.pages, onDisk, `only the pages that were written are indexed (${JSON.stringify(st)})`);
    assert.ok(st.pages < 16 * 5, 'not everything fitted');
    assert.ok(c.hits > 0, 'what fitted is still served from the cache');
  } finally {
    await h.close();
    await ufs.stop();
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});
