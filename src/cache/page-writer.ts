/**
 * The page store's file work off the event loop: a thread of its own
 * (src/cache/page-writer-thread.ts) writes small page files and removes (recycles) dropped
 * ones, in the order the store asked, with synchronous calls.
 *
 * Why: through libuv's pool a small page write was a rename of a spare on the event loop
 * then open, write and close, each a round trip to the pool and back, and dropping a page
 * was a rename and a truncate on the event loop; together ~13% of a caching worker's main
 * thread under cold 4 KiB GETs, on the path every response waits behind. Here the main
 * thread copies the page into one buffer, hands it over (transferred, not cloned) and hears
 * back once per batch.
 *
 * Order: the thread runs operations strictly in the order they were asked for, so a page
 * dropped and then written again under the same name gets its new file (the drop cannot land
 * after the write). Writes that do not go through the thread (large pages, written with the
 * pool from the store's own buffers: a copy of 1 MiB to hand over cost more than the write)
 * wait for `dropsDone()` first.
 *
 * Operations are sent in batches: BATCH_OPS of them, or what BATCH_DELAY_MS gathered (a
 * message costs the event loop about as much as a dozen operations in it: 12 us per
 * operation sent alone, 5 us in messages of 16, in a loop on this VM); a flush, or a write
 * that waits for drops, sends at once. The thread answers each message with the last
 * sequence number done and the errors. The thread keeps the process alive only while operations are outstanding. If it
 * dies, outstanding writes fail (the pages stay uncached) and the next operation starts a
 * new one.
 */
import { Worker } from 'node:worker_threads';

/** Operations per message at most. */
const BATCH_OPS = 256;
/** How long the first queued operation waits for others before they are sent (ms). */
const BATCH_DELAY_MS = 4;

/** One operation, as the thread receives it. */
export type PageFileOp =
  | { kind: 'write'; seq: number; path: string; data: Uint8Array }
  | { kind: 'drop'; seq: number; path: string }
  | { kind: 'barrier'; seq: number };

/** The thread's answer to one message: operations up to `upTo` are done; these failed. */
export interface PageFileReply {
  upTo: number;
  errors: [seq: number, message: string][];
}

export interface PageWriterOptions {
  /** The directory of spare (recycled) page files, owned by the thread (spare-files.ts). */
  spareDir: string;
  maxSpares: number;
  /** The thread's script (default: page-writer-thread.js next to this module or bundle). */
  script?: URL;
}

interface Waiter {
  seq: number;
  resolve(): void;
  reject(e: Error): void;
}

export class PageWriter {
  private thread: Worker | undefined;
  private seq = 0;
  /** Done by the thread (every operation up to here). */
  private completed = 0;
  private queue: PageFileOp[] = [];
  private transfer: ArrayBuffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Callers waiting for an operation, in sequence order. */
  private waiters: Waiter[] = [];
  private errors = new Map<number, string>();
  /** The last drop asked for. */
  private lastDrop = 0;
  private readonly script: URL;

  constructor(private readonly o: PageWriterOptions) {
    this.script = o.script ?? new URL('./page-writer-thread.js', import.meta.url);
  }

  /** Start the thread now (it takes tens of ms), so the first pages do not wait for it. */
  prepare(): void {
    if (!this.thread) this.start().unref();
  }

  /** Write `parts` as the whole file at `path` (its directory exists); resolves once written. */
  write(path: string, parts: readonly Buffer[]): Promise<void> {
    let total = 0;
    for (const p of parts) total += p.length;
    // Its own ArrayBuffer of exactly this size, handed to the thread without a copy.
    const data = Buffer.allocUnsafeSlow(total);
    let off = 0;
    for (const p of parts) off += p.copy(data, off);
    this.transfer.push(data.buffer as ArrayBuffer);
    const seq = this.push({ kind: 'write', seq: ++this.seq, path, data });
    return this.wait(seq);
  }

  /** Remove the file at `path` (recycled as a spare, or deleted); done in order, later. */
  drop(path: string): void {
    this.lastDrop = this.push({ kind: 'drop', seq: ++this.seq, path });
  }

  /**
   * Resolves once every drop asked for so far is done (at once when none is outstanding):
   * before a write that does not go through the thread, so no drop of its path lands after
   * it. (Every drop, not that path's: no map of paths to keep, and drops are quick.)
   */
  dropsDone(): Promise<void> {
    if (this.lastDrop <= this.completed) return Promise.resolve();
    this.send();
    return this.wait(this.lastDrop, true);
  }

  /** Resolves once every operation asked for so far is done. */
  flush(): Promise<void> {
    if (this.seq <= this.completed) return Promise.resolve();
    const seq = this.push({ kind: 'barrier', seq: ++this.seq });
    this.send();
    return this.wait(seq, true);
  }

  /**
   * Finish what was asked for (waiting `graceMs` at most: a disk that hangs does not hold a
   * stopping worker; what is left is lost like in a crash, and the store's checks at the
   * next start drop what was cut short), then stop the thread.
   */
  async close(graceMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const t = this.thread;
    this.thread = undefined;
    await t?.terminate();
    this.fail('the page writer was closed before it was done');
  }

  private push(op: PageFileOp): number {
    this.queue.push(op);
    if (this.queue.length >= BATCH_OPS) this.send();
    else this.timer ??= setTimeout(() => this.send(), BATCH_DELAY_MS);
    return op.seq;
  }

  private send(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return;
    const ops = this.queue;
    const transfer = this.transfer;
    this.queue = [];
    this.transfer = [];
    const t = this.thread ?? this.start();
    t.ref(); // outstanding work: keep the process alive until the answer
    t.postMessage(ops, transfer);
  }

  private start(): Worker {
    const t = new Worker(this.script, { workerData: { spareDir: this.o.spareDir, maxSpares: this.o.maxSpares } });
    t.on('message', (r: PageFileReply) => this.answered(r));
    const gone = (why: string) => {
      if (this.thread !== t) return;
      this.thread = undefined;
      this.fail(`the page writer thread stopped: ${why}`);
    };
    t.on('error', (e) => gone(e.message));
    t.on('exit', (code) => gone(`exit code ${code}`));
    this.thread = t;
    return t;
  }

  private answered(r: PageFileReply): void {
    for (const [seq, message] of r.errors) this.errors.set(seq, message);
    this.completed = Math.max(this.completed, r.upTo);
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.seq <= this.completed) n++;
    const done = this.waiters.splice(0, n);
    for (const w of done) {
      const message = this.errors.get(w.seq);
      if (message === undefined) w.resolve();
      else {
        this.errors.delete(w.seq);
        w.reject(new Error(message));
      }
    }
    if (this.completed >= this.seq && this.queue.length === 0) this.thread?.unref();
  }

  /** The thread is gone: what it had not answered fails; later operations start a new one. */
  private fail(message: string): void {
    this.completed = this.seq - this.queue.length;
    const waiters = this.waiters.filter((w) => w.seq <= this.completed);
    this.waiters = this.waiters.filter((w) => w.seq > this.completed);
    for (const w of waiters) w.reject(new Error(message));
  }

  private wait(seq: number, quiet = false): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      // waiters stay in sequence order: a barrier or settled() may wait for an earlier seq
      const w = { seq, resolve, reject };
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.seq > seq) i--;
      this.waiters.splice(i, 0, w);
    });
    // barriers and drops only wait: a dead thread is reported by the writes it fails
    return quiet ? p.catch(() => undefined) : p;
  }
}
