/**
 * `--wait`: after a commit at revision R, wait until every live worker applies it.
 *
 * "Applies R" means the worker's snapshot includes the config as of R: its appliedRevision
 * is at least the latest config revision at R (the highest mod revision under config/ at
 * R). For a config commit that is R itself; for a commit that touched no config (e.g. a
 * migration record) it is the config revision before it, which workers already have.
 *
 * Live members are the leased records under workers/ AND clients/ (FUSE daemons apply the
 * config too: a FUSE daemon that still has a mount writable must hold up a migration just
 * like a worker). A killed member drops out when its lease expires; one that joins
 * mid-wait is counted too. Progress goes to onProgress (k/n members). With no live member:
 * returns { workers: 0, clients: 0 } at once. After the timeout: AlluxioError('WaitTimeout',
 * exit 5) naming the laggards (FUSE daemons marked as such) and where they are.
 *
 * A member seen behind that then leaves (its lease expired) is reported in `dropped`: etcd
 * cannot tell a dead member from one that runs on cut off from it, serving its old config
 * (docs/worker-runtime.md, --max-staleness). An etcd outage while polling is waited out up
 * to the deadline; then WaitTimeout says so. Each read of etcd is bounded by what is left of
 * the wait (at least a second): a listing is several reads, each up to --etcd-timeout, and a
 * hung etcd made `--wait-timeout 10s` return after about 30 s (etcd review doubt D3).
 */
import { AlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from '../store/connection.js';
import { isTransientEtcdError } from '../store/etcd-errors.js';
import { configRevision, listWorkers, type WorkerListing } from './members.js';

export interface WaitProgress {
  applied: number;
  total: number;
  laggards: string[];
}

export interface WaitOutcome {
  revision: number;
  /** Live workers that applied the revision. */
  workers: number;
  /** Live FUSE clients that applied the revision. */
  clients: number;
  elapsedMs: number;
  /** Members seen behind during the wait that left without applying it (lease expired). */
  dropped?: { id: string; kind: 'worker' | 'fuse'; appliedRevision: number }[];
}

/** `read` (reads of etcd), bounded by what is left until `deadline` (at least 1 s): EtcdTimeout after that. */
async function withinWait<T>(read: Promise<T>, deadline: number, what: string): Promise<T> {
  const ms = Math.max(1000, deadline - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AlluxioError('EtcdTimeout', `${what} got no answer within the ${ms} ms left of --wait-timeout`)), ms);
  });
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitForConvergence(
  conn: EtcdConnection,
  revision: number,
  opts: { timeoutMs: number; onProgress?: (p: WaitProgress) => void; pollMs?: number },
): Promise<WaitOutcome> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  let required = revision;
  try {
    required = Math.min(revision, Math.max(1, await withinWait(configRevision(conn, revision), deadline, 'reading the config revision')));
  } catch {
    required = revision; // compacted already: be strict
  }
  let pollMs = opts.pollMs ?? 20;
  let lastKey = '';
  /** Members seen behind, by kind/id: who left without applying `required`. */
  const behind = new Map<string, { id: string; kind: 'worker' | 'fuse'; appliedRevision: number }>();
  for (;;) {
    let listing: WorkerListing;
    try {
      listing = await withinWait(listWorkers(conn), deadline, 'listing the workers and FUSE clients');
    } catch (e) {
      // etcd lost while waiting (the commit is done): wait for it as for the members
      if (!isTransientEtcdError(e) || Date.now() >= deadline) {
        if (isTransientEtcdError(e)) {
          throw new AlluxioError('WaitTimeout', `gave up after ${Date.now() - started} ms (--wait-timeout ${opts.timeoutMs} ms) waiting for workers and FUSE clients to apply revision ${revision}: etcd stopped answering meanwhile (${e.message})`, {
            cause: e,
            details: { revision, etcd: e.code },
          });
        }
        throw e;
      }
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(1, deadline - Date.now()))));
      continue;
    }
    const members = [
      ...listing.workers.map((w) => ({ ...w, kind: 'worker' as const })),
      ...listing.clients.map((c) => ({ ...c, kind: 'fuse' as const })),
    ];
    const present = new Set(members.map((m) => `${m.kind}/${m.id}`));
    const dropped = [...behind].filter(([k]) => !present.has(k)).map(([, m]) => m);
    const total = members.length;
    const done = (): WaitOutcome => ({
      revision,
      workers: listing.workers.length,
      clients: listing.clients.length,
      elapsedMs: Date.now() - started,
      ...(dropped.length > 0 ? { dropped } : {}),
    });
    if (total === 0) return done();
    const laggards = members.filter((w) => w.appliedRevision < required);
    for (const w of members) {
      if (w.appliedRevision < required) behind.set(`${w.kind}/${w.id}`, { id: w.id, kind: w.kind, appliedRevision: w.appliedRevision });
      else behind.delete(`${w.kind}/${w.id}`);
    }
    const progress: WaitProgress = { applied: total - laggards.length, total, laggards: laggards.map((w) => w.id) };
    const key = `${progress.applied}/${progress.total}/${progress.laggards.join(',')}`;
    if (key !== lastKey) {
      lastKey = key;
      opts.onProgress?.(progress);
    }
    if (laggards.length === 0) return done();
    if (Date.now() >= deadline) {
      const named = laggards
        .map((w) => `${w.kind === 'fuse' ? 'FUSE client ' : ''}${w.id} (at revision ${w.appliedRevision}${w.watchState && w.watchState !== 'watching' ? `, ${w.watchState}` : ''})`)
        .join(', ');
      throw new AlluxioError(
        'WaitTimeout',
        `timed out after ${opts.timeoutMs} ms waiting for workers and FUSE clients to apply revision ${revision}: ${progress.applied}/${total} did; not yet: ${named}`,
        {
          details: {
            revision,
            applied: progress.applied,
            total,
            laggards: laggards.map((w) => ({ id: w.id, kind: w.kind, host: w.host, appliedRevision: w.appliedRevision, watchState: w.watchState })),
          },
        },
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
    pollMs = Math.min(200, Math.round(pollMs * 1.5));
  }
}
