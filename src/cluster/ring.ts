/**
 * The ownership ring as a process sees it (docs/cluster-cache.md): the live workers that hold
 * a page cache, read from their leased membership records and kept current by a mirror of
 * /alluxio/<cluster>/workers/ (./prefix-mirror.ts). A record that appears or disappears (a
 * lease expiring when a worker dies) changes the ring within the lease TTL. While etcd is
 * unreachable the last ring stays in use: reads then fail over peer by peer
 * (src/cache/peer-client.ts).
 */
import type { Logger } from 'pino';
import type { EtcdConnection } from '../store/connection.js';
import { placementOrder, shares } from '../domain/placement.js';
import { PrefixMirror } from './prefix-mirror.js';
import { endpointsOf, placementName, type MemberRecord, type WorkerEndpoints, type WorkerRecord } from './record.js';

/** One worker of the ring: its endpoints and its placement name. */
export interface RingMember extends WorkerEndpoints {
  id: string;
  /** `host:restPort`: what the placement function hashes. */
  name: string;
  /**
   * Which process holds the name (its record's pid and start time): a worker restarted
   * under the same name is another incarnation, and what was learnt of the one before (it did
   * not confirm a change) is not held against it.
   */
  incarnation?: string;
}

/** Who owns a key, as every reader of the cluster cache asks it. */
export interface Ring {
  /** The ring's members in the order they should serve `key` (first = owner); [] = no ring. */
  order(key: string): RingMember[];
  /** Every member (sorted by name). */
  current(): readonly RingMember[];
  /** The placement name of this process when it is a ring member, else undefined. */
  readonly selfName: string | undefined;
  /** This process's share of the key space (undefined when it is not a member). */
  selfShare(): number | undefined;
}

export interface WorkerRingOptions {
  /** This worker's placement name (absent in a FUSE daemon). */
  selfName?: string;
  /** Re-read the prefix at least this often, ms (default 30 s). */
  resyncMs?: number;
  log?: Logger;
}

/** The ring members in a listing of worker records: those that say they hold a cache. */
export function ringMembers(values: readonly string[]): RingMember[] {
  const out = new Map<string, RingMember>();
  for (const v of values) {
    let r: Partial<WorkerRecord>;
    try {
      r = JSON.parse(v) as Partial<WorkerRecord>;
    } catch {
      continue;
    }
    if (r.cache !== true || typeof r.id !== 'string' || typeof r.host !== 'string' || !r.restPort) continue;
    const e = endpointsOf(r as Partial<MemberRecord>);
    const name = placementName(e.host, e.restPort);
    out.set(name, { id: r.id, name, ...e, ...(r.pid !== undefined || r.startedAt !== undefined ? { incarnation: `${String(r.pid)}@${String(r.startedAt)}` } : {}) });
  }
  return [...out.values()].sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')));
}

/** Keys whose owner order a ring remembers (oldest forgotten first). */
const ORDER_MEMO_KEYS = 10_000;

export class WorkerRing implements Ring {
  private members: RingMember[] = [];
  private byName = new Map<string, RingMember>();
  private shareMemo: { of: readonly RingMember[]; shares: Map<string, number> } | undefined;
  private orderMemo: { of: readonly RingMember[]; orders: Map<string, RingMember[]> } = { of: [], orders: new Map() };
  private readonly mirror: PrefixMirror;
  readonly selfName: string | undefined;

  constructor(conn: EtcdConnection, private readonly opts: WorkerRingOptions = {}) {
    this.selfName = opts.selfName;
    this.mirror = new PrefixMirror(conn, conn.layout.workersPrefix, {
      what: 'worker ring',
      ...(opts.resyncMs !== undefined ? { resyncMs: opts.resyncMs } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      onRead: (kvs) => this.update(ringMembers([...kvs.values()])),
    });
  }

  /** Read the members once (failures are logged, the ring stays empty), then watch. */
  start(): Promise<void> {
    return this.mirror.start();
  }

  stop(): Promise<void> {
    return this.mirror.stop();
  }

  current(): readonly RingMember[] {
    return this.members;
  }

  order(key: string): RingMember[] {
    if (this.members.length === 0) return [];
    if (this.members.length === 1) return [this.members[0]!];
    // Every read asks (often twice); hashing each member with the key costs more than the
    // rest of a warm small read. Remembered per ring (a change of members starts afresh).
    if (this.orderMemo.of !== this.members) this.orderMemo = { of: this.members, orders: new Map() };
    const memo = this.orderMemo.orders;
    let order = memo.get(key);
    if (!order) {
      order = placementOrder(
        this.members.map((m) => m.name),
        key,
      ).map((n) => this.byName.get(n)!);
      if (memo.size >= ORDER_MEMO_KEYS) memo.delete(memo.keys().next().value as string);
      memo.set(key, order);
    }
    return order;
  }

  selfShare(): number | undefined {
    return this.selfName === undefined ? undefined : this.shares().get(this.selfName);
  }

  /** Each member's share of the key space (SHARE_SAMPLE_KEYS sample keys; computed once per ring). */
  shares(): Map<string, number> {
    if (!this.shareMemo || this.shareMemo.of !== this.members) this.shareMemo = { of: this.members, shares: shares(this.members.map((m) => m.name)) };
    return this.shareMemo.shares;
  }

  private update(next: RingMember[]): void {
    const before = this.members.map((m) => `${m.name}/${m.id}`).join(' ');
    const after = next.map((m) => `${m.name}/${m.id}`).join(' ');
    this.members = next;
    this.byName = new Map(next.map((m) => [m.name, m]));
    if (before !== after) {
      this.opts.log?.info({ members: next.map((m) => m.name) }, 'worker ring changed');
    }
  }
}
