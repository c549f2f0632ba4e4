/**
 * Benchmark (issue 16): a Parquet dataset (default 1 GiB in 8 files) read with PyArrow three
 * ways in one run, interleaved: through `alluxiofs` over HTTP (short_circuit=False: every
 * byte crosses the worker's REST API), through pyarrow.fs.S3FileSystem pointed at the same
 * worker's S3 port (what a user would pick instead), and from local disk. Goal: alluxiofs
 * >= 0.8x PyArrow's S3 client. Also a column-projection read through alluxiofs: bytes
 * fetched (the client's counter) against the column's compressed size. Prints per-run MB/s
 * (bytes on disk / seconds), medians, ratios and a JSON line. Not a test: nothing asserts.
 *
 *   node dist/bench/fsspec-parquet.js [--size-mb 1024] [--files 8] [--runs 3]
 *
 * Runs bench/fsspec-parquet.py in the venv of scripts/python-venv.sh (built if missing).
 * Starts a real etcd and one worker on free loopback ports; stops them and removes the temp
 * dir at the end, also on failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { runCli } from '../test/helpers/cli.js';
import { startWorker, type WorkerProcess } from '../test/helpers/worker.js';
import { collect } from '../test/helpers/proc.js';
import { median, runBench } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function num(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? def : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

async function main(): Promise<void> {
  const sizeMb = num('size-mb', 1024);
  const files = num('files', 8);
  const runs = num('runs', 3);
  const venv = spawnSync('bash', [join(ROOT, 'scripts', 'python-venv.sh')], { encoding: 'utf8' });
  if (venv.status !== 0) throw new Error(`scripts/python-venv.sh failed:\n${venv.stderr}`);
  const python = venv.stdout.trim().split('\n').pop()!;
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-bench-parquet-'));
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  let etcd: EtcdServer | undefined;
  let worker: WorkerProcess | undefined;
  try {
    etcd = await startEtcdServer({ dataDir: join(dir, 'etcd'), logFile: join(dir, 'etcd.log') });
    const env = { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: 'default' };
    const m = await runCli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${data}`, '--json'], { env });
    if (m.code !== 0) throw new Error(`mount add failed: ${m.stderr}`);
    worker = await startWorker(etcd.endpoint, { logLevel: 'warn' });
    await worker.waitForRevision(m.json().revision);
    const args = [
      join(ROOT, 'bench', 'fsspec-parquet.py'),
      '--dir', 'pq', '--mount-dir', data,
      '--workers', `127.0.0.1:${worker.restPort}`, '--s3', `127.0.0.1:${worker.s3Port}`,
      '--size-mb', String(sizeMb), '--files', String(files), '--runs', String(runs),
    ];
    const py = await collect(
      spawn(python, args, { env: { ...process.env, PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }),
      60 * 60_000,
    );
    if (py.code !== 0) throw new Error(`python bench failed (${py.code}):\n${py.stdout}\n${py.stderr}`);
    const r = JSON.parse(py.stdout.trim().split('\n').pop()!) as {
      rows: number; bytesOnDisk: number; MBps: Record<'alluxiofs' | 's3' | 'local', number[]>;
      projection: { columnBytes: number; fetchedBytes: number; requests: number; seconds: number }; versions: Record<string, string>;
    };
    const f0 = (x: number) => x.toFixed(0);
    const ma = median(r.MBps.alluxiofs);
    const ms = median(r.MBps.s3);
    const ml = median(r.MBps.local);
    const load = loadavg()[0]!.toFixed(1);
    console.log(`dataset: ${files} Parquet files, ${(r.bytesOnDisk / 2 ** 20).toFixed(0)} MiB on disk, ${r.rows} rows x 8 float64 columns; ${runs} runs interleaved; pyarrow ${r.versions.pyarrow}, fsspec ${r.versions.fsspec}`);
    for (let i = 0; i < r.MBps.alluxiofs.length; i++) {
      console.log(`run ${i + 1}: alluxiofs HTTP ${f0(r.MBps.alluxiofs[i]!)} MB/s   pyarrow S3FileSystem ${f0(r.MBps.s3[i]!)} MB/s   local disk ${f0(r.MBps.local[i]!)} MB/s`);
    }
    console.log(`median: alluxiofs HTTP ${f0(ma)} MB/s = ${(ma / ms).toFixed(2)}x pyarrow S3FileSystem (goal >= 0.8x), ${(ma / ml).toFixed(2)}x local disk`);
    console.log(`        pyarrow S3FileSystem ${f0(ms)} MB/s, local disk ${f0(ml)} MB/s; load average ${load}`);
    const p = r.projection;
    console.log(`projection (1 of 8 columns through alluxiofs): fetched ${(p.fetchedBytes / 2 ** 20).toFixed(1)} MiB in ${p.requests} requests for a column of ${(p.columnBytes / 2 ** 20).toFixed(1)} MiB (${(p.fetchedBytes / p.columnBytes).toFixed(3)}x; the file is ${(r.bytesOnDisk / p.columnBytes).toFixed(1)}x)`);
    console.log(JSON.stringify({
      bench: 'fsspec-parquet', sizeMb, files, runs, alluxiofsMBps: ma, s3MBps: ms, localMBps: ml, ratioVsS3: ma / ms, ratioVsLocal: ma / ml,
      projection: { ...p, ratio: p.fetchedBytes / p.columnBytes }, loadAverage: Number(load),
    }));
  } finally {
    await worker?.stop();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
