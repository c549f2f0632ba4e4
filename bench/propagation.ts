/**
 * Propagation benchmark (prints figures; not a test).
 *
 *  1. Commit-to-apply latency: a config transaction (one rule changed + the generation key,
 *     like every CLI write) is committed; each REAL worker process (`alluxio worker start`)
 *     logs the moment it swapped in the snapshot of that revision (pino, ms). Latency =
 *     apply time - time just before the commit was sent. For 1, 4 and 16 worker processes,
 *     p50/p99 over CHANGES changes spaced SPACING ms apart.
 *     Baseline in the same run: a bare etcd3 watcher in this process (the floor: etcd's
 *     own commit + watch delivery), ratio = worker p50 / baseline p50.
 *  2. Snapshot load with 10,000 rules (+100 mounts): a worker's initial list-to-ready time
 *     (from its own log), its RSS with 10k rules vs an empty config, and the apply latency
 *     of one change at that size, commit -> apply in a real worker process (each watch
 *     response derives the next snapshot from the previous one: only the changed rule is
 *     recompiled; bench/rule-apply.ts measures that step alone, next to a full rebuild).
 *
 * Run: node dist/bench/propagation.js  (BENCH_QUICK=1: fewer changes; BENCH_WORKERS=1,4,16)
 * Context: Alluxio polls etcd every 3-10 s; HDFS RBF refreshes its mount table every 60 s.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { EtcdConnection } from '../src/store/connection.js';
import { startWorkers, stopWorkers, type WorkerProcess } from '../test/helpers/worker.js';

const QUICK = process.env.BENCH_QUICK === '1';
const CHANGES = Number(process.env.BENCH_CHANGES ?? (QUICK ? 40 : 120));
const SPACING = Number(process.env.BENCH_SPACING_MS ?? 60);
const SIZES = (process.env.BENCH_WORKERS ?? '1,4,16').split(',').map(Number);
const BIG_RULES = 10_000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** revision -> apply time (ms since epoch) from a worker's pino log. */
function appliedTimes(w: WorkerProcess): Map<number, { time: number; reason: string }> {
  const out = new Map<number, { time: number; reason: string }>();
  for (const line of readFileSync(w.logFile, 'utf8').split('\n')) {
    if (!line.includes('applied config snapshot')) continue;
    try {
      const o = JSON.parse(line) as { revision: number; time: number; reason: string };
      out.set(o.revision, { time: o.time, reason: o.reason });
    } catch {
      /* partial line */
    }
  }
  return out;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function ruleValue(id: string, i: number): string {
  return JSON.stringify({ id, order: 100, kind: 'prefix', src: `/bench/${id}`, dst: `/bench/v${i}`, enabled: true });
}

/** One CLI-shaped transaction: the rule + the generation key. Returns {sentAt, revision}. */
async function commitChange(conn: EtcdConnection, ruleId: string, i: number): Promise<{ sentAt: number; revision: number }> {
  const L = conn.layout;
  const c = conn.client;
  const sentAt = Date.now();
  const res = await c
    .if(L.generationKey, 'Version', '>', -1)
    .then(c.put(L.ruleKey(ruleId)).value(ruleValue(ruleId, i)), c.put(L.generationKey).value(JSON.stringify({ generation: i, updatedAt: new Date().toISOString() })))
    .commit();
  return { sentAt, revision: Number(res.header.revision) };
}

async function waitApplied(workers: WorkerProcess[], rev: number, timeoutMs = 60_000): Promise<void> {
  await Promise.all(workers.map((w) => w.waitForRevision(rev, timeoutMs)));
}

async function propagation(etcd: EtcdServer, cluster: string, n: number): Promise<{ p50: number; p99: number; max: number; base50: number; base99: number; samples: number }> {
  const conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster, timeoutMs: 10_000 });
  const mountKey = conn.layout.mountKey('/bench');
  await conn.client.put(mountKey).value(JSON.stringify({ path: '/bench', ufsUri: 'file:///tmp/bench/', readOnly: false, options: {} }));
  const workers = await startWorkers(etcd.endpoint, n, { cluster, idPrefix: `p${n}`, leaseTtl: '30s', logLevel: 'info', readyTimeoutMs: 120_000 });
  // Baseline: a bare watcher in this process on the same prefix.
  const baseTimes = new Map<number, number>();
  const watcher = await conn.client.watch().prefix(conn.layout.configPrefix).create();
  watcher.on('data', (res) => {
    const now = Date.now();
    baseTimes.set(Number(res.header.revision), now);
  });
  try {
    const warm = await commitChange(conn, 'warm', 0);
    await waitApplied(workers, warm.revision);
    const commits: { sentAt: number; revision: number }[] = [];
    for (let i = 1; i <= CHANGES; i++) {
      commits.push(await commitChange(conn, 'latest', i));
      await sleep(SPACING / 2 + Math.random() * SPACING);
    }
    await waitApplied(workers, commits[commits.length - 1]!.revision);
    const lat: number[] = [];
    const base: number[] = [];
    for (const w of workers) {
      const applied = appliedTimes(w);
      for (const c of commits) {
        const a = applied.get(c.revision);
        if (!a) throw new Error(`worker ${w.id} has no apply record for revision ${c.revision}`);
        lat.push(a.time - c.sentAt);
      }
    }
    for (const c of commits) {
      const t = baseTimes.get(c.revision);
      if (t !== undefined) base.push(t - c.sentAt);
    }
    return { p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat), base50: pct(base, 50), base99: pct(base, 99), samples: lat.length };
  } finally {
    await watcher.cancel();
    await stopWorkers(workers);
    conn.close();
  }
}

async function bigSnapshot(etcd: EtcdServer): Promise<void> {
  const cluster = 'bench-big';
  const conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster, timeoutMs: 30_000 });
  const L = conn.layout;
  // An empty-config worker first, for the RSS baseline.
  const [empty] = await startWorkers(etcd.endpoint, 1, { cluster: 'bench-empty', idPrefix: 'empty', leaseTtl: '30s' });
  await sleep(1500);
  const emptyRss = rssKb(empty!.pid);
  await stopWorkers([empty]);
  const t0 = Date.now();
  for (let m = 0; m < 100; m++) {
    await conn.client.put(L.mountKey(`/m${m}`)).value(JSON.stringify({ path: `/m${m}`, ufsUri: `s3://bench/m${m}/`, readOnly: false, options: {} }));
  }
  for (let i = 0; i < BIG_RULES; i += 100) {
    const ops = [];
    for (let j = i; j < Math.min(BIG_RULES, i + 100); j++) {
      const id = `r${j}`;
      const value =
        j % 10 === 0
          ? JSON.stringify({ id, order: j, kind: 'regex', src: `^/m${j % 100}/run-(\\d+)/r${j}/(.*)$`, dst: `/m${j % 100}/runs/{{ var1 }}/{{ var2 }}`, enabled: true })
          : JSON.stringify({ id, order: j, kind: 'prefix', src: `/m${j % 100}/alias${j}`, dst: `/m${(j + 1) % 100}/v${j}`, enabled: true });
      ops.push(conn.client.put(L.ruleKey(id)).value(value));
    }
    await conn.client.if(L.generationKey, 'Version', '>', -1).then(...ops).commit();
  }
  console.log(`  wrote 100 mounts + ${BIG_RULES} rules (10% regex) in ${Date.now() - t0} ms`);
  const [w] = await startWorkers(etcd.endpoint, 1, { cluster, idPrefix: 'big', leaseTtl: '30s', readyTimeoutMs: 120_000 });
  try {
    await sleep(1500);
    const lines = readFileSync(w!.logFile, 'utf8').split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as { msg: string; time: number; reason?: string; rules?: number }; } catch { return undefined; } });
    const listening = lines.find((l) => l?.msg === 'worker listening');
    const loaded = lines.find((l) => l?.msg === 'applied config snapshot' && l.reason === 'list');
    const bigRss = rssKb(w!.pid);
    console.log(`  initial list + decode + build (worker log, 'listening' -> snapshot applied): ${loaded && listening ? fmt(loaded.time - listening.time) : 'n/a'} (${loaded?.rules ?? '?'} rules)`);
    console.log(`  worker RSS: empty config ${(emptyRss / 1024).toFixed(1)} MiB, 10k rules ${(bigRss / 1024).toFixed(1)} MiB (+${((bigRss - emptyRss) / 1024).toFixed(1)} MiB)`);
    const lat: number[] = [];
    for (let i = 0; i < (QUICK ? 10 : 30); i++) {
      const c = await commitChange(conn, `r${i * 7}`, i + 1);
      await w!.waitForRevision(c.revision, 60_000);
      const a = appliedTimes(w!).get(c.revision);
      if (a) lat.push(a.time - c.sentAt);
    }
    console.log(`  one-rule change at 10k rules, commit->apply: p50 ${fmt(pct(lat, 50))}, p99 ${fmt(pct(lat, 99))} (${lat.length} changes; the changed value is decoded and only its rule recompiled: Snapshot.apply)`);
  } finally {
    await stopWorkers([w]);
    conn.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-bench-prop-'));
  const etcd = await startEtcdServer({ dataDir: join(dir, 'data'), logFile: join(dir, 'etcd.log') });
  console.log(`propagation benchmark: ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}; ${CHANGES} changes per size, spaced ~${SPACING} ms; REAL worker processes`);
  try {
    console.log('commit -> apply latency (each worker process; from just before the commit is sent):');
    console.log('  workers  samples   p50        p99        max        | bare etcd watch p50 / p99  | ratio p50');
    for (const n of SIZES) {
      const r = await propagation(etcd, `bench-${n}`, n);
      console.log(
        `  ${String(n).padStart(7)}  ${String(r.samples).padStart(7)}   ${fmt(r.p50).padEnd(10)} ${fmt(r.p99).padEnd(10)} ${fmt(r.max).padEnd(10)} | ${fmt(r.base50)} / ${fmt(r.base99)}`.padEnd(92) +
          ` | ${(r.p50 / Math.max(r.base50, 0.5)).toFixed(1)}x` +
          (n === 16 ? `   goal p99 <= 100 ms: ${r.p99 <= 100 ? 'met' : 'NOT met'}` : ''),
      );
    }
    console.log('  (for scale: Alluxio polls etcd every 3-10 s; HDFS RBF refreshes every 60 s)');
    console.log(`snapshot with ${BIG_RULES} rules + 100 mounts:`);
    await bigSnapshot(etcd);
  } finally {
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
