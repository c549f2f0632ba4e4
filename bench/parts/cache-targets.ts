/**
 * Pieces the cache benchmarks share (bench/cache.ts, bench/cache-warm.ts): nginx over a
 * directory, a process's CPU from /proc, the worker's cache metrics, and waiting until its
 * page writes are done.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/local/etcd-server.js';
import { waitHttp } from '../lib.js';
import type { WorkerProcess } from '../../test/helpers/worker.js';

/**
 * The bare Node proxy (bare-proxy.ts) in a process of its own, forwarding to `upstream`;
 * resolves once it answers a GET of `probePath` (under `/bench`). Stop it with kill().
 */
export async function startBareProxy(upstream: string, probePath: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = fork(fileURLToPath(new URL('./bare-proxy.js', import.meta.url)), [String(port), upstream], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = `http://127.0.0.1:${port}/bench`;
  await waitHttp(`${url}/${probePath}`, 10_000);
  return { child, url };
}

export function startNginx(dir: string, root: string, port: number): ChildProcess {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`).join('\n');
  writeFileSync(
    conf,
    `daemon off;\nmaster_process on;\nuser root;\nworker_processes auto;\npid ${join(dir, 'nginx.pid')};\nerror_log ${join(dir, 'logs', 'error.log')} warn;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n${temp}\n  default_type application/octet-stream;\n  server { listen 127.0.0.1:${port}; root ${root}; }\n}\n`,
  );
  return spawn('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'logs', 'error.log')], { stdio: ['ignore', 'inherit', 'inherit'] });
}

/** CPU time of process `pid`'s main thread (the event loop) so far, ms (its schedstat, in ns). */
export function mainThreadMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

/**
 * CPU time of process `pid`'s threads other than its main thread so far, ms (from each
 * thread's schedstat, in ns): V8's helpers (concurrent compiles, marking, parallel
 * scavenges) and libuv's pool. A share of the figures of cpuTimes, not an addition.
 */
export function helperThreadsMs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    if (Number(t) === pid) continue;
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

/** CPU time of process `pid` so far, ms (clock ticks of 10 ms): user, system. */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 };
}

export async function putObject(base: string, key: string, body: Buffer): Promise<void> {
  const r = await fetch(`${base}/bench/${key}`, { method: 'PUT', body });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`PUT ${key}: HTTP ${r.status}`);
}

export async function metrics(w: WorkerProcess): Promise<Record<string, number>> {
  const text = await (await fetch(`${w.restUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(alluxio_(?:cache|ufs)_\w+) (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Wait until the worker's cache holds at least `n` pages on disk (writes done), up to 30 s. */
export async function pagesOnDisk(w: WorkerProcess, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await metrics(w)).alluxio_cache_pages! < n) {
    if (Date.now() > deadline) throw new Error(`the cache holds fewer than ${n} pages 30 s after the reads`);
    await new Promise((r) => setTimeout(r, 100)); // each /metrics costs the worker CPU too: rarely
  }
}

/** CPU time of all of process `pid`'s threads so far, ms (each thread's schedstat, in ns). */
export function threadsCpuMs(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}
