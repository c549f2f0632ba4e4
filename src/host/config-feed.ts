/**
 * What every host process (the worker, the FUSE daemon) does with the cluster config, in
 * ONE place:
 *
 *   informer (list-then-watch etcd)  ->  snapshot (read once per request, behind THE
 *   staleness check)  ->  membership record (the applied revision and watch state, so
 *   `--wait` and a migration's wait count this process)
 *
 * plus the UFS adapters the snapshot's mounts need (a mount that changed URI or went away
 * keeps its adapter for a grace period, so reads still streaming through it finish).
 *
 * The host adds only what is its own: the worker its HTTP servers, metrics and logs; the
 * FUSE daemon its kernel mount, its caches and the wait for the first snapshot.
 */
import type { Logger } from 'pino';
import type { MemberRecord } from '../cluster/record.js';
import { AlluxioError } from '../domain/errors.js';
import type { ParsedMount } from '../domain/mounts.js';
import type { Snapshot } from '../domain/snapshot.js';
import { ConfigInformer, livenessWithin, type InformerOptions, type SnapshotChange } from '../informer/informer.js';
import type { EtcdConnection } from '../store/connection.js';
import { UfsRegistry, type UfsRegistryOptions } from '../ufs/registry.js';
import type { UfsAdapter } from '../ufs/types.js';
import { Membership } from './membership.js';

/** The smallest --max-staleness (ms): its watch then asks etcd for progress every 250 ms. */
export const MIN_STALENESS_MS = 1000;

/** Refuse a --max-staleness below MIN_STALENESS_MS (InvalidArgument, exit 2); 0 or none: no limit. */
export function checkMaxStaleness(ms: number | undefined, what: string): void {
  if (ms !== undefined && ms > 0 && ms < MIN_STALENESS_MS) {
    throw new AlluxioError('InvalidArgument', `--max-staleness ${ms} ms is below ${MIN_STALENESS_MS} ms: the ${what} could not tell a live etcd from a lost one that fast`);
  }
}

export interface ConfigFeedOptions {
  /** The host, as named in error messages: "worker", "FUSE daemon". */
  what: string;
  log: Logger;
  /** Informer tuning and its logger. */
  informer?: InformerOptions;
  /** Refuse requests (EtcdUnavailable) when the snapshot is older than this, ms; undefined or 0: serve the last good one. */
  maxStalenessMs?: number;
  ufs?: UfsRegistryOptions;
}

/** The record a host registers, minus what the feed fills in from the informer. */
export type MemberIdentity = Omit<MemberRecord, 'appliedRevision' | 'watchState' | 'updatedAt'>;

export interface JoinOptions {
  ttlSeconds?: number;
  /** Minimum ms between two record writes. */
  minUpdateIntervalMs?: number;
  /** Another process took our id while we were cut off from etcd. */
  onIdLost: (e: AlluxioError) => void;
}

export class ConfigFeed {
  readonly informer: ConfigInformer;
  private readonly ufs: UfsRegistry;
  private member: Membership | undefined;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly opts: ConfigFeedOptions,
  ) {
    const max = opts.maxStalenessMs;
    checkMaxStaleness(max, opts.what);
    // (the watch's own checks fit inside the limit, or it would vouch for a lost stream longer)
    this.informer = new ConfigInformer(conn, { ...(max ? livenessWithin(max) : {}), ...opts.informer });
    this.ufs = new UfsRegistry(opts.ufs ?? {});
    // The new snapshot serves the very next request: report it as applied.
    this.informer.on('snapshot', (change: SnapshotChange) => {
      this.member?.update({ appliedRevision: change.revision });
      this.ufs.retain(change.snapshot.mounts);
    });
    this.informer.on('progress', (rev: number) => this.member?.update({ appliedRevision: rev }));
    this.informer.on('state', (state: string) => this.member?.update({ watchState: state }));
  }

  /** The membership, once joined. */
  get membership(): Membership | undefined {
    return this.member;
  }

  /**
   * The snapshot for one request (read it ONCE per request). Throws EtcdUnavailable before
   * the first snapshot, and when the snapshot is older than maxStalenessMs (not in sync with
   * etcd for that long: unreachable, without a leader, ...).
   */
  snapshot(): Snapshot {
    const snap = this.informer.current();
    if (!snap) throw new AlluxioError('EtcdUnavailable', `the ${this.opts.what} has not loaded its configuration from etcd yet`);
    const max = this.opts.maxStalenessMs;
    if (max !== undefined && max > 0) {
      const age = this.informer.snapshotAgeMs();
      if (age > max) {
        // what kept it from etcd: unreachable, no leader, a hung member... (the informer's last error)
        const why = this.informer.status().lastError ?? 'no contact with etcd';
        throw new AlluxioError('EtcdUnavailable', `the ${this.opts.what}'s configuration is ${Math.round(age)} ms old, more than --max-staleness ${max} ms (last from etcd: ${why})`);
      }
    }
    return snap;
  }

  /** Whether snapshot() would answer (a snapshot is loaded and not too old). */
  serving(): boolean {
    try {
      this.snapshot();
      return true;
    } catch {
      return false;
    }
  }

  /** The adapter for a mount of the current snapshot (cached per URI and options). */
  adapterFor(mount: ParsedMount): UfsAdapter {
    return this.ufs.adapterFor(mount);
  }

  start(): void {
    this.informer.start();
  }

  /** Wait for the first snapshot; EtcdUnavailable after timeoutMs, with the informer's last error. */
  async ready(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.informer.ready(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const why = this.informer.status().lastError ?? 'no answer';
            reject(new AlluxioError('EtcdUnavailable', `could not load the configuration from etcd at ${this.conn.options.endpoints.join(',')} within ${timeoutMs} ms (${why})`));
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Register the leased membership record (WorkerIdTaken when the id is live); from then on
   * the record follows the informer's applied revision and watch state.
   */
  async join(identity: MemberIdentity, opts: JoinOptions): Promise<Membership> {
    const m = new Membership(
      this.conn,
      { ...identity, appliedRevision: this.informer.appliedRevision(), watchState: this.informer.status().state },
      {
        ...(opts.ttlSeconds !== undefined ? { ttlSeconds: opts.ttlSeconds } : {}),
        ...(opts.minUpdateIntervalMs !== undefined ? { minUpdateIntervalMs: opts.minUpdateIntervalMs } : {}),
        log: this.opts.log.child({ component: 'membership' }),
      },
    );
    await m.register();
    this.member = m;
    m.onIdLost = opts.onIdLost;
    // Catch up with anything applied while registering (nothing is written when unchanged).
    m.update({ appliedRevision: this.informer.appliedRevision(), watchState: this.informer.status().state });
    return m;
  }

  /** Deregister (revoke the lease) and stop watching. The adapters stay open: closeAdapters(). */
  async leave(): Promise<void> {
    await this.member?.close();
    await this.informer.stop();
  }

  /** Close every UFS adapter (after the host stopped serving requests). */
  closeAdapters(): Promise<void> {
    return this.ufs.closeAll();
  }
}
