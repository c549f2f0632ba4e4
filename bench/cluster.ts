/**
 * Benchmark: one cache across the cluster (docs/cluster-cache.md). The UFS is s3rver (npm)
 * on loopback, mounted as s3://bench/ (remote-like: every miss is an S3 GET); every worker
 * has --cache-dir. Three parts, each against a baseline measured in the same run:
 *
 *  1. throughput   warm aggregate throughput with 1, 2, 4 workers in one cluster (workers
 *                  are added between steps): --clients concurrent clients, each request sent
 *                  to a worker chosen round-robin, so most land on a non-owner and are proxied.
 *                  Large objects (MB/s) and small objects (req/s); medians over --rounds, and
 *                  the ratio vs 1 worker.
 *  2. modes        the same warm objects (4 KiB and 64 MiB) read three ways with --p2-workers
 *                  workers: proxy (GET on a non-owner), redirect (GET on a non-owner of a second
 *                  cluster started with --s3-redirect, the client follows the 307), direct (GET
 *                  on the owner, from placementOrder over the ring names; in each cluster, and
 *                  each indirect mode is compared with its own cluster's). Median latency of
 *                  4 KiB GETs one at a time, median MB/s of single 64 MiB GETs, and the ratios
 *                  proxy/direct and redirect/direct.
 *  3. fuse         warm sequential read (dd bs=1M, second read on) through `alluxio fuse mount`
 *                  of a file:// mount against bindfs over the same directory, with the caching
 *                  workers running; the workers' counters say which path served it
 *                  (bench/parts/cluster-fuse.ts). Skipped without root, /dev/fuse or bindfs.
 *
 * Prints figures (never asserts timings) and one JSON summary line.
 *
 *   node dist/bench/cluster.js [--only throughput|modes|fuse] [--rounds 7] [--clients 8]
 *        [--max-workers 4] [--large-count 8] [--large-mb 16] [--large-passes 2]
 *        [--small-count 2000] [--small-kb 4] [--p2-workers 3] [--p2-small-count 200]
 *        [--p2-big-count 2] [--p2-big-mb 64] [--fuse-mb 512] [--fuse-runs 7]
 *
 * Needs etcd (and for part 3 root, /dev/fuse, bindfs). Everything it starts is stopped and
 * its temp dir removed at the end, also on failure.
 */
import type { ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { addMount } from '../src/control/mounts.js';
import { placementOrder } from '../src/domain/placement.js';
import { freePort, startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { EtcdConnection } from '../src/store/connection.js';
import { startWorker, type WorkerProcess } from '../test/helpers/worker.js';
import { getAll, getOnce, putObject, ringName, sumMetric, waitRing } from './parts/cluster-http.js';
import { fusePart, fuseSkipReason, writeRandomFile, type FuseFigures } from './parts/cluster-fuse.js';
import { median, numArg, runBench, startS3rver, stopChild, waitHttp } from './lib.js';

const BUCKET = 'bench';
const MiB = 1024 * 1024;
const PARTS = ['throughput', 'modes', 'fuse'] as const;
type Part = (typeof PARTS)[number];

function onlyArg(): Part | undefined {
  const i = process.argv.indexOf('--only');
  if (i < 0) return undefined;
  const v = process.argv[i + 1] as Part;
  if (!PARTS.includes(v)) throw new Error(`--only needs one of ${PARTS.join(', ')}`);
  return v;
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const owner = (names: readonly string[], key: string): string => placementOrder(names, `s3://${BUCKET}/${key}`)[0]!;

async function main(): Promise<void> {
  const only = onlyArg();
  const run = (p: Part) => only === undefined || only === p;
  const rounds = numArg('rounds', 7);
  const clients = numArg('clients', 8);
  const maxWorkers = numArg('max-workers', 4);
  const largeCount = numArg('large-count', 8);
  const largeSize = numArg('large-mb', 16) * MiB;
  const largePasses = numArg('large-passes', 2);
  const smallCount = numArg('small-count', 2000);
  const smallSize = numArg('small-kb', 4) * 1024;
  const p2Workers = Math.max(2, numArg('p2-workers', 3));
  const p2SmallCount = numArg('p2-small-count', 200);
  const p2BigCount = numArg('p2-big-count', 2);
  const p2BigSize = numArg('p2-big-mb', 64) * MiB;
  const fuseMb = numArg('fuse-mb', 512);
  const fuseRuns = numArg('fuse-runs', 7);

  const tmp = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
  let etcd: EtcdServer | undefined;
  const conns: EtcdConnection[] = [];
  let s3rver: ChildProcess | undefined;
  const workers: WorkerProcess[] = []; // cluster "bench" (proxy mode)
  const redirectors: WorkerProcess[] = []; // cluster "bench-r" (--s3-redirect)
  const summary: Record<string, unknown> = { bench: 'cluster', cpus: cpus().length, ufs: 's3rver (s3://, loopback)', rounds, clients };
  try {
    // ---- the UFS, the datasets, etcd and the mounts
    const large = Array.from({ length: largeCount }, (_, i) => `large/L${String(i).padStart(4, '0')}`);
    const small = Array.from({ length: smallCount }, (_, i) => `small/S${String(i).padStart(5, '0')}`);
    const p2Small = Array.from({ length: p2SmallCount }, (_, i) => `p2/s${String(i).padStart(4, '0')}`);
    const p2Big = Array.from({ length: p2BigCount }, (_, i) => `p2/b${i}`);
    const s3rverPort = await freePort();
    s3rver = startS3rver(join(tmp, 's3rver'), s3rverPort, BUCKET);
    const s3rverUrl = `http://127.0.0.1:${s3rverPort}`;
    await waitHttp(`${s3rverUrl}/`, 20_000);
    const sets: [string[], number][] = [];
    if (run('throughput')) sets.push([large, largeSize], [small, smallSize]);
    if (run('modes')) sets.push([p2Small, 4096], [p2Big, p2BigSize]);
    process.stderr.write(`writing ${sets.map(([n, s]) => `${n.length} x ${s >= MiB ? `${s / MiB} MiB` : `${s / 1024} KiB`}`).join(' + ')} to s3rver ...\n`);
    for (const [names, size] of sets) {
      const batch = size >= MiB ? 2 : 16;
      for (let i = 0; i < names.length; i += batch) {
        await Promise.all(names.slice(i, i + batch).map((n) => putObject(s3rverUrl, BUCKET, n, randomFillSync(Buffer.allocUnsafe(size)))));
      }
    }
    const localData = join(tmp, 'local');
    mkdirSync(localData, { recursive: true });
    etcd = await startEtcdServer({ dataDir: join(tmp, 'etcd'), logFile: join(tmp, 'etcd.log') });
    const s3Mount = { path: `/${BUCKET}`, ufsUri: `s3://${BUCKET}/`, readOnly: true, options: { 's3a.endpoint': s3rverUrl, 's3a.accessKeyId': 'S3RVER', 's3a.secretKey': 'S3RVER' } };
    for (const cluster of ['bench', 'bench-r']) {
      const conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster });
      conns.push(conn);
      await addMount(conn, s3Mount);
    }
    await addMount(conns[0]!, { path: '/local', ufsUri: `file://${localData}/`, readOnly: true, options: {} });
    const startCaching = (cluster: string, id: string, extra: string[] = []): Promise<WorkerProcess> =>
      startWorker(etcd!.endpoint, {
        cluster,
        id,
        logLevel: 'warn',
        extraArgs: ['--cache-dir', join(tmp, `cache-${id}`), '--cache-size', '4GiB', '--page-size', '1MiB', ...extra],
      });
    const url = (w: WorkerProcess, key: string) => `${w.s3Url}/${BUCKET}/${key}`;
    console.log(`UFS: s3rver on loopback, mounted as s3://${BUCKET}/; every worker --cache-dir (page 1 MiB); ${cpus().length} CPUs`);

    // ---- 1. warm aggregate throughput with 1, 2, 4 ... workers
    if (run('throughput')) {
      const counts = [...new Set([...[1, 2, 4, 8, 16].filter((n) => n < maxWorkers), maxWorkers])];
      console.log(`\n1. warm aggregate throughput, ${clients} clients, each request to the next worker (round-robin)`);
      console.log(`   large: ${largeCount} x ${largeSize / MiB} MiB, ${largePasses} pass(es) a round; small: ${smallCount} x ${smallSize / 1024} KiB a round; ${rounds} rounds`);
      const rows: { workers: number; largeMBps: number; smallReqps: number; nonOwnerShare: number; ufsMbDuringRounds: number }[] = [];
      for (const n of counts) {
        while (workers.length < n) workers.push(await startCaching('bench', `w${workers.length}`));
        const names = await waitRing(workers);
        const byName = new Map(workers.map((w) => [ringName(w), w]));
        let sent = 0;
        let nonOwner = 0;
        const target = (key: string, k: number): string => {
          const w = workers[k % n]!;
          sent++;
          if (ringName(w) !== owner(names, key)) nonOwner++;
          return url(w, key);
        };
        // pass p sends object j to worker (j + p) mod n: over passes each object meets every worker
        const largeUrls = Array.from({ length: largePasses }, (_, p) => large.map((key, j) => target(key, j + p))).flat();
        const smallUrls = small.map((key, j) => target(key, j));
        // warm: every object once through its owner (fills the caches; keys that moved to a new worker too)
        await getAll(large.map((k) => url(byName.get(owner(names, k))!, k)), largeSize, clients);
        await getAll(small.map((k) => url(byName.get(owner(names, k))!, k)), smallSize, clients);
        const ufs0 = await sumMetric(workers, 'alluxio_ufs_read_bytes_total');
        const mbps: number[] = [];
        const reqps: number[] = [];
        for (let r = 0; r < rounds; r++) {
          const tl = await getAll(largeUrls, largeSize, clients);
          const ts = await getAll(smallUrls, smallSize, clients);
          mbps.push((largeUrls.length * largeSize) / 1e6 / tl);
          reqps.push(smallUrls.length / ts);
        }
        const ufsMb = ((await sumMetric(workers, 'alluxio_ufs_read_bytes_total')) - ufs0) / 1e6;
        const row = { workers: n, largeMBps: median(mbps), smallReqps: median(reqps), nonOwnerShare: nonOwner / sent, ufsMbDuringRounds: ufsMb };
        rows.push(row);
        console.log(
          `   ${String(n).padStart(2)} worker(s): large ${row.largeMBps.toFixed(0).padStart(5)} MB/s (rounds ${mbps.map((x) => x.toFixed(0)).join(' ')})   small ${row.smallReqps.toFixed(0).padStart(5)} req/s (rounds ${reqps.map((x) => x.toFixed(0)).join(' ')})   ${(row.nonOwnerShare * 100).toFixed(0)}% of requests on a non-owner; UFS read during rounds ${ufsMb.toFixed(1)} MB`,
        );
      }
      const base = rows[0]!;
      for (const row of rows.slice(1)) {
        console.log(`   ${row.workers} workers vs 1: large ${(row.largeMBps / base.largeMBps).toFixed(2)}x  small ${(row.smallReqps / base.smallReqps).toFixed(2)}x`);
      }
      console.log(`   (all workers, clients and s3rver share ${cpus().length} CPUs: more workers add proxy hops, not cores)`);
      summary.throughput = rows.map((r) => ({ ...r, largeVs1: r.largeMBps / base.largeMBps, smallVs1: r.smallReqps / base.smallReqps }));
    }

    // ---- 2. proxy vs redirect vs direct-to-owner
    if (run('modes')) {
      while (workers.length > p2Workers) await workers.pop()!.stop();
      while (workers.length < p2Workers) workers.push(await startCaching('bench', `w${workers.length}`));
      for (let i = 0; i < p2Workers; i++) redirectors.push(await startCaching('bench-r', `r${i}`, ['--s3-redirect']));
      const namesP = await waitRing(workers);
      const namesR = await waitRing(redirectors);
      const byName = new Map([...workers, ...redirectors].map((w) => [ringName(w), w]));
      // a non-owner for the i-th key: the others of the order in turn
      const nonOwner = (names: string[], key: string, i: number) => byName.get(placementOrder(names, `s3://${BUCKET}/${key}`)[1 + (i % (names.length - 1))]!)!;
      // each indirect mode is compared with a GET on the owner in its own cluster (the same
      // owner processes and caches): proxy with direct, redirect with directR
      type Mode = 'proxy' | 'redirect' | 'direct' | 'directR';
      const urlOf: Record<Mode, (key: string, i: number) => string> = {
        proxy: (k, i) => url(nonOwner(namesP, k, i), k),
        redirect: (k, i) => url(nonOwner(namesR, k, i), k),
        direct: (k) => url(byName.get(owner(namesP, k))!, k),
        directR: (k) => url(byName.get(owner(namesR, k))!, k),
      };
      const modes: Mode[] = ['proxy', 'redirect', 'direct', 'directR'];
      const agents = Object.fromEntries(modes.map((m) => [m, new Agent({ keepAlive: true, maxSockets: 4 })])) as Record<Mode, Agent>;
      const lat: Record<Mode, number[]> = { proxy: [], redirect: [], direct: [], directR: [] };
      const mbps: Record<Mode, number[]> = { proxy: [], redirect: [], direct: [], directR: [] };
      const label: Record<Mode, string> = { proxy: 'proxy', redirect: 'redirect', direct: 'direct (owner, proxy cluster)', directR: 'direct (owner, redirect cluster)' };
      let redirectsFollowed = 0;
      let redirectRequests = 0;
      try {
        console.log(`\n2. proxy vs redirect vs direct-to-owner, ${p2Workers} workers per cluster, warm; ${p2SmallCount} x 4 KiB GETs one at a time, ${p2BigCount} x ${p2BigSize / MiB} MiB GETs one at a time; ${rounds} rounds`);
        // warm: the proxy cluster's owners through direct GETs, the redirect cluster's through redirects
        for (const m of ['direct', 'redirect'] as const) {
          for (const [i, k] of p2Small.entries()) await getOnce(urlOf[m](k, i), agents[m], 4096, m === 'redirect');
          for (const [i, k] of p2Big.entries()) await getOnce(urlOf[m](k, i), agents[m], p2BigSize, m === 'redirect');
        }
        const ufs0 = await sumMetric([...workers, ...redirectors], 'alluxio_ufs_read_bytes_total');
        for (let r = 0; r < rounds; r++) {
          const order = modes.map((_, j) => modes[(j + r) % modes.length]!); // rotate who goes first
          for (const m of order) {
            for (const [i, k] of p2Small.entries()) {
              const g = await getOnce(urlOf[m](k, i + r), agents[m], 4096, m === 'redirect');
              lat[m].push(g.ms);
              if (m === 'redirect') {
                redirectRequests++;
                redirectsFollowed += g.redirects;
              }
            }
            for (const [i, k] of p2Big.entries()) {
              const g = await getOnce(urlOf[m](k, i + r), agents[m], p2BigSize, m === 'redirect');
              mbps[m].push(p2BigSize / 1e6 / (g.ms / 1000));
              if (m === 'redirect') {
                redirectRequests++;
                redirectsFollowed += g.redirects;
              }
            }
          }
        }
        const ufsMb = ((await sumMetric([...workers, ...redirectors], 'alluxio_ufs_read_bytes_total')) - ufs0) / 1e6;
        const L = Object.fromEntries(modes.map((m) => [m, median(lat[m])])) as Record<Mode, number>;
        const P90 = Object.fromEntries(modes.map((m) => [m, quantile(lat[m], 0.9)])) as Record<Mode, number>;
        const T = Object.fromEntries(modes.map((m) => [m, median(mbps[m])])) as Record<Mode, number>;
        for (const m of modes) {
          console.log(`   ${label[m].padEnd(32)} 4 KiB: median ${L[m].toFixed(2)} ms (p90 ${P90[m].toFixed(2)} ms)   ${p2BigSize / MiB} MiB: median ${T[m].toFixed(0)} MB/s`);
        }
        console.log(`   latency (4 KiB, lower is better):   proxy/direct ${(L.proxy / L.direct).toFixed(2)}x   redirect/direct ${(L.redirect / L.directR).toFixed(2)}x`);
        console.log(`   throughput (${p2BigSize / MiB} MiB, higher is better): proxy/direct ${(T.proxy / T.direct).toFixed(2)}x   redirect/direct ${(T.redirect / T.directR).toFixed(2)}x`);
        console.log(`   (each against the owner of its own cluster; the two owners' direct figures differ by ${(Math.abs(T.direct / T.directR - 1) * 100).toFixed(0)}% in throughput)`);
        console.log(`   Alluxio reports for comparison: redirect/direct ~1.00x throughput for objects >= 1 GiB; proxy/direct ~0.5x`);
        console.log(`   ${redirectsFollowed} of ${redirectRequests} redirect-mode GETs followed a 307; UFS read during rounds ${ufsMb.toFixed(1)} MB`);
        summary.modes = {
          workers: p2Workers,
          smallLatencyMs: L,
          smallLatencyP90Ms: P90,
          bigMBps: T,
          bigMb: p2BigSize / MiB,
          ratios: { latencyProxyVsDirect: L.proxy / L.direct, latencyRedirectVsDirect: L.redirect / L.directR, throughputProxyVsDirect: T.proxy / T.direct, throughputRedirectVsDirect: T.redirect / T.directR },
          redirectsFollowed,
          redirectRequests,
          ufsMbDuringRounds: ufsMb,
        };
      } finally {
        for (const a of Object.values(agents)) a.destroy();
      }
      while (redirectors.length > 0) await redirectors.pop()!.stop();
    }

    // ---- 3. FUSE warm sequential read vs bindfs
    if (run('fuse')) {
      console.log(`\n3. FUSE warm sequential read of ${fuseMb} MiB (file:// mount, dd bs=1M) vs bindfs over the same directory, ${fuseRuns} runs interleaved`);
      const skip = fuseSkipReason();
      if (skip) {
        console.log(`   SKIP: ${skip}`);
        summary.fuse = { skipped: skip };
      } else {
        while (workers.length < p2Workers) workers.push(await startCaching('bench', `w${workers.length}`));
        await waitRing(workers);
        writeRandomFile(join(localData, 'big.bin'), fuseMb * MiB);
        const fuseFigures: Record<string, FuseFigures> = {};
        for (const [label, mountArgs] of [
          ['alluxio fuse', []],
          ['alluxio fuse --kernel-cache', ['--kernel-cache']],
        ] as const) {
          console.log(`   ${label}:`);
          const f: FuseFigures = await fusePart({ dir: join(tmp, `fuse${mountArgs.length}`), data: localData, name: 'big.bin', mountPath: '/local', sizeMb: fuseMb, runs: fuseRuns, etcdEndpoint: etcd.endpoint, cluster: 'bench', workers, mountArgs: [...mountArgs] });
          fuseFigures[mountArgs.length ? 'kernelCache' : 'default'] = f;
          const how =
            f.servedBy === 'owner-cache'
              ? `through the owner's cache (workers served ${f.workersCacheMbWarm.toFixed(0)} MB from cache in the warm runs)`
              : f.servedBy === 'daemon-after-owner'
                ? `the cold read went through the owner (workers: ${f.workersUfsMbCold.toFixed(0)} MB from the UFS, ${f.workersCacheMbCold.toFixed(0)} MB from cache), the warm runs reached no worker (the daemon or the kernel kept the bytes)`
                : f.servedBy === 'ufs-direct'
                  ? 'the daemon read the UFS itself (the workers saw none of the reads)'
                  : `mixed (workers, cold read: ${f.workersUfsMbCold.toFixed(0)} MB from the UFS, ${f.workersCacheMbCold.toFixed(0)} MB from cache; warm runs: ${f.workersUfsMbWarm.toFixed(0)} MB from the UFS, ${f.workersCacheMbWarm.toFixed(0)} MB from cache)`;
          console.log(`   served: ${how}; ${workers.length} caching worker(s) running`);
          console.log(`   median: ${label} ${f.medianAlluxio.toFixed(0)} MB/s, bindfs ${f.medianBindfs.toFixed(0)} MB/s, ratio ${f.ratio.toFixed(2)}x (goal >= 0.9x: ${f.ratio >= 0.9 ? 'MET' : 'NOT MET'})`);
        }
        summary.fuse = { ...fuseFigures, workers: workers.length };
      }
    }
    console.log(JSON.stringify(summary, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(3)) : v)));
  } catch (e) {
    for (const w of [...workers, ...redirectors]) {
      if (w.process.exitCode !== null || w.process.signalCode !== null) console.error(`worker ${w.id} exited (${w.process.exitCode ?? w.process.signalCode})`);
      const lines = w.log().split('\n').filter((l) => /"level":[45]0|Error|error/.test(l));
      if (lines.length > 0) console.error(`worker ${w.id} log (warnings and errors, last 5):\n${lines.slice(-5).join('\n')}`);
    }
    throw e;
  } finally {
    for (const w of [...workers, ...redirectors]) await w.stop().catch(() => undefined);
    await stopChild(s3rver);
    for (const c of conns) c.close();
    await etcd?.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

runBench(main);
