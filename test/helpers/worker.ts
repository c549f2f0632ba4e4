/**
 * Real worker processes (`alluxio worker start` via bin/run.js) against a given etcd, on
 * free loopback ports. Used by every test that needs workers (S3, FSSpec, FUSE, migration).
 *
 *   const workers = await startWorkers(etcd.endpoint, 2, { cluster });
 *   workers[0].s3Url   // http://127.0.0.1:<port>
 *   await workers[0].waitForRevision(rev);
 *   await stopWorkers(workers);   // in after()/finally
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local/etcd-server.js';
import { hostCommand } from '../../src/host/cli-entry.js';
import { RUN } from './cli.js';

export interface WorkerProcessOptions {
  cluster?: string;
  id?: string;
  /** Lease TTL for membership, e.g. '2s' (default '10s'). */
  leaseTtl?: string;
  maxStaleness?: string;
  logLevel?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** How long to wait for /readyz (ms). */
  readyTimeoutMs?: number;
  /** Do not wait for /readyz (e.g. when etcd is down on purpose). */
  noWait?: boolean;
}

export interface WorkerProcess {
  id: string;
  pid: number;
  s3Port: number;
  restPort: number;
  s3Url: string;
  restUrl: string;
  logFile: string;
  process: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Current /api/v1/status JSON. */
  status(): Promise<any>;
  /** Poll /api/v1/status until appliedRevision >= rev. */
  waitForRevision(rev: number, timeoutMs?: number): Promise<any>;
  /** SIGTERM and wait for exit (SIGKILL after 10s). */
  stop(): Promise<number | string>;
  /** SIGKILL (no deregistration: the lease must expire). */
  kill9(): Promise<number | string>;
  /** SIGSTOP / SIGCONT: cut the process off without closing its sockets. */
  pause(): void;
  resume(): void;
  log(): string;
}

let counter = 0;

/**
 * Worker log dirs live until the test process exits (tests read logs after a worker stops),
 * then they are removed; ALLUXIO_KEEP_TEST_LOGS=1 keeps them for a post-mortem.
 */
const logDirs = new Set<string>();
function trackLogDir(dir: string): void {
  if (logDirs.size === 0 && process.env.ALLUXIO_KEEP_TEST_LOGS !== '1') {
    process.once('exit', () => {
      for (const d of logDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  logDirs.add(dir);
}

export async function startWorker(etcdEndpoint: string, opts: WorkerProcessOptions = {}): Promise<WorkerProcess> {
  // A port freePort found free can be taken before the worker binds it (by a client socket
  // of a test running beside this one: they share the ephemeral range): new ports, again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWorkerOnce(etcdEndpoint, opts);
    } catch (e) {
      if (attempt >= 3 || opts.noWait || !/port \d+ on \S+ is already in use/.test(String(e))) throw e;
    }
  }
}

async function startWorkerOnce(etcdEndpoint: string, opts: WorkerProcessOptions): Promise<WorkerProcess> {
  const s3Port = await freePort();
  const restPort = await freePort();
  const id = opts.id ?? `tw${process.pid}-${++counter}`;
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-worker-'));
  trackLogDir(dir);
  const logFile = join(dir, `${id}.log`);
  const fd = openSync(logFile, 'a');
  const args = [
    'worker', 'start',
    '--id', id,
    '--host', '127.0.0.1',
    '--bind-host', '127.0.0.1',
    '--s3-port', String(s3Port),
    '--rest-port', String(restPort),
    '--lease-ttl', opts.leaseTtl ?? '10s',
    '--log-level', opts.logLevel ?? 'info',
    ...(opts.maxStaleness ? ['--max-staleness', opts.maxStaleness] : []),
    ...(opts.extraArgs ?? []),
  ];
  const child = spawn(...hostCommand(args, RUN), {
    stdio: ['ignore', fd, fd],
    // (multipart staging in the worker's own test dir, removed with it: not one dir per test worker left in /tmp)
    env: { ...process.env, NO_COLOR: '1', ALLUXIO_ETCD_ENDPOINTS: etcdEndpoint, ALLUXIO_CLUSTER: opts.cluster ?? 'default', ALLUXIO_S3_STAGING_DIR: join(dir, 'multipart'), ...(opts.env ?? {}) },
  });
  closeSync(fd);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  const restUrl = `http://127.0.0.1:${restPort}`;
  const isDone = () => child.exitCode !== null || child.signalCode !== null;
  const stopWith = async (sig: NodeJS.Signals) => {
    if (isDone()) return exited;
    try {
      process.kill(child.pid!, 'SIGCONT');
    } catch {
      /* gone */
    }
    child.kill(sig);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const r = await exited;
    clearTimeout(t);
    return r;
  };
  const w: WorkerProcess = {
    id,
    pid: child.pid!,
    s3Port,
    restPort,
    s3Url: `http://127.0.0.1:${s3Port}`,
    restUrl,
    logFile,
    process: child,
    exited,
    async status() {
      const res = await fetch(`${restUrl}/api/v1/status`, { signal: AbortSignal.timeout(3000) });
      return res.json();
    },
    async waitForRevision(rev, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < deadline) {
        if (isDone()) throw new Error(`worker ${id} exited while waiting for revision ${rev}:\n${w.log()}`);
        try {
          last = await w.status();
          if (last.appliedRevision >= rev) return last;
        } catch {
          /* not up */
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`worker ${id} did not apply revision ${rev} within ${timeoutMs} ms (last status ${JSON.stringify(last)})`);
    },
    stop: () => stopWith('SIGTERM'),
    kill9: () => stopWith('SIGKILL'),
    pause: () => process.kill(child.pid!, 'SIGSTOP'),
    resume: () => process.kill(child.pid!, 'SIGCONT'),
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
  };
  if (!opts.noWait) {
    try {
      await waitReady(w, opts.readyTimeoutMs ?? 30_000);
    } catch (e) {
      await w.kill9();
      throw e;
    }
  }
  return w;
}

export async function waitReady(w: WorkerProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (w.process.exitCode !== null || w.process.signalCode !== null) {
      throw new Error(`worker ${w.id} exited (${w.process.exitCode ?? w.process.signalCode}) before becoming ready:\n${w.log()}`);
    }
    try {
      const res = await fetch(`${w.restUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`worker ${w.id} not ready after ${timeoutMs} ms:\n${w.log()}`);
}

/** Start n workers in parallel. */
export async function startWorkers(etcdEndpoint: string, n: number, opts: Omit<WorkerProcessOptions, 'id'> & { idPrefix?: string } = {}): Promise<WorkerProcess[]> {
  const prefix = opts.idPrefix ?? `tw${process.pid}-${++counter}`;
  const settled = await Promise.allSettled(Array.from({ length: n }, (_, i) => startWorker(etcdEndpoint, { ...opts, id: `${prefix}-${i + 1}` })));
  const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) {
    await stopWorkers(ok);
    throw failed.reason;
  }
  return ok;
}

export async function stopWorkers(workers: readonly (WorkerProcess | undefined)[]): Promise<void> {
  await Promise.all(workers.map((w) => w?.stop()));
}
