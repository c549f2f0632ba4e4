/**
 * The copier: the background process (`alluxio migrate run --id m-1`, started detached by
 * `migrate start` / `migrate resume`) that copies a mount's files from the old UFS to the
 * new one through the UFS adapters, then verifies them.
 *
 * - One copier per migration: it holds a leased lock key (TTL a few seconds); a second
 *   one waits for it to be released or to expire (a kill -9'd copier's lease expires).
 * - Files are copied in UTF-8 byte order of their relative path with bounded concurrency
 *   (`concurrency` files at a time) and an optional bandwidth limit.
 * - Progress is checkpointed in the record every `checkpointMs` (compare-and-swap on the
 *   record's mod revision): a cursor (every file at or before it is copied) plus the few
 *   files after it that finished out of order. A resumed copier skips exactly those.
 * - Abort wins: a failed compare-and-swap re-reads the record; when it is no longer
 *   copying/verifying, the copier stops starting new files and exits.
 * - Verification compares every source file with the target (size, or sha256 streamed from
 *   both sides) and looks for files in the target that the source does not have. Any
 *   difference fails the migration naming the files; resuming copies those files again.
 *
 * One concern (about 460 lines): the copier's life cycle, checkpoints and verification share
 * its lock and record; split, they would each need the others' state.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import type { Lease } from 'etcd3';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import { parseMount } from '../domain/mounts.js';
import type { EtcdConnection } from '../store/connection.js';
import { compareUtf8 } from '../ufs/order.js';
import { waitForConvergence } from '../cluster/convergence.js';
import { createUfsAdapter } from '../ufs/registry.js';
import type { UfsAdapter } from '../ufs/types.js';
import { MAX_NAMED, transition, type Binding, type Fingerprint, type MigrationRecord, type MigrationState } from './record.js';
import { casRecord, getRecord, runnerKey, type StoredRecord } from './store.js';

export interface WalkedFile {
  rel: string[];
  /** rel joined with '/': the sort and checkpoint key. */
  key: string;
  size: number;
  mtimeMs: number;
  /** The UFS's version tag (S3: the ETag; file://: of size, mtime, ctime and inode). */
  etag?: string;
  /** file://: the last change of the file (ctime), which a rewrite with its mtime put back still moves. */
  changedMs?: number;
}

/** Every file below the adapter's root (and the empty directories), sorted by key. */
export async function walk(ufs: UfsAdapter, opts: { allowMissingRoot?: boolean } = {}): Promise<{ files: WalkedFile[]; emptyDirs: string[][] }> {
  const files: WalkedFile[] = [];
  const emptyDirs: string[][] = [];
  const stack: string[][] = [[]];
  while (stack.length) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await ufs.list(dir);
    } catch (e) {
      if (dir.length === 0 && opts.allowMissingRoot && isAlluxioError(e) && e.code === 'NotFound') return { files: [], emptyDirs: [] };
      throw e;
    }
    if (entries.length === 0 && dir.length > 0) emptyDirs.push(dir);
    for (const e of entries) {
      const rel = [...dir, e.name];
      if (e.type === 'directory') stack.push(rel);
      else files.push({ rel, key: rel.join('/'), size: e.size, mtimeMs: e.mtimeMs, ...(e.etag !== undefined ? { etag: e.etag } : {}), ...(e.changedMs !== undefined ? { changedMs: e.changedMs } : {}) });
    }
  }
  files.sort((a, b) => compareUtf8(a.key, b.key));
  return { files, emptyDirs };
}

/**
 * sha256 over the sorted (path, size, mtime, change) listing: changes when any file is
 * written, also in place with its mtime put back. The change is a file:// file's ctime
 * (not its ETag, which has the inode: unstable on sshfs, FUSE object-store mounts or CIFS
 * without server inode numbers, where every cutover would be refused naming no file), else
 * the UFS's ETag. It is what listingDiff compares too, so a changed fingerprint names the
 * file. `v` 1 (records written before 2026-12-02) leaves it out, so they still compare.
 */
export function fingerprint(files: readonly WalkedFile[], v: 1 | 2 = 2): Fingerprint {
  const h = createHash('sha256');
  const change = (f: WalkedFile) => (f.changedMs !== undefined ? `c${f.changedMs}` : (f.etag ?? ''));
  for (const f of files) h.update(`${f.key}\t${f.size}\t${Math.floor(f.mtimeMs)}${v === 2 ? `\t${change(f)}` : ''}\n`);
  return { files: files.length, sha256: h.digest('hex'), ...(v === 2 ? { v } : {}) };
}

/**
 * Which files differ between a source listing and its verified copy: missing or extra in
 * the target, another size, or a source file written after its copy (mtime newer, or on
 * file:// its ctime: a rewrite with the mtime put back; the copy's mtime is when it was
 * written).
 */
export function listingDiff(src: readonly WalkedFile[], dst: readonly WalkedFile[]): { changed: string[]; removed: string[] } {
  const dstByKey = new Map(dst.map((f) => [f.key, f]));
  const srcKeys = new Set(src.map((f) => f.key));
  const changed: string[] = [];
  for (const f of src) {
    const d = dstByKey.get(f.key);
    if (!d || d.size !== f.size || f.mtimeMs > d.mtimeMs || (f.changedMs ?? 0) > d.mtimeMs) changed.push(f.key);
  }
  const removed = dst.filter((d) => !srcKeys.has(d.key)).map((d) => d.key);
  return { changed: changed.sort(compareUtf8), removed: removed.sort(compareUtf8) };
}

export function adapterForBinding(path: string, b: Binding, readOnly: boolean): UfsAdapter {
  return createUfsAdapter(parseMount({ path, ufsUri: b.ufsUri, options: b.options, readOnly }));
}

export interface CopierOptions {
  log?: (msg: string, extra?: Record<string, unknown>) => void;
  lockTtlSeconds?: number;
  /** How long to wait for another copier's lock to go away. */
  lockWaitMs?: number;
  checkpointMs?: number;
  logFile?: string;
  /** How long to wait for workers to apply the read-only mount before failing. */
  convergeMs?: number;
}

class Stop extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runCopier(conn: EtcdConnection, id: string, opts: CopierOptions = {}): Promise<MigrationState> {
  const log = opts.log ?? (() => undefined);
  const ttl = opts.lockTtlSeconds ?? 5;
  const lockWaitMs = opts.lockWaitMs ?? (ttl * 2 + 5) * 1000;
  const me = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), ...(opts.logFile ? { log: opts.logFile } : {}) };
  const lease = await acquireLock(conn, id, me, ttl, lockWaitMs, log);
  let lost = false;
  lease.on('lost', () => {
    lost = true;
    log('copier lock lease lost; stopping (resume with alluxio migrate resume)');
  });
  try {
    const c = new Copier(conn, id, opts.checkpointMs ?? 500, log, () => lost, me, opts.convergeMs ?? 120_000);
    return await c.run();
  } finally {
    await conn.call('release copier lock', () => lease.revoke(), 3000).catch(() => lease.release());
  }
}

async function acquireLock(conn: EtcdConnection, id: string, me: object, ttl: number, waitMs: number, log: (m: string, e?: Record<string, unknown>) => void): Promise<Lease> {
  const key = runnerKey(conn, id);
  const deadline = Date.now() + waitMs;
  const lease = conn.client.lease(ttl, { autoKeepAlive: true });
  lease.on('lost', () => undefined);
  const leaseId = await conn.call('grant copier lease', () => lease.grant());
  let logged = false;
  for (;;) {
    const res = await conn.call('take copier lock', (c) =>
      c.if(key, 'Create', '==', 0).then(c.put(key).value(JSON.stringify(me)).lease(leaseId)).else(c.get(key)).commit(),
    );
    if (res.succeeded) return lease;
    if (Date.now() > deadline) {
      lease.release();
      const holder = res.responses[0]?.response_range?.kvs[0]?.value?.toString('utf8') ?? '?';
      throw new AlluxioError('MigrationInProgress', `another copier is working on ${id} (${holder})`);
    }
    if (!logged) log('another copier holds the lock; waiting for it to finish or its lease to expire');
    logged = true;
    await sleep(300);
  }
}

class Copier {
  private stored!: StoredRecord;
  private source: UfsAdapter | undefined;
  private target: UfsAdapter | undefined;
  /** Set when the record left our state (aborted) or the lock was lost. */
  private stopped: string | undefined;
  private runBytes = 0;
  private runStarted = Date.now();
  private nextSendAt = 0;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly id: string,
    private readonly checkpointMs: number,
    private readonly log: (m: string, e?: Record<string, unknown>) => void,
    private readonly lockLost: () => boolean,
    private readonly me: MigrationRecord['runner'] & object,
    private readonly convergeMs: number,
  ) {}

  async run(): Promise<MigrationState> {
    this.stored = await getRecord(this.conn, this.id);
    const r0 = this.stored.record;
    if (r0.state !== 'copying' && r0.state !== 'verifying') {
      this.log(`migration ${this.id} is ${r0.state}; nothing to do`);
      return r0.state;
    }
    try {
      await this.update((r) => ({ ...r, runner: this.me, rate: 0 }));
      this.source = adapterForBinding(r0.path, r0.from, true);
      this.target = adapterForBinding(r0.path, r0.to, false);
      // The start transaction made the mount read-only: let every live worker apply it before
      // listing the source, so no write accepted under the old mode races the copy (a write
      // still in flight then is caught by verification, which compares against the source).
      if (this.stored.createRevision) {
        try {
          const waited = await waitForConvergence(this.conn, this.stored.createRevision, {
            timeoutMs: this.convergeMs,
            onProgress: (p) => this.log(`waiting for workers to apply the read-only mount: ${p.applied}/${p.total}`),
          });
          for (const d of waited.dropped ?? []) {
            // (dead, or cut off from etcd and still taking writes under the old mode until its
            // --max-staleness; verification compares against the source, so a write it takes
            // is caught there)
            this.log(`warning: ${d.kind === 'fuse' ? 'FUSE client ' : ''}${d.id} left (its lease expired) without applying the read-only mount`);
          }
        } catch (e) {
          if (!(isAlluxioError(e) && e.code === 'WaitTimeout')) throw e;
          // (the wait gives up on etcd too: then whether the workers applied it is unknown)
          const etcdLost = (e.details as { etcd?: string } | undefined)?.etcd !== undefined;
          this.stored = await getRecord(this.conn, this.id);
          await this.update((r) => ({
            ...transition(r, 'failed', new Date(), etcdLost ? 'etcd stopped answering while workers applied read-only' : 'workers did not apply read-only'),
            error: { code: e.code, message: `${etcdLost ? 'could not learn whether the workers applied the read-only mount' : 'workers did not apply the read-only mount'}: ${e.message}` },
          }));
          return 'failed';
        }
      }
      let state: MigrationState = this.stored.record.state;
      if (state === 'copying') state = await this.copyPhase();
      if (state === 'verifying') state = await this.verifyPhase();
      return state;
    } catch (e) {
      if (e instanceof Stop) {
        this.log(`stopped: ${e.why}`);
        return this.stored.record.state;
      }
      const msg = isAlluxioError(e) || e instanceof Error ? e.message : String(e);
      this.log(`copier failed: ${msg}`);
      if (this.lockLost()) throw e;
      // Record the failure (the mount stays read-only; resume or abort).
      try {
        await this.update((r) => ({
          ...transition(r, 'failed', new Date(), msg),
          error: { code: isAlluxioError(e) ? e.code : 'Internal', message: msg },
        }));
      } catch (e2) {
        if (!(e2 instanceof Stop)) this.log(`could not record the failure: ${(e2 as Error).message}`);
      }
      return this.stored.record.state;
    } finally {
      await Promise.all([this.source?.close().catch(() => undefined), this.target?.close().catch(() => undefined)]);
    }
  }

  /** Compare-and-swap the record through `f`; re-read on conflict; Stop when it left copying/verifying. */
  private async update(f: (r: MigrationRecord) => MigrationRecord): Promise<void> {
    for (let i = 0; ; i++) {
      if (this.lockLost()) throw new Stop('copier lock lost');
      const cur = this.stored.record;
      if (cur.state !== 'copying' && cur.state !== 'verifying') throw new Stop(`migration is ${cur.state}`);
      const next = { ...f(cur), updatedAt: new Date().toISOString() };
      const rev = await casRecord(this.conn, next, this.stored.modRevision);
      if (rev !== false) {
        this.stored = { record: next, modRevision: rev };
        return;
      }
      this.stored = await getRecord(this.conn, this.id);
      if (i > 20) throw new AlluxioError('Conflict', `the record of ${this.id} keeps changing underneath the copier`);
    }
  }

  private rate(): number {
    const s = (Date.now() - this.runStarted) / 1000;
    return s > 0.2 ? this.runBytes / s : 0;
  }

  private async throttle(n: number): Promise<void> {
    const bw = this.stored.record.bandwidth;
    if (!(bw > 0)) return;
    const now = Date.now();
    const start = Math.max(now, this.nextSendAt);
    this.nextSendAt = start + (n * 1000) / bw;
    if (start > now) await sleep(start - now);
  }

  private async copyPhase(): Promise<MigrationState> {
    const { files, emptyDirs } = await walk(this.source!);
    const r = this.stored.record;
    const recopy = new Set(r.checkpoint.recopy);
    const ahead = new Set(r.checkpoint.ahead);
    const cursor0 = r.checkpoint.cursor;
    const isDone = (f: WalkedFile) => !recopy.has(f.key) && ((cursor0 !== null && compareUtf8(f.key, cursor0) <= 0) || ahead.has(f.key));
    const done = new Set<string>();
    let bytesDone = 0;
    for (const f of files) {
      if (isDone(f)) {
        done.add(f.key);
        bytesDone += f.size;
      }
    }
    const totalBytes = files.reduce((s, f) => s + f.size, 0);
    const pending = [...files.filter((f) => recopy.has(f.key)), ...files.filter((f) => !done.has(f.key) && !recopy.has(f.key))];
    this.log(`copying ${pending.length} of ${files.length} files (${totalBytes - bytesDone} of ${totalBytes} bytes); ${done.size} already copied`, {
      from: r.from.ufsUri,
      to: r.to.ufsUri,
      cursor: cursor0,
    });
    // Cursor: index of the first file (in sorted order) not known to be done. Files still
    // to be recopied are tracked by their own list, so they never hold the cursor back
    // (which would push every later file into `ahead`).
    const recopyLeft = new Set(recopy);
    let ci = 0;
    const advance = () => {
      while (ci < files.length && (done.has(files[ci]!.key) || recopyLeft.has(files[ci]!.key))) ci++;
    };
    advance();
    const checkpoint = (r: MigrationRecord): MigrationRecord => {
      advance();
      const aheadNow: string[] = [];
      for (let i = ci; i < files.length; i++) if (done.has(files[i]!.key)) aheadNow.push(files[i]!.key);
      return {
        ...r,
        files: { done: done.size, total: files.length },
        bytes: { done: Math.min(totalBytes, bytesDone + this.inflight), total: totalBytes },
        checkpoint: { cursor: ci > 0 ? files[ci - 1]!.key : null, ahead: aheadNow, recopy: [...recopyLeft] },
        rate: this.rate(),
      };
    };
    this.inflight = 0;
    await this.update(checkpoint);
    let next = 0;
    let failure: unknown;
    let ticking: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      ticking = this.update(checkpoint).catch((e: unknown) => {
        if (e instanceof Stop) this.stopped = e.why;
        else this.log(`checkpoint failed (will retry): ${(e as Error).message}`);
      });
    }, this.checkpointMs);
    const workerLoop = async () => {
      while (!failure && !this.stopped && !this.lockLost()) {
        const f = pending[next++];
        if (!f) return;
        try {
          const size = await this.copyOne(f);
          done.add(f.key);
          recopyLeft.delete(f.key);
          bytesDone += size;
          if (size !== f.size) this.log(`size changed while copying ${f.key}: listed ${f.size}, copied ${size}`);
          this.log(`copied ${f.key}`, { size });
        } catch (e) {
          failure ??= e;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, r.concurrency) }, () => workerLoop()));
    } finally {
      clearInterval(timer);
      await ticking; // no checkpoint may land after the state change below
    }
    this.inflight = 0;
    if (this.lockLost()) throw new Stop('copier lock lost');
    if (this.stopped) {
      await this.update(checkpoint).catch(() => undefined);
      throw new Stop(this.stopped);
    }
    if (failure) {
      await this.update(checkpoint).catch(() => undefined);
      throw failure;
    }
    for (const d of emptyDirs) await this.target!.mkdir(d);
    await this.update((r) => ({ ...transition(checkpoint(r), 'verifying', new Date()), verified: { files: 0, bytes: 0 } }));
    this.log(`copied all ${files.length} files; verifying (${this.stored.record.verify})`);
    return 'verifying';
  }

  private inflight = 0;

  private async copyOne(f: WalkedFile): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      let sent = 0;
      try {
        const src = await this.source!.read(f.rel);
        // eslint-disable-next-line @typescript-eslint/no-this-alias
        const self = this;
        async function* body() {
          for await (const chunk of src) {
            const b = chunk as Buffer;
            await self.throttle(b.length);
            if (self.stopped || self.lockLost()) throw new Stop(self.stopped ?? 'copier lock lost');
            sent += b.length;
            self.inflight += b.length;
            self.runBytes += b.length;
            yield b;
          }
        }
        const entry = await this.target!.write(f.rel, Readable.from(body(), { objectMode: false }));
        this.inflight -= sent;
        return entry.size;
      } catch (e) {
        this.inflight -= sent;
        this.runBytes -= sent;
        if (e instanceof Stop || attempt >= 3 || (isAlluxioError(e) && ['UfsAccessDenied', 'ReadOnlyMount', 'InvalidPath', 'NotADirectory', 'IsADirectory'].includes(e.code))) {
          if (e instanceof Stop) throw e;
          throw new AlluxioError(isAlluxioError(e) ? e.code : 'UfsUnavailable', `copying ${f.key} failed: ${(e as Error).message}`);
        }
        this.log(`copying ${f.key} failed (attempt ${attempt}), retrying: ${(e as Error).message}`);
        await sleep(200 * attempt);
      }
    }
  }

  private async verifyPhase(): Promise<MigrationState> {
    const mode = this.stored.record.verify;
    const [src, dst] = await Promise.all([walk(this.source!), walk(this.target!, { allowMissingRoot: true })]);
    const dstByKey = new Map(dst.files.map((f) => [f.key, f]));
    const srcKeys = new Set(src.files.map((f) => f.key));
    const bad: { key: string; why: string; recopy: boolean }[] = [];
    let vFiles = 0;
    let vBytes = 0;
    let ticking: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      ticking = this.update((r) => ({ ...r, verified: { files: vFiles, bytes: vBytes } })).catch((e: unknown) => {
        if (e instanceof Stop) this.stopped = e.why;
      });
    }, this.checkpointMs);
    let next = 0;
    let failure: unknown;
    const loop = async () => {
      while (!failure && !this.stopped && !this.lockLost()) {
        const f = src.files[next++];
        if (!f) return;
        try {
          const d = dstByKey.get(f.key);
          if (!d) bad.push({ key: f.key, why: 'missing in the target', recopy: true });
          else if (d.size !== f.size) bad.push({ key: f.key, why: `size ${f.size} in the source, ${d.size} in the target`, recopy: true });
          else if (mode === 'checksum') {
            const [a, b] = await Promise.all([sha256(this.source!, f.rel), sha256(this.target!, f.rel)]);
            if (a !== b) bad.push({ key: f.key, why: `sha256 differs (source ${a.slice(0, 12)}..., target ${b.slice(0, 12)}...)`, recopy: true });
          }
          vFiles++;
          vBytes += f.size;
        } catch (e) {
          failure ??= e;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, this.stored.record.concurrency) }, () => loop()));
    } finally {
      clearInterval(timer);
      await ticking; // no checkpoint may land after the state change below
    }
    if (this.lockLost()) throw new Stop('copier lock lost');
    if (this.stopped) throw new Stop(this.stopped);
    if (failure) throw failure;
    for (const d of dst.files) if (!srcKeys.has(d.key)) bad.push({ key: d.key, why: 'in the target but not in the source', recopy: false });
    bad.sort((a, b) => compareUtf8(a.key, b.key));
    if (bad.length > 0) {
      const named = bad.slice(0, MAX_NAMED);
      const msg =
        `verification (${mode}) failed for ${bad.length} file${bad.length === 1 ? '' : 's'}: ` +
        named.map((b) => `${b.key} (${b.why})`).join(', ') +
        (bad.length > named.length ? `, and ${bad.length - named.length} more` : '');
      this.log(msg);
      await this.update((r) => ({
        ...transition(r, 'failed', new Date(), 'verification failed'),
        verified: { files: vFiles, bytes: vBytes },
        error: { code: 'ChecksumMismatch', message: msg, files: named.map((b) => b.key) },
        checkpoint: { ...r.checkpoint, recopy: bad.filter((b) => b.recopy).map((b) => b.key) },
      }));
      return 'failed';
    }
    const fp = fingerprint(dst.files);
    const sfp = fingerprint(src.files);
    await this.update((r) => ({ ...transition(r, 'ready', new Date()), verified: { files: vFiles, bytes: vBytes }, targetFingerprint: fp, sourceFingerprint: sfp, rate: this.rate() }));
    this.log(`verified ${vFiles} files (${vBytes} bytes, ${mode}); ready for cutover`);
    return 'ready';
  }
}

async function sha256(ufs: UfsAdapter, rel: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of await ufs.read(rel)) h.update(chunk as Buffer);
  return h.digest('hex');
}
