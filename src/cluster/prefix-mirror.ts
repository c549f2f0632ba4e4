/**
 * An in-memory mirror of one etcd prefix, for data read on every request (the ownership ring,
 * declared object ETags): read the whole prefix, then apply each watch event (a put or a
 * delete of one key) as it comes, and read the whole prefix again after the watch reconnects
 * (events may have been missed) and every `resyncMs` (a watch that stalled silently). While
 * etcd is unreachable the last good copy stays in use.
 */
import type { Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { EtcdConnection } from '../store/connection.js';

export interface PrefixMirrorOptions {
  /** What the mirror holds, for logs and etcd call names ("worker ring"). */
  what: string;
  /** Re-read the prefix at least this often, ms (default 30 s). */
  resyncMs?: number;
  log?: Logger;
  /** Called after every change of the mirror (a full read or an event) with the key -> value map (UTF-8). */
  onRead: (kvs: ReadonlyMap<string, string>) => void;
}

export class PrefixMirror {
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private kvs = new Map<string, string>();

  constructor(private readonly conn: EtcdConnection, private readonly prefix: string, private readonly opts: PrefixMirrorOptions) {}

  /** Read once (a failure is logged and the mirror stays empty), then follow the prefix. */
  async start(): Promise<void> {
    await this.refresh();
    try {
      const w = await this.conn.client.watch().prefix(this.prefix).create();
      if (this.closed) {
        await w.cancel();
        return;
      }
      this.watcher = w;
      w.on('put', (kv) => {
        this.kvs.set(kv.key.toString('utf8'), kv.value.toString('utf8'));
        this.opts.onRead(this.kvs);
      });
      w.on('delete', (kv) => {
        this.kvs.delete(kv.key.toString('utf8'));
        this.opts.onRead(this.kvs);
      });
      w.on('connected', () => void this.refresh()); // after a reconnect: events may have been missed
      w.on('error', (e: Error) => this.opts.log?.warn({ err: e.message }, `${this.opts.what} watch failed; retrying`));
    } catch (e) {
      this.opts.log?.warn({ err: (e as Error).message }, `cannot watch the ${this.opts.what} yet; re-reading it periodically`);
    }
    if (this.closed) return;
    this.timer = setInterval(() => void this.refresh(), this.opts.resyncMs ?? 30_000);
    this.timer.unref();
  }

  /** Re-read the prefix now (coalesced). */
  refresh(): Promise<void> {
    if (this.pending) {
      this.again = true;
      return this.pending;
    }
    this.pending = (async () => {
      try {
        do {
          this.again = false;
          await this.readOnce();
        } while (this.again && !this.closed);
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  private async readOnce(): Promise<void> {
    try {
      const res = await this.conn.call(`read the ${this.opts.what}`, (c) => c.getAll().prefix(this.prefix).exec());
      this.kvs = new Map(res.kvs.map((kv) => [kv.key.toString('utf8'), kv.value.toString('utf8')]));
      this.opts.onRead(this.kvs);
    } catch (e) {
      this.opts.log?.warn({ err: (e as Error).message }, `cannot read the ${this.opts.what}; keeping the last copy`);
    }
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const w = this.watcher;
    this.watcher = undefined;
    await w?.cancel().catch(() => {});
    await this.pending?.catch(() => {});
  }
}
