/**
 * A byte-weighted LRU order (pure, no I/O): keys with a weight, least recently used first.
 * A map from key to a node of a doubly linked list, oldest at the head: `touch` is one
 * lookup and a few pointer moves. (A Map alone, touched by delete + set, cost four hash
 * operations and a rehash now and then on every cache hit, twice per memory hit: docs/cache.md
 * "The warm path".) The page store uses one per tier (disk, memory) and does the I/O of
 * evicting itself.
 */
interface Node<K> {
  key: K;
  weight: number;
  prev: Node<K> | undefined;
  next: Node<K> | undefined;
}

export class Lru<K> {
  private readonly nodes = new Map<K, Node<K>>();
  /** Least recently used. */
  private head: Node<K> | undefined;
  /** Most recently used. */
  private tail: Node<K> | undefined;
  private total = 0;

  get size(): number {
    return this.nodes.size;
  }

  /** Sum of the weights of all keys. */
  get weight(): number {
    return this.total;
  }

  has(key: K): boolean {
    return this.nodes.has(key);
  }

  /** Add (or replace) `key` as the most recently used. */
  set(key: K, weight: number): void {
    const old = this.nodes.get(key);
    if (old !== undefined) {
      this.total += weight - old.weight;
      old.weight = weight;
      this.toTail(old);
      return;
    }
    const n: Node<K> = { key, weight, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    this.nodes.set(key, n);
    this.total += weight;
  }

  /** Mark `key` most recently used; false when absent. */
  touch(key: K): boolean {
    const n = this.nodes.get(key);
    if (n === undefined) return false;
    this.toTail(n);
    return true;
  }

  delete(key: K): boolean {
    const n = this.nodes.get(key);
    if (n === undefined) return false;
    this.unlink(n);
    this.nodes.delete(key);
    this.total -= n.weight;
    return true;
  }

  /**
   * Keys to evict, oldest first, so that `incoming` more bytes fit under `capacity`
   * (does not remove them: the caller deletes each one it actually evicts).
   */
  victims(incoming: number, capacity: number): K[] {
    const out: K[] = [];
    let over = this.total + incoming - capacity;
    for (let n = this.head; n !== undefined && over > 0; n = n.next) {
      out.push(n.key);
      over -= n.weight;
    }
    return out;
  }

  /** The keys, least recently used first (as they are now: deleting while iterating is safe). */
  keys(): IterableIterator<K> {
    const out: K[] = [];
    for (let n = this.head; n !== undefined; n = n.next) out.push(n.key);
    return out[Symbol.iterator]();
  }

  private toTail(n: Node<K>): void {
    if (this.tail === n) return;
    this.unlink(n);
    n.prev = this.tail;
    n.next = undefined;
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
  }

  private unlink(n: Node<K>): void {
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = undefined;
    n.next = undefined;
  }
}
