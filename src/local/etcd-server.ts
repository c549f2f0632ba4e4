/**
 * Starting a real etcd server on loopback: used by `alluxio local start` and by the test
 * suite (which never stands a mock in for etcd).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlluxioError } from '../domain/errors.js';

export function findEtcdBinary(): string {
  const explicit = process.env.ALLUXIO_ETCD_BIN;
  if (explicit) return explicit;
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const found = (r.stdout ?? '').trim();
  if (r.status !== 0 || !found) {
    throw new AlluxioError('NotFound', 'the etcd binary is not on PATH; install it with: apt-get install etcd-server (Debian), or set ALLUXIO_ETCD_BIN');
  }
  return found;
}

/** A free TCP port on 127.0.0.1 (bound then released; a small race we accept on loopback). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface EtcdServerOptions {
  dataDir: string;
  clientPort?: number;
  peerPort?: number;
  name?: string;
  /**
   * Other ports when the ones given were taken before etcd bound them (`local start` picks
   * them itself, preferred ones first). Without it, only ports not given are picked again.
   */
  repick?: () => Promise<{ clientPort: number; peerPort: number }>;
  /** File for etcd's own log (stdout+stderr). Default: <dataDir>/../etcd.log */
  logFile?: string;
  /** Detach (for `local start`): the process outlives us. */
  detached?: boolean;
  /**
   * etcd's --max-txn-ops. Default 10000 (etcd's own default is 128): one `path-mapping
   * import` is one all-or-nothing transaction with one operation per rule, so the local and
   * test clusters allow large imports. Production etcd needs the same flag (docs/etcd-layout.md).
   */
  maxTxnOps?: number;
  /**
   * For a member of a multi-member cluster: etcd's --initial-cluster ("m0=http://...,m1=...")
   * and --initial-cluster-state ("existing" when restarting a member on its data dir).
   * Default: a single-member cluster of this server alone.
   */
  initialCluster?: string;
  initialClusterState?: 'new' | 'existing';
  /** Wait for /health before returning (default true; a lone member of a new 3-member cluster never is healthy alone). */
  waitHealthy?: boolean;
  extraArgs?: string[];
}

export const LOCAL_MAX_TXN_OPS = 10000;

export interface EtcdServer {
  endpoint: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  process: ChildProcess;
  pid: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The last line of a log file ('' when there is none): what an etcd that exited said last. */
export function lastLine(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').pop()?.trim() ?? '';
  } catch {
    return '';
  }
}

export async function waitForEtcdHealth(endpoint: string, timeoutMs: number, proc?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new AlluxioError('EtcdUnavailable', `etcd exited with code ${proc.exitCode} before becoming healthy`);
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      if (body.health === 'true') return;
      last = JSON.stringify(body);
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new AlluxioError('EtcdUnavailable', `etcd at ${endpoint} not healthy after ${timeoutMs} ms (${last})`);
}

/**
 * Start etcd. Ports it picks itself (none given) are free when picked, not necessarily when
 * etcd binds them: another process's connection can take one in between (seen on a busy CI
 * machine, 2026-12-02). etcd then exits at once ("bind: address already in use"), and new
 * ports are picked, up to 3 times.
 */
export async function startEtcdServer(opts: EtcdServerOptions): Promise<EtcdServer> {
  let clientPort = opts.clientPort ?? (await freePort());
  let peerPort = opts.peerPort ?? (await freePort());
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, clientPort, peerPort);
    } catch (e) {
      const picked = opts.repick !== undefined || opts.clientPort === undefined || opts.peerPort === undefined;
      if (!picked || attempt >= 3 || !(e instanceof AlluxioError && /address already in use/.test(e.message))) throw e;
      if (opts.repick) ({ clientPort, peerPort } = await opts.repick());
      else {
        clientPort = opts.clientPort ?? (await freePort());
        peerPort = opts.peerPort ?? (await freePort());
      }
    }
  }
}

async function startOnce(opts: EtcdServerOptions, clientPort: number, peerPort: number): Promise<EtcdServer> {
  const bin = findEtcdBinary();
  const name = opts.name ?? 'alluxio-etcd';
  mkdirSync(opts.dataDir, { recursive: true });
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', name,
    '--data-dir', opts.dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', opts.initialCluster ?? `${name}=${peer}`,
    '--initial-cluster-state', opts.initialClusterState ?? 'new',
    '--log-level', 'warn',
    '--max-txn-ops', String(opts.maxTxnOps ?? LOCAL_MAX_TXN_OPS),
    ...(opts.extraArgs ?? []),
  ];
  const logFile = opts.logFile ?? join(opts.dataDir, '..', `etcd-${clientPort}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: opts.detached ?? false, env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' } });
  closeSync(fd);
  if (opts.detached) child.unref();
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  try {
    if (opts.waitHealthy !== false) await waitForEtcdHealth(client, 20_000, child);
  } catch (e) {
    await stop('SIGKILL');
    // An etcd that exited says why in its log's last line (a port taken, a bad data dir).
    if (child.exitCode !== null && e instanceof AlluxioError) {
      const why = lastLine(logFile);
      if (why) throw new AlluxioError(e.code, `${e.message}: ${why}`);
    }
    throw e;
  }
  return { endpoint: client, clientPort, peerPort, dataDir: opts.dataDir, process: child, pid: child.pid!, stop };
}
