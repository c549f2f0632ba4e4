/**
 * `cache load` inside a worker: read every file under an Alluxio path that this worker owns
 * (all of them without a cluster cache) through DataPath (so through the cache), a few files
 * at a time, discarding the bytes. A job per path; starting a load of a path already loading
 * joins it. Jobs live in the worker, so interrupting the CLI does not stop them, and are
 * written to `load-jobs.json` in the cache directory (job-journal.ts) when they start and
 * finish: a worker that stops or dies with a load running resumes it when it starts again
 * (`resumed` counts how often). Resuming is cheap: pages already cached are hits, so a load
 * continues where it stopped.
 */
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { Snapshot } from '../domain/snapshot.js';
import { DataPath, type DataTarget } from '../frontends/common/data-path.js';

export interface LoadJob {
  path: string;
  state: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** Files found so far (final once `listed`). */
  filesTotal: number;
  listed: boolean;
  filesDone: number;
  filesFailed: number;
  bytesTotal: number;
  bytesLoaded: number;
  errors: { path: string; message: string }[];
  message?: string;
  /** How many times a worker restart resumed this load. */
  resumed: number;
}

/** Where jobs are kept across restarts (job-journal.ts; none: memory only). */
export interface JobStore {
  load(): LoadJob[];
  save(jobs: readonly LoadJob[]): void;
}

const MAX_ERRORS = 20;
/** A load is resumed after this many restarts at most (a load that crashes its worker must not loop). */
export const MAX_RESUMES = 3;
/** Jobs kept for status (the oldest finished one forgotten first; running ones are kept). */
const MAX_JOBS = 100;
/**
 * Loads running at once in a worker, at most (each reads `concurrency` files at a time):
 * a POST per subdirectory used to start as many lanes of UFS reads as it had paths.
 */
const MAX_RUNNING = 16;

export class CacheLoader {
  private readonly jobs = new Map<string, LoadJob>();
  /** Jobs running in this process (a 'running' job read from the journal is not, until resumed). */
  private readonly active = new Set<LoadJob>();
  /** Bytes read by load jobs in this process since it started (a counter: never goes down). */
  bytesReadTotal = 0;

  constructor(
    private readonly dp: DataPath,
    private readonly concurrency = 4,
    private readonly store?: JobStore,
    /** Resolves when the cache can take more page writes (PageStore.roomForWrites). */
    private readonly writesRoom?: () => Promise<void>,
  ) {
    for (const job of store?.load() ?? []) this.jobs.set(job.path, job);
  }

  /**
   * Start again the loads that were running when the worker stopped (call once the config
   * is loaded). A path that no longer resolves ends its job as failed, with the reason.
   */
  resume(): LoadJob[] {
    const resumed: LoadJob[] = [];
    for (const job of [...this.jobs.values()]) {
      if (job.state !== 'running') continue;
      if (job.resumed >= MAX_RESUMES) {
        // Resumed that often without finishing: the load may be what stops the worker.
        job.state = 'failed';
        job.finishedAt = new Date().toISOString();
        job.message = `not resumed again: resumed ${job.resumed} times without finishing (did the worker stop while loading it?); run cache load again to retry`;
        this.persist();
        continue;
      }
      try {
        resumed.push(this.start(job.path, job.resumed + 1));
      } catch (e) {
        job.state = 'failed';
        job.finishedAt = new Date().toISOString();
        job.message = `not resumed: ${(e as Error).message}`;
        this.persist();
      }
    }
    return resumed;
  }

  private persist(): void {
    this.store?.save([...this.jobs.values()]);
  }

  list(): LoadJob[] {
    return [...this.jobs.values()];
  }

  get(path: string): LoadJob | undefined {
    return this.jobs.get(path);
  }

  /** Start loading `path` (or return the job already loading it). Throws when it does not resolve. */
  start(path: string, resumed = 0): LoadJob {
    const running = this.jobs.get(path);
    if (running && running.state === 'running' && this.active.has(running)) return running;
    if (this.active.size >= MAX_RUNNING) {
      throw new AlluxioError('InvalidState', `${this.active.size} loads are running on this worker (at most ${MAX_RUNNING}); load ${path} once one of them finished (cache status shows them)`);
    }
    const snap = this.dp.snapshot();
    const root = this.dp.target(snap, { api: 'alluxio', path });
    const job: LoadJob = { path, state: 'running', startedAt: new Date().toISOString(), finishedAt: null, filesTotal: 0, listed: false, filesDone: 0, filesFailed: 0, bytesTotal: 0, bytesLoaded: 0, errors: [], resumed };
    this.jobs.delete(path);
    this.jobs.set(path, job);
    // The oldest finished jobs go first; a running one stays (dropped, its path was loaded
    // twice: a POST did not find it to join).
    for (const [p, j] of this.jobs) {
      if (this.jobs.size <= MAX_JOBS) break;
      if (j.state !== 'running') this.jobs.delete(p);
    }
    this.active.add(job);
    this.persist();
    void this.run(job, snap, root).finally(() => {
      this.active.delete(job);
      this.persist();
    });
    return job;
  }

  private async run(job: LoadJob, snap: Snapshot, root: DataTarget): Promise<void> {
    // In a cluster cache each worker loads the files it owns (docs/cluster-cache.md): one copy
    // per cluster, and the totals of all workers add up to the dataset.
    const files = walkFiles(this.dp, snap, root, job.path, job, (t) => !this.dp.ownedElsewhere(t));
    const next = async (): Promise<{ path: string; t: DataTarget } | undefined> => {
      const r = await files.next();
      if (r.done) {
        job.listed = true;
        return undefined;
      }
      return r.value;
    };
    const lane = async (): Promise<void> => {
      for (let f = await next(); f; f = await next()) {
        try {
          const obj = await this.dp.open(f.t);
          if (obj) {
            const s = await obj.stream();
            for await (const chunk of s) {
              job.bytesLoaded += (chunk as Buffer).length;
              this.bytesReadTotal += (chunk as Buffer).length;
              // a load faster than the cache disk waits for it (a page beyond the write
              // backlog would be left uncached: loaded, not kept)
              await this.writesRoom?.();
            }
          }
          job.filesDone++;
        } catch (e) {
          job.filesFailed++;
          if (job.errors.length < MAX_ERRORS) job.errors.push({ path: f.path, message: (e as Error).message });
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: this.concurrency }, lane));
      job.state = job.filesFailed > 0 ? 'failed' : 'done';
    } catch (e) {
      job.state = 'failed';
      job.message = isAlluxioError(e) ? e.message : String(e);
    }
    job.listed = true;
    job.finishedAt = new Date().toISOString();
  }
}

/**
 * Every file at or below `root` (each child resolved again, so rules apply per path), in
 * depth-first name order; counts files and bytes into `job` as it finds them. `alsoBelow`:
 * the parent's listing had this name twice (an object store's object `a` and keys below
 * `a/`): after the file, what lies below it.
 */
export async function* walkFiles(
  dp: DataPath,
  snap: Snapshot,
  root: DataTarget,
  path: string,
  job?: { filesTotal: number; bytesTotal: number; errors: { path: string; message: string }[] },
  keep: (t: DataTarget) => boolean = () => true,
  alsoBelow = false,
): AsyncGenerator<{ path: string; t: DataTarget }> {
  const st = await dp.stat(root);
  if (!st) return;
  if (st.type === 'file') {
    if (keep(root)) {
      if (job) {
        job.filesTotal++;
        job.bytesTotal += st.size;
      }
      yield { path, t: root };
    }
    if (!alsoBelow) return;
  }
  let children;
  try {
    children = await dp.list(root);
  } catch (e) {
    if (job && job.errors.length < MAX_ERRORS) job.errors.push({ path, message: (e as Error).message });
    return;
  }
  for (let i = 0; i < children.length; i++) {
    const c = children[i]!;
    // a name listed twice (file, then directory: UfsAdapter.list) is walked once, as both
    const twice = children[i + 1]?.name === c.name;
    if (twice) i++;
    const childPath = path === '/' ? `/${c.name}` : `${path.replace(/\/+$/, '')}/${c.name}`;
    let t: DataTarget;
    try {
      t = dp.target(snap, { api: 'alluxio', path: childPath });
    } catch (e) {
      if (job && job.errors.length < MAX_ERRORS) job.errors.push({ path: childPath, message: (e as Error).message });
      continue;
    }
    yield* walkFiles(dp, snap, t, childPath, job, keep, twice);
  }
}
