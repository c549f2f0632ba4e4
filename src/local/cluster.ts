/**
 * `alluxio local start|status|stop`: etcd + N workers on this machine, as background
 * processes, with logs and pid files under one directory.
 *
 *   DIR/cluster.json       what was started (pids with their kernel start times, ports)
 *   DIR/etcd.pid, DIR/worker-<id>.pid
 *   DIR/logs/etcd.log, DIR/logs/worker-<id>.log
 *   DIR/etcd-data/         etcd's data (kept across stop/start; --purge removes it)
 *   DIR/tls/               with --tls: throwaway CA + server certificate (./tls-certs.ts)
 *
 * `stop` signals exactly the processes recorded in cluster.json, and only if each pid still
 * belongs to the process we started (same kernel start time), never by name.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { AlluxioError } from '../domain/errors.js';
import { hostCommand } from '../host/cli-entry.js';
import { findEtcdBinary, freePort, startEtcdServer, waitForEtcdHealth } from './etcd-server.js';
import { ensureLocalTls, type LocalTlsFiles } from './tls-certs.js';
import { getWorker } from './worker-http.js';

export interface LocalProcess {
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks since boot): guards against pid reuse. */
  startTime: string | null;
  log: string;
}

export interface LocalWorker extends LocalProcess {
  id: string;
  s3Port: number;
  restPort: number;
  /** HTTPS ports (with --tls). */
  s3TlsPort?: number;
  restTlsPort?: number;
}

export interface LocalClusterState {
  version: 1;
  dir: string;
  cluster: string;
  startedAt: string;
  etcd: LocalProcess & { endpoint: string; clientPort: number; peerPort: number; dataDir: string };
  workers: LocalWorker[];
  /** With --tls: the certificate files, and whether plain HTTP is off. */
  tls?: LocalTlsFiles & { only: boolean };
}

/** Where a worker's REST API answers (HTTPS when plain HTTP is off). */
export function restBase(state: LocalClusterState, w: LocalWorker): string {
  return state.tls?.only ? `https://127.0.0.1:${w.restTlsPort}` : `http://127.0.0.1:${w.restPort}`;
}

export function defaultLocalDir(): string {
  return process.env.ALLUXIO_LOCAL_DIR || join(homedir(), '.alluxio', 'local');
}


function stateFile(dir: string): string {
  return join(dir, 'cluster.json');
}

export function readLocalState(dir: string): LocalClusterState | undefined {
  const f = stateFile(dir);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as LocalClusterState;
  } catch (e) {
    throw new AlluxioError('Internal', `cannot read ${f}: ${(e as Error).message}`);
  }
}

export function procStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the ")" that ends the command name (which may contain spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** Is this pid still the very process we started? */
export function isOurs(p: LocalProcess): boolean {
  if (!p.pid) return false;
  try {
    process.kill(p.pid, 0);
  } catch {
    return false;
  }
  const st = procStartTime(p.pid);
  if (p.startTime !== null && st !== null && st !== p.startTime) return false;
  // A zombie (exited, not yet reaped) is not running.
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
  } catch {
    /* no /proc: trust kill(0) */
  }
  return true;
}

async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function pickPort(preferred: number, taken: Set<number>): Promise<number> {
  if (preferred > 0 && !taken.has(preferred) && (await portFree(preferred))) {
    taken.add(preferred);
    return preferred;
  }
  for (;;) {
    const p = await freePort();
    if (!taken.has(p)) {
      taken.add(p);
      return p;
    }
  }
}

export interface LocalStartOptions {
  dir: string;
  workers: number;
  cluster: string;
  /** Preferred ports (the defaults users expect); a busy one is replaced by a free port. */
  etcdPort?: number;
  s3PortBase?: number;
  restPortBase?: number;
  leaseTtl?: string;
  /** Cache quota of each worker (pages under DIR/cache/<id>); '0' = workers without a cache. Default 1GiB. */
  cacheSize?: string;
  /** Workers answer a GET/HEAD of a file another worker owns with a 307 to it (worker start --s3-redirect). */
  s3Redirect?: boolean;
  /** Serve HTTPS with a throwaway CA (alongside HTTP, or instead with `tlsOnly`). */
  tls?: boolean;
  tlsOnly?: boolean;
  s3TlsPortBase?: number;
  restTlsPortBase?: number;
  readyTimeoutMs?: number;
  onProgress?: (line: string) => void;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startLocalCluster(opts: LocalStartOptions): Promise<LocalClusterState> {
  const dir = resolve(opts.dir);
  const existing = readLocalState(dir);
  if (existing) {
    const alive = [existing.etcd, ...existing.workers].filter(isOurs);
    if (alive.length > 0) {
      throw new AlluxioError(
        'Conflict',
        `a local cluster is already running in ${dir} (etcd ${existing.etcd.endpoint}, ${existing.workers.length} workers; pids ${alive.map((p) => p.pid).join(', ')}); run: alluxio local stop --dir ${dir}`,
      );
    }
  }
  findEtcdBinary(); // fail first, with the one line naming the Debian package
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const wantTls = Boolean(opts.tls || opts.tlsOnly);
  const tls = wantTls ? { ...ensureLocalTls(dir), only: Boolean(opts.tlsOnly) } : undefined;
  if (tls) opts.onProgress?.(`TLS: CA ${tls.caCert}, server certificate ${tls.cert} (127.0.0.1, localhost)`);
  const taken = new Set<number>();
  const clientPort = await pickPort(opts.etcdPort ?? 2379, taken);
  const peerPort = await pickPort(clientPort === 2379 ? 2380 : 0, taken);
  const dataDir = join(dir, 'etcd-data');
  const etcdLog = join(dir, 'logs', 'etcd.log');
  opts.onProgress?.(`starting etcd on 127.0.0.1:${clientPort} (data ${dataDir})`);
  const etcd = await startEtcdServer({
    dataDir,
    clientPort,
    peerPort,
    logFile: etcdLog,
    detached: true,
    name: 'alluxio-local',
    // a port found free and taken before etcd bound it: other ones, as for workers below
    repick: async () => ({ clientPort: await pickPort(0, taken), peerPort: await pickPort(0, taken) }),
  });
  const state: LocalClusterState = {
    version: 1,
    dir,
    cluster: opts.cluster,
    startedAt: new Date().toISOString(),
    etcd: { pid: etcd.pid, startTime: procStartTime(etcd.pid), log: etcdLog, endpoint: etcd.endpoint, clientPort: etcd.clientPort, peerPort: etcd.peerPort, dataDir },
    workers: [],
    ...(tls ? { tls } : {}),
  };
  writeFileSync(join(dir, 'etcd.pid'), `${etcd.pid}\n`);
  const save = () => writeFileSync(stateFile(dir), JSON.stringify(state, null, 2) + '\n');
  save();
  /** Where each worker's log was when it was last started (its tail since then is its own). */
  const logFrom = new Map<string, number>();
  // Worker i on ports picked now: the preferred ones (from the bases), or free ones instead of
  // those that are busy or already given out.
  const launch = async (i: number): Promise<LocalWorker> => {
    const id = `worker-${i + 1}`;
    const base = (flag: number | undefined, dflt: number, step: number) => (flag === 0 ? 0 : (flag ?? dflt) + step * i);
    const s3Port = await pickPort(base(opts.s3PortBase, 29998, 1), taken);
    const restPort = await pickPort(base(opts.restPortBase, 28080, 1), taken);
    const s3TlsPort = tls ? await pickPort(base(opts.s3TlsPortBase, 29996, -1), taken) : undefined;
    const restTlsPort = tls ? await pickPort(base(opts.restTlsPortBase, 28443, 1), taken) : undefined;
    const tlsArgs = tls
      ? ['--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-peer-ca', tls.caCert, '--s3-tls-port', String(s3TlsPort), '--rest-tls-port', String(restTlsPort), ...(tls.only ? ['--tls-only'] : [])]
      : [];
    const log = join(dir, 'logs', `${id}.log`);
    const fd = openSync(log, 'a');
    logFrom.set(id, fstatSync(fd).size);
    const child = spawn(
      ...hostCommand(['worker', 'start', '--id', id, '--host', '127.0.0.1', '--bind-host', '127.0.0.1', '--s3-port', String(s3Port), '--rest-port', String(restPort), '--lease-ttl', opts.leaseTtl ?? '10s', ...tlsArgs,
        ...((opts.cacheSize ?? '1GiB') === '0' ? [] : ['--cache-dir', join(dir, 'cache', id), '--cache-size', opts.cacheSize ?? '1GiB']),
        ...(opts.s3Redirect ? ['--s3-redirect'] : []),
      ]),
      {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: opts.cluster, NO_COLOR: '1' },
      },
    );
    closeSync(fd);
    child.unref();
    const w: LocalWorker = { id, pid: child.pid!, startTime: procStartTime(child.pid!), log, s3Port, restPort, ...(tls ? { s3TlsPort, restTlsPort } : {}) };
    writeFileSync(join(dir, `${id}.pid`), `${w.pid}\n`);
    opts.onProgress?.(`started ${id} (pid ${w.pid}) S3 127.0.0.1:${s3Port} REST 127.0.0.1:${restPort}${tls ? ` HTTPS S3 :${s3TlsPort} REST :${restTlsPort}${tls.only ? ' (HTTPS only)' : ''}` : ''}`);
    return w;
  };
  try {
    for (let i = 0; i < opts.workers; i++) {
      state.workers.push(await launch(i));
      save();
    }
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (let i = 0; i < state.workers.length; i++) {
      for (let retries = 0; ; ) {
        const w = state.workers[i]!;
        if (!isOurs(w)) {
          // A port found free was taken before the worker bound it (another process on this
          // machine): the worker says so (src/host/listen.ts) and is started on other ports,
          // twice at most, as etcd is (etcd-server.ts).
          const inUse = /port (\d+) on \S+ is already in use/.exec(readFileSync(w.log).subarray(logFrom.get(w.id) ?? 0).toString());
          if (retries < 2 && inUse) {
            retries++;
            // Its other ports are given back: it keeps those the bases give it, and only the
            // taken one (still in `taken`) is replaced by a free port.
            for (const p of [w.s3Port, w.restPort, w.s3TlsPort, w.restTlsPort]) if (p !== undefined && p !== Number(inUse[1])) taken.delete(p);
            state.workers[i] = await launch(i);
            save();
            continue;
          }
          throw new AlluxioError('Internal', `${w.id} exited before becoming ready; its log (${w.log}) ends with:\n${tail(w.log)}`);
        }
        try {
          const res = await getWorker(`${restBase(state, w)}/readyz`, tls?.caCert, 1000);
          if (res.status === 200) break;
        } catch {
          /* not yet listening */
        }
        if (Date.now() > deadline) throw new AlluxioError('WaitTimeout', `${w.id} not ready after ${opts.readyTimeoutMs ?? 60_000} ms; see ${w.log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Workers first update their records when they load; make sure the startTime is known.
    for (const w of state.workers) w.startTime ??= procStartTime(w.pid);
    save();
    return state;
  } catch (e) {
    await stopLocalCluster(dir).catch(() => undefined);
    throw e;
  }
}

export interface ProcessHealth {
  name: string;
  pid: number;
  running: boolean;
  healthy: boolean;
  endpoint: string;
  detail: string;
  appliedRevision?: number;
  watchState?: string;
}

export interface LocalStatus {
  dir: string;
  cluster: string;
  healthy: boolean;
  etcd: ProcessHealth;
  workers: ProcessHealth[];
  env: Record<string, string>;
}

export async function localClusterStatus(dir: string): Promise<LocalStatus> {
  const d = resolve(dir);
  const state = readLocalState(d);
  if (!state) throw new AlluxioError('NotFound', `no local cluster in ${d}; start one with: alluxio local start --dir ${d}`);
  const etcdRunning = isOurs(state.etcd);
  let etcdHealthy = false;
  let etcdDetail = etcdRunning ? '' : 'not running';
  if (etcdRunning) {
    try {
      await waitForEtcdHealth(state.etcd.endpoint, 1500);
      etcdHealthy = true;
      etcdDetail = 'healthy';
    } catch (e) {
      etcdDetail = (e as Error).message;
    }
  }
  const workers: ProcessHealth[] = [];
  for (const w of state.workers) {
    const running = isOurs(w);
    const endpoint = state.tls?.only ? `https://127.0.0.1:${w.s3TlsPort}` : `http://127.0.0.1:${w.s3Port}`;
    const h: ProcessHealth = { name: w.id, pid: w.pid, running, healthy: false, endpoint, detail: running ? '' : 'not running' };
    if (running) {
      try {
        const ready = await getWorker(`${restBase(state, w)}/readyz`, state.tls?.caCert, 1500);
        const st = (await getWorker(`${restBase(state, w)}/api/v1/status`, state.tls?.caCert, 1500)).json() as {
          appliedRevision: number;
          informer: { state: string };
        };
        h.healthy = ready.status === 200;
        h.detail = h.healthy ? 'ready' : 'not ready';
        h.appliedRevision = st.appliedRevision;
        h.watchState = st.informer.state;
      } catch (e) {
        h.detail = `REST ${restBase(state, w)} not answering: ${(e as Error).message}`;
      }
    }
    workers.push(h);
  }
  const etcd: ProcessHealth = { name: 'etcd', pid: state.etcd.pid, running: etcdRunning, healthy: etcdHealthy, endpoint: state.etcd.endpoint, detail: etcdDetail };
  return {
    dir: d,
    cluster: state.cluster,
    healthy: etcdHealthy && workers.every((w) => w.healthy),
    etcd,
    workers,
    env: localEnv(state),
  };
}

async function terminate(p: LocalProcess, timeoutMs: number): Promise<'stopped' | 'killed' | 'not running'> {
  if (!isOurs(p)) return 'not running';
  try {
    process.kill(p.pid, 'SIGCONT');
    process.kill(p.pid, 'SIGTERM');
  } catch {
    return 'not running';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isOurs(p)) return 'stopped';
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  return 'killed';
}

export interface StopResult {
  dir: string;
  stopped: { name: string; pid: number; result: string }[];
  purged: boolean;
}

export async function stopLocalCluster(dir: string, opts: { purge?: boolean } = {}): Promise<StopResult> {
  const d = resolve(dir);
  const state = readLocalState(d);
  if (!state) throw new AlluxioError('NotFound', `no local cluster in ${d} (nothing to stop)`);
  const stopped: StopResult['stopped'] = [];
  // Workers first: they revoke their leases while etcd is still up.
  const results = await Promise.all(state.workers.map(async (w) => ({ name: w.id, pid: w.pid, result: await terminate(w, 10_000) })));
  stopped.push(...results);
  stopped.push({ name: 'etcd', pid: state.etcd.pid, result: await terminate(state.etcd, 10_000) });
  for (const w of state.workers) rmSync(join(d, `${w.id}.pid`), { force: true });
  rmSync(join(d, 'etcd.pid'), { force: true });
  rmSync(stateFile(d), { force: true });
  if (opts.purge) rmSync(d, { recursive: true, force: true });
  return { dir: d, stopped, purged: Boolean(opts.purge) };
}

/** The environment that uses the cluster (with --tls: the CA for the AWS tools, Node and curl users). */
export function localEnv(state: LocalClusterState): { ALLUXIO_ETCD_ENDPOINTS: string; ALLUXIO_CLUSTER: string; AWS_CA_BUNDLE?: string } {
  return {
    ALLUXIO_ETCD_ENDPOINTS: state.etcd.endpoint,
    ALLUXIO_CLUSTER: state.cluster,
    ...(state.tls ? { AWS_CA_BUNDLE: state.tls.caCert } : {}),
  };
}
