/**
 * The config informer: list-then-watch over the cluster's `config/` prefix, in the style of
 * client-go's reflector and @kubernetes/client-node's ListWatch cache (injected list and
 * watch functions, typed events). Three parts, each in its own file:
 *  - source.ts: LIST and OPEN WATCH, injected (etcdSource(conn) is the real one);
 *  - view.ts: the PURE view (apply a watch response, diff a relist, decode memo -> an
 *    immutable Snapshot, derived incrementally from the previous one);
 *  - session.ts + decisions.ts: one watch stream's life, and the pure decisions (backoff,
 *    dead stream, what a response means);
 * and this file: the LOOP, its explicit state (`LoopState`, types.ts) and the public API
 * the worker and the FUSE daemon use. Time and randomness are injected (clock.ts), so the loop is
 * unit-tested with a fake clock (test/informer/loop.test.ts) as well as against a real
 * etcd with real faults (test/informer/informer.test.ts, catch-up.test.ts).
 *
 *  1. LIST at one revision, publish a Snapshot.
 *  2. WATCH from revision+1. Each response is applied whole; the applied revision is the
 *     highest event mod_revision applied; only a progress notification of our own watch
 *     moves it further, to the header revision.
 *  3. Faults: compaction / revision going backwards / a different cluster -> RELIST at
 *     once (diff, deletes included); a dead or broken stream, unreachable etcd -> reconnect
 *     with exponential backoff and jitter, serving the last good snapshot meanwhile and
 *     reporting its age.
 *  4. A malformed value is logged once and skipped; it never drops the rest.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Snapshot } from '../domain/snapshot.js';
import type { EtcdConnection } from '../store/connection.js';
import { sleep, systemClock, type Clock } from './clock.js';
import { backoffDelay, type WatchEnd, type WatchEvent } from './decisions.js';
import { DEAD_STREAM_TIMEOUT_MS, PROGRESS_INTERVAL_MS, WatchSession } from './session.js';
import { etcdSource, isInformerSource, type InformerSource } from './source.js';
import type { InformerOptions, InformerEvents, InformerStatus, LoopState, SnapshotChange } from './types.js';
import { applyEvents, applyList, emptyView, type ConfigView, type ViewStep } from './view.js';

export type { InformerEvents, InformerOptions, InformerState, InformerStatus, LoopState, SnapshotChange } from './types.js';

/** The watch liveness defaults (they live beside the session that uses them). */
export { DEAD_STREAM_TIMEOUT_MS, PROGRESS_INTERVAL_MS };

/** The reconnect to another member after a dead stream is detected, allowed for in livenessWithin (ms). */
const RECONNECT_ALLOWANCE_MS = 1000;
/** The shortest dead-stream timeout livenessWithin sets (ms): shorter ones misfire on a loaded machine. */
const MIN_DEAD_STREAM_TIMEOUT_MS = 1000;

/**
 * The watch settings that keep a snapshot age limit (--max-staleness): a live stream
 * vouches for the snapshot (age 0) for at most half the limit after its last answer, and is
 * asked for progress twice in that time, so a healthy one never ages. With the defaults it
 * vouched for 5 s (progress every 2 s, dead after 3 s more), and a worker cut off silently
 * kept a limit below that only after 5 s (the HA probe of 2026-12-02).
 *
 * A hung member (SIGSTOP, a black-holed path) is found by a progress request that goes
 * unanswered: up to one interval until the request, the dead-stream timeout, and one
 * interval until the check, then a re-watch on another member. That must fit in the limit,
 * or a worker refuses requests while a majority serves (the HA probe of 2026-12-02: a 4 s
 * limit gave 503s for up to 1.2 s when one member of three hung). So the timeout is what
 * the limit leaves after two intervals and a reconnect allowance, between 1 s and the
 * default 3 s: 1 s for a 4 s limit, 2 s for 6 s, 3 s from 8 s on. A limit below 4 s cannot
 * ride out a hung member (docs/worker-runtime.md); a shorter timeout misfires on a busy
 * machine, and a misfire costs a re-watch from the applied revision (no relist).
 */
export function livenessWithin(maxAgeMs: number): Pick<InformerOptions, 'progressIntervalMs' | 'vouchMs' | 'deadStreamTimeoutMs'> {
  const vouchMs = Math.max(1, Math.min(PROGRESS_INTERVAL_MS + DEAD_STREAM_TIMEOUT_MS, Math.floor(maxAgeMs / 2)));
  const progressIntervalMs = Math.min(PROGRESS_INTERVAL_MS, Math.max(1, Math.floor(vouchMs / 2)));
  const fits = maxAgeMs - 2 * progressIntervalMs - RECONNECT_ALLOWANCE_MS;
  const deadStreamTimeoutMs = Math.min(DEAD_STREAM_TIMEOUT_MS, Math.max(MIN_DEAD_STREAM_TIMEOUT_MS, fits));
  return { progressIntervalMs, vouchMs, deadStreamTimeoutMs };
}

interface Counters {
  reloads: number;
  relists: number;
  reconnects: number;
  lastError: string | null;
  lastErrorAt: number | null;
  /** last time anything was heard from etcd */
  lastContact: number | null;
  /** last moment the view was known to be in sync with etcd */
  inSyncAt: number | null;
  /** the current stream's last quorum confirmation (when it was sent; null: none yet) */
  confirmedAt: number | null;
}

export class ConfigInformer extends EventEmitter<InformerEvents> {
  private loopState: LoopState = { kind: 'starting' };
  private view: ConfigView = emptyView();
  private counters: Counters = { reloads: 0, relists: 0, reconnects: 0, lastError: null, lastErrorAt: null, lastContact: null, inSyncAt: null, confirmedAt: null };
  private loop: Promise<void> | undefined;
  private session: WatchSession | undefined;
  private wake: (() => void) | undefined;
  private readyWaiters: { resolve: (s: Snapshot) => void; reject: (e: unknown) => void }[] = [];
  private readonly source: InformerSource;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly progressIntervalMs: number;
  private readonly deadStreamTimeoutMs: number;
  private readonly vouchMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly log: Logger | undefined;

  /** `from`: an etcd connection, or any InformerSource (list + open watch). */
  constructor(from: EtcdConnection | InformerSource, opts: InformerOptions = {}) {
    super();
    this.source = isInformerSource(from) ? from : etcdSource(from);
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.progressIntervalMs = opts.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.deadStreamTimeoutMs = opts.deadStreamTimeoutMs ?? DEAD_STREAM_TIMEOUT_MS;
    this.vouchMs = opts.vouchMs ?? this.progressIntervalMs + this.deadStreamTimeoutMs;
    this.backoff = { initialMs: opts.backoffInitialMs ?? 100, maxMs: opts.backoffMaxMs ?? 5000 };
  }

  /** Start listing and watching in the background. Idempotent. */
  start(): this {
    if (!this.loop) this.loop = this.run();
    return this;
  }

  /** Resolves with the first snapshot (or immediately if one is loaded). */
  ready(): Promise<Snapshot> {
    if (this.view.snapshot) return Promise.resolve(this.view.snapshot);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** The current snapshot (one read per request), or undefined before the first list. */
  current(): Snapshot | undefined {
    return this.view.snapshot;
  }

  appliedRevision(): number {
    return this.view.revision;
  }

  /** The loop's state, as a value (tests and diagnostics). */
  loopStatus(): LoopState {
    return this.loopState;
  }

  snapshotAgeMs(now = this.clock.now()): number {
    if (!this.view.snapshot) return Number.POSITIVE_INFINITY;
    const { lastContact, inSyncAt, confirmedAt } = this.counters;
    // A live stream vouches: by its member's last quorum confirmation where the session
    // checks one (a member cut off from the majority still answers), else by its last answer.
    const vouched = this.session?.confirms ? confirmedAt : lastContact;
    if (this.loopState.kind === 'watching' && vouched !== null && now - vouched <= this.vouchMs) return 0;
    return inSyncAt === null ? Number.POSITIVE_INFINITY : Math.max(0, now - inSyncAt);
  }

  status(now = this.clock.now()): InformerStatus {
    const age = this.snapshotAgeMs(now);
    const c = this.counters;
    const snap = this.view.snapshot;
    return {
      state: this.loopState.kind,
      revision: this.view.revision,
      ready: snap !== undefined,
      snapshotAgeMs: Number.isFinite(age) ? age : -1,
      lastContactAgoMs: c.lastContact === null ? null : now - c.lastContact,
      inSyncAt: c.inSyncAt === null ? null : new Date(c.inSyncAt).toISOString(),
      reloads: c.reloads,
      relists: c.relists,
      reconnects: c.reconnects,
      lastError: c.lastError,
      lastErrorAt: c.lastErrorAt === null ? null : new Date(c.lastErrorAt).toISOString(),
      invalid: snap ? [...snap.invalid] : [],
      mounts: snap ? snap.mounts.length : 0,
      rules: snap ? snap.rules.length : 0,
    };
  }

  async stop(): Promise<void> {
    if (this.loopState.kind === 'stopped') return;
    this.setState({ kind: 'stopped' });
    this.wake?.();
    this.session?.stop();
    for (const w of this.readyWaiters.splice(0)) w.reject(new Error('informer stopped'));
    await this.loop?.catch(() => undefined);
  }

  private get stopped(): boolean {
    return this.loopState.kind === 'stopped';
  }

  private setState(next: LoopState): void {
    const from = this.loopState.kind;
    if (from === 'stopped') return;
    this.loopState = next;
    // (a stream that checks its member's quorum vouches once confirmed, not by being created)
    if (next.kind === 'watching' && !this.session?.confirms) this.counters.inSyncAt = this.clock.now();
    if (next.kind !== from) this.emit('state', next.kind, from);
  }

  private recordError(e: unknown, what: string): void {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    // "the circuit breaker is open" only says a member failed moments ago: keep what it was
    // (no leader, no answer, ...) as the last error operators and the 503s see.
    const previous = this.counters.lastError;
    this.counters.lastError =
      /circuit breaker is open/.test(msg) && previous !== null
        ? `${previous.replace(/ \(then: members skipped while they recover\)$/, '')} (then: members skipped while they recover)`
        : `${what}: ${msg}`;
    this.counters.lastErrorAt = this.clock.now();
    this.log?.warn({ err: msg, what, revision: this.view.revision, state: this.loopState.kind }, `informer: ${what} failed`);
    this.emit('fault', this.counters.lastError);
  }

  private async run(): Promise<void> {
    let needList = true;
    let attempt = 0;
    let why = '';
    while (!this.stopped) {
      try {
        if (needList) {
          if (this.view.snapshot) this.setState({ kind: 'reconnecting', attempt, why: why || 'relisting', retryAt: null });
          else if (this.loopState.kind !== 'starting') this.setState({ kind: 'listing', attempt });
          await this.list(this.view.snapshot ? 'relist' : 'list');
          needList = false;
          attempt = 0;
        }
        if (this.stopped) break;
        const end = await this.watch();
        if (end.kind === 'stopped') break;
        this.counters.reconnects++;
        if (end.kind === 'relist') {
          this.log?.info({ why: end.why, revision: this.view.revision }, 'informer: relisting');
          needList = true;
          why = end.why;
          // A member behind the applied revision (catching up after a restart, or a follower
          // a moment behind the leader the list read through) would answer the next stream
          // the same way: list and watch alternated with no pause until it caught up. So
          // that relist waits a backoff (a cluster restored to an earlier revision is found
          // by it all the same); any other relists at once.
          if (!end.memberBehind) {
            attempt = 0;
            continue;
          }
        } else {
          why = end.why;
          this.recordError(new Error(end.why), 'watch');
          if (end.hadContact) attempt = 0;
        }
      } catch (e) {
        if (this.stopped) break;
        why = e instanceof Error ? e.message.split('\n')[0]! : String(e);
        this.recordError(e, needList ? 'list' : 'watch');
      }
      if (this.stopped) break;
      attempt++;
      const delay = backoffDelay(attempt, this.backoff, this.random());
      this.setState({ kind: 'reconnecting', attempt, why, retryAt: this.clock.now() + delay });
      const s = sleep(this.clock, delay);
      this.wake = s.wake;
      await s.done;
      this.wake = undefined;
    }
  }

  private async list(reason: 'list' | 'relist'): Promise<void> {
    const res = await this.source.list();
    if (this.stopped) return;
    if (reason === 'relist') this.counters.relists++;
    if (reason === 'relist' && res.revision < this.view.revision) {
      this.log?.warn({ from: this.view.revision, to: res.revision }, 'informer: etcd revision went backwards (restored or wiped); replacing the whole view');
    }
    this.counters.lastContact = this.clock.now();
    this.take(applyList(this.view, this.source.layout, res, reason), true);
  }

  /** Swap in what a view step produced, and tell the listeners. */
  private take(step: ViewStep, force: boolean): void {
    if (step.kind === 'unchanged') return;
    if (step.kind === 'failed') {
      this.view = step.view; // values taken in; the last good snapshot and its revision stay
      this.recordError(step.error, `build snapshot at revision ${step.revision}`);
      return;
    }
    for (const bad of step.newlyInvalid) this.log?.warn({ key: bad.key, error: bad.error, revision: step.revision }, 'informer: skipping malformed config entry');
    this.view = step.view; // the atomic swap: requests that already hold `previous` finish on it
    this.counters.inSyncAt = this.clock.now();
    if (force || step.put.length > 0 || step.deleted.length > 0 || !step.previous) this.counters.reloads++;
    const change: SnapshotChange = { snapshot: step.snapshot, previous: step.previous, revision: step.revision, reason: step.reason, put: step.put, deleted: step.deleted };
    for (const w of this.readyWaiters.splice(0)) w.resolve(step.snapshot);
    this.emit('snapshot', change);
  }

  /** One watch session, until it ends. Never throws. */
  private async watch(): Promise<WatchEnd> {
    let stream;
    try {
      stream = await this.source.openWatch();
    } catch (e) {
      return { kind: 'reconnect', why: `cannot open a watch stream: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, hadContact: false };
    }
    if (this.stopped) {
      stream.cancel();
      return { kind: 'stopped' };
    }
    const session = new WatchSession(stream, this.source.layout.configPrefix, this.view.revision + 1, this.clock, { progressIntervalMs: this.progressIntervalMs, deadStreamTimeoutMs: this.deadStreamTimeoutMs, quorumTimeoutMs: this.vouchMs }, {
      revision: () => this.view.revision,
      clusterId: () => this.view.clusterId,
      heard: (now) => {
        this.counters.lastContact = now;
        if (this.loopState.kind === 'watching' && !session.confirms) this.counters.inSyncAt = now; // the live stream vouches for the snapshot
      },
      confirmed: (at) => {
        this.counters.confirmedAt = at;
        if (this.loopState.kind === 'watching') this.counters.inSyncAt = Math.max(this.counters.inSyncAt ?? at, at);
      },
      unconfirmed: (why) => this.recordError(new Error(why), 'quorum check of the watch stream'),
      created: (from) => {
        this.setState({ kind: 'watching', fromRevision: from, since: this.clock.now() });
        this.emit('watching', from);
      },
      events: (events: WatchEvent[]) => this.take(applyEvents(this.view, this.source.layout, events), false),
      progress: (revision) => this.advance(revision),
    });
    this.session = session;
    this.counters.confirmedAt = null;
    const end = await session.ended;
    this.session = undefined;
    return this.stopped ? { kind: 'stopped' } : end;
  }

  /** Bump the applied revision without a content change (progress notification). */
  private advance(revision: number): void {
    if (revision <= this.view.revision || !this.view.snapshot) return;
    this.view = { ...this.view, revision };
    if (!this.session?.confirms) this.counters.inSyncAt = this.clock.now();
    this.emit('progress', revision);
  }
}
