/**
 * Page files recycled instead of deleted: a dropped page's file (eviction, free, a new
 * version) is emptied and moved to `<root>/spare/`, and the next page written takes one
 * (a rename) instead of creating a file. Creating a file allocates an inode, and on ext4
 * that is the most expensive step of writing a small page: the allocator scans the inode
 * bitmap and, on a file system without a journal, skips every inode freed in the last
 * seconds to minutes one by one, so after a free or under eviction churn each create cost
 * more (0.3-1 ms of kernel time per 4 KiB page in a profile of cold small reads, more than
 * the rest of the miss). A rename and a truncate cost neither. At most `max` spares are kept
 * (empty files: an inode and a directory entry each); beyond that a file is deleted.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

export class SpareFiles {
  private readonly free: string[] = [];
  private next = 0;

  private constructor(private readonly dir: string, private readonly max: number) {}

  /** The spares under `dir` (created if missing); files beyond `max` are deleted. */
  static open(dir: string, max: number): SpareFiles {
    const s = new SpareFiles(dir, max);
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const n = /^\d+$/.test(name) ? Number(name) : NaN;
      if (Number.isSafeInteger(n) && s.free.length < max) {
        s.free.push(path);
        s.next = Math.max(s.next, n + 1);
      } else {
        try {
          rmSync(path, { recursive: true, force: true });
        } catch {
          // not removable: left alone (the cache works without it)
        }
      }
    }
    return s;
  }

  get size(): number {
    return this.free.length;
  }

  /**
   * Drop the file at `path`: kept as an empty spare, or deleted when the pool is full or
   * it cannot be moved. Synchronous: once this returns, nothing is at `path` (a page
   * fetched again and rewritten there cannot be hit by a late unlink).
   */
  give(path: string): void {
    if (this.free.length < this.max) {
      const spare = join(this.dir, String(this.next++));
      try {
        renameSync(path, spare);
      } catch {
        rmSync(path, { force: true });
        return;
      }
      try {
        truncateSync(spare, 0); // a spare holds no data (the cache's quota counts pages only)
        this.free.push(spare);
      } catch {
        rmSync(spare, { force: true });
      }
      return;
    }
    rmSync(path, { force: true });
  }

  /** Move a spare to `path` (which the caller then overwrites); false when there is none. */
  take(path: string): boolean {
    for (let spare = this.free.pop(); spare !== undefined; spare = this.free.pop()) {
      try {
        renameSync(spare, path);
        return true;
      } catch {
        // the spare is there: the failure is the target's (its directory removed, say), which
        // the next spare would meet too; it stays for the next page
        if (existsSync(spare)) {
          this.free.push(spare);
          return false;
        }
        // gone (removed by hand): try the next one
      }
    }
    return false;
  }
}
