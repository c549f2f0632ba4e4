/**
 * One worker per cache directory. Two workers on one --cache-dir each charge only their own
 * pages (the directory holds both quotas), remove each other's page files as corrupt, and a
 * second worker's restart scan deletes files of the live one. The directory's lock file
 * holds the owner's pid: a live owner refuses the second worker before it touches
 * anything; a dead one's lock (kill -9, a crash) is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AlluxioError } from '../domain/errors.js';

export const LOCK_FILE = 'worker.lock';

/** Take the lock of `dir` (which exists) for this process; the release function removes it. */
export function lockCacheDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(readOr(path), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new AlluxioError('InvalidState', `another worker (pid ${owner}) uses this cache directory; give each worker its own --cache-dir (if no worker runs there, remove ${path})`);
      }
      try {
        unlinkSync(path); // a dead owner's (or our own earlier) lock
      } catch {
        /* gone meanwhile: try again */
      }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return () => {
      try {
        if (Number.parseInt(readOr(path), 10) === process.pid) unlinkSync(path);
      } catch {
        /* already gone */
      }
    };
  }
  throw new AlluxioError('InvalidState', `could not take the lock ${path}: other processes keep taking it`);
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
