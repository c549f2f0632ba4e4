/**
 * Benchmark: sequential read of one large file (default 1 GiB) through `alluxio fuse mount`
 * against `bindfs` (Debian's C passthrough FUSE file system) over the SAME directory, in the
 * same run, interleaved (fuse, bindfs, fuse, bindfs...) so both see the same machine load.
 * The reader is `dd bs=1M of=/dev/null` for both. Prints per-run MB/s, the medians and the
 * ratio (goal: alluxio >= 0.5x bindfs), and a JSON summary line.
 *
 *   node dist/bench/fuse-read.js [--size-mb 1024] [--runs 7]
 *
 * Needs root, /dev/fuse, bindfs, etcd. Everything it starts (etcd, the FUSE daemon, bindfs)
 * is stopped and its temp dir removed at the end, also on failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostCommand } from '../src/host/cli-entry.js';
import { addMount } from '../src/control/mounts.js';
import { fuseMountAt } from '../src/frontends/fuse/mountpoint.js';
import { startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { EtcdConnection } from '../src/store/connection.js';
import { ddRead, median, numArg, runBench, stopFuse, waitFor, writeRandomFile } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUN = join(ROOT, 'bin', 'run.js');

async function main(): Promise<void> {
  const sizeMb = numArg('size-mb', 1024);
  const runs = numArg('runs', 7);
  if (!existsSync('/dev/fuse') || process.getuid?.() !== 0) {
    console.log('SKIP: needs root and /dev/fuse');
    return;
  }
  if (spawnSync('sh', ['-c', 'command -v bindfs']).status !== 0) {
    console.log('SKIP: bindfs is not installed (apt-get install bindfs)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-bench-fuse-'));
  const data = join(dir, 'data');
  const fuseMnt = join(dir, 'alluxio');
  const bindMnt = join(dir, 'bindfs');
  for (const d of [data, fuseMnt, bindMnt]) mkdirSync(d, { recursive: true });
  let etcd: EtcdServer | undefined;
  let daemon: ChildProcess | undefined;
  let conn: EtcdConnection | undefined;
  try {
    // The file: random bytes (nothing compressible or sparse), written once.
    const bytes = sizeMb * 1024 * 1024;
    const file = join(data, 'big.bin');
    writeRandomFile(file, bytes);

    etcd = await startEtcdServer({ dataDir: join(dir, 'etcd'), logFile: join(dir, 'etcd.log') });
    conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'bench' });
    await addMount(conn, { path: '/bench', ufsUri: `file://${data}/`, readOnly: true, options: {} });

    const logFd = openSync(join(dir, 'fuse.log'), 'a');
    daemon = spawn(...hostCommand(['fuse', 'mount', fuseMnt, '--log-level', 'warn'], RUN), {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: 'bench' },
    });
    closeSync(logFd);
    await waitFor('the alluxio FUSE mount', () => fuseMountAt(fuseMnt) !== undefined, 30_000);
    const b = spawnSync('bindfs', [data, bindMnt], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`bindfs failed: ${b.stderr}`);
    await waitFor('the bindfs mount', () => fuseMountAt(bindMnt) !== undefined, 10_000);

    const viaFuse = join(fuseMnt, 'bench', 'big.bin');
    const viaBind = join(bindMnt, 'big.bin');
    console.log(`sequential read of ${sizeMb} MiB with dd bs=1M, ${runs} runs each, interleaved (after one warm-up each)`);
    ddRead(viaFuse, bytes);
    ddRead(viaBind, bytes);
    const alluxio: number[] = [];
    const bindfs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const a = ddRead(viaFuse, bytes);
      const c = ddRead(viaBind, bytes);
      alluxio.push(a);
      bindfs.push(c);
      console.log(`run ${i + 1}: alluxio fuse ${a.toFixed(0)} MB/s   bindfs ${c.toFixed(0)} MB/s`);
    }
    const ma = median(alluxio);
    const mb = median(bindfs);
    const ratio = ma / mb;
    console.log(`median: alluxio fuse ${ma.toFixed(0)} MB/s, bindfs ${mb.toFixed(0)} MB/s, ratio ${ratio.toFixed(2)}x (goal >= 0.5x): ${ratio >= 0.5 ? 'MET' : 'NOT MET'}`);
    console.log(JSON.stringify({ bench: 'fuse-read', sizeMb, runs, alluxioMBps: alluxio.map(Math.round), bindfsMBps: bindfs.map(Math.round), medianAlluxio: Math.round(ma), medianBindfs: Math.round(mb), ratio: Number(ratio.toFixed(3)) }));
  } finally {
    await stopFuse(daemon, fuseMnt, bindMnt);
    conn?.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
