/**
 * An in-memory mirror of one etcd range (a prefix, or one key), for data read on every
 * request (the ownership ring, declared object ETags) or watched for a change (a member's own
 * record): list, then watch from the revision after it, with the config informer's watch
 * session (../informer/session.ts), so the same faults end the same way:
 *  - a compacted revision, another cluster or a revision going backwards: read the range
 *    again at once (etcd3's own Watcher gave up for good on a watch compacted while it was
 *    disconnected, and the mirror then lived on its periodic re-read);
 *  - a stream that goes silent (a hung or cut-off member): found by an unanswered progress
 *    request, and the next stream goes to another member;
 *  - a broken stream or an unreachable etcd: watch again from the applied revision, with
 *    backoff and jitter.
 * The first read is bounded by the call deadline and `start` never waits on a stream (a
 * hung member held a worker's start for good); `stop` cancels without waiting for an answer
 * (a hung member held a worker's exit for the full 10 s). The range is re-read every
 * `resyncMs` as well. While etcd is unreachable the last good copy stays in use.
 */
import type { Logger } from 'pino';
import type { EtcdConnection } from '../store/connection.js';
import { sleep, systemClock, type Clock } from '../informer/clock.js';
import { backoffDelay, type WatchEvent } from '../informer/decisions.js';
import { DEAD_STREAM_TIMEOUT_MS, PROGRESS_INTERVAL_MS, WatchSession, type WatchRange } from '../informer/session.js';

export interface PrefixMirrorOptions {
  /** What the mirror holds, for logs and etcd call names ("worker ring"). */
  what: string;
  /** Re-read the range at least this often, ms (default 30 s). */
  resyncMs?: number;
  /** The range is the one key named, not every key under it as a prefix. */
  exactKey?: boolean;
  log?: Logger;
  /** Called after every change of the mirror (a full read or events) with the key -> value map (UTF-8). */
  onRead: (kvs: ReadonlyMap<string, string>) => void;
  /** Called for each change applied, after onRead: a watch event, or a difference a read found (a put carries its lease). */
  onEvent?: (ev: WatchEvent) => void;
  /** Liveness of the watch stream (ms; the informer's defaults). */
  progressIntervalMs?: number;
  deadStreamTimeoutMs?: number;
  clock?: Clock;
}

export class PrefixMirror {
  private kvs = new Map<string, string>();
  /** The etcd revision the mirror reflects (0: never read). */
  private revision = 0;
  private clusterId = '';
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private loop: Promise<void> | undefined;
  private session: WatchSession | undefined;
  private wake: (() => void) | undefined;
  private readonly clock: Clock;
  private readonly range: WatchRange;

  constructor(private readonly conn: EtcdConnection, private readonly prefix: string, private readonly opts: PrefixMirrorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.range = opts.exactKey ? { key: prefix } : { prefix };
  }

  /** Read once (a failure is logged and the mirror stays empty), then follow the range in the background. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.closed || this.loop) return;
    this.loop = this.run();
    this.timer = setInterval(() => void this.refresh(), this.opts.resyncMs ?? 30_000);
    this.timer.unref();
  }

  /** Re-read the range now (coalesced). */
  refresh(force = false): Promise<void> {
    if (this.pending) {
      this.again = true;
      return this.pending;
    }
    this.pending = (async () => {
      try {
        do {
          this.again = false;
          await this.readOnce(force);
        } while (this.again && !this.closed);
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /**
   * One read of the whole range. Not taken when the watch has applied a later revision
   * meanwhile (it would undo those events), unless `force` (a relist: another cluster, or one
   * restored to an earlier revision). True when read.
   */
  private async readOnce(force: boolean): Promise<boolean> {
    try {
      const res = await this.conn.call(`read the ${this.opts.what}`, (c) => (this.opts.exactKey ? c.get(this.prefix).exec() : c.getAll().prefix(this.prefix).exec()));
      const revision = Number(res.header.revision);
      if (this.closed || (!force && revision < this.revision)) return false;
      const before = this.kvs;
      this.kvs = new Map(res.kvs.map((kv) => [kv.key.toString('utf8'), kv.value.toString('utf8')]));
      this.revision = revision;
      this.clusterId = String(res.header.cluster_id ?? '');
      this.opts.onRead(this.kvs);
      // What the read changed, as the events it stands for (a watch event it overtook is
      // dropped by the revision filter, so onEvent hears of every change once either way).
      if (this.opts.onEvent) {
        for (const kv of res.kvs) {
          const key = kv.key.toString('utf8');
          const value = kv.value.toString('utf8');
          if (before.get(key) !== value) this.opts.onEvent({ type: 'put', key, value, modRevision: Number(kv.mod_revision), lease: String(kv.lease ?? '0') });
        }
        for (const key of before.keys()) if (!this.kvs.has(key)) this.opts.onEvent({ type: 'delete', key, value: '', modRevision: revision });
      }
      return true;
    } catch (e) {
      if (!this.closed) this.opts.log?.warn({ err: (e as Error).message }, `cannot read the ${this.opts.what}; keeping the last copy`);
      return false;
    }
  }

  /** Watch from the revision after the one read, until stopped. */
  private async run(): Promise<void> {
    let attempt = 0;
    let relist = this.revision === 0;
    while (!this.closed) {
      if (relist) {
        if (!(await this.readOnceCoalesced())) {
          await this.backoff(++attempt);
          continue;
        }
        relist = false;
      }
      let stream;
      try {
        stream = await this.conn.openWatch();
      } catch (e) {
        this.opts.log?.warn({ err: (e as Error).message }, `cannot watch the ${this.opts.what}; retrying`);
        await this.backoff(++attempt);
        continue;
      }
      if (this.closed) {
        stream.cancel();
        break;
      }
      const session = new WatchSession(
        stream,
        this.range,
        this.revision + 1,
        this.clock,
        { progressIntervalMs: this.opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS, deadStreamTimeoutMs: this.opts.deadStreamTimeoutMs ?? DEAD_STREAM_TIMEOUT_MS },
        {
          revision: () => this.revision,
          clusterId: () => this.clusterId,
          heard: () => undefined,
          created: () => {
            if (attempt > 0) this.opts.log?.info({ revision: this.revision }, `watching the ${this.opts.what} again`);
            attempt = 0;
          },
          events: (events) => this.apply(events),
          progress: (revision) => {
            if (revision > this.revision) this.revision = revision;
          },
        },
      );
      this.session = session;
      const end = await session.ended;
      this.session = undefined;
      if (end.kind === 'stopped' || this.closed) break;
      if (end.kind === 'relist') {
        this.opts.log?.info({ why: end.why, revision: this.revision }, `reading the ${this.opts.what} again`);
        relist = true;
        // (a member behind: after a backoff, as the informer does)
        if (end.memberBehind) await this.backoff(++attempt);
        else attempt = 0;
        continue;
      }
      this.opts.log?.warn({ err: end.why }, `${this.opts.what} watch ended; watching again`);
      if (end.hadContact) attempt = 0;
      await this.backoff(++attempt);
    }
  }

  /** A forced read through the coalescing of `refresh` (a periodic one may be running). */
  private async readOnceCoalesced(): Promise<boolean> {
    await this.pending?.catch(() => undefined);
    return this.readOnce(true);
  }

  /** One response's events, those after the revision the mirror already holds (a read may have overtaken them). */
  private apply(events: WatchEvent[]): void {
    const base = this.revision;
    const applied = events.filter((ev) => ev.modRevision > base);
    for (const ev of applied) {
      if (ev.type === 'put') this.kvs.set(ev.key, ev.value);
      else this.kvs.delete(ev.key);
      this.revision = Math.max(this.revision, ev.modRevision);
    }
    if (applied.length === 0) return;
    this.opts.onRead(this.kvs);
    for (const ev of applied) this.opts.onEvent?.(ev);
  }

  private async backoff(attempt: number): Promise<void> {
    if (this.closed) return;
    const s = sleep(this.clock, backoffDelay(attempt, { initialMs: 100, maxMs: 5000 }, Math.random()));
    this.wake = s.wake;
    await s.done;
    this.wake = undefined;
  }

  /** Stop following: the stream is cancelled without waiting for the member's answer. */
  stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.session?.stop();
    this.wake?.();
    // (a read in flight is not awaited: it ends at its deadline, and its answer is dropped)
    return Promise.resolve();
  }
}
