/**
 * Benchmark: S3 GET throughput through a worker, against nginx (Debian's, the ceiling)
 * serving the SAME directory over plain HTTP on loopback, and s3rver (npm, the peer)
 * holding the same objects — all in the same run, interleaved (worker, nginx, s3rver,
 * worker, ...) so all see the same machine load.
 *
 *   - large: one object (default 1 GiB), read with curl to /dev/null: MB/s (10^6 B/s).
 *   - small: 4 KiB objects, GETs at concurrency 16 from a keep-alive Node client for a
 *     fixed time: ops/s.
 *
 * Prints per-run figures, medians and the ratios worker/nginx (goals: >= 0.7 large,
 * >= 0.5 small) and worker/s3rver, then one JSON summary line.
 *
 *   node dist/bench/s3-get.js [--size-mb 1024] [--runs 3] [--small-count 1000] [--small-seconds 5] [--concurrency 16] [--warm-seconds 10]
 *
 * Needs etcd, nginx and curl. Everything it starts is stopped and its temp dir removed at
 * the end, also on failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addMount } from '../src/control/mounts.js';
import { freePort, startEtcdServer, type EtcdServer } from '../src/local/etcd-server.js';
import { EtcdConnection } from '../src/store/connection.js';
import { startWorker, type WorkerProcess } from '../test/helpers/worker.js';
import { median, numArg, runBench, startS3rver, stopChild, waitHttp } from './lib.js';


/** curl the URL to /dev/null; MB/s. */
function curlRead(url: string, bytes: number): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('curl', ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', url], { encoding: 'utf8' });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`curl ${url} failed: ${r.stderr}`);
  if (Number(r.stdout) !== bytes) throw new Error(`curl ${url}: got ${r.stdout} bytes, expected ${bytes}`);
  return bytes / 1e6 / secs;
}

/** GET random small objects at `concurrency` for `seconds`; ops/s. */
async function smallOps(base: string, names: string[], size: number, concurrency: number, seconds: number): Promise<number> {
  const u = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let ops = 0;
  let failed: Error | undefined;
  const end = Date.now() + seconds * 1000;
  const one = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path, agent }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 && n === size ? resolve() : reject(new Error(`${path}: HTTP ${res.statusCode}, ${n} bytes`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  let i = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end && !failed) {
        const name = names[i++ % names.length]!;
        try {
          await one(`${u.pathname.replace(/\/$/, '')}/${name}`);
          ops++;
        } catch (e) {
          failed = e as Error;
        }
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  if (failed) throw failed;
  return ops / secs;
}

function startNginx(dir: string, root: string, port: number): ChildProcess {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process on;
user root;
worker_processes auto;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`,
  );
  return spawn('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'logs', 'error.log')], { stdio: ['ignore', 'inherit', 'inherit'] });
}

function put(base: string, key: string, file: string): Promise<void> {
  const u = new URL(base);
  const size = statSync(file).size;
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: `/bench/${key}`, headers: { 'content-length': size } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT ${key} to s3rver: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

/** VmHWM (peak resident set) of a process, in MB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const sizeMb = numArg('size-mb', 1024);
  const runs = numArg('runs', 3);
  const smallCount = numArg('small-count', 1000);
  const smallSeconds = numArg('small-seconds', 5);
  const concurrency = numArg('concurrency', 16);
  const warmSeconds = numArg('warm-seconds', 10);
  const smallSize = 4096;
  const largeBytes = sizeMb * 1024 * 1024;

  const tmp = mkdtempSync(join(tmpdir(), 'bench-s3-get-'));
  const data = join(tmp, 'bench'); // served as bucket /bench by the worker and as /bench/ by nginx
  let etcd: EtcdServer | undefined;
  let conn: EtcdConnection | undefined;
  let worker: WorkerProcess | undefined;
  let nginx: ChildProcess | undefined;
  let s3rver: ChildProcess | undefined;
  try {
    mkdirSync(join(data, 'small'), { recursive: true });
    process.stderr.write(`writing ${sizeMb} MiB + ${smallCount} x 4 KiB ...\n`);
    const fd = openSync(join(data, 'large.bin'), 'w');
    const buf = Buffer.alloc(8 << 20);
    for (let left = largeBytes; left > 0; left -= buf.length) {
      randomFillSync(buf);
      writeSync(fd, buf, 0, Math.min(buf.length, left));
    }
    closeSync(fd);
    const names: string[] = [];
    const small = Buffer.alloc(smallSize);
    for (let i = 0; i < smallCount; i++) {
      randomFillSync(small);
      const n = `small/o${String(i).padStart(5, '0')}`;
      writeFileSync(join(data, n), small);
      names.push(n);
    }

    etcd = await startEtcdServer({ dataDir: join(tmp, 'etcd'), logFile: join(tmp, 'etcd.log') });
    conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'bench' });
    await addMount(conn, { path: '/bench', ufsUri: `file://${data}/`, readOnly: true, options: {} });
    mkdirSync(join(tmp, 'upload'));
    await addMount(conn, { path: '/upload', ufsUri: `file://${join(tmp, 'upload')}/`, readOnly: false, options: {} });
    worker = await startWorker(etcd.endpoint, { cluster: 'bench', logLevel: 'warn', env: { ALLUXIO_S3_STAGING_DIR: join(tmp, 'staging') } });

    const nginxPort = await freePort();
    nginx = startNginx(join(tmp, 'nginx'), tmp, nginxPort);
    const nginxUrl = `http://127.0.0.1:${nginxPort}`;
    await waitHttp(`${nginxUrl}/bench/small/o00000`, 10_000);

    const s3rverPort = await freePort();
    s3rver = startS3rver(join(tmp, 's3rver'), s3rverPort);
    const s3rverUrl = `http://127.0.0.1:${s3rverPort}`;
    await waitHttp(`${s3rverUrl}/`, 20_000);
    process.stderr.write('loading s3rver ...\n');
    await put(s3rverUrl, 'large.bin', join(data, 'large.bin'));
    for (let i = 0; i < names.length; i += 32) await Promise.all(names.slice(i, i + 32).map((n) => put(s3rverUrl, n, join(data, n))));

    const targets = [
      { name: 'worker', base: `${worker.s3Url}/bench` },
      { name: 'nginx', base: `${nginxUrl}/bench` },
      { name: 's3rver', base: `${s3rverUrl}/bench` },
    ];
    const large: Record<string, number[]> = { worker: [], nginx: [], s3rver: [] };
    const smallRes: Record<string, number[]> = { worker: [], nginx: [], s3rver: [] };
    // warm-up (page cache, JIT: the worker's request path needs ~10 s of load to be
    // fully optimised; every target gets the same warm-up)
    for (const t of targets) {
      curlRead(`${t.base}/large.bin`, largeBytes);
      await smallOps(t.base, names, smallSize, concurrency, warmSeconds);
    }
    for (let r = 1; r <= runs; r++) {
      for (const t of targets) {
        const mbs = curlRead(`${t.base}/large.bin`, largeBytes);
        large[t.name]!.push(mbs);
        console.log(`run ${r} large ${t.name.padEnd(7)} ${mbs.toFixed(0)} MB/s`);
      }
      for (const t of targets) {
        const ops = await smallOps(t.base, names, smallSize, concurrency, smallSeconds);
        smallRes[t.name]!.push(ops);
        console.log(`run ${r} small ${t.name.padEnd(7)} ${ops.toFixed(0)} ops/s`);
      }
    }
    // Memory stays flat: the worker's peak RSS after streaming the large object (GET above)
    // and after one PUT of it (curl -T, streamed through the worker to its file:// mount).
    const rssAfterGets = peakRssMb(worker.pid);
    const t0 = process.hrtime.bigint();
    const up = spawnSync('curl', ['-sS', '--fail', '-o', '/dev/null', '-T', join(data, 'large.bin'), `${worker.s3Url}/upload/large.bin`], { encoding: 'utf8' });
    if (up.status !== 0) throw new Error(`PUT through the worker failed: ${up.stderr}`);
    const putMBps = largeBytes / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9);
    if (statSync(join(tmp, 'upload', 'large.bin')).size !== largeBytes) throw new Error('the uploaded object has the wrong size');
    const rssAfterPut = peakRssMb(worker.pid);
    console.log(`PUT ${sizeMb} MiB through the worker: ${putMBps.toFixed(0)} MB/s; worker peak RSS: ${rssAfterGets.toFixed(0)} MB after the GETs, ${rssAfterPut.toFixed(0)} MB after the PUT`);
    const m = (o: Record<string, number[]>, k: string) => median(o[k]!);
    const summary = {
      bench: 's3-get',
      sizeMb,
      runs,
      concurrency,
      workerPeakRssMb: { afterGets: rssAfterGets, afterPut: rssAfterPut },
      putMBps,
      largeMBps: { worker: m(large, 'worker'), nginx: m(large, 'nginx'), s3rver: m(large, 's3rver') },
      smallOpsPerSec: { worker: m(smallRes, 'worker'), nginx: m(smallRes, 'nginx'), s3rver: m(smallRes, 's3rver') },
      ratios: {
        largeVsNginx: m(large, 'worker') / m(large, 'nginx'),
        smallVsNginx: m(smallRes, 'worker') / m(smallRes, 'nginx'),
        largeVsS3rver: m(large, 'worker') / m(large, 's3rver'),
        smallVsS3rver: m(smallRes, 'worker') / m(smallRes, 's3rver'),
      },
    };
    console.log('');
    console.log(`large (${sizeMb} MiB) median: worker ${summary.largeMBps.worker.toFixed(0)} MB/s, nginx ${summary.largeMBps.nginx.toFixed(0)} MB/s, s3rver ${summary.largeMBps.s3rver.toFixed(0)} MB/s`);
    console.log(`  worker/nginx ${summary.ratios.largeVsNginx.toFixed(2)} (goal >= 0.70)   worker/s3rver ${summary.ratios.largeVsS3rver.toFixed(2)}`);
    console.log(`small (4 KiB, c=${concurrency}) median: worker ${summary.smallOpsPerSec.worker.toFixed(0)} ops/s, nginx ${summary.smallOpsPerSec.nginx.toFixed(0)} ops/s, s3rver ${summary.smallOpsPerSec.s3rver.toFixed(0)} ops/s`);
    console.log(`  worker/nginx ${summary.ratios.smallVsNginx.toFixed(2)} (goal >= 0.50)   worker/s3rver ${summary.ratios.smallVsS3rver.toFixed(2)}`);
    console.log(JSON.stringify(summary));
  } finally {
    await stopChild(nginx, 'SIGQUIT');
    await stopChild(s3rver);
    await worker?.stop().catch(() => undefined);
    conn?.close();
    await etcd?.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

runBench(main);
