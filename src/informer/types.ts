/**
 * The informer's public types: its loop state (a discriminated union), status, the change
 * it publishes, its typed events and its options. Re-exported by informer.ts, which callers
 * import.
 */
import type { Logger } from 'pino';
import type { Snapshot, InvalidEntry } from '../domain/snapshot.js';
import type { Clock } from './clock.js';
import type { ChangeReason } from './view.js';

/**
 * Where the loop is. `status().state` is its `kind`.
 *  - starting: no snapshot yet, first list under way;
 *  - listing: (re)listing without a snapshot after a failure;
 *  - watching: a watch is created and live;
 *  - reconnecting: between streams (backing off, or relisting with a snapshot in hand);
 *  - stopped: for good.
 */
export type LoopState =
  | { kind: 'starting' }
  | { kind: 'listing'; attempt: number }
  | { kind: 'watching'; fromRevision: number; since: number }
  | { kind: 'reconnecting'; attempt: number; why: string; retryAt: number | null }
  | { kind: 'stopped' };

export type InformerState = LoopState['kind'];

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
  /**
   * When the view was last known to be in sync with etcd (ISO time; null: never): a list, or
   * the watch stream's member confirming it is part of a quorum.
   */
  inSyncAt: string | null;
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
  reason: ChangeReason;
  /** Keys (under config/) written or deleted by this change. */
  put: string[];
  deleted: string[];
}

/** The informer's events, typed: `informer.on('snapshot', (c) => ...)` gets a SnapshotChange. */
export type InformerEvents = {
  /** a new snapshot was swapped in */
  snapshot: [change: SnapshotChange];
  /** the applied revision moved without a content change (progress notification) */
  progress: [revision: number];
  state: [state: InformerState, from: InformerState];
  /** a watch was created from this revision */
  watching: [fromRevision: number];
  /** something failed (the message is also in status().lastError) */
  fault: [message: string];
};

export interface InformerOptions {
  log?: Logger;
  /** Send a progress request on the watch stream this often (dead-stream detection). */
  progressIntervalMs?: number;
  /** Declare the stream dead when nothing arrived for this long after a progress request. */
  deadStreamTimeoutMs?: number;
  /**
   * How long after its last answer a live stream vouches for the snapshot (age 0); after
   * that the age counts from that answer. Default: progressIntervalMs + deadStreamTimeoutMs.
   */
  vouchMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Injected time (tests: a fake clock). Default: the system clock. */
  clock?: Clock;
  /** Injected randomness in [0, 1) for backoff jitter. Default: Math.random. */
  random?: () => number;
}
