/**
 * Part 3 of the cluster benchmark (bench/cluster.ts): warm sequential read of one large
 * file through `alluxio fuse mount` against bindfs over the SAME local directory (a file://
 * mount), while the cluster's caching workers run. Like bench/fuse-read.ts (dd bs=1M,
 * interleaved runs), plus: one cold read first, and the workers' UFS and cache-read byte
 * counters before and after, which say which path served the daemon: through the owner's
 * cache (peer reads: the owners' cache bytes grow) or the UFS directly (the workers' counters
 * do not move). A helper module: running it does nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostCommand } from '../../src/host/cli-entry.js';
import { fuseMountAt } from '../../src/frontends/fuse/mountpoint.js';
import type { WorkerProcess } from '../../test/helpers/worker.js';
import { sumMetric } from './cluster-http.js';
import { ddRead, median, stopFuse, waitFor } from '../lib.js';

const RUN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'run.js');

export interface FuseFigures {
  sizeMb: number;
  runs: number;
  coldMBps: number;
  alluxioMBps: number[];
  bindfsMBps: number[];
  medianAlluxio: number;
  medianBindfs: number;
  ratio: number;
  /** Which path served the daemon's reads, from the workers' counters. */
  servedBy: 'owner-cache' | 'daemon-after-owner' | 'ufs-direct' | 'mixed';
  workersUfsMbCold: number;
  workersCacheMbCold: number;
  workersCacheMbWarm: number;
  workersUfsMbWarm: number;
}

/** Is there what the FUSE part needs? A reason to skip it, or null. */
export function fuseSkipReason(): string | null {
  if (!existsSync('/dev/fuse') || process.getuid?.() !== 0) return 'needs root and /dev/fuse';
  if (spawnSync('sh', ['-c', 'command -v bindfs']).status !== 0) return 'bindfs is not installed (apt-get install bindfs)';
  return null;
}

export { writeRandomFile } from '../lib.js';

/**
 * `data` is the directory the file:// mount `mountPath` of `cluster` points at and holds
 * `name` (`sizeMb` MiB); `workers` are that cluster's caching workers.
 */
export async function fusePart(o: {
  dir: string;
  data: string;
  name: string;
  mountPath: string;
  sizeMb: number;
  runs: number;
  etcdEndpoint: string;
  cluster: string;
  workers: readonly WorkerProcess[];
  /** More `alluxio fuse mount` flags (e.g. --kernel-cache). */
  mountArgs?: string[];
}): Promise<FuseFigures> {
  const fuseMnt = join(o.dir, 'alluxio');
  const bindMnt = join(o.dir, 'bindfs');
  for (const d of [fuseMnt, bindMnt]) mkdirSync(d, { recursive: true });
  const bytes = o.sizeMb * 1024 * 1024;
  let daemon: ChildProcess | undefined;
  try {
    const logFd = openSync(join(o.dir, 'fuse.log'), 'a');
    daemon = spawn(...hostCommand(['fuse', 'mount', fuseMnt, '--log-level', 'warn', ...(o.mountArgs ?? [])], RUN), {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, ALLUXIO_ETCD_ENDPOINTS: o.etcdEndpoint, ALLUXIO_CLUSTER: o.cluster },
    });
    closeSync(logFd);
    await waitFor('the alluxio FUSE mount', () => fuseMountAt(fuseMnt) !== undefined, 30_000);
    const b = spawnSync('bindfs', [o.data, bindMnt], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`bindfs failed: ${b.stderr}`);
    await waitFor('the bindfs mount', () => fuseMountAt(bindMnt) !== undefined, 10_000);

    const viaFuse = join(fuseMnt, o.mountPath.replace(/^\//, ''), o.name);
    const viaBind = join(bindMnt, o.name);
    const counters = async () => ({ ufs: await sumMetric(o.workers, 'alluxio_ufs_read_bytes_total'), cache: (await sumMetric(o.workers, 'alluxio_cache_bytes_read_total')) + (await sumMetric(o.workers, 'alluxio_cache_colocated_bytes_total')) });
    const c0 = await counters();
    const coldMBps = ddRead(viaFuse, bytes);
    const c1 = await counters();
    ddRead(viaBind, bytes); // bindfs's first read, so both are warm
    console.log(`   cold read through alluxio fuse ${coldMBps.toFixed(0)} MB/s; workers read ${((c1.ufs - c0.ufs) / 1e6).toFixed(1)} MB from the UFS and ${((c1.cache - c0.cache) / 1e6).toFixed(1)} MB from their caches`);
    const alluxio: number[] = [];
    const bindfs: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const a = ddRead(viaFuse, bytes);
      const c = ddRead(viaBind, bytes);
      alluxio.push(a);
      bindfs.push(c);
      console.log(`   run ${i + 1}: alluxio fuse ${a.toFixed(0)} MB/s   bindfs ${c.toFixed(0)} MB/s`);
    }
    const c2 = await counters();
    const warmCache = c2.cache - c1.cache;
    const warmUfs = c2.ufs - c1.ufs;
    const warmBytes = bytes * o.runs;
    // Through the owner, the cold read reaches the workers (the owner fetches the UFS, or
    // serves its cache), and each warm read is served from the owner's cache (peer reads),
    // unless the daemon keeps the bytes itself (then the warm reads reach no worker).
    // Directly, the workers see none of it. Anything in between is "mixed".
    const cold = c1.ufs - c0.ufs + (c1.cache - c0.cache);
    const none = (n: number, of: number) => n < 0.01 * of;
    const servedBy: FuseFigures['servedBy'] =
      warmCache >= 0.9 * warmBytes
        ? 'owner-cache'
        : cold >= 0.9 * bytes && none(warmCache + warmUfs, warmBytes)
          ? 'daemon-after-owner'
          : none(cold, bytes) && none(warmCache + warmUfs, warmBytes)
            ? 'ufs-direct'
            : 'mixed';
    const ma = median(alluxio);
    const mb = median(bindfs);
    return {
      sizeMb: o.sizeMb,
      runs: o.runs,
      coldMBps,
      alluxioMBps: alluxio,
      bindfsMBps: bindfs,
      medianAlluxio: ma,
      medianBindfs: mb,
      ratio: ma / mb,
      servedBy,
      workersUfsMbCold: (c1.ufs - c0.ufs) / 1e6,
      workersCacheMbCold: (c1.cache - c0.cache) / 1e6,
      workersCacheMbWarm: warmCache / 1e6,
      workersUfsMbWarm: warmUfs / 1e6,
    };
  } finally {
    await stopFuse(daemon, fuseMnt, bindMnt);
  }
}
