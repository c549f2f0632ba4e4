/**
 * An immutable string-keyed map that is cheap to derive from: entries live in 256 buckets
 * (small Maps), and `edit()` copies only the buckets it writes to plus the array of bucket
 * references. A Snapshot holds its rule index in these, so the next revision's index (one
 * rule changed) shares everything else with the one still serving requests, instead of
 * copying 10,000 entries per change. Iteration order is by bucket, not insertion.
 */
const BITS = 8;
const BUCKETS = 1 << BITS;

/** A cheap hash of a few characters and the length (keys differ at their ends: ids, paths). */
function slot(k: string): number {
  const n = k.length;
  let h = Math.imul(n, 0x9e3779b1);
  if (n > 0) h = Math.imul(h ^ k.charCodeAt(n - 1), 0x85ebca6b);
  if (n > 1) h = Math.imul(h ^ k.charCodeAt(n - 2), 0xc2b2ae35);
  if (n > 2) h = Math.imul(h ^ k.charCodeAt(n - 3), 0x27d4eb2f);
  if (n > 3) h = Math.imul(h ^ k.charCodeAt(n >> 1), 0x165667b1);
  h ^= h >>> 15;
  return (h >>> (32 - BITS)) & (BUCKETS - 1);
}

const NONE: ReadonlyMap<string, never> = new Map<string, never>();

export interface CowEditor<V> {
  get(k: string): V | undefined;
  has(k: string): boolean;
  set(k: string, v: V): void;
  delete(k: string): boolean;
  /** The new map; the editor must not be used after. */
  done(): CowMap<V>;
}

export class CowMap<V> implements Iterable<[string, V]> {
  private constructor(
    private readonly buckets: readonly ReadonlyMap<string, V>[],
    readonly size: number,
  ) {}

  static empty<V>(): CowMap<V> {
    return new CowMap<V>(new Array(BUCKETS).fill(NONE), 0);
  }

  static from<V>(entries: Iterable<readonly [string, V]>): CowMap<V> {
    const e = CowMap.empty<V>().edit();
    for (const [k, v] of entries) e.set(k, v);
    return e.done();
  }

  get(k: string): V | undefined {
    return this.buckets[slot(k)]!.get(k);
  }

  has(k: string): boolean {
    return this.buckets[slot(k)]!.has(k);
  }

  /** An editor over a copy-on-write view of this map (this map never changes). */
  edit(): CowEditor<V> {
    const buckets = [...this.buckets];
    const copied = new Set<number>();
    let size = this.size;
    const writable = (i: number): Map<string, V> => {
      if (!copied.has(i)) {
        copied.add(i);
        buckets[i] = new Map(buckets[i]!);
      }
      return buckets[i] as Map<string, V>;
    };
    return {
      get: (k) => buckets[slot(k)]!.get(k),
      has: (k) => buckets[slot(k)]!.has(k),
      set(k, v) {
        const i = slot(k);
        if (!buckets[i]!.has(k)) size++;
        writable(i).set(k, v);
      },
      delete(k) {
        const i = slot(k);
        if (!buckets[i]!.has(k)) return false;
        size--;
        return writable(i).delete(k);
      },
      done: () => new CowMap(buckets, size),
    };
  }

  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (const b of this.buckets) if (b.size > 0) yield* b;
  }

  *keys(): IterableIterator<string> {
    for (const b of this.buckets) if (b.size > 0) yield* b.keys();
  }

  *values(): IterableIterator<V> {
    for (const b of this.buckets) if (b.size > 0) yield* b.values();
  }
}
