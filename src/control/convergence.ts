/**
 * `--wait`: after a commit at revision R, wait until every live worker applies it.
 *
 * "Applies R" means the worker's snapshot includes the config as of R: its appliedRevision
 * is at least the latest config revision at R (the highest mod revision under config/ at
 * R). For a config commit that is R itself; for a commit that touched no config (e.g. a
 * migration record) it is the config revision before it, which workers already have.
 *
 * Live workers are the leased records under workers/ (a killed worker drops out when its
 * lease expires; one that joins mid-wait is counted too). Progress goes to onProgress
 * (k/n workers). With no live worker: returns { workers: 0 } at once. After the timeout:
 * AlluxioError('WaitTimeout', exit 5) naming the laggards and where they are.
 */
import { AlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from '../store/connection.js';
import { configRevision, listWorkers } from './workers.js';

export interface WaitProgress {
  applied: number;
  total: number;
  laggards: string[];
}

export interface WaitOutcome {
  revision: number;
  workers: number;
  elapsedMs: number;
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
    required = Math.min(revision, Math.max(1, await configRevision(conn, revision)));
  } catch {
    required = revision; // compacted already: be strict
  }
  let pollMs = opts.pollMs ?? 20;
  let lastKey = '';
  for (;;) {
    const listing = await listWorkers(conn);
    const total = listing.workers.length;
    if (total === 0) return { revision, workers: 0, elapsedMs: Date.now() - started };
    const laggards = listing.workers.filter((w) => w.appliedRevision < required);
    const progress: WaitProgress = { applied: total - laggards.length, total, laggards: laggards.map((w) => w.id) };
    const key = `${progress.applied}/${progress.total}/${progress.laggards.join(',')}`;
    if (key !== lastKey) {
      lastKey = key;
      opts.onProgress?.(progress);
    }
    if (laggards.length === 0) return { revision, workers: total, elapsedMs: Date.now() - started };
    if (Date.now() >= deadline) {
      const named = laggards.map((w) => `${w.id} (at revision ${w.appliedRevision}${w.watchState && w.watchState !== 'watching' ? `, ${w.watchState}` : ''})`).join(', ');
      throw new AlluxioError(
        'WaitTimeout',
        `timed out after ${opts.timeoutMs} ms waiting for workers to apply revision ${revision}: ${progress.applied}/${total} did; not yet: ${named}`,
        { details: { revision, applied: progress.applied, total, laggards: laggards.map((w) => ({ id: w.id, host: w.host, appliedRevision: w.appliedRevision, watchState: w.watchState })) } },
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
    pollMs = Math.min(200, Math.round(pollMs * 1.5));
  }
}
