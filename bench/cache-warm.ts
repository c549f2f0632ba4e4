/**
 * Benchmark: the warm 4 KiB path of a caching worker, without the shaped UFS (see
 * bench/cache.ts for the full cold/warm comparison). s3rver holds 256 x 4 KiB and 16 x 4 MiB
 * objects; a worker with a cache mounts it as s3://. Two parts, each printing figures and
 * medians; no timed assertions.
 *
 *   steady     --rounds rounds, each reading the 4 KiB set --passes times (8192 GETs at
 *              c=16) from, interleaved: the worker (every page in its cache), a bare
 *              node:http server answering a fixed 4 KiB buffer with the same headers
 *              (bench/parts/bare-server.ts: what Node's HTTP server costs), and nginx over
 *              the same files. GETs/s and CPU per GET (all threads, /proc schedstat).
 *   transient  --rounds rounds of: cache freed, the sets read cold, 4 warm passes of the
 *              4 MiB set, then the 4 KiB set in windows of 1024 GETs, with the worker's CPU
 *              per GET in each window: how long V8 takes to re-optimise the hot path after
 *              the cold reads and the 4 MiB responses (docs/cache.md, "The warm path",
 *              fourth round).
 *
 *   node dist/bench/cache-warm.js [--rounds 5] [--passes 32]
 *
 * Needs etcd and nginx. Everything it starts is stopped and its temp dir removed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addMount } from '../src/control/mounts.js';
import { freePort, startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { EtcdConnection } from '../src/store/connection.js';
import { startWorker, type WorkerProcess } from '../test/helpers/worker.js';
import { median, numArg, runBench, startS3rver, stopChild, waitHttp } from './lib.js';
import { getAll, stopGetClient } from './parts/get-client.js';
import { pagesOnDisk, putObject, startNginx, threadsCpuMs } from './parts/cache-targets.js';

const SMALL = 4096;
const LARGE = 4 << 20;
const WINDOW_PASSES = 4; // 1024 GETs of the 256-object set

runBench(async () => {
  const rounds = numArg('rounds', 5);
  const passes = numArg('passes', 32);
  const tmp = mkdtempSync(join(tmpdir(), 'bench-cache-warm-'));
  const data = join(tmp, 'www', 'bench');
  let etcd: EtcdServer | undefined;
  let worker: WorkerProcess | undefined;
  let s3rver: ChildProcess | undefined;
  let bare: ChildProcess | undefined;
  let nginx: ChildProcess | undefined;
  try {
    mkdirSync(join(data, 'small'), { recursive: true });
    mkdirSync(join(data, 'large'), { recursive: true });
    const small = Array.from({ length: 256 }, (_, i) => `small/S${String(i).padStart(5, '0')}`);
    const large = Array.from({ length: 16 }, (_, i) => `large/L${String(i).padStart(4, '0')}`);
    const s3Port = await freePort();
    s3rver = startS3rver(join(tmp, 's3rver'), s3Port);
    const s3Url = `http://127.0.0.1:${s3Port}`;
    await waitHttp(`${s3Url}/`, 20_000);
    for (const [names, size] of [[small, SMALL], [large, LARGE]] as const) {
      for (const n of names) {
        const b = randomFillSync(Buffer.allocUnsafe(size));
        writeFileSync(join(data, n), b);
        await putObject(s3Url, n, b);
      }
    }
    etcd = await startEtcdServer({ dataDir: join(tmp, 'etcd'), logFile: join(tmp, 'etcd.log') });
    const conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'warm' });
    await addMount(conn, { path: '/bench', ufsUri: 's3://bench/', readOnly: true, options: { 's3a.endpoint': s3Url, 's3a.accessKeyId': 'S3RVER', 's3a.secretKey': 'S3RVER' } });
    conn.close();
    worker = await startWorker(etcd.endpoint, { cluster: 'warm', logLevel: 'warn', extraArgs: ['--cache-dir', join(tmp, 'cache'), '--cache-size', '8GiB'] });
    const barePort = await freePort();
    bare = fork(fileURLToPath(new URL('./parts/bare-server.js', import.meta.url)), [String(barePort)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const nginxPort = await freePort();
    nginx = startNginx(join(tmp, 'nginx'), join(tmp, 'www'), nginxPort);
    const w = `${worker.s3Url}/bench`;
    await waitHttp(`http://127.0.0.1:${barePort}/bench/${small[0]}`, 10_000);
    await waitHttp(`http://127.0.0.1:${nginxPort}/bench/${small[0]}`, 10_000);
    const free = async (): Promise<void> => {
      const r = await fetch(`${worker!.restUrl}/api/v1/cache/free?path=%2Fbench`, { method: 'POST' });
      if (r.status !== 200) throw new Error(`cache free: HTTP ${r.status} ${await r.text()}`);
    };

    // every target warmed up (JIT, connections); the worker's cache holds both sets
    const targets: [string, string, number | undefined][] = [
      ['worker', w, worker.pid],
      ['bare', `http://127.0.0.1:${barePort}/bench`, bare.pid],
      ['nginx', `http://127.0.0.1:${nginxPort}/bench`, undefined],
    ];
    await getAll(w, large, LARGE, 4, 2);
    for (const [, base] of targets) await getAll(base, small, SMALL, 16, passes);

    console.log(`steady: 4 KiB x 256 at c=16, ${passes} passes per target per round`);
    const ops: Record<string, number[]> = { worker: [], bare: [], nginx: [] };
    const cpu: Record<string, number[]> = { worker: [], bare: [] };
    for (let r = 1; r <= rounds; r++) {
      const line: string[] = [];
      for (const [name, base, pid] of targets) {
        const c0 = pid ? threadsCpuMs(pid) : 0;
        const s = await getAll(base, small, SMALL, 16, passes);
        const n = small.length * passes;
        ops[name]!.push(n / s);
        let extra = '';
        if (pid) {
          const per = (threadsCpuMs(pid) - c0) / n;
          cpu[name]!.push(per);
          extra = ` (${per.toFixed(4)} ms CPU/GET)`;
        }
        line.push(`${name} ${(n / s).toFixed(0)}/s${extra}`);
      }
      console.log(`  round ${r}: ${line.join('  ')}`);
    }

    console.log(`transient: after a cold pass and 4 warm 4 MiB passes, the worker's CPU per warm 4 KiB GET in windows of ${small.length * WINDOW_PASSES} GETs`);
    const windows: number[][] = [];
    for (let r = 1; r <= rounds; r++) {
      await free();
      await getAll(w, large, LARGE, 4, 1);
      await getAll(w, small, SMALL, 16, 1);
      await pagesOnDisk(worker, large.length * 4 + small.length);
      await getAll(w, large, LARGE, 4, 4);
      const win: number[] = [];
      for (let k = 0; k < passes / WINDOW_PASSES; k++) {
        const c0 = threadsCpuMs(worker.pid);
        await getAll(w, small, SMALL, 16, WINDOW_PASSES);
        win.push((threadsCpuMs(worker.pid) - c0) / (small.length * WINDOW_PASSES));
      }
      windows.push(win);
      console.log(`  round ${r}: ${win.map((x) => x.toFixed(3)).join(' ')} ms`);
    }

    const m = (xs: number[]) => median(xs);
    const byWindow = windows[0]!.map((_, k) => m(windows.map((w) => w[k]!)));
    console.log('');
    console.log(`medians over ${rounds} rounds:`);
    console.log(`  steady: worker ${m(ops.worker!).toFixed(0)}/s at ${m(cpu.worker!).toFixed(4)} ms CPU/GET; bare node:http ${m(ops.bare!).toFixed(0)}/s at ${m(cpu.bare!).toFixed(4)} ms; nginx ${m(ops.nginx!).toFixed(0)}/s`);
    console.log(`  worker/nginx ${(m(ops.worker!) / m(ops.nginx!)).toFixed(2)}  bare/nginx ${(m(ops.bare!) / m(ops.nginx!)).toFixed(2)}  worker CPU/GET / bare ${(m(cpu.worker!) / m(cpu.bare!)).toFixed(2)}`);
    console.log(`  transient, CPU/GET by window: ${byWindow.map((x) => x.toFixed(3)).join(' ')} ms`);
    console.log(JSON.stringify({ bench: 'cache-warm', rounds, passes, steady: { workerOps: m(ops.worker!), bareOps: m(ops.bare!), nginxOps: m(ops.nginx!), workerCpuMs: m(cpu.worker!), bareCpuMs: m(cpu.bare!) }, transientCpuMsByWindow: byWindow }));
  } finally {
    stopGetClient();
    bare?.kill();
    await stopChild(nginx, 'SIGQUIT');
    await worker?.stop().catch(() => undefined);
    await stopChild(s3rver);
    await etcd?.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
});
