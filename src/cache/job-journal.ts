/**
 * The cache load jobs of a worker, kept in its cache directory (`load-jobs.json`) so that a
 * load survives the worker stopping: written whole and atomically (temporary file, rename)
 * when a job starts or finishes. An unreadable journal is logged and treated as empty: it
 * only ever costs re-running a load by hand.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JobStore, LoadJob } from './load.js';

export const JOURNAL_FILE = 'load-jobs.json';

export function jobJournal(cacheDir: string, onError: (what: string, e: unknown) => void): JobStore {
  const file = join(cacheDir, JOURNAL_FILE);
  return {
    load(): LoadJob[] {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onError(`read ${file}`, e);
        return [];
      }
      try {
        const doc = JSON.parse(text) as { jobs?: unknown };
        if (!Array.isArray(doc.jobs)) throw new Error('no "jobs" array');
        return doc.jobs.filter(isJob).map((j) => ({ ...j, resumed: typeof j.resumed === 'number' ? j.resumed : 0 }));
      } catch (e) {
        onError(`parse ${file}`, e);
        return [];
      }
    },
    save(jobs: readonly LoadJob[]): void {
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, JSON.stringify({ jobs }, null, 1));
        renameSync(tmp, file);
      } catch (e) {
        onError(`write ${file}`, e);
      }
    },
  };
}

function isJob(j: unknown): j is LoadJob {
  const o = j as Partial<LoadJob> | null;
  return typeof o === 'object' && o !== null && typeof o.path === 'string' && (o.state === 'running' || o.state === 'done' || o.state === 'failed') && typeof o.startedAt === 'string';
}
