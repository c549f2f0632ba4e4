/**
 * Page files of a large drop (`cache free`, a directory deleted or moved through Alluxio)
 * removed a batch at a time, with other work in between, instead of all at once on the event
 * loop: removing one file is a rename and a truncate (or an unlink), 30-40 us each on this
 * VM, so freeing 40,000 pages held the worker's event loop for 1.3 s, and a cache of
 * 200 GiB in 1 MiB pages would be held for seconds.
 *
 * The index forgets the pages at once (no reader can hit them, the quota is released); the
 * files go after, each only if its page was not fetched and written again meanwhile: the
 * check (`dropped`) and the removal are one synchronous step, so a page being rewritten
 * (pending) or rewritten already (indexed again) keeps its new file. A worker that stops
 * before the batches are done finds the files left at its next start and indexes them again
 * (valid pages of their version): they cost disk until evicted or freed again.
 */
export interface BatchedRemovalOptions {
  /** Files removed per turn of the event loop. */
  batch: number;
  /** Whether the page is still dropped (neither being written nor indexed again). */
  dropped(id: string): boolean;
  /** Remove (or recycle) the file; a failure is ignored (the page is no longer indexed). */
  remove(path: string): void;
}

export class BatchedRemoval {
  private queue: { id: string; path: string }[] = [];
  private head = 0;
  /** Files added and files handled (removed or skipped) since the start. */
  private added = 0;
  private done = 0;
  private running = false;
  private waiters: { upTo: number; resolve: () => void }[] = [];

  constructor(private readonly o: BatchedRemovalOptions) {}

  /** Files waiting. */
  get size(): number {
    return this.queue.length - this.head;
  }

  add(id: string, path: string): void {
    this.queue.push({ id, path });
    this.added++;
  }

  /**
   * Remove everything added so far (starting the batches, or joining those under way);
   * resolves once those files are handled. Files added later do not extend the wait.
   */
  flush(): Promise<void> {
    const upTo = this.added;
    if (this.done >= upTo) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ upTo, resolve }));
    if (!this.running) {
      this.running = true;
      void this.run();
    }
    return p;
  }

  private async run(): Promise<void> {
    try {
      while (this.head < this.queue.length) {
        const end = Math.min(this.queue.length, this.head + this.o.batch);
        for (; this.head < end; this.head++, this.done++) {
          const { id, path } = this.queue[this.head]!;
          if (!this.o.dropped(id)) continue;
          try {
            this.o.remove(path);
          } catch {
            // not removable now: the page is no longer indexed, and a rewrite replaces the file
          }
        }
        this.settle();
        if (this.head < this.queue.length) await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.queue = [];
      this.head = 0;
      this.running = false;
      this.settle();
    }
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const left: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.done) w.resolve();
      else left.push(w);
    }
    this.waiters = left;
  }
}
