/**
 * Read-ahead for one open file. The kernel asks FUSE for at most 128 KiB per read; asking
 * the UFS for each of those separately (one S3 GET or one stream per 128 KiB) is what makes
 * naive FUSE clients slow. Instead, every open file keeps a few large buffered windows:
 *
 * - a read that lands in a cached window is a memcpy;
 * - a miss just after the last window is sequential: the window size grows (x4, up to
 *   `maxWindow`) and the next window is fetched before it is needed, so a sequential reader
 *   keeps one UFS range request in flight while it consumes the previous one;
 * - a miss anywhere else is random access: cached windows are dropped and only a small
 *   window (`minWindow`, at least the request) is fetched, so random readers do not pay
 *   for megabytes they never read.
 *
 * Reads that arrive out of order (the kernel issues async read-ahead concurrently on several
 * FUSE threads) still hit: one window behind the reader is kept.
 */

export interface ReadAheadOptions {
  /** First window and the window after a random seek (bytes). */
  minWindow?: number;
  /** Largest window (bytes). */
  maxWindow?: number;
}

export const DEFAULT_MIN_WINDOW = 256 * 1024;
export const DEFAULT_MAX_WINDOW = 8 * 1024 * 1024;

/** Fetch bytes [start, endInclusive] of the file; may return fewer if the file is shorter. */
export type RangeFetch = (start: number, endInclusive: number) => Promise<Buffer>;

interface Window {
  start: number;
  /** Exclusive, as requested; the data may be shorter at EOF. */
  end: number;
  data: Promise<Buffer>;
  settled: Buffer | null;
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
  stats = { hits: 0, misses: 0, fetches: 0, bytesFetched: 0 };

  constructor(private readonly fetch: RangeFetch, private size: number, opts: ReadAheadOptions = {}) {
    this.minWindow = Math.max(4096, opts.minWindow ?? DEFAULT_MIN_WINDOW);
    this.maxWindow = Math.max(this.minWindow, opts.maxWindow ?? DEFAULT_MAX_WINDOW);
    this.window = this.minWindow;
  }

  get fileSize(): number {
    return this.size;
  }

  /** Copy up to `len` bytes at `pos` into `target` (from offset 0); returns the count. */
  async read(pos: number, len: number, target: Buffer): Promise<number> {
    if (pos >= this.size || len <= 0) return 0;
    const end = Math.min(this.size, pos + len);
    // Sequential: close to where the reader was (tolerating the kernel's reordering).
    const sequential = this.reads === 0 ? pos === 0 : pos >= this.lastPos - this.window && pos <= this.lastEnd + this.window;
    this.streak = sequential ? this.streak + 1 : 1;
    this.reads++;
    this.lastPos = pos;
    this.lastEnd = end;
    let w = this.find(pos);
    if (w) {
      this.stats.hits++;
    } else {
      this.stats.misses++;
      if (!sequential) {
        this.windows = [];
        this.window = this.minWindow;
      }
      w = this.add(pos, Math.max(end - pos, this.window));
    }
    // A sequential reader in the last window: fetch the next one now, growing the window.
    const last = this.windows[this.windows.length - 1]!;
    if (this.streak >= 2 && w === last && last.end < this.size) {
      this.window = Math.min(this.maxWindow, this.window * 4);
      this.add(last.end, this.window);
    }
    this.evict(pos);
    let copied = 0;
    let at = pos;
    while (at < end) {
      const cur = this.find(at) ?? this.add(at, Math.max(end - at, this.window));
      const data = cur.settled ?? (await cur.data);
      const off = at - cur.start;
      if (off >= data.length) break; // the file is shorter than it was at open
      const n = Math.min(end - at, data.length - off);
      data.copy(target, copied, off, off + n);
      copied += n;
      at += n;
    }
    return copied;
  }

  /** Forget everything (the file was written through this daemon). */
  reset(size: number): void {
    this.windows = [];
    this.size = size;
    this.window = this.minWindow;
    this.reads = 0;
    this.streak = 0;
    this.lastPos = 0;
    this.lastEnd = 0;
  }

  private find(pos: number): Window | undefined {
    for (const w of this.windows) if (pos >= w.start && pos < w.end) return w;
    return undefined;
  }

  private add(start: number, len: number): Window {
    const end = Math.min(this.size, start + len);
    this.stats.fetches++;
    this.stats.bytesFetched += end - start;
    const w: Window = { start, end, data: null as unknown as Promise<Buffer>, settled: null };
    w.data = this.fetch(start, end - 1).then(
      (buf) => {
        w.settled = buf;
        return buf;
      },
      (err: unknown) => {
        // A failed window is dropped so that the next read retries it.
        this.windows = this.windows.filter((x) => x !== w);
        throw err;
      },
    );
    // Nobody may await a prefetch; keep its failure from becoming an unhandled rejection.
    w.data.catch(() => undefined);
    this.windows.push(w);
    this.windows.sort((a, b) => a.start - b.start);
    return w;
  }

  /** Keep the window holding `pos`, one behind it (out-of-order reads), and everything ahead. */
  private evict(pos: number): void {
    const idx = this.windows.findIndex((w) => pos >= w.start && pos < w.end);
    if (idx > 1) this.windows.splice(0, idx - 1);
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
