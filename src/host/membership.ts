/**
 * Membership: one leased key per live member. Workers register under
 * /alluxio/<cluster>/workers/<id> (kind "worker"), FUSE daemons under
 * /alluxio/<cluster>/clients/<id> (kind "fuse", no S3/REST ports); the record's format is
 * src/cluster/record.ts. `--wait` and the migration copier count both
 * (src/cluster/convergence.ts).
 *
 * - Registration is a transaction guarded by `create_revision == 0`: an id held by a live
 *   worker is refused (WorkerIdTaken, exit 3); once the old holder's lease is gone the key
 *   is gone too and the id is free again.
 * - The lease (TTL ~10 s by default) is granted through etcd3 and renewed here every TTL/3,
 *   each renewal one request through the connection's failover (kvLeaseKeepAlive): a member
 *   that hangs (stopped, deadlocked) costs one attempt, and the next member renews it. (etcd3's
 *   own keep-alive stream stays on one member and notices a silent one only after a whole
 *   TTL, when the lease has already expired: a worker dropped out of the ring whenever the
 *   member it talked to hung, with the cluster healthy.) When etcd says the lease expired
 *   (a renewal answered with TTL 0, e.g. after this process was cut off for longer than the
 *   TTL) we re-register with a new lease, taking over our own stale key only if it is still
 *   ours (same pid and start time). A watch of our own record renews at once when the record
 *   goes (recordMissing): etcd may revoke a live lease early, and a hand may delete a key.
 * - The value carries the revision the worker applies; updates are rate-limited (a burst of
 *   changes becomes at most one write per interval) and coalesced. Status keys live outside
 *   `config/`, so they never trigger reloads.
 */
import type { Lease } from 'etcd3';
import type { Logger } from 'pino';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { AlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from '../store/connection.js';
import { kvLeaseKeepAlive } from '../store/kv.js';
import type { MemberKind, MemberRecord } from '../cluster/record.js';
import { PrefixMirror } from '../cluster/prefix-mirror.js';

export interface MembershipOptions {
  ttlSeconds?: number;
  /** Minimum ms between two status writes. */
  minUpdateIntervalMs?: number;
  log?: Logger;
}

export class Membership {
  private lease: Lease | undefined;
  private leaseId: string | undefined;
  private record: MemberRecord;
  private written: string | undefined;
  /**
   * The mod revision of the record as we last wrote it, when known: an update is committed
   * only over that one, so a write abandoned at its deadline that etcd applies later (the
   * member was stopped) cannot overwrite a newer one (r15-ha D3: a worker listed at an old
   * revision, "reconnecting", until the next config change).
   */
  private writtenMod: string | undefined;
  private lastWriteAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private closed = false;
  private reRegistering = false;
  private renewTimer: NodeJS.Timeout | undefined;
  /** When the last renewal that etcd confirmed was sent (ms since the epoch). */
  private renewedAt = 0;
  /** Renewals are failing (logged once, until one succeeds again). */
  private renewFailing = false;
  /** recordMissing's check is running. */
  private restoring = false;
  /** The record is missing and writing it again failed: the next renewal tries again. */
  private restoreFailed = false;
  /** A watch of our own record (started at the first registration). */
  private watcher: PrefixMirror | undefined;
  readonly ttlSeconds: number;
  private readonly minUpdateIntervalMs: number;
  private readonly log: Logger | undefined;
  /** Called when another process took our id while we were cut off. */
  onIdLost: ((e: AlluxioError) => void) | undefined;

  constructor(private readonly conn: EtcdConnection, initial: MemberRecord, opts: MembershipOptions = {}) {
    this.record = { machine: machineId(), ...initial };
    this.ttlSeconds = opts.ttlSeconds ?? 10;
    this.minUpdateIntervalMs = opts.minUpdateIntervalMs ?? 200;
    this.log = opts.log;
  }

  get key(): string {
    return this.kind === 'fuse' ? this.conn.layout.clientKey(this.record.id) : this.conn.layout.workerKey(this.record.id);
  }

  get kind(): MemberKind {
    return this.record.kind ?? 'worker';
  }

  private get what(): string {
    return this.kind === 'fuse' ? 'FUSE client' : 'worker';
  }

  current(): MemberRecord {
    return { ...this.record };
  }

  /** Register; throws WorkerIdTaken when a live worker holds the id. */
  async register(): Promise<void> {
    const lease = this.conn.client.lease(this.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', (err: Error) => this.handleLost(lease, err));
    let id: string;
    try {
      id = await this.conn.call('grant lease', () => lease.grant());
    } catch (e) {
      lease.release();
      throw e;
    }
    const value = this.serialise();
    const res = await this.conn.call('register worker', (c) =>
      c.if(this.key, 'Create', '==', 0).then(c.put(this.key).value(value).lease(id)).else(c.get(this.key)).commit(),
    );
    if (!res.succeeded) {
      const existing = res.responses[0]?.response_range?.kvs[0];
      let holder = '';
      if (existing) {
        const rec = parseRecord(existing.value.toString('utf8'));
        if (!rec) holder = ' (unreadable record)';
        if (this.isOurs(rec)) {
          // Our own registration whose lease outlived a disconnect: move it to the new lease.
          const moved = await this.conn.call('re-register worker', (c) =>
            c.if(this.key, 'Mod', '==', Number(existing.mod_revision)).then(c.put(this.key).value(value).lease(id)).commit(),
          );
          if (moved.succeeded) return this.adopt(lease, id, value);
          // Our record changed between the read and the move (a rate-limited update still
          // in flight): not someone else's id; the caller retries.
          await lease.revoke().catch(() => undefined);
          throw new AlluxioError('Conflict', `${this.what} record ${this.key} changed while moving it to a new lease; retrying`);
        }
        if (this.holderIsGone(rec)) {
          // A process of this machine that is no longer running (stopped while etcd had no
          // quorum, so its lease outlives it): take the id over, guarded by the record read.
          const taken = await this.conn.call('take over worker id', (c) =>
            c.if(this.key, 'Mod', '==', Number(existing.mod_revision)).then(c.put(this.key).value(value).lease(id)).commit(),
          );
          if (taken.succeeded) {
            this.log?.info({ key: this.key, pid: rec!.pid, startedAt: rec!.startedAt }, `${this.what} id was held by a process of this machine that is gone (its lease outlived it); taken over`);
            return this.adopt(lease, id, value);
          }
        }
        if (rec) holder = ` by ${rec.host ?? '?'} (pid ${String(rec.pid ?? '?')}, started ${rec.startedAt ?? '?'})`;
      }
      await lease.revoke().catch(() => undefined);
      throw new AlluxioError(
        'WorkerIdTaken',
        `${this.what} id "${this.record.id}" is already registered${holder}; choose another --id, or stop that ${this.what} (a killed one's id is free once its lease TTL expires)`,
      );
    }
    this.adopt(lease, id, value);
  }

  private adopt(lease: Lease, id: string, value: string): void {
    this.lease = lease;
    this.leaseId = id;
    this.written = value;
    this.writtenMod = undefined;
    this.lastWriteAt = Date.now();
    this.renewedAt = Date.now();
    this.scheduleRenewal(this.renewalPeriodMs);
    this.log?.info({ key: this.key, lease: id, ttl: this.ttlSeconds }, `registered ${this.what}`);
    if (!this.watcher && !this.closed) this.watchRecord();
    // `value` was made before the registration: an update made meanwhile (flush waits while
    // there is no lease) would otherwise wait for the next one
    if (this.dirty()) this.schedule();
  }

  /**
   * Watch our own record: a delete we did not make (recordMissing), or a value under our lease
   * we did not write (recordSeen). The watch is the config informer's kind of session
   * (../cluster/prefix-mirror.ts): a revision compacted while it was cut off reads the record
   * again (and finds it gone, if it is), a hung member's stream is replaced. Renewals find a
   * revoked lease as well, a period later.
   */
  private watchRecord(): void {
    const w = new PrefixMirror(this.conn, this.key, {
      what: `${this.what} record`,
      exactKey: true,
      resyncMs: 60_000,
      ...(this.log ? { log: this.log } : {}),
      onRead: (kvs) => {
        if (!kvs.has(this.key)) this.recordMissing();
      },
      onEvent: (ev) => {
        if (ev.type === 'put') this.recordSeen(ev.lease ?? '0', ev.value, String(ev.modRevision));
      },
    });
    this.watcher = w;
    void w.start();
  }

  /**
   * Our record as etcd now holds it. Another value under our lease than the one we wrote (a
   * write of ours abandoned at its deadline that etcd applied after a newer one, or a hand
   * edit) is taken as written, so that the current state is written over it.
   */
  private recordSeen(lease: string, value: string, mod: string): void {
    if (this.closed || lease !== this.leaseId || value === this.written) return;
    this.written = value;
    this.writtenMod = mod;
    if (this.dirty()) this.schedule();
  }

  private get renewalPeriodMs(): number {
    return (this.ttlSeconds * 1000) / 3; // as etcd's Go client
  }

  private scheduleRenewal(ms: number): void {
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(), ms);
    this.renewTimer.unref?.();
  }

  /** Renew the lease once; on failure try again within a second, until it certainly expired. */
  private async renew(): Promise<void> {
    const lease = this.lease;
    const id = this.leaseId;
    if (this.closed || !lease || !id) return;
    const sentAt = Date.now();
    let ttl: number;
    try {
      // A hung member may cost one attempt per renewal: a quarter of the TTL at most, so that
      // the renewal after it still lands in time (period TTL/3 + attempt TTL/4 < TTL).
      const attemptMs = Math.min(this.conn.attemptTimeoutMs, Math.max(1000, (this.ttlSeconds * 1000) / 4));
      // (The grpc fallback, for endpoints without etcd's JSON gateway, is etcd3's keepaliveOnce:
      // a stream that a hung member leaves open past the call's deadline.)
      ttl = await kvLeaseKeepAlive(this.conn, `renew ${this.what} lease`, id, attemptMs, async () => Number((await lease.keepaliveOnce()).TTL));
    } catch (e) {
      if (this.closed || lease !== this.lease) return;
      // Not lost until etcd says so (a renewal answered with TTL 0): without a leader etcd
      // expires nothing and the next leader extends every lease; cut off from etcd for
      // longer than the TTL, the first renewal that reaches it learns the lease is gone.
      // (Deciding here after a TTL of silence made a worker drop and re-register whenever
      // an election on a loaded machine took longer than its TTL.)
      const silentMs = Date.now() - this.renewedAt;
      const level = this.renewFailing ? 'debug' : 'warn';
      this.renewFailing = true;
      this.log?.[level]({ err: (e as Error).message, lease: id, silentMs }, `${this.what} lease not renewed; retrying`);
      return this.scheduleRenewal(Math.min(1000, this.renewalPeriodMs));
    }
    if (this.closed || lease !== this.lease) return;
    const wasFailing = this.renewFailing;
    this.renewFailing = false;
    if (!(ttl > 0)) return this.handleLost(lease, new Error(`etcd says lease ${id} expired (it was not renewed within its TTL of ${this.ttlSeconds} s)`));
    // (only a renewal etcd granted is "renewed again": an answer of TTL 0 is the lease lost)
    if (wasFailing) this.log?.info({ lease: id, silentMs: Date.now() - this.renewedAt }, `${this.what} lease renewed again`);
    this.renewedAt = sentAt;
    this.scheduleRenewal(this.renewalPeriodMs);
    if (this.restoreFailed) this.recordMissing();
  }

  private handleLost(lease: Lease, err: Error): void {
    if (this.closed || lease !== this.lease) return;
    this.log?.warn({ err: err.message }, `${this.what} lease lost; re-registering`);
    clearTimeout(this.renewTimer);
    lease.release();
    this.lease = undefined;
    this.leaseId = undefined;
    void this.reRegister();
  }

  private async reRegister(): Promise<void> {
    if (this.reRegistering) return;
    this.reRegistering = true;
    let delay = 200;
    try {
      while (!this.closed && !this.lease) {
        try {
          await this.register();
          return;
        } catch (e) {
          if (e instanceof AlluxioError && e.code === 'WorkerIdTaken') {
            this.log?.error({ err: e.message }, 'worker id taken by another process while we were cut off');
            this.onIdLost?.(e);
            return;
          }
          this.log?.warn({ err: (e as Error).message }, 're-registration failed; retrying');
        }
        await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * delay));
        delay = Math.min(delay * 2, 5000);
      }
    } finally {
      this.reRegistering = false;
    }
  }

  /** Update fields (e.g. appliedRevision); written rate-limited and coalesced. */
  update(patch: Partial<MemberRecord>): void {
    this.record = { ...this.record, ...patch };
    this.schedule();
  }

  private serialise(): string {
    return JSON.stringify({ ...this.record, updatedAt: new Date().toISOString() });
  }

  private schedule(): void {
    if (this.closed || this.timer || this.writing) return;
    const wait = Math.max(0, this.lastWriteAt + this.minUpdateIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.flush().finally(() => {
        this.writing = undefined;
        if (this.dirty()) this.schedule();
      });
    }, wait);
  }

  /** Whether etcd's record (as last written or seen) differs from ours in anything but updatedAt. */
  private dirty(): boolean {
    if (!this.written) return true;
    try {
      const { updatedAt: _, ...w } = JSON.parse(this.written) as MemberRecord & { updatedAt?: string };
      return JSON.stringify(w) !== JSON.stringify(this.record);
    } catch {
      return true;
    }
  }

  private async flush(): Promise<void> {
    if (this.closed || !this.lease || !this.leaseId || !this.dirty()) return;
    const value = this.serialise();
    const leaseId = this.leaseId;
    try {
      // Only overwrite a key that is still ours (same lease): never resurrect an expired one
      // or clobber another holder's.
      const over = this.writtenMod;
      const res = await this.conn.call('update worker record', (c) => {
        const cmp = c.if(this.key, 'Lease', '==', leaseId);
        if (over !== undefined) cmp.and(this.key, 'Mod', '==', over);
        return cmp.then(c.put(this.key).value(value).lease(leaseId)).else(c.get(this.key)).commit();
      });
      this.lastWriteAt = Date.now();
      if (res.succeeded) {
        this.written = value;
        this.writtenMod = String(res.header.revision);
        return;
      }
      const kv = res.responses[0]?.response_range?.kvs[0];
      if (kv && kv.lease === leaseId) {
        // Still ours, written since our last write: a write of ours abandoned at its deadline
        // landed late. Taken as written: the flush after this one writes the current state.
        this.written = kv.value.toString('utf8');
        this.writtenMod = String(kv.mod_revision);
        return;
      }
      this.log?.warn({ key: this.key }, 'worker record is no longer ours (lease changed); waiting for re-registration');
    } catch (e) {
      this.lastWriteAt = Date.now();
      this.log?.debug({ err: (e as Error).message }, 'worker record update failed; will retry');
      // retry after the interval
      setTimeout(() => this.schedule(), this.minUpdateIntervalMs).unref?.();
    }
  }

  /**
   * Our record is gone from etcd while we hold a lease (the watch of it saw it go).
   * etcd revoked the lease early: a leader that was paused (SIGSTOP, a stall) and resumes
   * still thinks itself leader for a moment and revokes the leases it did not see renewed,
   * and its proposal is forwarded to the new leader (etcd issue #15247, fixed in 3.4.31 and
   * 3.5.13; Debian 12 ships 3.4.23). Or someone deleted the key. Renew at once instead of at
   * the next period: a revoked lease is re-registered now (the worker was otherwise out of
   * the ring for up to a third of the TTL), and a lease that lives gets its record written
   * again (before, it stayed unlisted until the process restarted).
   */
  recordMissing(): void {
    if (this.closed || !this.lease || this.reRegistering || this.restoring) return;
    this.restoring = true;
    void this.restore().finally(() => {
      this.restoring = false;
    });
  }

  private async restore(): Promise<void> {
    this.restoreFailed = false;
    await this.renew(); // (TTL 0: handleLost re-registers; else the next renewal is scheduled)
    const leaseId = this.leaseId;
    if (this.closed || !this.lease || !leaseId) return;
    const value = this.serialise();
    try {
      const res = await this.conn.call('restore worker record', (c) =>
        c.if(this.key, 'Create', '==', 0).then(c.put(this.key).value(value).lease(leaseId)).else(c.get(this.key)).commit(),
      );
      if (!res.succeeded) {
        // There again: ours (re-registered meanwhile, or the watch was behind), or another
        // process took the id while the record was gone.
        const kv = res.responses[0]?.response_range?.kvs[0];
        if (!kv || kv.lease === leaseId || this.isOurs(parseRecord(kv.value.toString('utf8')))) return;
        const e = new AlluxioError('WorkerIdTaken', `${this.what} id "${this.record.id}" was taken by another process while its record was gone (${kv.value.toString('utf8').slice(0, 200)})`);
        this.log?.error({ err: e.message }, 'worker id taken by another process');
        this.onIdLost?.(e);
        return;
      }
      this.written = value;
      this.writtenMod = String(res.header.revision);
      this.lastWriteAt = Date.now();
      this.log?.warn({ key: this.key, lease: leaseId }, `${this.what} record was deleted while its lease lived; written again`);
    } catch (e) {
      this.restoreFailed = true;
      this.log?.warn({ err: (e as Error).message }, `${this.what} record is missing and could not be written again; trying again after the next renewal`);
    }
  }

  /**
   * A record written on this machine (same host name, PID namespace and advertised host) by
   * a process that no longer exists. A pid reused by another process looks alive: then the
   * id stays taken until the old lease expires, as before. So does a container restarted in
   * place (another PID namespace).
   */
  private holderIsGone(rec: Partial<MemberRecord> | undefined): boolean {
    if (!rec || rec.machine === undefined || rec.machine !== this.record.machine || rec.host !== this.record.host) return false;
    if (typeof rec.pid !== 'number' || !Number.isSafeInteger(rec.pid) || rec.pid <= 0 || rec.pid === process.pid) return false;
    try {
      process.kill(rec.pid, 0);
      return false; // running (or a pid reused): not ours to take
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  /** A record written by this process (same pid and start time). */
  private isOurs(rec: Partial<MemberRecord> | undefined): boolean {
    return rec !== undefined && rec.pid === this.record.pid && rec.startedAt === this.record.startedAt;
  }

  /** Deregister: revoke the lease (deleting the key) and stop keepalives. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    // (cancelled without waiting for the member's answer, which a hung member never gives;
    // a delete seen meanwhile is ignored, `closed` is set)
    void this.watcher?.stop();
    await this.writing?.catch(() => undefined);
    const lease = this.lease;
    this.lease = undefined;
    if (lease) {
      try {
        await this.conn.call('revoke worker lease', () => lease.revoke(), 3000);
      } catch (e) {
        lease.release();
        this.log?.warn(
          { err: (e as Error).message, key: this.key, ttlSeconds: this.ttlSeconds },
          `could not revoke the ${this.what} lease: its record stays listed until the lease expires (up to ${this.ttlSeconds} s after etcd has a leader again); a restart on this machine takes the id over`,
        );
      }
    }
  }
}

/**
 * Where a pid means this process table: the host name and the PID namespace (two containers
 * with host networking share a host name, not their pids: a live member in the other one
 * must not look gone).
 */
function machineId(): string {
  let ns = '';
  try {
    ns = readlinkSync('/proc/self/ns/pid'); // e.g. "pid:[4026531836]"
  } catch {
    // no /proc: the host name alone
  }
  return ns ? `${hostname()} ${ns}` : hostname();
}

/** A member record's fields, or undefined when the value is not JSON. */
function parseRecord(value: string): Partial<MemberRecord> | undefined {
  try {
    return JSON.parse(value) as Partial<MemberRecord>;
  } catch {
    return undefined;
  }
}
