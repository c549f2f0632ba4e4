/**
 * The worker cache as DataPath sees it (src/frontends/common/data-path.ts calls it; no front
 * end does): cached metadata with a per-mount TTL, and DataObjects whose bytes come from the
 * page store. Keys are the resolved UFS URI + the object's version, so a re-pointed mount, a
 * cutover or an object changed in the UFS reads new pages, never old ones.
 *
 * Metadata TTL: mount option `cache.metadata.ttl` (a duration: 0, 500ms, 10s, 1m; default
 * DEFAULT_METADATA_TTL_MS, src/domain/mounts.ts). 0 = stat the UFS on every open. A write, delete or mkdir through
 * DataPath on this worker invalidates the file's metadata and pages at once (a directory's
 * tree: its metadata at once, the pages below it over the next turns of the loop, free).
 *
 * A little over 300 lines: one concern (metadata, opens and the objects they return), and
 * the warm open is kept flat on purpose (docs/cache.md "The warm path").
 */
import { Readable, type Writable } from 'node:stream';
import { isAlluxioError } from '../domain/errors.js';
import { joinUnderUfs } from '../domain/ufs-uri.js';
import { METADATA_TTL_OPTION, storedMetadataTtlMs, type ParsedMount } from '../domain/mounts.js';
import type { DataObject, DataTarget } from '../frontends/common/data-path.js';
import type { ByteRange, FirstRead, UfsEntry } from '../ufs/types.js';
import { PageStore, type ObjectRef, type PageStoreOptions } from './page-store.js';
import { PageReader } from './reader.js';
import { PrimedSource, UfsPageSource, versionOf, type PageSource } from './source.js';

/** Metadata entries kept at most (oldest dropped first). */
const MAX_META_ENTRIES = 100_000;

/** Metadata TTL per mount object (WorkerCache.ttlMs). */
const ttls = new WeakMap<ParsedMount, number>();

export interface WorkerCacheOptions extends PageStoreOptions {
  /** Pages requested ahead of the one being sent (default 16). */
  readAheadPages?: number;
}

interface MetaEntry {
  entry: UfsEntry;
  at: number;
  /**
   * The adapter it was learned through. The URI alone does not name an object: a mount
   * update that changes only `s3a.endpoint` (another store, same bucket and key) keeps the
   * URI and gets a new adapter, and what the old store said must not answer for the new one.
   */
  via: object;
}

export class WorkerCache {
  readonly reader: PageReader;
  private readonly meta = new Map<string, MetaEntry>();
  /** Cold opens in flight (see open): their metadata, for opens of the same URI meanwhile. */
  private readonly primes = new Map<string, { p: Promise<UfsEntry | null | undefined>; via: object }>();
  /**
   * Bumped by every invalidation (write, delete, free): a UFS stat that was in flight while
   * one happened may describe the version before it, so it is not remembered.
   */
  private invalidations = 0;
  metaHits = 0;
  metaMisses = 0;
  private readonly refs = new WeakMap<UfsEntry, ObjectRef>();

  private constructor(readonly store: PageStore, opts: WorkerCacheOptions) {
    this.reader = new PageReader(store, opts.readAheadPages ?? 16);
  }

  static async open(opts: WorkerCacheOptions): Promise<WorkerCache> {
    return new WorkerCache(await PageStore.open(opts), opts);
  }

  get counters() {
    return this.store.counters;
  }

  /** The metadata TTL of a mount (its `cache.metadata.ttl` option as stored: storedMetadataTtlMs). */
  static ttlMs(mount: ParsedMount): number {
    // per mount object (a snapshot's mounts never change): parsed once, not per read
    let ttl = ttls.get(mount);
    if (ttl === undefined) ttls.set(mount, (ttl = storedMetadataTtlMs(mount.options[METADATA_TTL_OPTION])));
    return ttl;
  }

  /** Metadata of the target: cached within the mount's TTL, else from `statUfs`. */
  async stat(t: DataTarget, statUfs: () => Promise<UfsEntry | null>): Promise<UfsEntry | null> {
    const uri = uriOf(t);
    const ttl = WorkerCache.ttlMs(t.mount);
    const known = this.metaWithin(uri, ttl, t.adapter);
    if (known !== undefined) return known;
    return this.statNow(uri, ttl, t.adapter, statUfs);
  }

  /** The cached metadata of `uri` when within `ttl` (counted as a hit), else undefined. */
  private metaWithin(uri: string, ttl: number, via: object): UfsEntry | undefined {
    if (ttl > 0) {
      const m = this.meta.get(uri);
      if (m && m.via === via && Date.now() - m.at < ttl) {
        this.metaHits++;
        return m.entry;
      }
    }
    return undefined;
  }

  /** Metadata of `uri` from the UFS (a metadata miss), remembered per `learned`. */
  private async statNow(uri: string, ttl: number, via: object, statUfs: () => Promise<UfsEntry | null>): Promise<UfsEntry | null> {
    this.metaMisses++;
    const epoch = this.invalidations;
    const entry = await statUfs();
    this.learned(uri, entry, epoch, ttl, via);
    return entry;
  }

  /** Metadata of `uri` read from the UFS at `epoch` (a stat, or a cold open's first request). */
  private learned(uri: string, entry: UfsEntry | null, epoch: number, ttl: number, via: object): void {
    // Only files are remembered: a missing object or a directory is asked again (a file
    // created, or a directory made implicitly by a write below it, shows at once).
    this.meta.delete(uri);
    if (epoch !== this.invalidations) return; // raced a write: answer, remember nothing
    if (ttl > 0 && entry?.type === 'file') {
      if (this.meta.size >= MAX_META_ENTRIES) this.meta.delete(this.meta.keys().next().value as string);
      this.meta.set(uri, { entry, at: Date.now(), via });
    }
    // A new version makes the pages of every other version of this URI garbage.
    if (entry && entry.type === 'file') this.store.dropUri(uri, versionOf(entry));
    else this.store.dropUri(uri);
  }

  /** The cached metadata of `uri` if still within the mount's TTL. */
  private freshMeta(uri: string, ttl: number, via: object): boolean {
    const m = this.meta.get(uri);
    return ttl > 0 && m !== undefined && m.via === via && Date.now() - m.at < ttl;
  }

  /**
   * Open the target through the cache: null when missing, undefined when it is not a file
   * (the caller opens it directly).
   *
   * A cold open (no fresh metadata, no page of any version of the URI held or being fetched)
   * on a UFS that can answer metadata and bytes in one request (`readFirst`, s3://) does not
   * stat first: it asks for the first run of pages from `firstByte`'s page on, learns the
   * version from that answer, and feeds the pages to the reader as they arrive. One round
   * trip before the first byte instead of two; concurrent opens of the same URI join it.
   */
  async open(
    t: DataTarget,
    statUfs: () => Promise<UfsEntry | null>,
    readFirst?: (range: ByteRange) => Promise<FirstRead | null>,
    firstByte = 0,
  ): Promise<DataObject | null | undefined> {
    const uri = uriOf(t);
    const ttl = WorkerCache.ttlMs(t.mount);
    // (awaits only when there is something to wait for: a warm open takes no extra turns)
    const priming = this.primes.get(uri);
    let entry: UfsEntry | null | undefined = priming === undefined || priming.via !== t.adapter ? undefined : await priming.p;
    if (entry === undefined && readFirst && !this.freshMeta(uri, ttl, t.adapter) && !this.store.holdsUri(uri)) {
      entry = await this.prime(t, uri, ttl, readFirst, firstByte);
    }
    if (entry === undefined) entry = this.metaWithin(uri, ttl, t.adapter) ?? (await this.statNow(uri, ttl, t.adapter, statUfs));
    if (!entry) return null;
    if (entry.type !== 'file') return undefined;
    return this.objectFor(entry, this.refOf(uri, entry), new UfsPageSource(t.adapter, t.rel));
  }

  /**
   * The ref of `entry` at `uri`, one object per cached entry (the same entry answers every
   * open within the TTL), so the store's per-ref key memo hits instead of hashing strings.
   */
  private refOf(uri: string, entry: UfsEntry): ObjectRef {
    const known = this.refs.get(entry);
    if (known && known.uri === uri) return known;
    const ref: ObjectRef = { uri, version: versionOf(entry), size: entry.size };
    this.refs.set(entry, ref);
    return ref;
  }

  /**
   * The cold open's first request (see open): the entry it learned (null: missing), or
   * undefined when it could not be made that way.
   */
  private prime(t: DataTarget, uri: string, ttl: number, readFirst: (range: ByteRange) => Promise<FirstRead | null>, firstByte: number): Promise<UfsEntry | null | undefined> {
    const ps = this.store.pageSize;
    const pages = this.reader.runPages;
    const first = Math.floor(Math.max(0, firstByte) / ps);
    const epoch = this.invalidations;
    const p = (async (): Promise<UfsEntry | null | undefined> => {
      const r = await readFirst({ start: first * ps, end: (first + pages) * ps - 1 });
      if (!r) return undefined;
      this.metaMisses++;
      this.learned(uri, r.entry, epoch, ttl, t.adapter);
      if (!r.body) return r.entry; // no object of that name: missing, or a directory
      // (the open that follows takes the same ref for this entry: one key computed, not two)
      const ref = this.refOf(uri, r.entry);
      const last = Math.min(first + pages, Math.ceil(ref.size / ps)) - 1;
      const source = new PrimedSource(new UfsPageSource(t.adapter, t.rel), first * ps, r.body);
      const indexes = Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
      // The reader takes the body for the run starting at `first` (registered in flight at
      // once, so readers join it); if it needed no fetch, the body is dropped.
      const fetched = this.reader.pages(ref, indexes, source);
      source.discard();
      void Promise.allSettled(fetched).then(() => this.forgetPrime(uri, p));
      return r.entry;
    })();
    this.primes.set(uri, { p, via: t.adapter });
    // (a file's prime is forgotten once its pages are fetched, anything else at once)
    p.then(
      (e) => e?.type !== 'file' && this.forgetPrime(uri, p),
      () => this.forgetPrime(uri, p),
    );
    return p;
  }

  /** The cold open `p` of `uri` is over: later opens do not join it. */
  private forgetPrime(uri: string, p: Promise<UfsEntry | null | undefined>): void {
    if (this.primes.get(uri)?.p === p) this.primes.delete(uri);
  }

  /**
   * Exactly the version `ref` through the page store, fetching missing pages from `source`
   * (a peer read on the owner; the owner's own fallback). Nothing is dropped here: the
   * version named may be older than the current one (a reader's stale metadata); this
   * worker's own stat drops other versions' pages when it sees the current one.
   */
  openVersion(entry: UfsEntry, ref: ObjectRef, source: PageSource): DataObject {
    return this.objectFor(entry, ref, source);
  }

  /** `ref` through this cache as a PageSource (a fallback for reads through the owners). */
  source(entry: UfsEntry, ref: ObjectRef, from: PageSource): PageSource {
    return { kind: 'cache', read: (r, range) => this.openVersion(entry, r, from).stream(range) };
  }

  /** Drop the metadata and every cached page of `uri` (a write or delete went through). */
  invalidate(uri: string): void {
    this.invalidations++;
    this.meta.delete(uri);
    // A cold open in flight describes the version before the write: nobody joins it now.
    this.primes.delete(uri);
    this.store.dropUri(uri);
  }

  /**
   * Drop everything at or below a UFS URI (cache free): the metadata and the pages of the URI
   * itself now, the pages below it in slices (PageStore.dropPrefix), which the promise
   * resolves with when done (counting the URI's own).
   */
  async free(uriPrefix: string): Promise<{ objects: number; pages: number }> {
    const base = uriPrefix.endsWith('/') ? uriPrefix : `${uriPrefix}/`;
    this.invalidations++;
    for (const k of [...this.meta.keys()]) if (k === uriPrefix || k.startsWith(base)) this.meta.delete(k);
    for (const k of [...this.primes.keys()]) if (k === uriPrefix || k.startsWith(base)) this.primes.delete(k);
    const own = this.store.dropUri(uriPrefix);
    const below = await this.store.dropPrefix(uriPrefix);
    return { objects: below.objects + own.objects, pages: below.pages + own.pages };
  }

  /** Resolves once the page files of every free so far are removed (free forgets the pages first). */
  filesRemoved(): Promise<void> {
    return this.store.filesRemoved();
  }

  /** Finish the page writes and removals under way (a stopping worker), then stop the writer thread. */
  close(): Promise<void> {
    return this.store.close();
  }

  /** Bytes of this version of the target held in the cache. */
  cachedBytes(t: DataTarget, entry: UfsEntry): number {
    return this.store.cachedBytes({ uri: uriOf(t), version: versionOf(entry), size: entry.size });
  }

  private objectFor(entry: UfsEntry, ref: ObjectRef, source: PageSource): DataObject {
    // Methods, not arrow properties: the bundle keeps function names, which costs a
    // defineProperty (and a new function map) per named closure, per open.
    const cache = this;
    const reader = this.reader;
    return {
      entry,
      async bytes(range) {
        const s = startOf(range);
        const e = endOf(ref, range);
        try {
          return await reader.bytes(ref, s, e, source);
        } catch (err) {
          throw cache.failed(ref, err);
        }
      },
      bytesNow(range) {
        return reader.bytesInMemory(ref, startOf(range), endOf(ref, range));
      },
      async stream(range) {
        const s = startOf(range);
        const e = endOf(ref, range);
        return Readable.from(cache.guarded(ref, reader.range(ref, s, e, source)), { objectMode: false });
      },
      async sendTo(dest, range) {
        const s = startOf(range);
        const e = endOf(ref, range);
        // Pages straight into the destination, no stream in between; a page or so queued at
        // most (the reader's read-ahead is the pipeline). The client going away ends it
        // quietly (like the file adapter's sendTo); the generator's return stops the reads.
        const limit = cache.store.pageSize;
        try {
          for await (const b of reader.range(ref, s, e, source)) {
            if (dest.destroyed) return;
            if (!dest.write(b) && dest.writableLength > limit) await drained(dest);
          }
          if (!dest.destroyed) dest.end();
        } catch (err) {
          throw cache.failed(ref, err);
        }
      },
      ranges: true,
      close() {},
    };
  }

  /**
   * A read of `ref` failed with `e`: when the source saw another version, or none (deleted
   * behind Alluxio), forget the metadata so the next open re-stats (a HEAD answered 200 for
   * the rest of the TTL while uncached ranges answered 404).
   */
  private failed(ref: ObjectRef, e: unknown): unknown {
    if (isAlluxioError(e) && (e.code === 'Conflict' || e.code === 'NotFound')) this.meta.delete(ref.uri);
    return e;
  }

  private async *guarded(ref: ObjectRef, gen: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
    try {
      yield* gen;
    } catch (err) {
      throw this.failed(ref, err);
    }
  }
}

/** First byte of a read of `range` (the whole object when absent). */
function startOf(range: ByteRange | undefined): number {
  return range ? range.start : 0;
}

/** Last byte of a read of `range` of `ref`, within the object. */
function endOf(ref: ObjectRef, range: ByteRange | undefined): number {
  return range ? Math.min(range.end, ref.size - 1) : ref.size - 1;
}

/** Resolves when `dest` drained, closed or failed (the caller checks `destroyed`). */
function drained(dest: Writable): Promise<void> {
  if (dest.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      dest.off('drain', done);
      dest.off('close', done);
      dest.off('error', done);
      resolve();
    };
    dest.on('drain', done);
    dest.on('close', done);
    dest.on('error', done);
  });
}

/**
 * The resolved UFS URI of a bound target: the mount's URI joined with the target's relative
 * segments (a target derived from another one, e.g. a child in a tree walk, keeps its
 * parent's resolution, so the resolution's own URI is used only when the segments are its).
 */
export function uriOf(t: DataTarget): string {
  const loc = t.resolution.location;
  if (loc && loc.relSegments === t.rel) return loc.uri;
  return joinUnderUfs(t.mount.ufs, t.rel).uri;
}
