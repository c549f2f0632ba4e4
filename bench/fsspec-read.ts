/**
 * Benchmark: sequential read of one large file (default 1 GiB) through the Python
 * `alluxiofs` package against reading the same file directly with Python's open(), in
 * the same run and the same Python process, interleaved so all readers see the same load
 * and page cache (bench/fsspec-read.py does the reading). Two fsspec readers: the default
 * one, short-circuited (the worker on this host resolves and names the local file, the
 * client reads it), and one with short_circuit=False (fsspec -> worker REST API ->
 * file:// UFS). A fourth reader, one plain HTTP GET of the whole file into a reused
 * buffer, shows what the transport alone costs (the ceiling for any HTTP client). Prints
 * per-run MB/s, the medians and the ratios (goal: fsspec >= 0.5x direct), and a JSON
 * summary line. Not a test: nothing here asserts a speed.
 *
 *   node dist/bench/fsspec-read.js [--size-mb 1024] [--runs 5] [--block-mb 8] [--chunk-mb 8] [--cache readahead]
 *
 * Starts a real etcd and one worker process on free loopback ports; both are stopped and
 * the temp dir removed at the end, also on failure.
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { runCli } from '../test/helpers/cli.js';
import { startWorker, type WorkerProcess } from '../test/helpers/worker.js';
import { collect, type ProcOutput } from '../test/helpers/proc.js';
import { median, runBench } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : String(process.argv[i + 1]);
}
function num(name: string, def: number): number {
  const v = Number(arg(name, String(def)));
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

async function run(cmd: string, args: string[], env: Record<string, string>): Promise<ProcOutput> {
  return collect(spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

async function main(): Promise<void> {
  const sizeMb = num('size-mb', 1024);
  const runs = num('runs', 5);
  const blockMb = num('block-mb', 8);
  const chunkMb = num('chunk-mb', 8);
  const cache = arg('cache', 'readahead');
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-bench-fsspec-'));
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true });
  let etcd: EtcdServer | undefined;
  let worker: WorkerProcess | undefined;
  try {
    // The file: random bytes (nothing compressible or sparse), written once.
    const file = join(data, 'big.bin');
    const fd = openSync(file, 'w');
    const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
    for (let left = sizeMb * 1024 * 1024; left > 0; ) {
      randomFillSync(buf);
      const n = Math.min(left, buf.length);
      writeSync(fd, buf, 0, n);
      left -= n;
    }
    closeSync(fd);
    etcd = await startEtcdServer({ dataDir: join(dir, 'etcd'), logFile: join(dir, 'etcd.log') });
    const env = { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: 'default' };
    const m = await runCli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${data}`, '--json'], { env });
    if (m.code !== 0) throw new Error(`mount add failed: ${m.stderr}`);
    worker = await startWorker(etcd.endpoint, { logLevel: 'warn' });
    await worker.waitForRevision(m.json().revision);
    const py = await run(
      '/usr/bin/python3',
      [
        join(ROOT, 'bench', 'fsspec-read.py'),
        '--path', file,
        '--uri', `file://${file}`,
        '--workers', `127.0.0.1:${worker.restPort}`,
        '--runs', String(runs),
        '--block-mb', String(blockMb),
        '--chunk-mb', String(chunkMb),
        '--cache', cache,
        '--verify',
      ],
      { PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' },
    );
    if (py.code !== 0) throw new Error(`python bench failed (${py.code}):\n${py.stdout}\n${py.stderr}`);
    const r = JSON.parse(py.stdout.trim().split('\n').pop()!) as { size: number; direct: number[]; fsspec: number[]; fsspecHttp: number[]; rawHttp: number[] };
    const md = median(r.direct);
    const mf = median(r.fsspec);
    const mh = median(r.fsspecHttp);
    const mr = median(r.rawHttp);
    const load = loadavg()[0]!.toFixed(1);
    const f0 = (x: number) => x.toFixed(0);
    console.log(`file: ${sizeMb} MiB, ${runs} runs interleaved, read(${chunkMb} MiB) calls, fsspec block_size ${blockMb} MiB, cache_type ${cache}`);
    for (let i = 0; i < r.direct.length; i++) {
      console.log(
        `run ${i + 1}: direct ${f0(r.direct[i]!)} MB/s   fsspec short-circuit ${f0(r.fsspec[i]!)} MB/s   fsspec HTTP ${f0(r.fsspecHttp[i]!)} MB/s   (raw HTTP GET ${f0(r.rawHttp[i]!)} MB/s)`,
      );
    }
    console.log(`median: direct ${f0(md)} MB/s`);
    console.log(`        fsspec short-circuit ${f0(mf)} MB/s, ratio ${(mf / md).toFixed(2)}x (goal >= 0.5x)`);
    console.log(`        fsspec HTTP (short_circuit=False) ${f0(mh)} MB/s, ratio ${(mh / md).toFixed(2)}x`);
    console.log(`        raw HTTP GET ${f0(mr)} MB/s (${(mr / md).toFixed(2)}x); load average ${load}`);
    console.log(
      JSON.stringify({
        bench: 'fsspec-read', sizeMb, runs, blockMb, chunkMb, cache,
        directMBps: md, fsspecMBps: mf, ratio: mf / md, fsspecHttpMBps: mh, httpRatio: mh / md, rawHttpMBps: mr, loadAverage: Number(load),
      }),
    );
  } finally {
    await worker?.stop();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
