/**
 * Benchmark: the cold 4 KiB path of a caching worker over a remote-like S3 UFS (see
 * bench/cache.ts for the whole cold/warm comparison, where this is one pass per run). s3rver
 * holds --count objects of --size-kib (4 KiB; 4096 for the 4 MiB path) behind the shaping proxy (+--delay-ms each way); a worker with
 * a cache and a worker without one (a cluster of its own) mount it as s3://. Each round,
 * interleaved so all three see the same machine load:
 *
 *   cold     the cache freed, then every object once through the caching worker's S3 GET
 *   direct   every object once straight from the shaped s3rver (the UFS without Alluxio)
 *   nocache  every object once through the worker without a cache (the hop alone)
 *   bare     every object once through a bare Node proxy (bench/parts/bare-proxy.ts: node:http
 *            in, undici out, nothing else): what one hop through a Node process costs here,
 *            the floor under both workers
 *
 * at --concurrency 16. --warmup rounds first (not counted: a fresh worker's cold path runs in
 * V8's lower tiers for a few thousand GETs), then --rounds rounds. Prints each round's ops/s
 * and ratios, the workers' CPU per GET (user + system, /proc, 10 ms ticks; the main thread's
 * from its schedstat, in ns; helper threads apart: the page writer, V8's helpers, libuv's pool), the machine's busy share during the cold pass, and the
 * medians. No timed assertions.
 *
 *   node dist/bench/cache-cold.js [--rounds 12] [--warmup 6] [--count 256] [--size-kib 4] [--delay-ms 10] [--concurrency 16]
 *
 * Needs etcd. Everything it starts is stopped and its temp dir removed.
 */
import type { ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addMount } from '../src/control/mounts.js';
import { freePort, startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { EtcdConnection } from '../src/store/connection.js';
import { startWorker, type WorkerProcess } from '../test/helpers/worker.js';
import { median, numArg, runBench, startS3rver, stopChild, waitHttp } from './lib.js';
import { startShapingProxy, type ShapingProxy } from './parts/shaping-proxy.js';
import { getAll, stopGetClient } from './parts/get-client.js';
import { cpuTimes, helperThreadsMs, mainThreadMs, pagesOnDisk, putObject, startBareProxy } from './parts/cache-targets.js';

const PAGE_BYTES = 1024 * 1024;

/** The machine's busy share between two readings of /proc/stat's cpu line. */
function machineTicks(): { idle: number; all: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3]! + f[4]!, all: f.reduce((a, b) => a + b, 0) };
}

runBench(async () => {
  const rounds = numArg('rounds', 12);
  const warmup = numArg('warmup', 6);
  const count = numArg('count', 256);
  const delayMs = numArg('delay-ms', 10);
  const c = numArg('concurrency', 16);
  const SIZE = numArg('size-kib', 4) * 1024;
  const pagesPerObject = Math.max(1, Math.ceil(SIZE / PAGE_BYTES));
  const tmp = mkdtempSync(join(tmpdir(), 'bench-cache-cold-'));
  let etcd: EtcdServer | undefined;
  let worker: WorkerProcess | undefined;
  let plain: WorkerProcess | undefined;
  let s3rver: ChildProcess | undefined;
  let proxy: ShapingProxy | undefined;
  let bare: ChildProcess | undefined;
  try {
    const names = Array.from({ length: count }, (_, i) => `obj/S${String(i).padStart(5, '0')}`);
    const s3Port = await freePort();
    s3rver = startS3rver(join(tmp, 's3rver'), s3Port);
    const s3Url = `http://127.0.0.1:${s3Port}`;
    await waitHttp(`${s3Url}/`, 20_000);
    for (let i = 0; i < names.length; i += 8) await Promise.all(names.slice(i, i + 8).map((n) => putObject(s3Url, n, randomFillSync(Buffer.allocUnsafe(SIZE)))));
    proxy = await startShapingProxy(s3Port, { delayMs, bytesPerSec: 100e6 });
    const started = await startBareProxy(proxy.endpoint, names[0]!);
    bare = started.child;
    const bareUrl = started.url;
    etcd = await startEtcdServer({ dataDir: join(tmp, 'etcd'), logFile: join(tmp, 'etcd.log') });
    for (const cluster of ['bench', 'bench-plain']) {
      const conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster });
      await addMount(conn, { path: '/bench', ufsUri: 's3://bench/', readOnly: true, options: { 's3a.endpoint': proxy.endpoint, 's3a.accessKeyId': 'S3RVER', 's3a.secretKey': 'S3RVER' } });
      conn.close();
    }
    worker = await startWorker(etcd.endpoint, { cluster: 'bench', logLevel: 'warn', extraArgs: ['--cache-dir', join(tmp, 'cache'), '--cache-size', '8GiB', '--page-size', '1MiB'] });
    plain = await startWorker(etcd.endpoint, { cluster: 'bench-plain', logLevel: 'warn' });
    const free = async (): Promise<void> => {
      const r = await fetch(`${worker!.restUrl}/api/v1/cache/free?path=%2Fbench`, { method: 'POST' });
      if (r.status !== 200) throw new Error(`cache free: HTTP ${r.status} ${await r.text()}`);
    };
    const cpu = (pid: number) => {
      const t = cpuTimes(pid);
      return { total: t.user + t.sys, helpers: helperThreadsMs(pid), main: mainThreadMs(pid) };
    };
    type Row = { cold: number; direct: number; nocache: number; cpuCold: number; helpersCold: number; cpuNocache: number; mainCold: number; mainNocache: number; busy: number; bare: number; cpuBare: number };
    const rows: Row[] = [];
    for (let r = 1; r <= warmup + rounds; r++) {
      await free();
      const m0 = machineTicks();
      const c0 = cpu(worker.pid);
      const tc = await getAll(`${worker.s3Url}/bench`, names, SIZE, c);
      const m1 = machineTicks();
      // the page writes belong to the pass that fetched the pages
      await pagesOnDisk(worker, count * pagesPerObject);
      const c1 = cpu(worker.pid);
      const td = await getAll(`${proxy.endpoint}/bench`, names, SIZE, c);
      const p0 = cpu(plain.pid);
      const tn = await getAll(`${plain.s3Url}/bench`, names, SIZE, c);
      const p1 = cpu(plain.pid);
      const b0 = cpu(bare.pid!);
      const tb = await getAll(bareUrl, names, SIZE, c);
      const b1 = cpu(bare.pid!);
      const row: Row = {
        cold: count / tc,
        direct: count / td,
        nocache: count / tn,
        cpuCold: (c1.total - c0.total) / count,
        helpersCold: (c1.helpers - c0.helpers) / count,
        cpuNocache: (p1.total - p0.total) / count,
        mainCold: (c1.main - c0.main) / count,
        mainNocache: (p1.main - p0.main) / count,
        bare: count / tb,
        cpuBare: (b1.total - b0.total) / count,
        busy: 1 - (m1.idle - m0.idle) / Math.max(1, m1.all - m0.all),
      };
      const tag = r <= warmup ? `warm-up ${r}` : `round ${r - warmup}`;
      console.log(
        `${tag.padEnd(10)} cold ${row.cold.toFixed(0).padStart(4)}  direct ${row.direct.toFixed(0).padStart(4)}  nocache ${row.nocache.toFixed(0).padStart(4)}  bare ${row.bare.toFixed(0).padStart(4)} ops/s  cold/direct ${(row.cold / row.direct).toFixed(2)}  nocache/direct ${(row.nocache / row.direct).toFixed(2)}  bare/direct ${(row.bare / row.direct).toFixed(2)}  ` +
          `CPU/GET cold ${row.cpuCold.toFixed(3)} ms (main thread ${row.mainCold.toFixed(3)}, helper threads ${row.helpersCold.toFixed(3)}), nocache ${row.cpuNocache.toFixed(3)} ms (main ${row.mainNocache.toFixed(3)}), bare ${row.cpuBare.toFixed(3)} ms; machine busy ${(row.busy * 100).toFixed(0)}%`,
      );
      if (r > warmup) rows.push(row);
    }
    const med = (f: (x: Row) => number) => median(rows.map(f));
    const summary = {
      bench: 'cache-cold',
      rounds,
      count,
      sizeBytes: SIZE,
      concurrency: c,
      delayMsEachWay: delayMs,
      opsPerSec: { cold: med((x) => x.cold), direct: med((x) => x.direct), nocache: med((x) => x.nocache), bare: med((x) => x.bare) },
      sameRoundRatios: { coldVsDirect: med((x) => x.cold / x.direct), nocacheVsDirect: med((x) => x.nocache / x.direct), bareVsDirect: med((x) => x.bare / x.direct), coldVsNocache: med((x) => x.cold / x.nocache) },
      roundsAtGoal: rows.filter((x) => x.cold / x.direct >= 0.9).length,
      workerCpuMsPerGet: { cold: med((x) => x.cpuCold), coldMainThread: med((x) => x.mainCold), coldHelperThreads: med((x) => x.helpersCold), nocache: med((x) => x.cpuNocache), nocacheMainThread: med((x) => x.mainNocache), bareProxy: med((x) => x.cpuBare) },
      machineBusyDuringCold: med((x) => x.busy),
    };
    console.log('');
    console.log(`medians over ${rounds} rounds (after ${warmup} warm-up rounds; ${count} x ${SIZE / 1024} KiB at c=${c}; UFS +${delayMs} ms each way):`);
    console.log(`  ops/s: cold ${summary.opsPerSec.cold.toFixed(0)}  direct UFS ${summary.opsPerSec.direct.toFixed(0)}  worker without cache ${summary.opsPerSec.nocache.toFixed(0)}  bare Node proxy ${summary.opsPerSec.bare.toFixed(0)}`);
    console.log(`  each round's own ratios: cold/direct ${summary.sameRoundRatios.coldVsDirect.toFixed(2)} (goal >= 0.90; ${summary.roundsAtGoal} of ${rounds} rounds at it)  nocache/direct ${summary.sameRoundRatios.nocacheVsDirect.toFixed(2)}  bare proxy/direct ${summary.sameRoundRatios.bareVsDirect.toFixed(2)}  cold/nocache ${summary.sameRoundRatios.coldVsNocache.toFixed(2)}`);
    console.log(`  worker CPU per GET: cold ${summary.workerCpuMsPerGet.cold.toFixed(3)} ms (main thread ${summary.workerCpuMsPerGet.coldMainThread.toFixed(3)}, helper threads ${summary.workerCpuMsPerGet.coldHelperThreads.toFixed(3)}), without cache ${summary.workerCpuMsPerGet.nocache.toFixed(3)} ms (main thread ${summary.workerCpuMsPerGet.nocacheMainThread.toFixed(3)}), bare proxy ${summary.workerCpuMsPerGet.bareProxy.toFixed(3)} ms; machine busy during cold ${(summary.machineBusyDuringCold * 100).toFixed(0)}%`);
    console.log(JSON.stringify(summary));
  } finally {
    stopGetClient();
    bare?.kill();
    await worker?.stop().catch(() => undefined);
    await plain?.stop().catch(() => undefined);
    await proxy?.close();
    await stopChild(s3rver);
    await etcd?.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
});
