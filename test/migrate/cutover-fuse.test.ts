/**
 * FUSE readers across cutover and rollback: a real FUSE daemon (`alluxio fuse mount`, its
 * own informer) over a real etcd; files read continuously through the kernel mount (plain
 * and through the /model/latest -> /model/v3 alias) while the mounts switch UFS. Zero
 * errors, every read's bytes checked, and the daemon applies each switch.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuseSkipReason, startFuse, type FuseProcess } from '../helpers/fuse.js';
import { must, populate, startMigEnv, waitStatus, type MigEnv } from './env.js';
import { until } from '../helpers/poll.js';

const skip = fuseSkipReason();
let env: MigEnv | undefined;
let fuse: FuseProcess | undefined;
/** The reader loops run until this is set (also by after(), when the test failed midway). */
let stop = false;

before(async () => {
  if (!skip) env = await startMigEnv();
});
after(async () => {
  stop = true;
  await fuse?.cleanup();
  await env?.destroy();
});

test('FUSE reads see no error and the right bytes across cutover and rollback', { skip }, async (t) => {
  const e = env!;
  const dataOld = e.mkdir('data-old');
  const modelOld = e.mkdir('model-old');
  const data = populate(dataOld, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}.bin`, 2000 + i * 20_000])));
  const model = populate(modelOld, { 'v3/weights.bin': 300_000 });
  must(await e.cli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${dataOld}`]), 'mount /data');
  must(await e.cli(['mount', 'add', '--path', '/model', '--ufs-uri', `file://${modelOld}`]), 'mount /model');
  must(await e.cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/model/v3']), 'rule');
  const dataNew = e.mkdir('data-new');
  const m1 = must(await e.cli(['migrate', 'start', '--path', '/data', '--to', `file://${dataNew}`, '--json']), 'start').json();
  const m2 = must(await e.cli(['migrate', 'start', '--path', '/model', '--to', `file://${e.mkdir('model-new')}`, '--json']), 'start').json();
  await waitStatus(e, m1.id, (d) => d.state === 'ready', 'ready');
  await waitStatus(e, m2.id, (d) => d.state === 'ready', 'ready');
  // A marker only the new UFS has (added after verification) shows which UFS FUSE serves.
  writeFileSync(join(dataNew, 'marker-new-only'), 'new');
  fuse = await startFuse(e.etcd.endpoint);
  const marker = join(fuse.mountpoint, 'data', 'marker-new-only');
  await assert.rejects(readFile(marker), /ENOENT/);
  const targets = [
    ...[...data].map(([k, b]) => ({ path: join(fuse!.mountpoint, 'data', k), bytes: b })),
    { path: join(fuse.mountpoint, 'model', 'latest', 'weights.bin'), bytes: model.get('v3/weights.bin')! },
  ];
  const reads: { start: number; end: number; ok: boolean; error?: string; path: string }[] = [];
  let n = 0;
  const reader = async () => {
    while (!stop) {
      const tg = targets[n++ % targets.length]!;
      const start = Date.now();
      try {
        const b = await readFile(tg.path);
        reads.push({ start, end: Date.now(), ok: b.equals(tg.bytes), path: tg.path, ...(b.equals(tg.bytes) ? {} : { error: `wrong bytes (${b.length})` }) });
      } catch (err) {
        reads.push({ start, end: Date.now(), ok: false, path: tg.path, error: (err as Error).message });
      }
    }
  };
  const loops = [reader(), reader()];
  const alias = targets[targets.length - 1]!.path;
  /** Wait for completed reads that started after t0 (the alias among them). */
  const readsAfter = (what: string, t0: number) =>
    until(`FUSE reads ${what}`, () => reads.filter((r) => r.start > t0).length >= 20 && reads.some((r) => r.path === alias && r.start > t0), 60_000);
  await readsAfter('before cutover', 0);
  const cutAt = Date.now();
  const c1 = must(await e.cli(['migrate', 'cutover', '--id', m1.id, '--json']), 'cutover').json();
  const c2 = must(await e.cli(['migrate', 'cutover', '--id', m2.id, '--json']), 'cutover').json();
  await fuse.waitForRevision(Math.max(c1.revision, c2.revision));
  const cutDone = Date.now();
  assert.equal(await readFile(marker, 'utf8'), 'new');
  await readsAfter('after cutover', cutDone);
  const afterCut = Date.now();
  rmSync(join(dataNew, 'marker-new-only')); // else rollback refuses: the new UFS changed
  const rbAt = Date.now();
  const r1 = must(await e.cli(['migrate', 'rollback', '--id', m1.id, '--json']), 'rollback').json();
  const r2 = must(await e.cli(['migrate', 'rollback', '--id', m2.id, '--json']), 'rollback').json();
  await fuse.waitForRevision(Math.max(r1.revision, r2.revision));
  const rbDone = Date.now();
  writeFileSync(join(dataNew, 'marker-new-only'), 'new');
  await assert.rejects(readFile(marker), /ENOENT/);
  await readsAfter('after rollback', rbDone);
  const afterRb = Date.now();
  stop = true;
  await Promise.all(loops);
  const bad = reads.filter((r) => !r.ok);
  assert.deepEqual(bad, [], JSON.stringify(bad.slice(0, 10), null, 1));
  for (const [what, a, b] of [
    ['before cutover', 0, cutAt],
    ['across cutover', cutAt, afterCut],
    ['across rollback', rbAt, afterRb],
  ] as const) {
    assert.ok(reads.some((r) => r.start >= a && r.end <= b), `no FUSE reads ${what}`);
  }
  t.diagnostic(`FUSE: ${reads.length} reads, 0 errors`);
});
