/**
 * The config informer: list-then-watch over the cluster's `config/` prefix, in the style of
 * client-go's reflector (and @kubernetes/client-node's ListWatch cache).
 *
 *  1. LIST the prefix at one revision, decode (src/store/codec.ts, the same decoder as the
 *     CLI), build an immutable Snapshot, publish it.
 *  2. WATCH from revision+1 on a raw etcd watch stream. Each watch RESPONSE (etcd delivers a
 *     transaction's events together) is applied as a whole, a new Snapshot is built and
 *     swapped in atomically: never mid-transaction. The applied revision is the highest
 *     event mod_revision applied (not the response header, which during a catch-up from far
 *     behind already carries the store's current revision); only a progress notification
 *     for our own watch moves it further, to the header revision.
 *  3. Faults:
 *     - compaction (the watch is cancelled with compact_revision): RELIST, diff against what
 *       we had (deletes included), re-watch;
 *     - etcd's revision going backwards (restored from a backup / wiped): RELIST;
 *     - a dead stream (no answer to a progress request within a deadline): drop it and
 *       reconnect;
 *     - unreachable etcd: reconnect with exponential backoff and full jitter, meanwhile keep
 *       serving the last good snapshot and report its age.
 *  4. Bad data: a malformed value is logged (once per key and revision) and skipped by
 *     decodeConfig; it never drops the rest of the snapshot.
 *
 * Reusable by the worker and the FUSE daemon: all it needs is an EtcdConnection.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { IWatchResponse, IDuplexStream, IWatchRequest } from 'etcd3';
import { isAlluxioError } from '../domain/errors.js';
import { Snapshot } from '../domain/snapshot.js';
import type { EtcdConnection } from '../store/connection.js';
import { decodeConfig, type DecodedConfig, type InvalidEntry } from '../store/codec.js';

export type InformerState = 'starting' | 'listing' | 'watching' | 'reconnecting' | 'stopped';

export interface InformerStatus {
  state: InformerState;
  /** etcd revision the current snapshot reflects (0 before the first list). */
  revision: number;
  /** Whether a snapshot has been loaded at all. */
  ready: boolean;
  /**
   * How stale the snapshot may be, ms: 0 while the watch is live, otherwise the time since
   * the informer was last known to be in sync with etcd.
   */
  snapshotAgeMs: number;
  /** ms since anything was last heard from etcd (list, watch event or progress). */
  lastContactAgoMs: number | null;
  /** Snapshots published (list + relists + watch responses that changed something). */
  reloads: number;
  relists: number;
  reconnects: number;
  lastError: string | null;
  lastErrorAt: string | null;
  invalid: InvalidEntry[];
  mounts: number;
  rules: number;
}

export interface SnapshotChange {
  snapshot: Snapshot;
  previous: Snapshot | undefined;
  revision: number;
  reason: 'list' | 'watch' | 'relist';
  /** Keys (under config/) written or deleted by this change. */
  put: string[];
  deleted: string[];
}

export interface InformerOptions {
  log?: Logger;
  /** Send a progress request on the watch stream this often (dead-stream detection). */
  progressIntervalMs?: number;
  /** Declare the stream dead when nothing arrived for this long after a progress request. */
  deadStreamTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

type WatchEnd =
  | { kind: 'stopped' }
  | { kind: 'relist'; why: string }
  | { kind: 'reconnect'; why: string; hadContact: boolean };

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

export class ConfigInformer extends EventEmitter {
  private state: InformerState = 'starting';
  private kvs = new Map<string, string>();
  private clusterId = '';
  private decodeCache = new Map<string, { value: string; d: DecodedConfig }>();
  private snap: Snapshot | undefined;
  private revision = 0;
  private reloads = 0;
  private relists = 0;
  private reconnects = 0;
  private lastError: string | null = null;
  private lastErrorAt: number | null = null;
  private lastContact: number | null = null;
  /** Last moment we were known to be in sync (set while watching / after a list). */
  private inSyncAt: number | null = null;
  private invalid: InvalidEntry[] = [];
  private loggedInvalid = new Set<string>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  private wake: (() => void) | undefined;
  private readyWaiters: { resolve: (s: Snapshot) => void; reject: (e: unknown) => void }[] = [];
  private readonly progressIntervalMs: number;
  private readonly deadStreamTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly log: Logger | undefined;

  constructor(private readonly conn: EtcdConnection, opts: InformerOptions = {}) {
    super();
    this.log = opts.log;
    this.progressIntervalMs = opts.progressIntervalMs ?? 2000;
    this.deadStreamTimeoutMs = opts.deadStreamTimeoutMs ?? 3000;
    this.backoffInitialMs = opts.backoffInitialMs ?? 100;
    this.backoffMaxMs = opts.backoffMaxMs ?? 5000;
  }

  /** Start listing and watching in the background. Idempotent. */
  start(): this {
    if (!this.loop) this.loop = this.run();
    return this;
  }

  /** Resolves with the first snapshot (or immediately if one is loaded). */
  ready(): Promise<Snapshot> {
    if (this.snap) return Promise.resolve(this.snap);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** The current snapshot (one read per request), or undefined before the first list. */
  current(): Snapshot | undefined {
    return this.snap;
  }

  appliedRevision(): number {
    return this.revision;
  }

  snapshotAgeMs(now = Date.now()): number {
    if (!this.snap) return Number.POSITIVE_INFINITY;
    if (this.state === 'watching' && this.lastContact !== null && now - this.lastContact <= this.progressIntervalMs + this.deadStreamTimeoutMs) return 0;
    return this.inSyncAt === null ? Number.POSITIVE_INFINITY : Math.max(0, now - this.inSyncAt);
  }

  status(now = Date.now()): InformerStatus {
    const age = this.snapshotAgeMs(now);
    return {
      state: this.state,
      revision: this.revision,
      ready: this.snap !== undefined,
      snapshotAgeMs: Number.isFinite(age) ? age : -1,
      lastContactAgoMs: this.lastContact === null ? null : now - this.lastContact,
      reloads: this.reloads,
      relists: this.relists,
      reconnects: this.reconnects,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt === null ? null : new Date(this.lastErrorAt).toISOString(),
      invalid: this.invalid,
      mounts: this.snap ? this.snap.mounts.length : 0,
      rules: this.snap ? this.snap.rules.length : 0,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.setState('stopped');
    this.wake?.();
    try {
      this.stream?.cancel();
    } catch {
      /* already gone */
    }
    for (const w of this.readyWaiters.splice(0)) w.reject(new Error('informer stopped'));
    await this.loop?.catch(() => undefined);
  }

  private setState(s: InformerState): void {
    if (this.state === s) return;
    if (this.state === 'stopped') return;
    const from = this.state;
    this.state = s;
    if (s === 'watching') this.inSyncAt = Date.now();
    this.emit('state', s, from);
  }

  private recordError(e: unknown, what: string): void {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    this.lastError = `${what}: ${msg}`;
    this.lastErrorAt = Date.now();
    this.log?.warn({ err: msg, what, revision: this.revision, state: this.state }, `informer: ${what} failed`);
    this.emit('fault', this.lastError);
  }

  private async run(): Promise<void> {
    let needList = true;
    let attempt = 0;
    while (!this.stopped) {
      try {
        if (needList) {
          this.setState(this.snap ? 'reconnecting' : this.state === 'starting' ? 'starting' : 'listing');
          await this.list(this.snap ? 'relist' : 'list');
          needList = false;
          attempt = 0;
        }
        if (this.stopped) break;
        const end = await this.watch();
        if (end.kind === 'stopped') break;
        this.reconnects++;
        if (end.kind === 'relist') {
          this.log?.info({ why: end.why, revision: this.revision }, 'informer: relisting');
          needList = true;
          attempt = 0;
          continue; // relist immediately
        }
        this.recordError(new Error(end.why), 'watch');
        if (end.hadContact) attempt = 0;
      } catch (e) {
        if (this.stopped) break;
        this.recordError(isAlluxioError(e) ? e : e, needList ? 'list' : 'watch');
      }
      if (this.stopped) break;
      this.setState('reconnecting');
      attempt++;
      const cap = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(attempt - 1, 16));
      const delay = cap / 2 + Math.random() * (cap / 2); // "equal jitter": never 0, never a herd
      await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** LIST at one revision, diff against what we had, publish. */
  private async list(reason: 'list' | 'relist'): Promise<void> {
    const { layout } = this.conn;
    const res = await this.conn.call('list config', (c) => c.getAll().prefix(layout.configPrefix).exec());
    if (this.stopped) return;
    const revision = Number(res.header.revision);
    this.clusterId = String(res.header.cluster_id ?? '') || this.clusterId;
    const next = new Map<string, string>();
    for (const kv of res.kvs) next.set(kv.key.toString('utf8'), kv.value.toString('utf8'));
    const put: string[] = [];
    const deleted: string[] = [];
    for (const [k, v] of next) if (this.kvs.get(k) !== v) put.push(k);
    for (const k of this.kvs.keys()) if (!next.has(k)) deleted.push(k);
    if (reason === 'relist') this.relists++;
    if (reason === 'relist' && revision < this.revision) {
      this.log?.warn({ from: this.revision, to: revision }, 'informer: etcd revision went backwards (restored or wiped); replacing the whole view');
    }
    this.lastContact = Date.now();
    this.publish(next, revision, reason, put, deleted, true);
  }

  private publish(kvs: Map<string, string>, revision: number, reason: SnapshotChange['reason'], put: string[], deleted: string[], force: boolean): void {
    const decoded = this.decode(kvs);
    for (const bad of decoded.invalid) {
      const tag = `${bad.key}@${kvs.get(bad.key) ?? ''}`;
      if (!this.loggedInvalid.has(tag)) {
        this.loggedInvalid.add(tag);
        this.log?.warn({ key: bad.key, error: bad.error, revision }, 'informer: skipping malformed config entry');
      }
    }
    let snapshot: Snapshot;
    try {
      snapshot = Snapshot.build(revision, { mounts: decoded.mounts, rules: decoded.rules, invalid: decoded.invalid });
    } catch (e) {
      // Keep serving the last good snapshot; do not claim the revision as applied.
      this.kvs = kvs;
      this.recordError(e, `build snapshot at revision ${revision}`);
      return;
    }
    const previous = this.snap;
    this.kvs = kvs;
    this.invalid = decoded.invalid;
    this.snap = snapshot; // the atomic swap: requests that already hold `previous` finish on it
    this.revision = revision;
    this.inSyncAt = Date.now();
    if (force || put.length > 0 || deleted.length > 0 || !previous) this.reloads++;
    const change: SnapshotChange = { snapshot, previous, revision, reason, put, deleted };
    for (const w of this.readyWaiters.splice(0)) w.resolve(snapshot);
    this.emit('snapshot', change);
  }

  /**
   * decodeConfig over the whole prefix, memoised per key: decoding is a pure function of
   * (key, value), so only keys whose value changed are decoded again (the CLI decodes the
   * same way, with the same function).
   */
  private decode(kvs: Map<string, string>): DecodedConfig {
    const { layout } = this.conn;
    const next = new Map<string, { value: string; d: DecodedConfig }>();
    const out: DecodedConfig = { mounts: [], rules: [], invalid: [] };
    for (const [k, v] of kvs) {
      let e = this.decodeCache.get(k);
      if (!e || e.value !== v) e = { value: v, d: decodeConfig(layout, [[k, v]]) };
      next.set(k, e);
      for (const m of e.d.mounts) out.mounts.push(m);
      for (const r of e.d.rules) out.rules.push(r);
      for (const i of e.d.invalid) out.invalid.push(i);
    }
    this.decodeCache = next;
    return out;
  }

  /** Bump the applied revision without a content change (progress notification). */
  private advance(revision: number): void {
    if (revision <= this.revision || !this.snap) return;
    this.revision = revision;
    this.inSyncAt = Date.now();
    this.emit('progress', revision);
  }

  /** One watch stream, until it ends. Never throws. */
  private async watch(): Promise<WatchEnd> {
    const { layout } = this.conn;
    const key = Buffer.from(layout.configPrefix, 'utf8');
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.conn.client.watchClient.watch();
    } catch (e) {
      return { kind: 'reconnect', why: `cannot open a watch stream: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, hadContact: false };
    }
    if (this.stopped) {
      stream.cancel();
      return { kind: 'stopped' };
    }
    this.stream = stream;
    const startRevision = this.revision + 1;
    return new Promise<WatchEnd>((resolve) => {
      let watchId: string | null = null;
      let hadContact = false;
      let lastHeard = Date.now();
      let pendingSince: number | null = null;
      let done = false;
      const finish = (end: WatchEnd): void => {
        if (done) return;
        done = true;
        clearInterval(timer);
        this.stream = undefined;
        try {
          stream.cancel();
        } catch {
          /* ignore */
        }
        resolve(this.stopped ? { kind: 'stopped' } : end);
      };
      const timer = setInterval(() => {
        if (this.stopped) return finish({ kind: 'stopped' });
        const now = Date.now();
        if (pendingSince !== null && now - pendingSince > this.deadStreamTimeoutMs && lastHeard < pendingSince) {
          return finish({ kind: 'reconnect', why: `watch stream silent for ${now - lastHeard} ms (no answer to a progress request)`, hadContact });
        }
        if (pendingSince === null || lastHeard >= pendingSince) {
          pendingSince = now;
          try {
            stream.write({ progress_request: {} });
          } catch (e) {
            finish({ kind: 'reconnect', why: `progress request failed: ${(e as Error).message}`, hadContact });
          }
        }
      }, this.progressIntervalMs);
      timer.unref?.();
      stream.on('data', (res: IWatchResponse) => {
        if (done) return;
        const now = Date.now();
        lastHeard = now;
        this.lastContact = now;
        if (this.state === 'watching') this.inSyncAt = now; // the live stream vouches for the snapshot
        hadContact = true;
        const headerRev = Number(res.header?.revision ?? 0);
        if (res.created) {
          if (res.canceled) {
            const compact = Number(res.compact_revision ?? 0);
            return finish(compact > 0 ? { kind: 'relist', why: `revision ${startRevision} compacted (compact revision ${compact})` } : { kind: 'relist', why: `watch refused: ${res.cancel_reason || 'cancelled'}` });
          }
          watchId = String(res.watch_id);
          const clusterId = String(res.header?.cluster_id ?? '');
          if (this.clusterId && clusterId && clusterId !== this.clusterId) {
            return finish({ kind: 'relist', why: `etcd cluster id changed (${this.clusterId} -> ${clusterId}): a different or restored cluster` });
          }
          if (headerRev < this.revision) {
            return finish({ kind: 'relist', why: `etcd revision went backwards (${this.revision} -> ${headerRev})` });
          }
          this.setState('watching');
          this.emit('watching', startRevision);
          return;
        }
        if (res.canceled || Number(res.compact_revision ?? 0) > 0) {
          const compact = Number(res.compact_revision ?? 0);
          return finish({ kind: 'relist', why: compact > 0 ? `watch cancelled: compacted at revision ${compact}` : `watch cancelled: ${res.cancel_reason || 'no reason given'}` });
        }
        if (headerRev > 0 && headerRev < this.revision && (res.events?.length ?? 0) === 0 && String(res.watch_id) === watchId) {
          return finish({ kind: 'relist', why: `etcd revision went backwards (${this.revision} -> ${headerRev})` });
        }
        if (!res.events || res.events.length === 0) {
          // A progress notification. Only the server's own per-watcher notifications (our
          // watch id) promise that every earlier event was delivered: etcd sends them only
          // to a watcher in its *synced* group (catch-up finished, nothing pending), through
          // the same per-watcher channel as the events, so one can never overtake events
          // still to come from a catch-up. The answer to a manual progress request (watch
          // id -1 on etcd 3.4) goes through a separate control channel and may arrive ahead
          // of events: it is only a liveness signal and never advances the revision.
          if (watchId !== null && String(res.watch_id) === watchId && headerRev > 0) this.advance(headerRev);
          return;
        }
        this.applyResponse(res);
      });
      stream.on('error', (err: Error) => finish({ kind: 'reconnect', why: `watch stream error: ${err.message.split('\n')[0]}`, hadContact }));
      stream.on('end', () => finish({ kind: 'reconnect', why: 'watch stream ended', hadContact }));
      try {
        stream.write({
          create_request: {
            key,
            range_end: prefixEnd(key),
            start_revision: String(startRevision),
            progress_notify: true,
          },
        });
      } catch (e) {
        finish({ kind: 'reconnect', why: `cannot create the watch: ${(e as Error).message}`, hadContact: false });
      }
    });
  }

  /**
   * Apply one watch response (one or more whole transactions) and publish once.
   *
   * The applied revision comes from the events themselves (the highest mod_revision applied),
   * never from the response header: while etcd catches a watcher up from far behind
   * (syncWatchers, at most 1000 revisions per response), EVERY catch-up response carries the
   * store's current revision in its header, so taking the header would claim revisions whose
   * events are still to come (and then discard them as "replayed"). Replays are skipped per
   * event (mod_revision at or below what is applied), never per response.
   */
  private applyResponse(res: IWatchResponse): void {
    const next = new Map(this.kvs);
    const put: string[] = [];
    const deleted: string[] = [];
    let maxRev = this.revision;
    let applied = 0;
    for (const ev of res.events) {
      const key = ev.kv.key.toString('utf8');
      const rev = Number(ev.kv.mod_revision ?? 0);
      if (rev <= this.revision) continue; // replayed: already part of the applied view
      applied++;
      if (rev > maxRev) maxRev = rev;
      if (String(ev.type) === 'Delete' || String(ev.type) === 'DELETE') {
        if (next.delete(key)) deleted.push(key);
      } else {
        next.set(key, ev.kv.value.toString('utf8'));
        put.push(key);
      }
    }
    if (applied === 0) return; // the whole response was a replay
    this.publish(next, maxRev, 'watch', put, deleted, false);
  }
}
