/**
 * The page store: pages of one object version in files under the cache dir, a byte quota
 * with page-by-page LRU eviction, and an optional memory tier in front of the disk.
 *
 * Layout (the key k is a hash of URI + version + size + page size):
 *   <cache-dir>/alluxio-pages-v2/<k[0..2]>/<k>-<n>.page   data + the object's metadata + trailer
 *   <cache-dir>/alluxio-pages-v2/spare/<n>                 empty files of dropped pages (spare-files.ts)
 * (page-file.ts). One file per page and nothing else: a page write is open, write, close
 * (of a recycled file when there is a spare: no inode allocated). Small pages are written,
 * and the files of pages dropped while running removed, by the page writer's thread
 * (page-writer.ts), in the order asked for; large pages are written through libuv's pool
 * from their buffers; the restart scan removes invalid files itself.
 *
 * The index in memory holds one entry per page (bounded by quota / 4 KiB, see chargedBytes)
 * and one per object version. It is rebuilt from the directory at start: page files of the
 * right length are reused (their checksum is checked on every read), anything else is deleted.
 * Nothing here throws on a cache failure: a failed write leaves the page uncached, a failed
 * or corrupt read answers null (a miss); both are counted.
 *
 * Over 300 lines on purpose: the index, the two tiers, eviction and the restart scan share
 * one private state (a single owner of the index); the pure parts live in page-math.ts,
 * lru.ts and page-file.ts.
 */
import { createHash } from 'node:crypto';
import { close, open, promises as fsp, read, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_FILE, lockCacheDir } from './dir-lock.js';
import { Lru } from './lru.js';
import { checkPage, encodePage, fileLength, readTrailer, TRAILER_BYTES } from './page-file.js';
import { chargedBytes, pageCount, pageLength } from './page-math.js';
import { PageWriter } from './page-writer.js';

/** One version of one object: what pages are keyed by. */
export interface ObjectRef {
  /** The resolved UFS URI of the object (e.g. s3://bucket/key, file:///data/x). */
  uri: string;
  /** ETag, or size + mtime where the UFS has none. */
  version: string;
  size: number;
}

/** Object keys remembered by keyOf. */
const KEY_MEMO = 10_000;

export interface PageStoreOptions {
  dir: string;
  /** Quota of the disk tier, bytes (page files charged per chargedBytes). */
  capacityBytes: number;
  pageSize: number;
  /** Memory tier, bytes (0 = none). */
  memoryBytes?: number;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** The directory lock's heartbeat (ms; dir-lock.ts LOCK_HEARTBEAT_MS): tests shorten it. */
  lockHeartbeatMs?: number;
}

/** Counters the store and the reader keep (read by metrics, status and tests). */
export interface CacheCounters {
  /** Bytes answered from the cache (memory or disk). */
  cacheReadBytes: number;
  /** Bytes read from the UFS (or another page source) by the cache, including fall-backs. */
  ufsReadBytes: number;
  hits: number;
  misses: number;
  /** Pages fetched from the source (one per missing page, whatever the number of readers). */
  pagesFetched: number;
  /** UFS requests made by the cache (a run of pages is one request). */
  ufsRequests: number;
  evictions: number;
  memoryHits: number;
  /** Pages found corrupt (bad length or checksum) and dropped. */
  corruptPages: number;
  /** Page writes that failed (disk full, I/O error); the page stayed uncached. */
  writeErrors: number;
  /** Page writes not made because MAX_WRITE_BACKLOG bytes were waiting for the disk already. */
  writesSkipped: number;
  /** Page reads that failed with an I/O error (served from the source instead). */
  readErrors: number;
  /** Reads that fell back to reading the source directly because of a cache failure. */
  fallbacks: number;
  /** Bytes of page files listed to readers on this host, who read the files themselves. */
  colocatedBytes: number;
  /** Failed attempts to remove a dropped page file (each attempt counts; the file is asked for again). */
  removeErrors: number;
}

export function newCounters(): CacheCounters {
  return { cacheReadBytes: 0, ufsReadBytes: 0, hits: 0, misses: 0, pagesFetched: 0, ufsRequests: 0, evictions: 0, memoryHits: 0, corruptPages: 0, writeErrors: 0, writesSkipped: 0, readErrors: 0, fallbacks: 0, colocatedBytes: 0, removeErrors: 0 };
}

/**
 * What the store knows of one object (version): its pages on disk, and how many of its pages
 * are in the memory tier or being written. A record goes when none is left anywhere (forget),
 * so the index holds records for what is cached, not for every object ever read: until
 * 2026-12-03 eviction left them, and a worker that had read 210,000 one-byte objects under a
 * 16 MiB quota held 212,014 records (263 MB of heap) for 4,096 pages (cache probe).
 */
interface FileRec {
  key: string;
  ref: ObjectRef;
  pages: Set<number>;
  /** Its pages in the memory tier. */
  inMemory: number;
  /** Its pages being written. */
  writing: number;
  /** The metadata every page file of this object carries. */
  meta: Buffer;
}

const ROOT = 'alluxio-pages-v2';
const SPARE_DIR = 'spare';
/** Empty page files kept for reuse at most (see spare-files.ts). */
/** How often a quota lowered by a full disk measures the disk again (ms). */
const DISK_RECHECK_MS = 5000;
const MAX_SPARES = 16_384;
/** Pages up to this size are read synchronously (see get) and written by the writer thread (see put). */
const SYNC_WRITE_BYTES = 64 * 1024;
const PAGE_NAME = /^([0-9a-f]{40})-(\d+)\.page$/;
/**
 * Bytes of pages handed to the disk and not written yet, at most (one page always goes): a
 * disk slower than the UFS, or hung, must not grow the queue (the pages' memory) without
 * bound; beyond it a page stays uncached (counted, writesSkipped). Until 2026-12-02 only
 * small pages were bounded: large ones were held up to the disk quota.
 */
const MAX_WRITE_BACKLOG = 64 << 20;
/** A free looks at this many URIs of the index, then lets the event loop turn (dropPrefix). */
const FREE_SLICE = 256;
/** How long a closing store waits for its page file work at most (ms). */
const CLOSE_GRACE_MS = 10_000;
/** What a page in the memory tier costs besides its bytes (map and LRU entries, id string). */
const MEM_PAGE_OVERHEAD = 256;

/** A file operation failed for a missing directory (the thread reports a message only). */
function missingDirectory(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT' || /^ENOENT\b/.test((e as Error).message);
}

/**
 * The file at `path`, expected to be `length` bytes, in one read that asks for one byte
 * more: a shorter or longer file comes back at its own length (up to length + 1), which
 * checkPage refuses (a short read of a regular file is its end).
 */
function readExpecting(path: string, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (err, fd) => {
      if (err) return reject(err);
      const buf = Buffer.allocUnsafeSlow(length + 1);
      const done = (e: Error | null, got: number) => close(fd, () => (e ? reject(e) : resolve(buf.subarray(0, got))));
      const more = (off: number): void => {
        read(fd, buf, off, length + 1 - off, off, (e, n) => {
          if (e) return done(e, 0);
          const got = off + n;
          if (n === 0 || got >= length) return done(null, got);
          more(got);
        });
      };
      more(0);
    });
  });
}

export class PageStore {
  readonly counters: CacheCounters = newCounters();
  readonly pageSize: number;
  readonly capacityBytes: number;
  readonly memoryBytes: number;
  private readonly root: string;
  private readonly files = new Map<string, FileRec>();
  private readonly byUri = new Map<string, Set<string>>();
  private readonly keys = new Map<string, string>();
  /** The same, by the ref object a read passes several times. */
  private readonly refKeys = new WeakMap<ObjectRef, string>();
  /** Page 0's id by ref (every small object's only page: a warm hit builds no string). */
  private readonly firstPageIds = new WeakMap<ObjectRef, string>();
  private readonly disk = new Lru<string>();
  private readonly memLru = new Lru<string>();
  private readonly mem = new Map<string, Buffer>();
  /** Pages being written (in the index only once on disk). */
  private readonly pending = new Set<string>();
  /** Bytes of small pages with the writer thread, not written yet. */
  private backlog = 0;
  /**
   * When each page on disk was indexed (a counter, not a time): a read that fails checks it
   * before dropping the page, so a page freed and written again during that read keeps its
   * new file.
   */
  private readonly indexedAt = new Map<string, number>();
  private indexings = 0;
  private closed = false;
  /** Puts of large pages (through the pool, not the thread) not finished yet: close waits for them. */
  private readonly largePuts = new Set<Promise<void>>();
  private reserved = 0;
  /**
   * What the file system holding the cache lets it use, when less than the quota: found at
   * open (a --cache-size larger than the file system) and lowered when a write finds the
   * disk full (other data grew), so eviction makes room again instead of every later miss
   * failing its write with the cached set frozen.
   */
  private diskLimit = Infinity;
  /** Measures the disk again while the quota is lowered (a statfs each time). */
  private diskTimer: NodeJS.Timeout | undefined;
  /** Releases the directory's lock (dir-lock.ts). */
  private unlock: (() => void) | undefined;
  private lastWriteWarn = 0;
  private writeWarnsQuiet = 0;
  /** Shard directories known to exist. */
  private readonly shards = new Map<string, Promise<boolean>>();
  /** Writes small page files and removes dropped ones, in order, off the event loop. */
  private readonly writer: PageWriter;

  private constructor(private readonly opts: PageStoreOptions) {
    this.pageSize = opts.pageSize;
    this.capacityBytes = opts.capacityBytes;
    this.memoryBytes = opts.memoryBytes ?? 0;
    this.root = join(opts.dir, ROOT);
    this.writer = new PageWriter({ spareDir: join(this.root, SPARE_DIR), maxSpares: MAX_SPARES, onDropError: (path, message) => this.removeFailed(path, message) });
  }

  private lastRemoveWarning = 0;

  /** A dropped page's file stayed on disk (it is asked for again): counted, and said once a minute. */
  private removeFailed(path: string, message: string): void {
    this.counters.removeErrors++;
    if (Date.now() - this.lastRemoveWarning < 60_000) return;
    this.lastRemoveWarning = Date.now();
    this.opts.log?.warn({ dir: this.opts.dir, file: path, err: message, failedSoFar: this.counters.removeErrors }, 'a dropped cache page file could not be removed; retrying every 5 s (alluxio_cache_page_remove_errors_total counts them)');
  }

  /** The cache directory (--cache-dir). */
  get dir(): string {
    return this.opts.dir;
  }

  /** Open the store: create the directory, rebuild the index from the pages on disk. */
  static async open(opts: PageStoreOptions): Promise<PageStore> {
    const s = new PageStore(opts);
    await fsp.mkdir(s.root, { recursive: true });
    // before the scan, which deletes files it does not take for pages of this store
    s.unlock = lockCacheDir(s.root, { ...(opts.lockHeartbeatMs ? { heartbeatMs: opts.lockHeartbeatMs } : {}), onLost: (why) => opts.log?.warn({ dir: s.root }, why) });
    try {
      // the thread starts while the index is rebuilt; a thread that cannot start fails the open
      const ready = s.writer.prepare();
      ready.catch(() => undefined);
      await s.scan();
      await ready;
    } catch (e) {
      // (a store that failed to open holds no lock, nor keeps one alive: a review)
      s.unlock();
      await s.writer.close().catch(() => undefined);
      throw e;
    }
    s.fitDisk('open');
    return s;
  }

  /** The quota the cache works to: --cache-size, or less when the disk holds less. */
  get effectiveCapacityBytes(): number {
    return Math.min(this.capacityBytes, this.diskLimit);
  }

  /**
   * Fit the quota to the file system: what the cache has on the disk (its pages, and its
   * other writes in flight) plus what is free there, less 5%. At open, warning once when
   * --cache-size cannot fit; when a write found the disk full (other data grew), evicting
   * down to it at once, but not below the pages already written (each failure of a burst
   * measures the disk again, so they do not compound); every DISK_RECHECK_MS while it is
   * lowered, so it grows back when the disk frees up (and once the files of a burst of
   * failed writes are removed).
   */
  private fitDisk(why: 'open' | 'full' | 'recheck', failedCharge = 0): void {
    const before = this.effectiveCapacityBytes;
    let room: number;
    try {
      const fs = statfsSync(this.root);
      room = this.disk.weight + this.reserved - failedCharge + fs.bavail * fs.bsize;
    } catch {
      return;
    }
    let limit = Math.max(0, Math.floor(room * 0.95));
    // Full: never below the pages written (files of failed writes still being removed make
    // the disk look fuller than it is); at that limit each new page replaces an old one.
    if (why === 'full') limit = Math.min(before, Math.max(limit, this.disk.weight));
    // it only grows back here, by more than two pages (not a log line for every wobble)
    if (why === 'recheck' && limit <= before + 2 * this.pageSize && limit < this.capacityBytes) return;
    this.diskLimit = limit >= this.capacityBytes ? Infinity : limit;
    if (this.diskLimit !== Infinity && !this.diskTimer) {
      this.diskTimer = setInterval(() => this.fitDisk('recheck'), DISK_RECHECK_MS);
      this.diskTimer.unref();
    } else if (this.diskLimit === Infinity && this.diskTimer) {
      clearInterval(this.diskTimer);
      this.diskTimer = undefined;
    }
    const now = this.effectiveCapacityBytes;
    if (why === 'open' && now < this.capacityBytes) {
      this.opts.log?.warn({ dir: this.opts.dir, cacheSize: this.capacityBytes, fits: now }, 'the file system of --cache-dir holds less than --cache-size: the cache keeps to what fits');
    } else if (why === 'full' && now < before) {
      this.opts.log?.warn({ dir: this.opts.dir, cacheSize: this.capacityBytes, was: before, now }, 'the cache disk is full: evicting down to what fits');
    } else if (why === 'recheck') {
      this.opts.log?.info({ dir: this.opts.dir, cacheSize: this.capacityBytes, was: before, now }, 'the cache disk has room again');
    }
    this.evictFor(0);
  }

  /**
   * Write nothing more; finish the page file work asked for (large pages being written
   * through the pool first: a free that dropped one meanwhile removes its file through the
   * thread, which must still run), then stop the writer thread. A disk that hangs holds it
   * CLOSE_GRACE_MS at most in all.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.diskTimer);
    try {
      await this.closeFiles();
    } finally {
      this.unlock?.();
    }
  }

  private async closeFiles(): Promise<void> {
    const until = Date.now() + CLOSE_GRACE_MS;
    if (this.largePuts.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.largePuts]), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
    }
    return this.writer.close(Math.max(0, until - Date.now()));
  }

  keyOf(ref: ObjectRef): string {
    const known = this.refKeys.get(ref);
    if (known !== undefined) return known;
    const id = `${ref.uri}\n${ref.version}\n${ref.size}`;
    let key = this.keys.get(id);
    if (key === undefined) {
      key = createHash('sha256').update(`${id}\n${this.pageSize}`).digest('hex').slice(0, 40);
      // Remembered for the objects read lately (a hash per read cost more than a warm small read's lookup).
      if (this.keys.size >= KEY_MEMO) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(id, key);
    }
    this.refKeys.set(ref, key);
    return key;
  }

  // ---- reads

  /** True when page `index` of `ref` is in a tier (not counting pages being written). */
  has(ref: ObjectRef, index: number): boolean {
    const id = `${this.keyOf(ref)}/${index}`;
    return this.mem.has(id) || this.disk.has(id);
  }

  /**
   * The files of the pages of `ref` in [first, last] that are on disk, for a reader on this
   * host (docs/cluster-cache.md "Co-located reads"): page size, and per page its index and
   * path. The files are immutable for their key (a rewrite is another version, so another
   * key); a reader checks each one (length, CRC, metadata) as get() does.
   */
  pageFiles(ref: ObjectRef, first: number, last: number): { pageSize: number; pages: { index: number; path: string }[] } {
    const key = this.keyOf(ref);
    const pages: { index: number; path: string }[] = [];
    // The object's pages on disk, not every index of the range: a range is the caller's
    // (a peer request's size and bounds), and 2^53 indexes held the event loop for minutes.
    const onDisk = this.files.get(key)?.pages ?? new Set<number>();
    const held: number[] = [];
    if (last - first + 1 <= onDisk.size) {
      for (let i = first; i <= last; i++) if (onDisk.has(i)) held.push(i);
    } else {
      for (const i of onDisk) if (i >= first && i <= last) held.push(i);
      held.sort((a, b) => a - b);
    }
    for (const i of held) {
      const id = `${key}/${i}`;
      if (!this.disk.has(id)) continue;
      this.disk.touch(id);
      this.counters.colocatedBytes += pageLength(ref.size, i, this.pageSize);
      pages.push({ index: i, path: this.pagePath(key, i) });
    }
    return { pageSize: this.pageSize, pages };
  }

  /** `<keyOf(ref)>/<index>`: a page's id in the index and the tiers. */
  private pageId(ref: ObjectRef, index: number): string {
    if (index !== 0) return `${this.keyOf(ref)}/${index}`;
    let id = this.firstPageIds.get(ref);
    if (id === undefined) this.firstPageIds.set(ref, (id = `${this.keyOf(ref)}/0`));
    return id;
  }

  /** The page's bytes if the memory tier holds it (counted as a memory hit), else undefined. */
  fromMemory(ref: ObjectRef, index: number): Buffer | undefined {
    if (this.mem.size === 0) return undefined;
    const id = this.pageId(ref, index);
    const m = this.mem.get(id);
    if (m) {
      this.memLru.touch(id);
      this.disk.touch(id);
      this.counters.memoryHits++;
    }
    return m;
  }

  /** The page's bytes from memory or disk, or null (a miss, a corrupt page, an I/O error). */
  async get(ref: ObjectRef, index: number): Promise<Buffer | null> {
    const m = this.fromMemory(ref, index);
    if (m) return m;
    const key = this.keyOf(ref);
    const id = `${key}/${index}`;
    if (!this.disk.has(id)) return null;
    const len = pageLength(ref.size, index, this.pageSize);
    const rec = this.files.get(key);
    const at = this.indexedAt.get(id);
    let file: Buffer;
    try {
      // Small pages: one synchronous read beats four thread-pool round trips (open, fstat,
      // read, close) on a hot path of tiny objects.
      // Larger pages: open, one read of the length the page file must have, close (three
      // thread-pool calls; fsp.readFile made six: open, fstat, 512 KiB reads, close). A file
      // of another length fails checkPage as before.
      const expect = rec ? fileLength(len, rec.meta.length) : -1;
      file = len <= SYNC_WRITE_BYTES ? readFileSync(this.pagePath(key, index)) : expect < 0 ? await fsp.readFile(this.pagePath(key, index)) : await readExpecting(this.pagePath(key, index), expect);
    } catch (e) {
      if (this.droppedSince(id, at)) return null; // evicted or freed while read: a miss, not an error
      this.counters.readErrors++;
      this.opts.log?.warn({ page: id, err: (e as Error).message }, 'cache page read failed; reading the UFS instead');
      this.dropIfSame(key, index, at);
      return null;
    }
    // Every read from disk checks lengths, trailer and CRC-32 (about 0.25 ms per MiB here,
    // against 0.17 ms to read it): a byte that rots on disk after the page was first read
    // must not be served (before 2026-12-01 only the first read in a process was checked).
    // Pages in the memory tier were checked on their way in. The file must be this page of
    // this object: page files are recycled, so one read through a handle opened before an
    // eviction may hold another page by now.
    let c = checkPage(file, len, true, index);
    if (c.ok && rec && !c.meta.equals(rec.meta)) c = { ok: false, reason: 'page file holds another object' };
    if (!c.ok && this.droppedSince(id, at)) return null; // its file was recycled or emptied by the drop: not corrupt
    if (!c.ok) {
      this.counters.corruptPages++;
      this.opts.log?.warn({ page: id, uri: ref.uri, reason: c.reason }, 'corrupt cache page dropped; fetching it again');
      this.dropIfSame(key, index, at);
      return null;
    }
    // Dropped while it was read (free, invalidation, eviction): the bytes are right (checked
    // above), but nothing indexes the page now, so it is not kept in memory either.
    if (this.droppedSince(id, at)) return c.data;
    this.disk.touch(id);
    this.remember(id, c.data);
    return c.data;
  }

  // ---- writes

  /**
   * Resolves once the pages waiting for the disk are at most half the bound (at once when
   * they are), or after `maxWaitMs`: what `cache load` waits on before reading on, so that a
   * load faster than the disk slows down instead of leaving pages uncached. Readers never
   * wait: their pages beyond the bound stay uncached.
   */
  roomForWrites(maxWaitMs = 30_000): Promise<void> {
    if (this.closed || this.backlog <= MAX_WRITE_BACKLOG / 2) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxWaitMs);
      timer.unref?.();
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.roomWaiters.delete(done);
        resolve();
      }
      this.roomWaiters.add(done);
    });
  }

  private readonly roomWaiters = new Set<() => void>();

  /** Store a page (never throws: a failure leaves it uncached and is counted). */
  async put(ref: ObjectRef, index: number, data: Buffer): Promise<void> {
    const key = this.keyOf(ref);
    const id = `${key}/${index}`;
    if (this.closed || this.disk.has(id) || this.pending.has(id)) return;
    if (data.length === 0 || data.length !== pageLength(ref.size, index, this.pageSize)) return; // (an empty object has no page)
    const rec = this.fileRec(key, ref);
    // Held while this put decides and writes (its eviction may take the object's other pages):
    // the record goes after, unless a page of it is kept somewhere.
    rec.writing++;
    try {
      this.remember(id, data);
      await this.storePage(rec, key, id, index, data);
    } finally {
      rec.writing--;
      this.forgetIfEmpty(rec);
    }
  }

  /** put's decision and write, for a page already in the memory tier (when it takes it). */
  private async storePage(rec: FileRec, key: string, id: string, index: number, data: Buffer): Promise<void> {
    const charge = chargedBytes(data.length, rec.meta.length + TRAILER_BYTES);
    if (charge > this.effectiveCapacityBytes) return;
    const small = data.length <= SYNC_WRITE_BYTES;
    if (this.backlog > 0 && this.backlog + data.length > MAX_WRITE_BACKLOG) {
      this.counters.writesSkipped++;
      return;
    }
    this.evictFor(charge);
    // Writes in flight count against the quota too: a burst of misses must not write past it
    // (on a disk that holds no more, that was a full disk and failed writes).
    if (this.disk.weight + this.reserved + charge > this.effectiveCapacityBytes) {
      this.counters.writesSkipped++;
      return;
    }
    this.backlog += data.length; // (counted from here: puts of the same turn see it)
    this.pending.add(id);
    this.reserved += charge;
    const path = this.pagePath(key, index);
    const state = { large: false };
    // (registered where the finally below is sure to release it)
    let largeDone: (() => void) | undefined;
    if (!small) {
      const done = new Promise<void>((r) => (largeDone = r));
      this.largePuts.add(done);
      void done.then(() => this.largePuts.delete(done));
    }
    try {
      if (!(await this.ensureShard(key))) throw new Error('cannot create the cache directory');
      // Written in place: a page cut short (crash, full disk) fails its length/CRC check and
      // is dropped; it is indexed only once the write completed.
      const parts = encodePage(data, rec.meta, index);
      // Never on the event loop: creating a page file is an open(O_CREAT) the kernel may
      // hold for a millisecond or more when the disk is busy, which would stall every
      // request in flight. Readers already have the page (stream through); it is indexed
      // once the write completed.
      // Small pages: the writer thread (a spare file renamed into place and overwritten:
      // creating a file costs more than the rest of a small page's miss, spare-files.ts).
      // Large pages: through the pool with no copy, once a drop of the same name is done.
      try {
        await this.writePage(path, parts, small, state);
      } catch (e) {
        // its shard directory removed behind the store (by hand, a cleaner of empty
        // directories): made again, once (otherwise the shard's pages never land again)
        if (!missingDirectory(e)) throw e;
        this.shards.delete(key.slice(0, 2));
        if (!(await this.ensureShard(key))) throw e;
        await this.writePage(path, parts, small, state);
      }
      if (this.files.get(key) !== rec) {
        // dropped (free / invalidation) while we wrote: do not resurrect it
        this.writer.drop(path);
        return;
      }
      rec.pages.add(index);
      this.index(id, charge);
      // (the quota may have been lowered while it was written: a full disk)
      if (this.disk.weight > this.effectiveCapacityBytes) this.evictFor(0);
    } catch (e) {
      this.counters.writeErrors++;
      const message = (e as Error).message;
      // (one warning per 10 s: a full disk fails every miss's write)
      const now = Date.now();
      if (now - this.lastWriteWarn >= 10_000) {
        this.opts.log?.warn({ page: id, err: message, ...(this.writeWarnsQuiet > 0 ? { alsoFailedSinceLastWarning: this.writeWarnsQuiet } : {}) }, 'cache page write failed; the page stays uncached');
        this.lastWriteWarn = now;
        this.writeWarnsQuiet = 0;
      } else this.writeWarnsQuiet++;
      if (state.large) this.writer.drop(path); // (the thread removes what a small write left)
      if (/\bENOSPC\b|\bEDQUOT\b/.test(message) || (e as NodeJS.ErrnoException).code === 'ENOSPC') this.fitDisk('full', charge);
    } finally {
      this.pending.delete(id);
      this.reserved -= charge;
      this.backlog -= data.length;
      if (this.backlog <= MAX_WRITE_BACKLOG / 2) for (const w of [...this.roomWaiters]) w();
      largeDone?.();
    }
  }

  /**
   * One page file written (see put): a small page by the writer thread, a large one through
   * the pool once a drop of the same name is done (`state.large` from then on: a failure
   * leaves a file to drop). A method, not a closure in put: the bundle names every named
   * closure it creates (a defineProperty per page).
   */
  private async writePage(path: string, parts: Buffer[], small: boolean, state: { large: boolean }): Promise<void> {
    if (small) return this.writer.write(path, parts);
    await this.writer.dropsDone(path);
    state.large = true;
    const fh = await fsp.open(path, 'w');
    try {
      await fh.writev(parts); // no copy of a large page
    } finally {
      await fh.close();
    }
  }

  // ---- invalidation

  /** Some version of `uri` has pages here (on disk, in memory or being written). */
  holdsUri(uri: string): boolean {
    return this.byUri.has(uri);
  }

  /** Drop every version of `uri` except `keepVersion`; returns the objects (versions) and pages (on disk) dropped. */
  dropUri(uri: string, keepVersion?: string): { objects: number; pages: number } {
    let objects = 0;
    let pages = 0;
    for (const key of [...(this.byUri.get(uri) ?? [])]) {
      const rec = this.files.get(key);
      if (!rec || rec.ref.version === keepVersion) continue;
      objects++;
      pages += this.dropFile(rec);
    }
    return { objects, pages };
  }

  /**
   * Drop every object whose URI is `prefix` or below it (`prefix/...`); resolves to what it
   * dropped. The index forgets them FREE_SLICE URIs at a time, the event loop turning in
   * between (a free of millions of objects would otherwise hold every request for seconds);
   * the writer thread removes their files after (`filesRemoved` resolves when they are gone).
   * Pages cached under the prefix while the walk runs are dropped too; only those cached
   * after it are kept.
   */
  async dropPrefix(prefix: string): Promise<{ objects: number; pages: number }> {
    const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
    let objects = 0;
    let pages = 0;
    let visited = 0;
    // A Map's iterator is live: entries deleted meanwhile are skipped, entries added meanwhile
    // (pages cached under the prefix while the free runs) are visited, and dropped, too.
    for (const [uri] of this.byUri) {
      if (++visited % FREE_SLICE === 0) await new Promise<void>((r) => setImmediate(r));
      if (uri !== prefix && !uri.startsWith(base)) continue;
      const d = this.dropUri(uri);
      objects += d.objects;
      pages += d.pages;
    }
    return { objects, pages };
  }

  /** Resolves once the files of every page dropped so far are removed. */
  filesRemoved(): Promise<void> {
    return this.writer.flush();
  }

  // ---- status

  /** Bytes of `ref` held in the cache (data bytes, not charged bytes). */
  cachedBytes(ref: ObjectRef): number {
    const rec = this.files.get(this.keyOf(ref));
    if (!rec) return 0;
    let n = 0;
    for (const i of rec.pages) n += pageLength(ref.size, i, this.pageSize);
    return n;
  }

  stats(): { capacityBytes: number; effectiveCapacityBytes: number; usedBytes: number; pages: number; objects: number; memoryCapacityBytes: number; memoryUsedBytes: number; memoryPages: number; pageSize: number } {
    return {
      capacityBytes: this.capacityBytes,
      effectiveCapacityBytes: this.effectiveCapacityBytes,
      usedBytes: this.disk.weight,
      pages: this.disk.size,
      objects: this.files.size,
      memoryCapacityBytes: this.memoryBytes,
      memoryUsedBytes: this.memLru.weight,
      memoryPages: this.mem.size,
      pageSize: this.pageSize,
    };
  }

  // ---- internals

  private remember(id: string, data: Buffer): void {
    // Charged what it holds: a slice of a larger buffer (Node's 8 KiB pool, a page file's
    // buffer with its metadata) is copied to its own when that buffer is much larger, and
    // every page costs at least MEM_PAGE_OVERHEAD (its index entries), so the tier's bound
    // holds for tiny pages too.
    const charge = data.length + MEM_PAGE_OVERHEAD;
    if (this.memoryBytes <= 0 || charge > this.memoryBytes || this.mem.has(id)) return;
    if (data.buffer.byteLength > data.length * 2 + 4096) data = Buffer.from(data);
    for (const v of this.memLru.victims(charge, this.memoryBytes)) {
      this.memLru.delete(v);
      this.mem.delete(v);
      const gone = this.files.get(v.slice(0, v.indexOf('/')));
      if (gone) {
        gone.inMemory--;
        this.forgetIfEmpty(gone);
      }
    }
    this.mem.set(id, data);
    this.memLru.set(id, charge);
    const rec = this.files.get(id.slice(0, id.indexOf('/')));
    if (rec) rec.inMemory++;
  }

  private evictFor(charge: number): void {
    for (const id of this.disk.victims(charge + this.reserved, this.effectiveCapacityBytes)) {
      const slash = id.indexOf('/');
      this.dropPage(id.slice(0, slash), Number(id.slice(slash + 1)));
      this.counters.evictions++;
    }
  }

  /** Put a page on disk in the index (the one place that does; dropPage the one that undoes it). */
  private index(id: string, charge: number): void {
    this.disk.set(id, charge);
    this.indexedAt.set(id, ++this.indexings);
  }

  /** Drop a page a read found bad, unless it was dropped and indexed again since (`at`). */
  private dropIfSame(key: string, index: number, at: number | undefined): void {
    if (at !== undefined && this.indexedAt.get(`${key}/${index}`) === at) this.dropPage(key, index);
  }

  /** Whether page `id`, indexed at `at` when a read began, was dropped (or replaced) since. */
  private droppedSince(id: string, at: number | undefined): boolean {
    return !this.disk.has(id) || this.indexedAt.get(id) !== at;
  }

  /** Forget a page now; the writer thread removes its file after, in order with the writes. */
  private dropPage(key: string, index: number): void {
    const id = `${key}/${index}`;
    this.disk.delete(id);
    this.indexedAt.delete(id);
    const rec = this.files.get(key);
    if (this.mem.delete(id)) {
      this.memLru.delete(id);
      if (rec) rec.inMemory--;
    }
    rec?.pages.delete(index);
    // In order with the writes (a page fetched again and rewritten under this name gets its
    // new file: the removal cannot land after the rewrite, see page-writer.ts).
    this.writer.drop(this.pagePath(key, index));
    if (rec) this.forgetIfEmpty(rec);
  }

  /** The object's record goes once none of its pages is on disk, in memory or being written. */
  private forgetIfEmpty(rec: FileRec): void {
    if (rec.pages.size > 0 || rec.inMemory > 0 || rec.writing > 0 || this.files.get(rec.key) !== rec) return;
    this.forget(rec);
  }

  private forget(rec: FileRec): void {
    this.files.delete(rec.key);
    const set = this.byUri.get(rec.ref.uri);
    set?.delete(rec.key);
    if (set && set.size === 0) this.byUri.delete(rec.ref.uri);
  }

  private dropFile(rec: FileRec): number {
    const n = rec.pages.size;
    for (const i of [...rec.pages]) this.dropPage(rec.key, i);
    // Pages held in memory only (their disk write pending, failed or over quota): look up
    // the file's own page ids, or walk the memory tier when that holds fewer entries. (It
    // walked the tier for every file: freeing N files with M pages in memory cost N x M.)
    const count = pageCount(rec.ref.size, this.pageSize);
    if (count <= this.mem.size) {
      for (let i = 0; i < count; i++) {
        const id = `${rec.key}/${i}`;
        if (this.mem.delete(id)) this.memLru.delete(id);
      }
    } else {
      const prefix = `${rec.key}/`;
      for (const id of [...this.mem.keys()]) {
        if (id.startsWith(prefix)) {
          this.mem.delete(id);
          this.memLru.delete(id);
        }
      }
    }
    if (this.files.get(rec.key) === rec) this.forget(rec);
    return n;
  }

  private fileRec(key: string, ref: ObjectRef): FileRec {
    let rec = this.files.get(key);
    if (!rec) {
      const r: ObjectRef = { uri: ref.uri, version: ref.version, size: ref.size };
      rec = { key, ref: r, pages: new Set(), inMemory: 0, writing: 0, meta: Buffer.from(JSON.stringify({ uri: r.uri, version: r.version, size: r.size, pageSize: this.pageSize })) };
      this.files.set(key, rec);
      let set = this.byUri.get(ref.uri);
      if (!set) this.byUri.set(ref.uri, (set = new Set()));
      set.add(key);
    }
    return rec;
  }

  private ensureShard(key: string): Promise<boolean> {
    const shard = key.slice(0, 2);
    let p = this.shards.get(shard);
    if (!p) {
      p = fsp.mkdir(join(this.root, shard), { recursive: true }).then(
        () => true,
        () => {
          this.shards.delete(shard);
          return false;
        },
      );
      this.shards.set(shard, p);
    }
    return p;
  }

  private pagePath(key: string, index: number): string {
    // root is normalised (join) and the rest is hex and digits: a concatenation, not join()
    // (which cost more than the rest of a page drop)
    return `${this.root}/${key.slice(0, 2)}/${key}-${index}.page`;
  }

  /**
   * Rebuild the index from disk (oldest page files first in the LRU). The metadata is read
   * from one page file per object; every page file's length must match it. Anything else
   * (other files, short or foreign pages, pages of another page size) is deleted.
   */
  private async scan(): Promise<void> {
    const found: { id: string; charge: number; mtimeMs: number; rec: FileRec; index: number }[] = [];
    let dropped = 0;
    let otherSize = 0;
    const drop = async (path: string, counts: boolean): Promise<void> => {
      if (counts) dropped++;
      await fsp.rm(path, { recursive: true, force: true }).catch(() => {});
    };
    for (const shard of await fsp.readdir(this.root).catch(() => [] as string[])) {
      if (shard === SPARE_DIR || shard.startsWith(LOCK_FILE)) continue; // (and a starter's lock being written)
      const shardDir = join(this.root, shard);
      const st = await fsp.lstat(shardDir).catch(() => null);
      if (!st?.isDirectory()) {
        await drop(shardDir, false); // not a shard: junk
        continue;
      }
      const byKey = new Map<string, { index: number; path: string }[]>();
      for (const name of await fsp.readdir(shardDir).catch(() => [] as string[])) {
        const m = PAGE_NAME.exec(name);
        if (!m || !m[1]!.startsWith(shard)) {
          await drop(join(shardDir, name), false);
          continue;
        }
        let list = byKey.get(m[1]!);
        if (!list) byKey.set(m[1]!, (list = []));
        list.push({ index: Number(m[2]), path: join(shardDir, name) });
      }
      if (byKey.size > 0) this.shards.set(shard, Promise.resolve(true));
      else await fsp.rmdir(shardDir).catch(() => {}); // an empty shard (made again when needed)
      for (const [key, pages] of byKey) {
        const rec = await this.recFromPage(key, pages[0]!.path);
        if (rec === 'other-page-size') {
          // pages of another --page-size: not corrupt, just of no use now
          for (const p of pages) await drop(p.path, false);
          otherSize += pages.length;
          continue;
        }
        if (!rec) {
          for (const p of pages) await drop(p.path, true);
          continue;
        }
        for (const p of pages) {
          const len = pageLength(rec.ref.size, p.index, this.pageSize);
          const st = await fsp.stat(p.path).catch(() => null);
          if (!st || len === 0 || st.size !== fileLength(len, rec.meta.length)) {
            await drop(p.path, true);
            continue;
          }
          found.push({ id: `${key}/${p.index}`, charge: chargedBytes(len, rec.meta.length + TRAILER_BYTES), mtimeMs: st.mtimeMs, rec, index: p.index });
        }
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      f.rec.pages.add(f.index);
      this.index(f.id, f.charge);
    }
    this.counters.corruptPages += dropped;
    for (const rec of [...this.files.values()]) if (rec.pages.size === 0) this.dropFile(rec);
    this.evictFor(0);
    this.opts.log?.info({ pages: this.disk.size, usedBytes: this.disk.weight, dropped, ...(otherSize > 0 ? { otherPageSize: otherSize } : {}) }, 'cache index rebuilt from disk');
  }

  /** The object a page file belongs to, from its trailer and metadata (null: not valid). */
  private async recFromPage(key: string, path: string): Promise<FileRec | null | 'other-page-size'> {
    let fh;
    try {
      fh = await fsp.open(path, 'r');
      const size = (await fh.stat()).size;
      if (size < TRAILER_BYTES) return null;
      const tb = Buffer.alloc(TRAILER_BYTES);
      await fh.read(tb, 0, TRAILER_BYTES, size - TRAILER_BYTES);
      const t = readTrailer(tb);
      if (!t || t.metaLength > 64 * 1024 || size !== fileLength(t.dataLength, t.metaLength)) return null;
      const mb = Buffer.alloc(t.metaLength);
      await fh.read(mb, 0, t.metaLength, t.dataLength);
      const meta = JSON.parse(mb.toString('utf8')) as ObjectRef & { pageSize: number };
      const ref: ObjectRef = { uri: String(meta.uri), version: String(meta.version), size: Number(meta.size) };
      if (meta.pageSize !== this.pageSize) return 'other-page-size';
      if (this.keyOf(ref) !== key) return null;
      const rec = this.fileRec(key, ref);
      return rec.meta.equals(mb) ? rec : null;
    } catch {
      return null;
    } finally {
      await fh?.close().catch(() => {});
    }
  }
}
