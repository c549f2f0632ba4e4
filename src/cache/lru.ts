/**
 * A byte-weighted LRU order (pure, no I/O): keys with a weight, least recently used first.
 * A Map keeps insertion order, so "touch" is delete + set and the oldest key is the first.
 * The page store uses one per tier (disk, memory) and does the I/O of evicting itself.
 */
export class Lru<K> {
  private readonly order = new Map<K, number>();
  private total = 0;

  get size(): number {
    return this.order.size;
  }

  /** Sum of the weights of all keys. */
  get weight(): number {
    return this.total;
  }

  has(key: K): boolean {
    return this.order.has(key);
  }

  /** Add (or replace) `key` as the most recently used. */
  set(key: K, weight: number): void {
    const old = this.order.get(key);
    if (old !== undefined) {
      this.total -= old;
      this.order.delete(key);
    }
    this.order.set(key, weight);
    this.total += weight;
  }

  /** Mark `key` most recently used; false when absent. */
  touch(key: K): boolean {
    const w = this.order.get(key);
    if (w === undefined) return false;
    this.order.delete(key);
    this.order.set(key, w);
    return true;
  }

  delete(key: K): boolean {
    const w = this.order.get(key);
    if (w === undefined) return false;
    this.order.delete(key);
    this.total -= w;
    return true;
  }

  /**
   * Keys to evict, oldest first, so that `incoming` more bytes fit under `capacity`
   * (does not remove them: the caller deletes each one it actually evicts).
   */
  victims(incoming: number, capacity: number): K[] {
    const out: K[] = [];
    let over = this.total + incoming - capacity;
    if (over <= 0) return out;
    for (const [k, w] of this.order) {
      out.push(k);
      over -= w;
      if (over <= 0) break;
    }
    return out;
  }

  keys(): IterableIterator<K> {
    return this.order.keys();
  }
}
