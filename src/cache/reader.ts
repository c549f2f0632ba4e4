/**
 * Reading ranges of one object version through the page store:
 *  - a range is cut into page slices (page-math.ts) and answered page by page, in order;
 *  - a page in a tier is a hit; a page another reader is already fetching is joined
 *    (single-flight: N concurrent readers of a cold page cause ONE source fetch);
 *  - missing pages are fetched in runs of consecutive pages, ONE source request per run, and
 *    handed to the readers as each page completes (stream through: nobody waits for the run
 *    or for the disk write), then written to the store in the background;
 *  - the reader keeps up to `readAheadPages` pages requested ahead of the page it is sending,
 *    so a cold sequential stream overlaps the source's latency with sending.
 * Memory per reader is bounded by the read-ahead window; a page being written stays in the
 * in-flight map until it is on disk, and a reader arriving meanwhile gets its bytes (a hit).
 */
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { PageStore, ObjectRef } from './page-store.js';
import { pageLength, runsOf, sliceAt, sliceSpan } from './page-math.js';
import type { PageSource } from './source.js';
import { SMALL_OBJECT_BYTES } from '../ufs/types.js';

/**
 * The read-ahead window in bytes, at most: 16 pages of 64 MiB pinned 1 GiB per reader a
 * client drains slowly (16 MiB at the default 1 MiB pages, unchanged).
 */
const READ_AHEAD_BYTES = 64 << 20;

export class PageReader {
  private readonly inflight = new Map<string, Promise<Buffer>>();
  /**
   * Pages fetched whose disk write is not done yet: a reader gets their bytes from here, a
   * hit like the memory tier's (the UFS is not read again).
   */
  private readonly writing = new Map<string, Buffer>();

  /** Pages requested ahead of the one being sent: `readAheadPages`, at most READ_AHEAD_BYTES of them (at least 2). */
  private readonly readAheadPages: number;

  constructor(private readonly store: PageStore, readAheadPages = 16) {
    this.readAheadPages = Math.max(2, Math.min(readAheadPages, Math.floor(READ_AHEAD_BYTES / store.pageSize)));
  }

  /** Number of pages being fetched or written right now. */
  get inflightPages(): number {
    return this.inflight.size;
  }

  /** The bytes [start, end] (inclusive) of `ref`, as page-sized (or smaller) buffers in order. */
  async *range(ref: ObjectRef, start: number, end: number, source: PageSource): AsyncGenerator<Buffer> {
    // Slices are taken one at a time and only the window's pages are requested: memory per
    // reader is the window, whatever the range (a whole-object list of a 10 GiB object in
    // 4 KiB pages was 2.6 M objects, built before the first byte).
    const span = sliceSpan(start, end, ref.size, this.store.pageSize);
    const pending = new Map<number, Promise<Buffer>>();
    const window = this.readAheadPages;
    let requested = 0;
    try {
      for (let i = 0; i < span.count; i++) {
        if (requested - i < Math.ceil(window / 2) && requested < span.count) {
          const upTo = Math.min(span.count, i + window);
          const indexes: number[] = [];
          for (let k = requested; k < upTo; k++) indexes.push(span.first + k);
          const ps = this.pages(ref, indexes, source);
          for (let k = 0; k < ps.length; k++) {
            ps[k]!.catch(() => {});
            pending.set(requested + k, ps[k]!);
          }
          requested = upTo;
        }
        const s = sliceAt(span, i);
        const page = await pending.get(i)!;
        pending.delete(i);
        yield s.offset === 0 && s.length === page.length ? page : page.subarray(s.offset, s.offset + s.length);
      }
    } finally {
      pending.clear();
    }
  }

  /** The whole range in one buffer (small reads). */
  async bytes(ref: ObjectRef, start: number, end: number, source: PageSource): Promise<Buffer> {
    const ps = this.store.pageSize;
    const first = Math.floor(start / ps);
    if (start >= 0 && end >= start && first === Math.floor(end / ps) && end < ref.size) {
      // Within one page (every small object): no generator, one lookup.
      const page = await this.pages(ref, [first], source)[0]!;
      const off = start - first * ps;
      return off === 0 && page.length === end - start + 1 ? page : page.subarray(off, end - first * ps + 1);
    }
    const parts: Buffer[] = [];
    for await (const b of this.range(ref, start, end, source)) parts.push(b);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * The bytes [start, end] of `ref` when they lie in one page the memory tier holds, or one
   * fetched and being written (not one still being fetched): no promise, no I/O; counted as
   * a hit like `bytes`. Undefined otherwise: call `bytes`.
   */
  bytesInMemory(ref: ObjectRef, start: number, end: number): Buffer | undefined {
    const ps = this.store.pageSize;
    const first = Math.floor(start / ps);
    if (!(start >= 0 && end >= start && first === Math.floor(end / ps) && end < ref.size)) return undefined;
    let page: Buffer | undefined;
    if (this.inflight.size > 0) {
      const id = `${this.store.keyOf(ref)}/${first}`;
      page = this.writing.get(id);
      if (!page && this.inflight.has(id)) return undefined;
    }
    page ??= this.store.fromMemory(ref, first);
    if (!page) return undefined;
    this.store.counters.hits++;
    this.store.counters.cacheReadBytes += page.length;
    const off = start - first * ps;
    return off === 0 && page.length === end - start + 1 ? page : page.subarray(off, end - first * ps + 1);
  }

  /** Pages per source request when fetching a run (and what a cold open asks for first). */
  get runPages(): number {
    return Math.max(1, Math.ceil(this.readAheadPages / 2));
  }

  /** One promise per page index: from a tier, joined in flight, or fetched in runs. */
  pages(ref: ObjectRef, indexes: readonly number[], source: PageSource): Promise<Buffer>[] {
    const key = this.store.keyOf(ref);
    const out: Promise<Buffer>[] = new Array(indexes.length);
    const missing: number[] = [];
    const slot = new Map<number, number>();
    indexes.forEach((index, k) => {
      const id = `${key}/${index}`;
      const f = this.inflight.get(id);
      const m = f ? this.writing.get(id) : this.store.fromMemory(ref, index);
      if (f && !m) {
        this.store.counters.misses++;
        out[k] = f;
      } else if (m) {
        // a memory hit: no async step, no file
        this.store.counters.hits++;
        this.store.counters.cacheReadBytes += m.length;
        out[k] = Promise.resolve(m);
      } else if (this.store.has(ref, index)) {
        out[k] = this.fromStore(ref, key, index, source);
      } else {
        missing.push(index);
        slot.set(index, k);
      }
    });
    for (const run of runsOf(missing, this.runPages)) {
      const ps = this.fetchRun(ref, key, run, source);
      run.forEach((index, j) => (out[slot.get(index)!] = ps[j]!));
    }
    return out;
  }

  private async fromStore(ref: ObjectRef, key: string, index: number, source: PageSource): Promise<Buffer> {
    const b = await this.store.get(ref, index);
    if (b) {
      this.store.counters.hits++;
      this.store.counters.cacheReadBytes += b.length;
      return b;
    }
    // corrupt or unreadable: counted by the store; fetch it again (joining any fetch in flight)
    this.store.counters.fallbacks++;
    const f = this.inflight.get(`${key}/${index}`);
    return f ?? this.fetchRun(ref, key, [index], source)[0]!;
  }

  /** Fetch consecutive pages `run` with ONE source request; a promise per page. */
  private fetchRun(ref: ObjectRef, key: string, run: readonly number[], source: PageSource): Promise<Buffer>[] {
    const ps = this.store.pageSize;
    const c = this.store.counters;
    const deferred = run.map(() => {
      let resolve!: (b: Buffer) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<Buffer>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {});
      return { promise, resolve, reject };
    });
    run.forEach((index, j) => this.inflight.set(`${key}/${index}`, deferred[j]!.promise));
    c.misses += run.length;
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const start = first * ps;
    const end = Math.min(ref.size, (last + 1) * ps) - 1;
    void (async () => {
      let j = 0;
      let buf = Buffer.allocUnsafe(pageLength(ref.size, run[0]!, ps));
      let filled = 0;
      try {
        c.ufsRequests++;
        // Small runs in one buffer where the source can (no stream machinery per object).
        const small = source.readBuffer && end - start + 1 <= SMALL_OBJECT_BYTES;
        const stream = small ? null : await source.read(ref, { start, end });
        const chunks: Iterable<Buffer> | AsyncIterable<Buffer> = stream ?? [await source.readBuffer!(ref, { start, end })];
        for await (const chunk of chunks) {
          if (j >= run.length) {
            // Bytes past the run: drop the rest. (A body that ends with the run is read to
            // its end instead, so its keep-alive connection is reused, not closed.)
            if (chunk.length > 0) {
              stream?.destroy();
              break;
            }
            continue;
          }
          c.ufsReadBytes += chunk.length;
          let off = 0;
          while (off < chunk.length && j < run.length) {
            const n = Math.min(buf.length - filled, chunk.length - off);
            chunk.copy(buf, filled, off, off + n);
            filled += n;
            off += n;
            if (filled === buf.length) {
              this.complete(ref, key, run[j]!, buf, deferred[j]!);
              j++;
              if (j < run.length) {
                buf = Buffer.allocUnsafe(pageLength(ref.size, run[j]!, ps));
                filled = 0;
              }
            }
          }
        }
        if (j < run.length) {
          throw new AlluxioError('UfsUnavailable', `${ref.uri}: the UFS ended the read at byte ${run[j]! * ps + filled} of ${end + 1}; the object may have changed`);
        }
      } catch (e) {
        const err = isAlluxioError(e) ? e : new AlluxioError('UfsUnavailable', `${ref.uri}: ${(e as Error).message}`, { cause: e });
        for (; j < run.length; j++) {
          this.inflight.delete(`${key}/${run[j]}`);
          deferred[j]!.reject(err);
        }
      }
    })();
    return deferred.map((d) => d.promise);
  }

  private complete(ref: ObjectRef, key: string, index: number, page: Buffer, d: { promise: Promise<Buffer>; resolve: (b: Buffer) => void }): void {
    this.store.counters.pagesFetched++;
    d.resolve(page);
    const id = `${key}/${index}`;
    this.writing.set(id, page);
    void this.store.put(ref, index, page).finally(() => {
      if (this.inflight.get(id) === d.promise) this.inflight.delete(id);
      if (this.writing.get(id) === page) this.writing.delete(id);
    });
  }
}
