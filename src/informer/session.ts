/**
 * ONE watch stream, from creation until it ends (etcd3's watch.ts splits its watcher the
 * same way: the stream's life on one side, what the events mean on the other). The session
 *  - creates the watch from `startRevision` with progress notifications on;
 *  - sends a progress request every `progressIntervalMs` and declares the stream dead when
 *    one goes unanswered for `deadStreamTimeoutMs` (a blackholed TCP connection raises no
 *    error, ever);
 *  - where the stream can tell (`quorum`) and the owner asks (`confirmed`): once created and
 *    at every tick, checks that the member behind it is part of a quorum and that the
 *    owner's view holds every config change (a linearizable count of the keys changed after
 *    the view's revision, through the stream's member), within `quorumTimeoutMs`. Only a
 *    confirmation vouches for the owner's view: a member cut off from the majority keeps answering progress requests from
 *    its old state (for 3 election timeouts, until etcd ends streams that require a leader),
 *    and a worker watching it overshot --max-staleness by that (HA probe, 2026-12-03). A
 *    check that fails or is slow only confirms nothing: the view ages, and the stream is
 *    ended by the dead-stream check, by etcd, or once checks have failed for twice their
 *    budget (ending it at the first failed check made a slow but healthy etcd churn: a
 *    review reproduced 20 reconnects in 12 s);
 *  - hands each response's meaning (decisions.ts: classifyResponse) to its owner;
 *  - resolves `ended` once with why it ended (relist, reconnect or stopped). Never rejects.
 * Time comes from the injected Clock: no timer of its own.
 */
import type { IWatchResponse } from 'etcd3';
import type { Clock } from './clock.js';
import { classifyResponse, progressTick, type SessionContext, type WatchEnd, type WatchEvent } from './decisions.js';
import type { WatchStream } from './source.js';

export interface SessionHandlers {
  /** the revision the view has applied now (the session compares against it) */
  revision(): number;
  clusterId(): string;
  /** anything arrived (contact with etcd) */
  heard(now: number): void;
  created(startRevision: number): void;
  events(events: WatchEvent[]): void;
  progress(revision: number): void;
  /**
   * The member behind the stream was part of a quorum at `at` (when the check was sent).
   * Optional: without it (or a stream that cannot tell) no check is made.
   */
  confirmed?(at: number): void;
  /** A check failed after the last one that confirmed (once per such streak): why. */
  unconfirmed?(why: string): void;
}

/** A watch stream silent this long is asked for a progress notification (ms; the default). */
export const PROGRESS_INTERVAL_MS = 2000;
/** A progress request unanswered this long: the stream is dead (ms; the default). */
export const DEAD_STREAM_TIMEOUT_MS = 3000;

/** What a session watches: every key under a prefix, or one key. */
export type WatchRange = { prefix: string } | { key: string };

export interface SessionOptions {
  progressIntervalMs: number;
  deadStreamTimeoutMs: number;
  /** How long one quorum check may take (default: the dead-stream timeout). */
  quorumTimeoutMs?: number;
}

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

const firstLine = (e: unknown): string => (e instanceof Error ? e.message.split('\n')[0]! : String(e));

export class WatchSession {
  readonly ended: Promise<WatchEnd>;
  private finish!: (end: WatchEnd) => void;
  private done = false;
  private hadContact = false;
  private cancelTick: () => void = () => undefined;
  private readonly ctx: SessionContext;
  private lastHeard: number;
  private pendingSince: number | null = null;
  /** This session checks its member's quorum (and so only confirmations vouch for the view). */
  readonly confirms: boolean;
  private checking = false;
  /** The last confirmation (or the stream's start), and whether checks fail since. */
  private confirmedAt: number;
  private failing = false;

  constructor(
    private readonly stream: WatchStream,
    range: string | WatchRange,
    startRevision: number,
    private readonly clock: Clock,
    private readonly opts: SessionOptions,
    private readonly h: SessionHandlers,
  ) {
    this.ctx = { watchId: null, revision: h.revision(), startRevision, clusterId: h.clusterId() };
    this.confirms = typeof stream.quorum === 'function' && typeof h.confirmed === 'function';
    this.confirmedAt = clock.now();
    this.lastHeard = clock.now();
    this.ended = new Promise<WatchEnd>((resolve) => {
      this.finish = (end) => {
        if (this.done) return;
        this.done = true;
        this.cancelTick();
        try {
          stream.cancel();
        } catch {
          /* already gone */
        }
        resolve(end);
      };
    });
    stream.on('data', (res) => this.onData(res));
    stream.on('error', (err) => this.finish({ kind: 'reconnect', why: `watch stream error: ${firstLine(err)}`, hadContact: this.hadContact }));
    stream.on('end', () => this.finish({ kind: 'reconnect', why: 'watch stream ended', hadContact: this.hadContact }));
    this.scheduleTick();
    const r = typeof range === 'string' ? { prefix: range } : range;
    const key = Buffer.from('prefix' in r ? r.prefix : r.key, 'utf8');
    try {
      stream.write({ create_request: { key, ...('prefix' in r ? { range_end: prefixEnd(key) } : {}), start_revision: String(startRevision), progress_notify: true } });
    } catch (e) {
      this.finish({ kind: 'reconnect', why: `cannot create the watch: ${firstLine(e)}`, hadContact: false });
    }
  }

  /** End the session (the informer is stopping). */
  stop(): void {
    this.finish({ kind: 'stopped' });
  }

  private scheduleTick(): void {
    this.cancelTick = this.clock.schedule(this.opts.progressIntervalMs, () => {
      if (this.done) return;
      const now = this.clock.now();
      const t = progressTick({ pendingSince: this.pendingSince, lastHeard: this.lastHeard }, now, this.opts.deadStreamTimeoutMs);
      if (t.kind === 'dead') {
        const why = `watch stream silent for ${t.silentMs} ms (no answer to a progress request)`;
        // The member is hung (or cut off): the next stream goes to another one.
        this.stream.fail?.(why);
        return this.finish({ kind: 'reconnect', why, hadContact: this.hadContact });
      }
      this.checkQuorum(now);
      if (t.kind === 'request') {
        this.pendingSince = now;
        try {
          this.stream.write({ progress_request: {} });
        } catch (e) {
          return this.finish({ kind: 'reconnect', why: `progress request failed: ${firstLine(e)}`, hadContact: this.hadContact });
        }
      }
      this.scheduleTick();
    });
  }

  /**
   * Ask whether the member is part of a quorum (one check at a time); a confirmation goes to
   * the owner. A failure only confirms nothing, until checks have failed for twice their
   * budget: then the stream ends (a re-watch, with the backoff growing), since something
   * keeps failing on this member while its stream answers.
   */
  private checkQuorum(at: number): void {
    if (!this.confirms || this.checking || this.done) return;
    this.checking = true;
    const budget = this.opts.quorumTimeoutMs ?? this.opts.deadStreamTimeoutMs;
    const revision = this.h.revision();
    this.stream.quorum!(budget, revision).then(
      (changed) => {
        this.checking = false;
        if (this.done) return;
        if (changed > 0) {
          // The member is current, the view not yet (changes on their way to it, or a
          // stream that answers and delivers nothing): no confirmation, and a view that
          // stays behind for twice the budget ends the stream, as failed checks do.
          const since = this.clock.now() - this.confirmedAt;
          if (since > 2 * budget) this.finish({ kind: 'reconnect', why: `the watch delivered no change after revision ${revision} for ${since} ms while etcd holds ${changed}`, hadContact: false });
          return;
        }
        this.failing = false;
        this.confirmedAt = at;
        this.h.confirmed!(at);
      },
      (e: unknown) => {
        this.checking = false;
        if (this.done) return;
        const why = firstLine(e);
        if (!this.failing) this.h.unconfirmed?.(why);
        this.failing = true;
        const since = this.clock.now() - this.confirmedAt;
        if (since > 2 * budget) this.finish({ kind: 'reconnect', why: `no quorum confirmed through the watch's member for ${since} ms (${why})`, hadContact: false });
      },
    );
  }

  private onData(res: IWatchResponse): void {
    if (this.done) return;
    const now = this.clock.now();
    this.lastHeard = now;
    this.hadContact = true;
    this.h.heard(now);
    this.ctx.revision = this.h.revision();
    this.ctx.clusterId = this.h.clusterId();
    const m = classifyResponse(res, this.ctx);
    switch (m.kind) {
      case 'relist':
        return this.finish({ kind: 'relist', why: m.why, ...(m.memberBehind ? { memberBehind: true as const } : {}) });
      case 'created':
        this.ctx.watchId = m.watchId;
        this.h.created(this.ctx.startRevision);
        return this.checkQuorum(now);
      case 'progress':
        return this.h.progress(m.revision);
      case 'events':
        return this.h.events(m.events);
      case 'alive':
        return;
    }
  }
}
