/**
 * Read-ahead for one open file. The kernel asks FUSE for at most 128 KiB per read; asking
 * the UFS for each of those separately (one S3 GET or one file stream per 128 KiB) is what
 * makes naive FUSE clients slow. Instead, every open file keeps a few large windows, each
 * ONE range request to the adapter, consumed as its bytes stream in:
 *
 * - a read whose bytes have arrived is a synchronous memcpy from the stream's own chunks
 *   (no intermediate buffer, no promise: the FUSE answer goes out in the same tick);
 * - a read just past the last window is sequential: the window grows (x4, up to
 *   `maxWindow`) and, while a sequential reader is in the last window, the next window is
 *   requested before it is needed, so one UFS request is always in flight ahead of it;
 * - a read anywhere else is random access: windows are dropped (their streams destroyed)
 *   and only a small window (`minWindow`, at least the request) is fetched, so random
 *   readers do not pay for megabytes they never read.
 *
 * Reads that arrive out of order (the kernel sends async read-ahead on several FUSE
 * threads at once) still hit: one window behind the reader is kept.
 *
 * One concern (about 460 lines): the read-ahead window state machine and its buffer pool.
 */

import { Writable } from 'node:stream';
import { AlluxioError } from '../../domain/errors.js';

export interface ReadAheadOptions {
  /** First window and the window after a random seek (bytes). */
  minWindow?: number;
  /** Largest window (bytes). */
  maxWindow?: number;
}

export const DEFAULT_MIN_WINDOW = 256 * 1024;
export const DEFAULT_MAX_WINDOW = 8 * 1024 * 1024;

/** A byte stream of [start, endInclusive] of the file (shorter at EOF). */
export type RangeSource = AsyncIterable<Buffer | Uint8Array | string> & { destroy?: (err?: Error) => void };
export type RangeOpen = (start: number, endInclusive: number) => Promise<RangeSource>;
/** Write bytes [start, endInclusive] into `dest` (ending it), with the source's own reused buffers. */
export type RangeSend = (start: number, endInclusive: number, dest: Writable) => Promise<void>;

/**
 * Where window bytes come from: a stream per window (any adapter), or a sender that writes
 * into our sink (an open local file: positional reads into reused buffers, copied straight
 * into the window's slab, so a long sequential read allocates a few slabs, not a buffer
 * per chunk).
 */
export type RangeProvider =
  | { kind: 'stream'; open: RangeOpen }
  | { kind: 'send'; send: RangeSend }
  /** Positional reads straight into the window's slab (an open local file): no copy, no allocation. */
  | { kind: 'read'; read: (target: Buffer, offset: number, length: number, position: number) => Promise<number> };

/** Positional read sizes: a small first one so the reader waiting on a new window starts soon. */
const FIRST_READ = 128 * 1024;
const NEXT_READ = 1024 * 1024;

/** Window memory, reused across windows of one open file. */
class SlabPool {
  private free: Buffer[] = [];

  take(n: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.length >= n && (best < 0 || b.length < this.free[best]!.length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0]!;
    let size = 64 * 1024;
    while (size < n) size *= 2;
    return Buffer.allocUnsafeSlow(size);
  }

  give(b: Buffer): void {
    if (this.free.length < 4) this.free.push(b);
  }

  clear(): void {
    this.free = [];
  }
}

interface Waiter {
  /** Resolve once `loaded >= need` or the window is done. */
  need: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

class Window {
  readonly chunks: Buffer[] = [];
  /** Offset (relative to start) of each chunk. */
  readonly offsets: number[] = [];
  loaded = 0;
  done = false;
  error: unknown = undefined;
  /** Reads copying out of this window right now (its slab must not be reused meanwhile). */
  pins = 0;
  private waiters: Waiter[] = [];
  private source: RangeSource | undefined;
  private sink: Writable | undefined;
  private slab: Buffer | undefined;
  private released = false;
  private cancelled = false;

  constructor(readonly start: number, readonly end: number, private readonly pool: SlabPool) {}

  /** Fill from a provider; always ends with done = true. */
  fill(provider: RangeProvider): Promise<void> {
    if (provider.kind === 'stream') return this.load(provider.open);
    if (provider.kind === 'send') return this.receive(provider.send);
    return this.readDirect(provider.read);
  }

  /** The `read` path: positional reads into one slab, one at a time, until full or EOF. */
  private async readDirect(read: (target: Buffer, offset: number, length: number, position: number) => Promise<number>): Promise<void> {
    const want = this.end - this.start;
    const slab = this.pool.take(want);
    this.slab = slab;
    try {
      while (this.loaded < want && !this.cancelled) {
        const len = Math.min(want - this.loaded, this.loaded === 0 ? FIRST_READ : NEXT_READ);
        const at = this.loaded;
        const n = await read(slab, at, len, this.start + at);
        if (n <= 0) break; // end of file (shorter than at open)
        this.offsets.push(at);
        this.chunks.push(slab.subarray(at, at + n));
        this.loaded += n;
        this.wake();
      }
    } catch (e) {
      if (!this.cancelled) this.error = e;
    }
    this.finish();
    this.recycle();
  }

  /** The `send` path: bytes land in one slab as they are read. */
  private async receive(send: RangeSend): Promise<void> {
    const want = this.end - this.start;
    const slab = this.pool.take(want);
    this.slab = slab;
    const self = this;
    const sink = new Writable({
      highWaterMark: 1 << 30,
      write(chunk: Buffer, _enc, cb) {
        if (self.cancelled) return cb(new Error('window cancelled'));
        const n = Math.min(chunk.length, want - self.loaded);
        if (n > 0) {
          chunk.copy(slab, self.loaded, 0, n);
          self.offsets.push(self.loaded);
          self.chunks.push(slab.subarray(self.loaded, self.loaded + n));
          self.loaded += n;
          self.wake();
        }
        cb();
      },
    });
    sink.on('error', () => undefined); // a cancelled window's write error; nobody is waiting
    this.sink = sink;
    try {
      if (!this.cancelled) await send(this.start, this.end - 1, sink);
    } catch (e) {
      if (!this.cancelled) this.error = e;
    }
    this.finish();
    this.recycle();
  }

  /**
   * The fill is over. A window that got fewer bytes than it spans, with no error, is one: its
   * source ended early (the file is shorter than the version opened), or it was cancelled.
   * Readers never get a part of a window: a short answer is the end of the file to the kernel
   * (an mmap reader past it gets SIGBUS).
   */
  private finish(): void {
    if (this.error === undefined && this.loaded < this.end - this.start) {
      this.error = this.cancelled
        ? new Error(`read of bytes ${this.start}-${this.end - 1} cancelled (the file was closed)`)
        : new AlluxioError('Conflict', `the file ended at byte ${this.start + this.loaded}, before byte ${this.end} it had when it was opened`);
    }
    this.done = true;
    this.wake();
  }

  /** The window is no longer needed: its slab goes back to the pool once nobody uses it. */
  release(): void {
    this.released = true;
    this.cancel();
    this.recycle();
  }

  unpin(): void {
    this.pins--;
    this.recycle();
  }

  private recycle(): void {
    if (!this.released || !this.done || this.pins > 0 || this.waiters.length > 0 || !this.slab) return;
    const slab = this.slab;
    this.slab = undefined;
    this.chunks.length = 0;
    this.offsets.length = 0;
    this.pool.give(slab);
  }

  /** Pump a stream into chunks, waking readers as bytes arrive. Always ends with done = true. */
  private async load(open: RangeOpen): Promise<void> {
    try {
      const src = await open(this.start, this.end - 1);
      this.source = src;
      if (this.cancelled) {
        src.destroy?.();
      } else {
        const want = this.end - this.start;
        for await (const c of src) {
          if (this.cancelled) break;
          let b = Buffer.isBuffer(c) ? c : typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
          if (this.loaded + b.length > want) b = b.subarray(0, want - this.loaded);
          if (b.length === 0) continue;
          this.offsets.push(this.loaded);
          this.chunks.push(b);
          this.loaded += b.length;
          this.wake();
          if (this.loaded >= want) break;
        }
      }
    } catch (e) {
      // A cancelled window has nobody waiting (cancel() refuses otherwise): not an error.
      if (!this.cancelled) this.error = e;
    }
    this.finish();
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.error !== undefined) w.reject(this.error);
      else if (this.done || this.loaded >= w.need) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  /** Wait until bytes up to `need` (relative) are here, or the stream ended. */
  until(need: number): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.done || this.loaded >= need) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ need, resolve, reject }));
  }

  has(rel: number, len: number): boolean {
    return this.loaded >= rel + len || (this.done && this.error === undefined);
  }

  /** Copy [rel, rel+len) (what has arrived of it) into target at `at`; returns bytes copied. */
  copy(rel: number, len: number, target: Buffer, at: number): number {
    const chunks = this.chunks;
    const offsets = this.offsets;
    // Binary search for the chunk holding `rel`.
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (offsets[mid]! <= rel) lo = mid;
      else hi = mid - 1;
    }
    let copied = 0;
    for (let i = lo; i < chunks.length && copied < len; i++) {
      const c = chunks[i]!;
      const from = rel + copied - offsets[i]!;
      if (from >= c.length) continue;
      const n = Math.min(len - copied, c.length - from);
      c.copy(target, at + copied, from, from + n);
      copied += n;
    }
    return copied;
  }

  /** Stop fetching a window nobody needs any more; one that a read waits for completes. */
  cancel(force = false): void {
    if (this.done || (!force && (this.waiters.length > 0 || this.pins > 0))) return;
    this.cancelled = true;
    try {
      this.source?.destroy?.();
      this.sink?.destroy();
    } catch {
      /* ignore */
    }
  }
}

export class ReadAhead {
  private windows: Window[] = [];
  private window: number;
  private readonly minWindow: number;
  private readonly maxWindow: number;
  private reads = 0;
  private streak = 0;
  private lastPos = 0;
  private lastEnd = 0;
  stats = { reads: 0, syncReads: 0, misses: 0, fetches: 0, bytesRequested: 0 };

  private readonly pool = new SlabPool();
  /** Window fills still running (close() waits for them: no read may outlive the file). */
  private readonly filling = new Set<Promise<void>>();
  private readonly provider: RangeProvider;

  constructor(source: RangeOpen | RangeProvider, private size: number, opts: ReadAheadOptions = {}) {
    this.provider = typeof source === 'function' ? { kind: 'stream', open: source } : source;
    this.minWindow = Math.max(4096, opts.minWindow ?? DEFAULT_MIN_WINDOW);
    this.maxWindow = Math.max(this.minWindow, opts.maxWindow ?? DEFAULT_MAX_WINDOW);
    this.window = this.minWindow;
  }

  get fileSize(): number {
    return this.size;
  }

  /**
   * Copy up to `len` bytes at `pos` into `target` (from offset 0). Returns the count, or a
   * promise of it when the bytes are not here yet.
   */
  read(pos: number, len: number, target: Buffer): number | Promise<number> {
    this.stats.reads++;
    if (pos >= this.size || len <= 0) return 0;
    const end = Math.min(this.size, pos + len);
    this.plan(pos, end);
    // Fast path: everything already arrived.
    const sync = this.copySync(pos, end, target);
    if (sync >= 0) {
      this.stats.syncReads++;
      return sync;
    }
    return this.readAsync(pos, end, target);
  }

  /** Sequential/random detection, window creation and prefetch for a read of [pos, end). */
  private plan(pos: number, end: number): void {
    const sequential = this.reads === 0 ? pos === 0 : pos >= this.lastPos - this.window && pos <= this.lastEnd + this.window;
    this.streak = sequential ? this.streak + 1 : 1;
    this.reads++;
    this.lastPos = pos;
    this.lastEnd = Math.max(end, sequential ? this.lastEnd : 0);
    let w = this.find(pos);
    if (!w) {
      this.stats.misses++;
      if (!sequential) {
        for (const x of this.windows) x.release();
        this.windows = [];
        this.window = this.minWindow;
      }
      w = this.add(pos, Math.max(end - pos, this.window));
    }
    // A sequential reader in the last window: request the next one now, growing the window.
    const last = this.windows[this.windows.length - 1]!;
    if (this.streak >= 2 && w === last && last.end < this.size) {
      this.window = Math.min(this.maxWindow, this.window * 4);
      this.add(last.end, this.window);
    }
    // Keep the window holding pos, one behind it, and everything ahead.
    const idx = this.windows.indexOf(w);
    if (idx > 1) for (const x of this.windows.splice(0, idx - 1)) x.release();
    // Bytes of the request no window holds: beyond the last one (a request larger than a
    // window), or between two (a window further on, kept for another read in flight).
    for (let at = pos; at < end; ) {
      const h = this.find(at);
      if (h) {
        at = h.end;
        continue;
      }
      const next = this.windows.find((x) => x.start > at);
      at = this.add(at, Math.min(end, next ? next.start : end) - at).end;
    }
  }

  /**
   * Copy [pos, end) if every byte of it is here; -1 otherwise (never a part: the kernel takes
   * a short answer for the end of the file). Throws a window's error.
   */
  private copySync(pos: number, end: number, target: Buffer): number {
    let at = pos;
    while (at < end) {
      const w = this.find(at);
      if (!w) return -1;
      if (w.error !== undefined) throw w.error;
      if (!w.has(at - w.start, Math.min(end, w.end) - at)) return -1;
      at = w.end;
    }
    at = pos;
    while (at < end) {
      const w = this.find(at)!;
      const want = Math.min(end, w.end) - at;
      at += w.copy(at - w.start, want, target, at - pos);
    }
    return end - pos;
  }

  private async readAsync(pos: number, end: number, target: Buffer): Promise<number> {
    let at = pos;
    let copied = 0;
    while (at < end) {
      const w = this.find(at) ?? this.add(at, Math.max(end - at, this.window));
      const rel = at - w.start;
      const want = Math.min(end, w.end) - at;
      w.pins++;
      let n: number;
      try {
        await w.until(rel + want);
        n = w.copy(rel, want, target, copied);
      } finally {
        w.unpin();
      }
      copied += n;
      at += n;
    }
    return copied;
  }

  /** Forget everything (the file was written through this daemon). */
  reset(size: number): void {
    for (const x of this.windows) x.release();
    this.windows = [];
    this.size = size;
    this.window = this.minWindow;
    this.reads = 0;
    this.streak = 0;
    this.lastPos = 0;
    this.lastEnd = 0;
  }

  /** Stop every window; resolves once no read of the source is in flight any more. */
  async close(): Promise<void> {
    for (const x of this.windows) {
      x.cancel(true);
      x.release();
    }
    this.windows = [];
    await Promise.all([...this.filling]);
    this.pool.clear();
  }

  private find(pos: number): Window | undefined {
    const ws = this.windows;
    for (let i = ws.length - 1; i >= 0; i--) {
      const w = ws[i]!;
      if (pos >= w.start && pos < w.end) return w;
    }
    return undefined;
  }

  private add(start: number, len: number): Window {
    const end = Math.min(this.size, start + len);
    const w = new Window(start, end, this.pool);
    this.stats.fetches++;
    this.stats.bytesRequested += end - start;
    const filled = w.fill(this.provider);
    this.filling.add(filled);
    void filled.then(() => {
      this.filling.delete(filled);
      // A failed window is dropped so that the next read retries it.
      if (w.error !== undefined) this.windows = this.windows.filter((x) => x !== w);
    });
    this.windows.push(w);
    this.windows.sort((a, b) => a.start - b.start);
    return w;
  }
}

/** Collect a stream into one buffer of at most `expected` bytes (allocated once). */
export async function collect(stream: AsyncIterable<Buffer | Uint8Array | string>, expected: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(expected);
  let n = 0;
  // Leaving the loop early destroys the stream (async iterator return()).
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    const take = Math.min(b.length, expected - n);
    b.copy(out, n, 0, take);
    n += take;
    if (n >= expected) break;
  }
  return n === expected ? out : out.subarray(0, n);
}
