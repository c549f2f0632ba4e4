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
 * Operations are sent in batches (a message costs the event loop about as much as a dozen
 * operations in it: 12 us per operation sent alone, 5 us in messages of 16, in a one-off loop on
 * this VM): while a message is with the thread, new operations wait for its answer and then
 * go together (up to BATCH_OPS: more are sent at once); an idle thread gets the operations
 * of the current turn of the event loop (setImmediate). So a lone write is not delayed, and
 * under load the batches grow by themselves. A flush, or a write that waits for drops,
 * sends at once. The thread answers each message with the last sequence number done and the
 * errors.
 *
 * Failures: the thread keeps the process alive only while operations are outstanding. If it
 * dies, the writes it had not answered fail (their pages stay uncached), and the next thread
 * first removes every file those writes and drops named (a write may have landed, a drop may
 * not have: either way the index no longer names the file). A thread that dies before it is
 * ready is started again only after a back-off (RESTART_BACKOFF_MS, doubling); meanwhile
 * writes fail at once. After close(), writes fail at once and nothing starts a thread.
 */
import { Worker } from 'node:worker_threads';

/** Operations per message at most. */
const BATCH_OPS = 256;
/** Files remembered for a next thread to remove, at most (the next start's scan covers more). */
const MAX_CLEANUP = 100_000;
/** The first wait before starting a thread again after one died before it was ready (ms). */
const RESTART_BACKOFF_MS = 1000;
const MAX_RESTART_BACKOFF_MS = 60_000;
/** A dropped file that could not be removed is asked for again after this long (ms). */
const DROP_RETRY_MS = 5_000;

/** One operation, as the thread receives it. */
export type PageFileOp =
  | { kind: 'write'; seq: number; path: string; data: Uint8Array }
  | { kind: 'drop'; seq: number; path: string }
  | { kind: 'barrier'; seq: number };

/** What the thread is started with. */
export interface PageWriterThreadData {
  spareDir: string;
  maxSpares: number;
  /** Files to remove before anything else (what a thread that died left unanswered). */
  cleanup: string[];
}

/** The thread's messages: ready once started, then one answer per message it was sent. */
export type PageFileReply =
  | { ready: true }
  | { ready?: undefined; upTo: number; errors: [seq: number, message: string][]; dropErrors: [seq: number, path: string, message: string][] };

export interface PageWriterOptions {
  /** The directory of spare (recycled) page files, owned by the thread (spare-files.ts). */
  spareDir: string;
  maxSpares: number;
  /** The thread's script (default: page-writer-thread.js next to this module or bundle). */
  script?: URL;
  /** Told of each dropped file that could not be removed (it is asked for again later). */
  onDropError?: (path: string, message: string) => void;
  /** How long a file that could not be removed waits before it is asked for again (ms). */
  dropRetryMs?: number;
}

interface Waiter {
  seq: number;
  resolve(): void;
  reject(e: Error): void;
}

export class PageWriter {
  private thread: Worker | undefined;
  /** The thread said it is ready (it opened its spare directory). */
  private ready = false;
  private readyWaiters: { resolve(): void; reject(e: Error): void }[] = [];
  private seq = 0;
  /** Done by the thread (every operation up to here). */
  private completed = 0;
  private queue: PageFileOp[] = [];
  private transfer: ArrayBuffer[] = [];
  /** A send is scheduled for the end of this turn of the loop. */
  private scheduled = false;
  /** Messages sent to the thread and not answered yet. */
  private inFlight = 0;
  /** Callers waiting for an operation, in sequence order. */
  private waiters: Waiter[] = [];
  private errors = new Map<number, string>();
  /** Writes and drops sent and not answered yet (seq, path), in sequence order. */
  private unanswered: { seq: number; path: string; write: boolean }[] = [];
  /** Files a dead thread may have left: the next thread removes them first. */
  private cleanup = new Set<string>();
  /** The running thread was given files to remove first and has not said it is ready. */
  private cleaning = false;
  /** Why the last operations failed without an answer (a dead thread, a back-off, close). */
  private lastFailMessage = '';
  /** The last drop asked for. */
  private lastDrop = 0;
  /**
   * Dropped files the thread could not remove (a read-only or failing disk): asked for
   * again every `dropRetryMs` until they go, unless the page is written there again first.
   * Without it they stayed on disk, outside the quota and unindexed, until a restart.
   */
  private stuck = new Set<string>();
  private stuckTimer: NodeJS.Timeout | undefined;

  /** Files waiting to be removed again (a drop or a write of theirs failed). */
  get removalsPending(): number {
    return this.stuck.size;
  }
  /** No thread is started before this time (ms since the epoch), after failed starts. */
  private restartAt = 0;
  private backoffMs = RESTART_BACKOFF_MS;
  private lastFailure = '';
  private closed = false;
  private readonly script: URL;

  constructor(private readonly o: PageWriterOptions) {
    this.script = o.script ?? new URL('./page-writer-thread.js', import.meta.url);
  }

  /**
   * Start the thread and resolve once it is ready; rejects when it cannot start (its script
   * missing, the spare directory not usable): the store's open fails with that reason.
   */
  prepare(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the page writer is closed'));
    const t = this.thread ?? this.start();
    if (this.ready) return Promise.resolve();
    t.ref(); // until it is ready (then idle: unref'd, it does not keep the process alive)
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Write `parts` as the whole file at `path` (its directory exists); resolves once written. */
  write(path: string, parts: readonly Buffer[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the page writer is closed'));
    let total = 0;
    for (const p of parts) total += p.length;
    // Its own ArrayBuffer of exactly this size, handed to the thread without a copy.
    const data = Buffer.allocUnsafeSlow(total);
    let off = 0;
    for (const p of parts) off += p.copy(data, off);
    this.transfer.push(data.buffer as ArrayBuffer);
    this.stuck.delete(path); // (the write replaces the file: no later drop may remove it)
    const seq = this.push({ kind: 'write', seq: ++this.seq, path, data });
    return this.wait(seq);
  }

  /** Remove the file at `path` (recycled as a spare, or deleted); done in order, later. */
  drop(path: string): void {
    if (this.closed) return; // (a stopping worker: the next start's scan indexes what is left)
    this.lastDrop = this.push({ kind: 'drop', seq: ++this.seq, path });
  }

  /**
   * Resolves once no drop asked for so far can land on `path` any more: before a write that
   * does not go through the thread. Waits for every drop outstanding (not only that path's:
   * no map of paths to keep, and drops are quick), and for a starting thread's clean-up; a
   * clean-up not handed to a thread yet, or a drop to ask for again, forgets `path` (the
   * write replaces the file).
   */
  async dropsDone(path: string): Promise<void> {
    this.cleanup.delete(path);
    this.stuck.delete(path);
    if (this.thread && this.cleaning) await new Promise<void>((resolve) => this.readyWaiters.push({ resolve, reject: () => resolve() }));
    if (this.lastDrop <= this.completed) return;
    const done = this.wait(this.lastDrop, true);
    this.send();
    await done;
    this.stuck.delete(path); // (a drop of it that failed was answered meanwhile: the write replaces the file)
  }

  /** Resolves once every operation asked for so far is done (or failed). */
  flush(): Promise<void> {
    if (this.seq <= this.completed) return Promise.resolve();
    const seq = this.push({ kind: 'barrier', seq: ++this.seq });
    const done = this.wait(seq, true);
    this.send();
    return done;
  }

  /**
   * Refuse new work, finish what was asked for (waiting `graceMs` at most: a disk that hangs
   * does not hold a stopping worker; what is left is lost like in a crash, and the store's
   * checks at the next start drop what was cut short), then stop the thread (without
   * waiting for a thread stuck in a system call: it cannot be interrupted).
   */
  async close(graceMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stuckTimer);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    await Promise.race([this.flush(), grace]);
    clearTimeout(timer);
    const t = this.thread;
    this.thread = undefined;
    this.fail('the page writer was closed before it was done');
    for (const w of this.readyWaiters.splice(0)) w.reject(new Error('the page writer is closed'));
    if (!t) return;
    t.unref();
    const stopped = t.terminate().then(() => undefined, () => undefined);
    await Promise.race([stopped, new Promise<void>((r) => setTimeout(r, Math.min(graceMs, 1000)).unref())]);
  }

  private push(op: PageFileOp): number {
    this.queue.push(op);
    if (this.queue.length >= BATCH_OPS) this.send();
    else if (this.inFlight === 0 && !this.scheduled) {
      // an idle thread: this turn's operations go together; otherwise they wait for the answer
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        if (this.inFlight === 0) this.send();
      });
    }
    return op.seq;
  }

  private send(): void {
    if (this.queue.length === 0) return;
    if (!this.thread && (this.closed || Date.now() < this.restartAt)) {
      // no thread may start now: what was asked for fails (a dropped file is left for the
      // next thread, or the next start's scan)
      for (const op of this.queue) if (op.kind === 'drop') this.remember(op.path);
      this.queue = [];
      this.transfer = [];
      this.fail(this.closed ? 'the page writer is closed' : `the page writer thread is not running (${this.lastFailure}); retrying after ${this.backoffMs} ms`);
      return;
    }
    const ops = this.queue;
    const transfer = this.transfer;
    this.queue = [];
    this.transfer = [];
    for (const op of ops) if (op.kind !== 'barrier') this.unanswered.push({ seq: op.seq, path: op.path, write: op.kind === 'write' });
    const t = this.thread ?? this.start();
    t.ref(); // outstanding work: keep the process alive until the answer
    this.inFlight++;
    t.postMessage(ops, transfer);
  }

  /** A file for the next thread to remove first (bounded: beyond it, the next start's scan). */
  private remember(path: string): void {
    if (this.cleanup.size < MAX_CLEANUP) this.cleanup.add(path);
  }

  private start(): Worker {
    const cleanup = [...this.cleanup];
    this.cleanup.clear();
    this.cleaning = cleanup.length > 0;
    this.ready = false;
    const data: PageWriterThreadData = { spareDir: this.o.spareDir, maxSpares: this.o.maxSpares, cleanup };
    const t = new Worker(this.script, { workerData: data });
    t.on('message', (r: PageFileReply) => {
      if (this.thread !== t) return;
      if (r.ready) {
        this.ready = true;
        this.cleaning = false;
        this.backoffMs = RESTART_BACKOFF_MS;
        for (const w of this.readyWaiters.splice(0)) w.resolve();
        if (this.completed >= this.seq && this.queue.length === 0) t.unref();
      } else this.answered(r);
    });
    const gone = (why: string) => {
      if (this.thread !== t) return;
      this.thread = undefined;
      this.lastFailure = why;
      if (!this.ready) {
        // died while starting: again only after a back-off (a missing script or an unusable
        // spare directory would otherwise restart it every batch)
        for (const path of cleanup) this.remember(path);
        this.restartAt = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(MAX_RESTART_BACKOFF_MS, this.backoffMs * 2);
        for (const w of this.readyWaiters.splice(0)) w.reject(new Error(`the page writer thread did not start: ${why}`));
      }
      this.cleaning = false;
      for (const u of this.unanswered) this.remember(u.path);
      this.unanswered = [];
      this.fail(`the page writer thread stopped: ${why}`);
      // what waited for the dead thread's answer: to a new thread (or failed, in a back-off)
      if (this.queue.length > 0) this.send();
    };
    t.on('error', (e) => gone(e.message));
    t.on('exit', (code) => gone(`exit code ${code}`));
    this.thread = t;
    return t;
  }

  private answered(r: { upTo: number; errors: [number, string][]; dropErrors: [number, string, string][] }): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    // (before `unanswered` is trimmed: it tells whether the path was written again since)
    for (const [seq, path, message] of r.dropErrors) this.dropFailed(seq, path, message);
    // a failed write's file could not be written and maybe not removed either (the thread
    // tried): removed later like a failed drop, unless written again
    for (const [seq] of r.errors) {
      const u = this.unanswered.find((x) => x.seq === seq && x.write);
      if (u) this.removeLater(seq, u.path);
    }
    for (const [seq, message] of r.errors) this.errors.set(seq, message);
    this.completed = Math.max(this.completed, r.upTo);
    let a = 0;
    while (a < this.unanswered.length && this.unanswered[a]!.seq <= this.completed) a++;
    if (a > 0) this.unanswered.splice(0, a);
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
    // what waited for this answer goes now (before the waiters' continuations add more)
    if (this.inFlight === 0 && this.queue.length > 0) this.send();
    if (this.completed >= this.seq && this.queue.length === 0) this.thread?.unref();
  }

  /** A dropped file the thread could not remove: asked for again later (in order, like any drop). */
  private dropFailed(seq: number, path: string, message: string): void {
    this.o.onDropError?.(path, message); // (the store counts them: alluxio_cache_page_remove_errors_total)
    this.removeLater(seq, path);
  }

  /**
   * Remove `path` later (operation `seq` left it), unless a write of it was asked for after
   * `seq`: that write replaces the file, and a removal now would delete the new page.
   */
  private removeLater(seq: number, path: string): void {
    if (this.closed || this.stuck.size >= MAX_CLEANUP) return; // (beyond it: the next start's scan)
    if (this.unanswered.some((u) => u.write && u.seq > seq && u.path === path)) return;
    if (this.queue.some((op) => op.kind === 'write' && op.path === path)) return;
    this.stuck.add(path);
    this.stuckTimer ??= setTimeout(() => {
      this.stuckTimer = undefined;
      const again = [...this.stuck];
      this.stuck.clear();
      for (const p of again) this.drop(p);
    }, this.o.dropRetryMs ?? DROP_RETRY_MS).unref();
  }

  /** What was sent and not answered fails (the operations still queued are not affected). */
  private fail(message: string): void {
    this.lastFailMessage = message;
    this.inFlight = 0;
    this.completed = this.seq - this.queue.length;
    this.errors.clear();
    const waiters = this.waiters.filter((w) => w.seq <= this.completed);
    this.waiters = this.waiters.filter((w) => w.seq > this.completed);
    for (const w of waiters) w.reject(new Error(message));
  }

  private wait(seq: number, quiet = false): Promise<void> {
    // already settled without an answer (failed in the call that queued it: a back-off, a
    // closed writer, a thread that could not be started)
    if (seq <= this.completed) return quiet ? Promise.resolve() : Promise.reject(new Error(this.lastFailMessage));
    const p = new Promise<void>((resolve, reject) => {
      // waiters stay in sequence order: a barrier may wait for an earlier seq than the last
      const w = { seq, resolve, reject };
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.seq > seq) i--;
      this.waiters.splice(i, 0, w);
    });
    // barriers and drops only wait: a dead thread is reported by the writes it fails
    return quiet ? p.catch(() => undefined) : p;
  }
}
