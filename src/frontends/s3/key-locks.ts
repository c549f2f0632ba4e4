/**
 * Per-key serialisation of commits inside one worker: conditional writes (If-None-Match: *,
 * If-Match) check and commit under the lock of the target file, so two racing writers to one
 * key cannot both see "absent". A body streams in before the lock is taken (WriteOptions
 * aroundCommit): a stalled client holds no key. Keyed by mount + location (what is written), so two
 * requested keys that a rule maps to one file share the lock. Not a cluster-wide lock:
 * writers on different workers are not serialised (docs/s3-api.md).
 */
export class KeyLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Run `f` when every earlier holder of `id` has finished. */
  async run<T>(id: string, f: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(id) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((res) => (release = res));
    const tail = prev.then(() => mine);
    this.tails.set(id, tail);
    await prev;
    try {
      return await f();
    } finally {
      release();
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }

  /** Keys currently held or waited for (tests). */
  get size(): number {
    return this.tails.size;
  }
}

/** The lock id of a data target: its mount and location. */
export function lockIdOf(t: { mount: { path: string }; rel: readonly string[] }): string {
  return `${t.mount.path}\u0000${t.rel.join('/')}`;
}
