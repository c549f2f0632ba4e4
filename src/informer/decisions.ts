/**
 * The informer's decisions as pure functions of what it knows (no clock, no random, no I/O),
 * so each is unit-tested on its own (test/informer/decisions.test.ts):
 *  - how long to back off before reconnect attempt N;
 *  - whether a watch stream is dead (no answer to a progress request within a deadline);
 *  - what one watch response means: the watch was created, events to apply, a progress
 *    notification that moves the applied revision, or a reason to relist (compaction, the
 *    cluster changed, the revision went backwards).
 */
import type { IWatchResponse } from 'etcd3';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (1 = first retry): exponential, capped, "equal
 * jitter" (half fixed, half random): never 0, never a thundering herd. `random` in [0, 1).
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: number): number {
  const cap = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return cap / 2 + random * (cap / 2);
}

/** How a watch session ended, and so what the loop does next. */
export type WatchEnd =
  | { kind: 'stopped' }
  /** `memberBehind`: see ResponseMeaning; the relist waits a backoff first. */
  | { kind: 'relist'; why: string; memberBehind?: true }
  | { kind: 'reconnect'; why: string; hadContact: boolean };

export interface LivenessState {
  /** when the last unanswered progress request was sent (null: none outstanding) */
  pendingSince: number | null;
  /** when anything last arrived on the stream */
  lastHeard: number;
}

export type ProgressTick = { kind: 'dead'; silentMs: number } | { kind: 'request' } | { kind: 'wait' };

/**
 * At each progress tick: the stream is dead when a progress request went unanswered for
 * longer than `deadStreamTimeoutMs`; otherwise send a new request when none is outstanding.
 */
export function progressTick(s: LivenessState, now: number, deadStreamTimeoutMs: number): ProgressTick {
  if (s.pendingSince !== null && now - s.pendingSince > deadStreamTimeoutMs && s.lastHeard < s.pendingSince) {
    return { kind: 'dead', silentMs: now - s.lastHeard };
  }
  if (s.pendingSince === null || s.lastHeard >= s.pendingSince) return { kind: 'request' };
  return { kind: 'wait' };
}

/** One event of a watch response, decoded from etcd's wire form. */
export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value: string;
  modRevision: number;
  /** The lease a put was written under ('0': none; absent where it does not matter). */
  lease?: string;
}

export interface SessionContext {
  /** our watch's id once created */
  watchId: string | null;
  /** the revision the view has applied */
  revision: number;
  /** the revision the watch was created from */
  startRevision: number;
  /** etcd's cluster id as last seen ('' unknown) */
  clusterId: string;
}

export type ResponseMeaning =
  | { kind: 'created'; watchId: string }
  /** `memberBehind`: the stream's member reports a revision below the one applied (it is catching up, or the cluster was restored). */
  | { kind: 'relist'; why: string; memberBehind?: true }
  | { kind: 'events'; events: WatchEvent[] }
  /** our own watch's progress notification: every event up to `revision` was delivered */
  | { kind: 'progress'; revision: number }
  /** proof of life only (e.g. the answer to a manual progress request) */
  | { kind: 'alive' };

export function decodeEvents(res: IWatchResponse): WatchEvent[] {
  return (res.events ?? []).map((ev) => ({
    type: String(ev.type) === 'Delete' || String(ev.type) === 'DELETE' ? 'delete' : 'put',
    key: ev.kv.key.toString('utf8'),
    value: ev.kv.value ? ev.kv.value.toString('utf8') : '',
    modRevision: Number(ev.kv.mod_revision ?? 0),
    lease: String(ev.kv.lease ?? '0'),
  }));
}

/** What one watch response means for a session in context `ctx`. */
export function classifyResponse(res: IWatchResponse, ctx: SessionContext): ResponseMeaning {
  const headerRev = Number(res.header?.revision ?? 0);
  const compact = Number(res.compact_revision ?? 0);
  if (res.created) {
    if (res.canceled) {
      return compact > 0 ? { kind: 'relist', why: `revision ${ctx.startRevision} compacted (compact revision ${compact})` } : { kind: 'relist', why: `watch refused: ${res.cancel_reason || 'cancelled'}` };
    }
    const clusterId = String(res.header?.cluster_id ?? '');
    if (ctx.clusterId && clusterId && clusterId !== ctx.clusterId) {
      return { kind: 'relist', why: `etcd cluster id changed (${ctx.clusterId} -> ${clusterId}): a different or restored cluster` };
    }
    if (headerRev < ctx.revision) return { kind: 'relist', why: `etcd revision went backwards (${ctx.revision} -> ${headerRev})`, memberBehind: true };
    return { kind: 'created', watchId: String(res.watch_id) };
  }
  if (res.canceled || compact > 0) {
    return { kind: 'relist', why: compact > 0 ? `watch cancelled: compacted at revision ${compact}` : `watch cancelled: ${res.cancel_reason || 'no reason given'}` };
  }
  const ours = ctx.watchId !== null && String(res.watch_id) === ctx.watchId;
  const events = res.events?.length ?? 0;
  if (headerRev > 0 && headerRev < ctx.revision && events === 0 && ours) {
    return { kind: 'relist', why: `etcd revision went backwards (${ctx.revision} -> ${headerRev})`, memberBehind: true };
  }
  if (events === 0) {
    // A progress notification. Only the server's own per-watcher notifications (our watch
    // id) promise that every earlier event was delivered: etcd sends them only to a watcher
    // in its *synced* group (catch-up finished, nothing pending), through the same
    // per-watcher channel as the events, so one can never overtake events still to come
    // from a catch-up. The answer to a manual progress request (watch id -1 on etcd 3.4)
    // goes through a separate control channel and may arrive ahead of events: it is only a
    // liveness signal and never advances the revision.
    return ours && headerRev > 0 ? { kind: 'progress', revision: headerRev } : { kind: 'alive' };
  }
  return { kind: 'events', events: decodeEvents(res) };
}
