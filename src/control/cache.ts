/**
 * The CLI side of `alluxio cache load|status|free`: find the live workers in etcd and call
 * each one's /api/v1/cache/* endpoints (src/cache/admin-http.ts). Loads run inside the
 * workers, so an interrupted CLI leaves them running; `cache load --wait` only watches.
 * Load and free go to every worker that has a cache: in a cluster cache each one loads the
 * files it owns (docs/cluster-cache.md), and frees whatever it holds below the path.
 */
import { AlluxioError, isErrorCode } from '../domain/errors.js';
import { restAuthFromEnv } from '../frontends/rest/auth.js';
import { signV4 } from '../domain/sigv4.js';
import type { EtcdConnection } from '../store/connection.js';
import { listWorkers, type WorkerInfo } from '../cluster/members.js';
import type { LoadJob } from '../cache/load.js';

export interface WorkerAnswer<T> {
  worker: string;
  address: string;
  /** The worker's answer, or null when it failed (see error) or has no cache. */
  result: T | null;
  /** The worker has no --cache-dir. */
  disabled?: boolean;
  error?: { code: string; message: string };
}

export interface CacheStatus {
  enabled: boolean;
  capacityBytes?: number;
  /** Less than capacityBytes when the cache's file system holds less. */
  effectiveCapacityBytes?: number;
  usedBytes?: number;
  pages?: number;
  objects?: number;
  pageSize?: number;
  memoryCapacityBytes?: number;
  memoryUsedBytes?: number;
  hits?: number;
  misses?: number;
  hitRatio?: number;
  cacheReadBytes?: number;
  ufsReadBytes?: number;
  evictions?: number;
  /** The worker's share of the files in the cluster cache; null without a ring. */
  share?: number | null;
  path?: { path: string; files: number; bytes: number; cachedBytes: number; percent: number };
}

/**
 * The key the CLI signs worker requests with: the first pair of its ALLUXIO_S3_CREDENTIALS
 * (the workers' variable), as workers sign their peer reads. None: unsigned requests, which
 * workers without credentials accept.
 */
function signingKey(): [string, string] | undefined {
  const first = restAuthFromEnv().credentials?.entries().next();
  return first && !first.done ? first.value : undefined;
}

async function call<T>(w: WorkerInfo, method: 'GET' | 'POST', what: string, path: string | undefined, timeoutMs: number): Promise<WorkerAnswer<T>> {
  const address = `${w.host}:${w.restPort}`;
  const rawPath = `/api/v1/cache/${what}`;
  const rawQuery = path !== undefined ? `path=${encodeURIComponent(path)}` : '';
  const key = signingKey();
  // Signed as fetch sends Host: without the port when it is the scheme's default.
  const host = (w.scheme === 'https' && w.restPort === 443) || (w.scheme === 'http' && w.restPort === 80) ? w.host : address;
  const headers = key ? signV4({ method, rawPath, rawQuery, host, accessKey: key[0], secret: key[1], now: Date.now() }) : {};
  try {
    // A TLS-only worker advertises its HTTPS port as restPort (scheme "https"); its CA must be
    // trusted by this process (NODE_EXTRA_CA_CERTS, as `local start --tls` prints).
    const res = await fetch(`${w.scheme}://${address}${rawPath}${rawQuery ? `?${rawQuery}` : ''}`, { method, headers, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as any;
    if (res.status === 401 || res.status === 403) {
      const why = `${String(body?.error?.code ?? res.status)}: ${String(body?.error?.message ?? '')}`;
      const hint = key ? `its keys do not include ${key[0]} (or the signature was refused)` : 'it requires signed requests: set ALLUXIO_S3_CREDENTIALS to one of its access key pairs (AK:SK)';
      return { worker: w.id, address, result: null, error: { code: 'WorkerAuthFailed', message: `worker ${w.id} (${address}) refused this request (${why}); ${hint}` } };
    }
    if (res.ok) {
      if (what === 'status' && body.enabled === false) return { worker: w.id, address, result: null, disabled: true };
      return { worker: w.id, address, result: body as T };
    }
    const err = body?.error ?? { code: 'Internal', message: `HTTP ${res.status}` };
    if (err.code === 'InvalidState' && /no cache/.test(err.message)) return { worker: w.id, address, result: null, disabled: true };
    return { worker: w.id, address, result: null, error: { code: String(err.code), message: String(err.message) } };
  } catch (e) {
    const msg = (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e as Error).message;
    return { worker: w.id, address, result: null, error: { code: 'WorkerUnavailable', message: `worker ${w.id} (${address}) unreachable: ${msg}` } };
  }
}

async function allWorkers<T>(conn: EtcdConnection, method: 'GET' | 'POST', what: string, path: string | undefined, timeoutMs = 30_000, orNone = false): Promise<WorkerAnswer<T>[]> {
  const { workers } = await listWorkers(conn);
  if (workers.length === 0 && !orNone) throw new AlluxioError('InvalidState', 'no live workers (start one with: alluxio worker start --cache-dir DIR)');
  return Promise.all(workers.map((w) => call<T>(w, method, what, path, timeoutMs)));
}

/** Every answer was "no cache": refuse, naming the flag. */
function requireSomeCache(answers: WorkerAnswer<unknown>[]): void {
  if (answers.every((a) => a.disabled)) {
    throw new AlluxioError('InvalidState', `none of the ${answers.length} live workers has a cache (start them with --cache-dir)`);
  }
}

/** Same error on every worker that has a cache (e.g. the path is in no mount): throw it. */
function throwIfAllFailed(answers: WorkerAnswer<unknown>[]): void {
  const withCache = answers.filter((a) => !a.disabled);
  const first = withCache[0]?.error;
  if (first && withCache.every((a) => a.error && a.error.code === first.code)) {
    throw new AlluxioError(isErrorCode(first.code) ? first.code : 'Internal', first.message);
  }
}

export async function cacheStatus(conn: EtcdConnection, path?: string): Promise<WorkerAnswer<CacheStatus>[]> {
  // With a path a worker walks it in the UFS (up to 120 s); without, its figures are at hand:
  // 10 s, not the 120 s a hung worker held the whole table for (the default of the others).
  const answers = await allWorkers<CacheStatus>(conn, 'GET', 'status', path, path ? 120_000 : 10_000);
  // With a path, the same error everywhere is the answer (e.g. the path is in no mount);
  // without one, unreachable workers are rows of the table, but a refused signature is not.
  if (path || answers.every((a) => a.error?.code === 'WorkerAuthFailed')) throwIfAllFailed(answers);
  return answers;
}

export async function startLoad(conn: EtcdConnection, path: string): Promise<WorkerAnswer<LoadJob>[]> {
  const answers = await allWorkers<LoadJob>(conn, 'POST', 'load', path);
  requireSomeCache(answers);
  throwIfAllFailed(answers);
  return answers;
}

export async function loadProgress(conn: EtcdConnection, path: string): Promise<WorkerAnswer<LoadJob>[]> {
  return allWorkers<LoadJob>(conn, 'GET', 'load', path);
}

export async function freeCache(conn: EtcdConnection, path: string): Promise<WorkerAnswer<{ path: string; uri: string; objects: number; pages: number }>[]> {
  const answers = await allWorkers<{ path: string; uri: string; objects: number; pages: number }>(conn, 'POST', 'free', path);
  requireSomeCache(answers);
  throwIfAllFailed(answers);
  return answers;
}

/** Sum of the load jobs' progress across workers. */
export function loadTotals(answers: WorkerAnswer<LoadJob>[]): { running: number; failed: number; done: number; filesDone: number; filesTotal: number; bytesLoaded: number; bytesTotal: number; listed: boolean } {
  const t = { running: 0, failed: 0, done: 0, filesDone: 0, filesTotal: 0, bytesLoaded: 0, bytesTotal: 0, listed: true };
  for (const a of answers) {
    const j = a.result;
    if (!j) continue;
    if (j.state === 'running') t.running++;
    else if (j.state === 'failed') t.failed++;
    else t.done++;
    t.filesDone += j.filesDone + j.filesFailed;
    t.filesTotal += j.filesTotal;
    t.bytesLoaded += j.bytesLoaded;
    t.bytesTotal += j.bytesTotal;
    t.listed &&= j.listed;
  }
  return t;
}

/** How a followed load ended (waitForLoad). */
export interface LoadOutcome {
  answers: WorkerAnswer<LoadJob>[];
  /** Rounds the load was started in: more than 1 when the ring changed during it. */
  rounds: number;
  /** Workers that had a job and left (or stopped answering) during the load. */
  left: string[];
  /** Workers that joined during the load. */
  joined: string[];
  /** Workers still in the ring that do not answer: their share may not be loaded. */
  unreachable: string[];
  /**
   * Workers that answered the last start with an error (e.g. InvalidState: as many loads
   * running as a worker takes): their share is not loaded, and asking again in the next
   * round would be refused the same way.
   */
  refused: { worker: string; code: string; message: string }[];
}

const MAX_LOAD_ROUNDS = 5;

/**
 * Poll until no worker's job of `path` is running, across ring changes. Every worker loads
 * the files it owns, decided as it walks: a worker that leaves mid-load leaves its files to
 * new owners that did not load them, and one that joins owns files nobody loads for it. So
 * when the jobs are done and the workers are not those that loaded, the load is started
 * again on the workers there are now (once a departed worker's record is gone from etcd,
 * its lease expired), and they load what they own now (pages already cached are not
 * fetched again). A worker that neither answers nor leaves the ring is reported.
 */
export async function waitForLoad(
  conn: EtcdConnection,
  path: string,
  onProgress: (answers: WorkerAnswer<LoadJob>[]) => void,
  opts: { intervalMs?: number; settleMs?: number; started?: readonly WorkerAnswer<LoadJob>[] } = {},
): Promise<LoadOutcome> {
  const intervalMs = opts.intervalMs ?? 500;
  const left = new Set<string>();
  const joined = new Set<string>();
  // The workers the load was asked of, those that did not answer too: one that hung when
  // asked (30 s) may have left the ring by the first look, owning files nobody loaded (it
  // was counted only once it reported a job: the load then ended with half the files).
  const askedOf = (started: readonly WorkerAnswer<LoadJob>[]) =>
    new Set(started.filter((a) => a.result || a.error?.code === 'WorkerUnavailable').map((a) => a.worker));
  // Those that answered the start with an error: no job, and no point asking again.
  const refusedBy = (started: readonly WorkerAnswer<LoadJob>[]) =>
    new Map(started.flatMap((a) => (!a.result && a.error && a.error.code !== 'WorkerUnavailable' ? [[a.worker, { worker: a.worker, ...a.error }] as const] : [])));
  let loading = askedOf(opts.started ?? []);
  let refused = refusedBy(opts.started ?? []);
  const outcome = (answers: WorkerAnswer<LoadJob>[], rounds: number, unreachable: string[]): LoadOutcome => ({
    answers,
    rounds,
    left: [...left],
    joined: [...joined],
    unreachable,
    // (one refused that is gone from the ring has left: it is counted there)
    refused: [...refused.values()].filter((r) => answers.some((a) => a.worker === r.worker)),
  });
  // A refused worker has no job of this load: a job of the path it shows is an earlier one
  // (a refusal means none was running to join), so it is shown as the refusal instead.
  const settleMs = opts.settleMs ?? 60_000;
  // No worker in the ring (the only one restarting: a graceful stop removes its record at
  // once): wait for one, as for a silent one, up to settleMs. Until 2026-12-03 this ended
  // the wait with "no live workers" while the restarted worker resumed the load (probe).
  const listed = async (): Promise<WorkerAnswer<LoadJob>[]> => {
    let answers = await allWorkers<LoadJob>(conn, 'GET', 'load', path, 30_000, true);
    const until = Date.now() + settleMs;
    while (answers.length === 0) {
      if (Date.now() >= until) {
        throw new AlluxioError('InvalidState', `no live workers: every worker left during the load of ${path} and none came back within ${settleMs / 1000}s (start one with: alluxio worker start --cache-dir DIR; a worker started again with the same --cache-dir resumes its part of the load)`);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
      answers = await allWorkers<LoadJob>(conn, 'GET', 'load', path, 30_000, true);
    }
    return answers;
  };
  const progress = async (): Promise<WorkerAnswer<LoadJob>[]> =>
    (await listed()).map((a) => {
      const r = refused.get(a.worker);
      return r ? { worker: a.worker, address: a.address, result: null, error: { code: r.code, message: r.message } } : a;
    });
  for (let rounds = 1; ; ) {
    const answers = await progress();
    onProgress(answers);
    for (const a of answers) if (a.result) loading.add(a.worker);
    if (answers.some((a) => a.result?.state === 'running')) {
      await new Promise((r) => setTimeout(r, intervalMs));
      continue;
    }
    const present = new Set(answers.map((a) => a.worker));
    // (not answering: it may have died before it took the job too, owning files nobody loads)
    const silent = answers.filter((a) => a.error?.code === 'WorkerUnavailable').map((a) => a.worker);
    const gone = [...loading].filter((w) => !present.has(w));
    // No job of the path: a worker that joined, or one that came back without its job (a
    // restart with another cache dir): either owns files nobody loaded for it.
    const jobless = answers.filter((a) => a.error?.code === 'NotFound' && !refused.has(a.worker)).map((a) => a.worker);
    if ((silent.length === 0 && gone.length === 0 && jobless.length === 0) || rounds >= MAX_LOAD_ROUNDS) {
      return outcome(answers, rounds, silent);
    }
    if (silent.length > 0) {
      // Wait for the silent workers to leave the ring (their lease to expire), or come back.
      const until = Date.now() + settleMs;
      let still = silent;
      let now = answers;
      while (still.length > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, intervalMs));
        now = await progress();
        still = still.filter((w) => now.some((a) => a.worker === w && a.error?.code === 'WorkerUnavailable'));
      }
      if (still.length > 0) return outcome(answers, rounds, still);
      // (one that answers again did not leave: it is simply loaded again below)
      for (const w of silent) if (!now.some((a) => a.worker === w)) left.add(w);
    }
    for (const w of gone) left.add(w);
    for (const w of jobless) if (!loading.has(w)) joined.add(w);
    const again = await startLoad(conn, path);
    loading = askedOf(again);
    refused = refusedBy(again);
    rounds++;
  }
}


/** Cache use of each listed worker for `worker list` (null: no cache; undefined: no answer). */
export async function cacheUseOf(workers: readonly WorkerInfo[], timeoutMs = 2000): Promise<Map<string, CacheStatus | null | undefined>> {
  const answers = await Promise.all(workers.map((w) => call<CacheStatus>(w, 'GET', 'status', undefined, timeoutMs)));
  return new Map(answers.map((a) => [a.worker, a.disabled ? null : a.error ? undefined : a.result]));
}

/**
 * Whether each worker's share of a load (its job's bytes) fits in its cache: the bytes of
 * the load, how many of them can stay cached (each share up to its worker's quota), and the
 * workers whose share is larger than their cache (their load evicts its own first files).
 * From the jobs and the workers' capacities (no walk of the path); undefined when unknown.
 */
export async function loadFit(
  conn: EtcdConnection,
  jobs: readonly WorkerAnswer<LoadJob>[],
): Promise<{ bytes: number; cacheableBytes: number; tight: { worker: string; shareBytes: number; capacityBytes: number }[] } | undefined> {
  const status = await cacheStatus(conn).catch(() => undefined);
  if (!status) return undefined;
  const capacity = new Map(status.map((a) => [a.worker, a.result?.effectiveCapacityBytes ?? a.result?.capacityBytes]));
  let bytes = 0;
  let cacheableBytes = 0;
  const tight: { worker: string; shareBytes: number; capacityBytes: number }[] = [];
  for (const a of jobs) {
    if (!a.result) continue;
    const share = a.result.bytesTotal;
    const cap = capacity.get(a.worker);
    bytes += share;
    cacheableBytes += cap === undefined ? share : Math.min(share, cap);
    if (cap !== undefined && share > cap) tight.push({ worker: a.worker, shareBytes: share, capacityBytes: cap });
  }
  return { bytes, cacheableBytes, tight };
}
