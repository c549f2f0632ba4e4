/**
 * One worker per cache directory. Two workers on one --cache-dir each charge only their own
 * pages (the directory holds both quotas), remove each other's page files as corrupt, and a
 * second worker's restart scan deletes files of the live one. The directory's lock file
 * names its owner (pid, host, a random token) and is touched every LOCK_HEARTBEAT_MS:
 *
 * - our own token: a store of this process (a restart in tests) takes it over;
 * - same host, another pid that is alive: refused; dead: taken over (kill -9, a crash);
 * - another host (a container, a shared file system), or our own pid with another token (a
 *   container whose pid 1 is ours too): the heartbeat decides: touched in the last
 *   LOCK_STALE_MS, refused; older, taken over.
 *
 * The file appears whole (written aside, then linked into place), and a stale lock is moved
 * away and checked before it is removed, so two starters cannot both take it.
 *
 * The heartbeat also puts a lock that went (the directory wiped by hand, `rm -rf` of the
 * pages) back in place: until 2026-12-03 it only touched it, so after a wipe a second worker
 * could start on the same directory (cache probe). A lock of another owner found there is
 * reported (`onLost`), once per owner.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AlluxioError } from '../domain/errors.js';

export const LOCK_FILE = 'worker.lock';
/** How often the owner touches its lock (ms). */
export const LOCK_HEARTBEAT_MS = 10_000;
/** A lock of another host not touched for this long is taken over (ms). */
export const LOCK_STALE_MS = 60_000;

interface LockDoc {
  pid: number;
  host: string;
  token: string;
}

/** Tokens of the locks this process holds. */
const mine = new Set<string>();

export interface LockOptions {
  /** How often the lock is touched, and put back when it went (ms; LOCK_HEARTBEAT_MS). */
  heartbeatMs?: number;
  /** Another owner's lock is in place of ours (the directory is shared now). */
  onLost?: (why: string) => void;
}

/** Take the lock of `dir` (which exists) for this process; the release function removes it. */
export function lockCacheDir(dir: string, opts: LockOptions = {}): () => void {
  const path = join(dir, LOCK_FILE);
  const doc: LockDoc = { pid: process.pid, host: hostname(), token: randomBytes(12).toString('hex') };
  const text = `${JSON.stringify(doc)}\n`;
  const aside = `${path}.${doc.token}`;
  writeFileSync(aside, text, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(aside, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const held = read(path);
        if (held && !takeable(path, held.doc)) {
          throw new AlluxioError('InvalidState', `another worker (pid ${held.doc.pid} on ${held.doc.host}) uses this cache directory; give each worker its own --cache-dir (if no worker runs there, remove ${path})`);
        }
        removeStale(path, held?.text);
        continue;
      }
      mine.add(doc.token);
      let reported = '';
      const beat = setInterval(() => {
        const held = read(path);
        if (held?.doc.token === doc.token) {
          try {
            const now = new Date();
            utimesSync(path, now, now);
          } catch {
            /* gone since the read: put back on the next beat */
          }
        } else if (held) {
          if (reported !== held.text) opts.onLost?.(`another worker (pid ${held.doc.pid} on ${held.doc.host}) holds the lock ${path} of this cache directory now: two workers share it; give each its own --cache-dir`);
          reported = held.text;
        } else relink(path, aside, text);
      }, opts.heartbeatMs ?? LOCK_HEARTBEAT_MS);
      beat.unref();
      return () => {
        clearInterval(beat);
        mine.delete(doc.token);
        if (read(path)?.doc.token === doc.token) {
          try {
            unlinkSync(path);
          } catch {
            /* already gone */
          }
        }
      };
    }
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      /* linked or not, the aside name goes */
    }
  }
  throw new AlluxioError('InvalidState', `could not take the lock ${path}: other processes keep taking it`);
}

/** Put our lock back where none is (the directory made again if it went too). */
function relink(path: string, aside: string, text: string): void {
  try {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(aside, text, { mode: 0o644 });
    linkSync(aside, path);
  } catch {
    /* another's appeared meanwhile (judged on the next beat), or the disk refuses: next beat */
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      /* not written */
    }
  }
}

function takeable(path: string, held: LockDoc): boolean {
  if (mine.has(held.token)) return true;
  if (held.host === hostname() && held.pid !== process.pid) return !alive(held.pid);
  try {
    return Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS;
  } catch {
    return true; // gone meanwhile
  }
}

/** Remove the lock at `path` if it still holds `text` (the stale one judged): never another's fresh lock. */
function removeStale(path: string, text: string | undefined): void {
  const moved = `${path}.stale.${randomBytes(6).toString('hex')}`;
  try {
    renameSync(path, moved);
  } catch {
    return; // gone meanwhile: try again
  }
  let now = '';
  try {
    now = readFileSync(moved, 'utf8');
  } catch {
    /* treat as changed */
  }
  if (text !== undefined && now !== text) {
    // another starter put a fresh lock in place between our read and the move: put it back
    try {
      linkSync(moved, path);
    } catch {
      /* a third one is there now: it will be judged on the next attempt */
    }
  }
  try {
    unlinkSync(moved);
  } catch {
    /* gone */
  }
}

/** The lock's text and owner; a bare pid (a lock of an older version) is an owner on this host. */
function read(path: string): { text: string; doc: LockDoc } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const d = JSON.parse(text) as Partial<LockDoc>;
    if (typeof d === 'number') return { text, doc: { pid: d, host: hostname(), token: '' } };
    return { text, doc: { pid: Number(d.pid), host: String(d.host ?? ''), token: String(d.token ?? '') } };
  } catch {
    return { text, doc: { pid: Number.parseInt(text, 10), host: hostname(), token: '' } };
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
