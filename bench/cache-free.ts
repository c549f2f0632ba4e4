/**
 * Benchmark: what a `cache free` holds the worker's event loop for (src/cache/page-store.ts
 * dropPrefix; the files are removed by the page writer's thread, src/cache/page-writer.ts). A page store with --objects small objects (one
 * page each), on disk, and the same count held only in the memory tier; per run it prints:
 *
 *   index   until dropPrefix resolved (the index forgot every page, in slices with the loop
 *           turning between them, and asked the thread to remove their files)
 *   total   until filesRemoved() resolved (the thread removed every file)
 *   maxGap  the longest stretch the loop could not turn meanwhile (a timer's lateness)
 *   onePass baseline, same run: removing the same number of page files in one synchronous
 *           pass on the event loop (rename to a spare and truncate: what each removal
 *           does), as a free did before it was batched and then moved to the thread
 *
 * Medians over --runs. No timed assertions.
 *
 *   node dist/bench/cache-free.js [--objects 40000] [--runs 3]
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PageStore } from '../src/cache/page-store.js';
import { median, numArg, runBench } from './lib.js';

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function freeOnce(dir: string, objects: number, disk: boolean): Promise<{ index: number; total: number; maxGap: number }> {
  const store = await PageStore.open({ dir, capacityBytes: disk ? 1 << 30 : 1000, pageSize: 1 << 20, memoryBytes: disk ? 0 : 256 << 20 });
  const b = Buffer.alloc(100, 7);
  for (let i = 0; i < objects; i++) await store.put({ uri: `s3://b/d/f${i}`, version: 'etag:1', size: 100 }, 0, b);
  // a timer that fires every ms: how late it gets is how long the loop was held
  let last = performance.now();
  let maxGap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  const t0 = process.hrtime.bigint();
  await store.dropPrefix('s3://b/d');
  const index = ms(t0);
  await store.filesRemoved();
  const total = ms(t0);
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(tick);
  await store.close();
  return { index, total, maxGap };
}

/** The baseline: `objects` files removed the way one removal does it, all in one pass. */
function onePass(dir: string, objects: number): number {
  mkdirSync(join(dir, 'p'), { recursive: true });
  mkdirSync(join(dir, 's'), { recursive: true });
  const b = Buffer.alloc(100, 7);
  for (let i = 0; i < objects; i++) writeFileSync(join(dir, 'p', `f${i}`), b);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < objects; i++) {
    const spare = join(dir, 's', String(i));
    renameSync(join(dir, 'p', `f${i}`), spare);
    truncateSync(spare, 0);
  }
  return ms(t0);
}

runBench(async () => {
  const objects = numArg('objects', 40_000);
  const runs = numArg('runs', 3);
  const rows: Record<'disk' | 'memory', { index: number[]; total: number[]; maxGap: number[] }> = {
    disk: { index: [], total: [], maxGap: [] },
    memory: { index: [], total: [], maxGap: [] },
  };
  const base: number[] = [];
  for (let r = 1; r <= runs; r++) {
    for (const kind of ['disk', 'memory'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-cache-free-'));
      try {
        const x = await freeOnce(dir, objects, kind === 'disk');
        rows[kind].index.push(x.index);
        rows[kind].total.push(x.total);
        rows[kind].maxGap.push(x.maxGap);
        console.log(`run ${r} ${kind.padEnd(6)} index ${x.index.toFixed(1)} ms, total ${x.total.toFixed(1)} ms, longest loop stall ${x.maxGap.toFixed(1)} ms`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'bench-cache-free-'));
    try {
      base.push(onePass(dir, objects));
      console.log(`run ${r} baseline: ${objects} page files removed in one synchronous pass: ${base[base.length - 1]!.toFixed(1)} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const m = (k: 'disk' | 'memory', f: 'index' | 'total' | 'maxGap') => median(rows[k][f]);
  console.log('');
  console.log(`medians over ${runs} runs, ${objects} one-page objects:`);
  console.log(`  on disk:   index step ${m('disk', 'index').toFixed(1)} ms, all files removed ${m('disk', 'total').toFixed(1)} ms, longest stall ${m('disk', 'maxGap').toFixed(1)} ms`);
  console.log(`  in memory: index step ${m('memory', 'index').toFixed(1)} ms, longest stall ${m('memory', 'maxGap').toFixed(1)} ms`);
  console.log(`  baseline, the same files removed in one pass: ${median(base).toFixed(1)} ms (longest stall / one pass: ${(m('disk', 'maxGap') / median(base)).toFixed(2)})`);
  console.log(JSON.stringify({ bench: 'cache-free', objects, runs, disk: { indexMs: m('disk', 'index'), totalMs: m('disk', 'total'), maxStallMs: m('disk', 'maxGap') }, memory: { indexMs: m('memory', 'index'), maxStallMs: m('memory', 'maxGap') }, onePassMs: median(base) }));
});
