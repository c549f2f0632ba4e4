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
 * (pending) or rewritten already (indexed again) keeps its new file.
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
  private running: Promise<void> | undefined;

  constructor(private readonly o: BatchedRemovalOptions) {}

  /** Files waiting. */
  get size(): number {
    return this.queue.length - this.head;
  }

  add(id: string, path: string): void {
    this.queue.push({ id, path });
  }

  /** Remove everything added so far (joining a removal under way); resolves when none is left. */
  flush(): Promise<void> {
    if (this.running) return this.running.then(() => (this.size > 0 ? this.flush() : undefined));
    if (this.size === 0) return Promise.resolve();
    const run = this.run();
    this.running = run;
    void run.finally(() => {
      if (this.running === run) this.running = undefined;
    });
    return run;
  }

  private async run(): Promise<void> {
    while (this.head < this.queue.length) {
      const end = Math.min(this.queue.length, this.head + this.o.batch);
      for (; this.head < end; this.head++) {
        const { id, path } = this.queue[this.head]!;
        if (!this.o.dropped(id)) continue;
        try {
          this.o.remove(path);
        } catch {
          // not removable now: the page is no longer indexed, and a rewrite replaces the file
        }
      }
      if (this.head < this.queue.length) await new Promise<void>((r) => setImmediate(r));
    }
    this.queue = [];
    this.head = 0;
  }
}
