/**
 * The FUSE daemon of one client node, a host process like the worker: the same config feed
 * (./config-feed.ts: its own informer on etcd, list-then-watch, a new Snapshot per watch
 * response; the staleness check; UFS adapters per mount; the membership record), the
 * operation layer (src/frontends/fuse/ops.ts), and the fuse-native binding (libfuse2, multi-threaded loop: each kernel request waits on its
 * own FUSE thread while the JS side answers asynchronously).
 *
 * Never touches its own mount point through the file system: readiness comes from the
 * libfuse `init` callback, an external unmount is noticed in /proc/self/mountinfo, and
 * unmounting runs fusermount in a child process. A file:// mount whose directory lies
 * inside the FUSE mount would make the daemon call itself: refused (ELOOP).
 *
 * Membership: like a worker, the daemon registers a leased record (kind "fuse", under
 * /alluxio/<cluster>/clients/<id>, ./membership.ts) carrying the revision it applies, so
 * `--wait` and a migration's wait for the read-only mount count it.
 *
 * Cluster cache (docs/cluster-cache.md, docs/fuse.md "Reads through the owning worker"):
 * after registering, the daemon watches the ownership ring (the live workers with a page
 * cache) and reads every file through the worker that owns it, with peer reads signed
 * like a worker's (./peers.ts); it is never a ring member itself. An empty ring (no
 * caching worker) leaves reads on the UFS, as before.
 *
 * (Over 300 lines: one life cycle, config feed, membership, ring, mount and unmount, plus
 * the fuse-native callback table, which is only wiring to ops.ts.)
 */
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { ParsedMount } from '../domain/mounts.js';
import { isPathPrefix, normalizePath, pathOf } from '../domain/paths.js';
import type { SnapshotChange } from '../informer/informer.js';
import { MEMBER_VERSION } from '../cluster/record.js';
import type { EtcdConnection } from '../store/connection.js';
import type { UfsAdapter } from '../ufs/types.js';
import { ConfigFeed } from './config-feed.js';
import type { FrontendContext } from '../frontends/context.js';
import { Errno, errnoName, errnoOf } from '../frontends/fuse/errno.js';
import { fuseMountAt, fusermountUnmount } from '../frontends/fuse/mountpoint.js';
import { FuseOps } from '../frontends/fuse/ops.js';
import type { ReadAheadOptions } from '../frontends/fuse/read-ahead.js';
import { PeerClient } from '../cache/peer-client.js';
import { ObjectEtags } from '../cluster/object-etags.js';
import { WorkerRing } from '../cluster/ring.js';
import { peerAuth, readPeerCa } from './peers.js';
import { chooseFuseNative, fuseNativeBinding } from './fuse-native.js';

const require = createRequire(import.meta.url);

/* eslint-disable @typescript-eslint/no-explicit-any */
type Cb = (...args: any[]) => void;
interface FuseNative {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
  _thread: Buffer | null;
}
type FuseCtor = new (mnt: string, ops: Record<string, Cb>, opts: Record<string, unknown>) => FuseNative;

/**
 * fuse-native 2.2.6 with fgetattr that passes the descriptor: its own `_op_fgetattr`
 * (index.js) calls the path's `getattr`, so the kernel's size check before a read past the
 * end it knows (the one GETATTR Linux sends with a descriptor; fstat(2) goes by the inode)
 * could not answer for the version the descriptor reads (ops.fgetattr). The stat conversion
 * stays fuse-native's (`_op_getattr`), given a getattr bound to the descriptor.
 */
function withFgetattr(Base: FuseCtor): FuseCtor {
  type Signal = (...a: unknown[]) => void;
  type Native = { ops: Record<string, Cb>; _op_getattr(this: { ops: Record<string, Cb> }, signal: Signal, path: string): void };
  return class extends (Base as unknown as new (...a: unknown[]) => Native) {
    _op_fgetattr(signal: Signal, path: string, fd: number): void {
      const fgetattr = this.ops.fgetattr!;
      this._op_getattr.call({ ops: { getattr: (p: string, cb: Cb) => fgetattr(p, fd, cb) } }, signal, path);
    }
  } as unknown as FuseCtor;
}

export interface FuseDaemonOptions {
  conn: EtcdConnection;
  mountpoint: string;
  log: Logger;
  /** Reuse stats and listings for this long within one snapshot, ms. */
  attrCacheMs?: number;
  readAhead?: ReadAheadOptions;
  /** Refuse to serve (EAGAIN) when the snapshot is older than this, ms; 0: serve the last good one. */
  maxStalenessMs?: number;
  /** How long to wait for the first snapshot from etcd. */
  readyTimeoutMs?: number;
  allowOther?: boolean;
  /** Bits taken away from the modes the mount shows (`--umask`; default 0o022). */
  umask?: number;
  debug?: boolean;
  /** Membership id (default fuse-<hostname>-<pid>). */
  id?: string;
  /** TTL of the membership lease, s (default 10). */
  leaseTtlSeconds?: number;
  /** Read through the owning workers' caches when there are caching workers (default true). */
  cluster?: boolean;
  /**
   * Let the kernel keep a file's pages between opens while its size and mtime are unchanged
   * (libfuse auto_cache; docs/fuse.md "Kernel page cache"). For data that does not change in place.
   */
  kernelCache?: boolean;
  /** CA bundle of the workers' HTTPS certificates (reads through HTTPS-only workers). */
  tlsCaFile?: string;
}

export function defaultFuseClientId(): string {
  return `fuse-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-');
}

export class FuseDaemon {
  readonly mountpoint: string;
  readonly ops: FuseOps;
  /** Informer -> snapshot -> membership, and the UFS adapters of the snapshot's mounts. */
  private readonly feed: ConfigFeed;
  private fuse: FuseNative | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private readonly warnedLoop = new Set<string>();
  readonly id: string;
  private finished!: (why: string) => void;
  /** Resolves with the reason once the daemon has stopped serving. */
  readonly done: Promise<string>;
  /** The ownership ring (watched from registration until stop) and the client for peer reads. */
  private readonly ring: WorkerRing | undefined;
  private readonly peers: PeerClient | undefined;
  /**
   * The cluster's declared ETags (multipart uploads): a write or delete here deletes its
   * file's record, as a worker's does, so no worker answers a multipart ETag for the file
   * this daemon rewrote (with the same bytes, the UFS version stays the same).
   */
  private readonly etags: ObjectEtags;

  private constructor(private readonly opts: FuseDaemonOptions) {
    this.mountpoint = normalizePath(opts.mountpoint);
    this.id = opts.id ?? defaultFuseClientId();
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(this.id)) {
      throw new AlluxioError('InvalidArgument', `FUSE client id "${this.id}" is not allowed (letters, digits, ".", "_", "-"; at most 128)`);
    }
    this.feed = new ConfigFeed(opts.conn, {
      what: 'FUSE daemon',
      log: opts.log,
      informer: { log: opts.log },
      ...(opts.maxStalenessMs !== undefined ? { maxStalenessMs: opts.maxStalenessMs } : {}),
      ufs: { graceMs: 60_000 },
    });
    this.done = new Promise((r) => (this.finished = r));
    if (opts.cluster !== false) {
      // Not a member (no selfName): every file has an owner elsewhere once the ring is non-empty.
      this.ring = new WorkerRing(opts.conn, { log: opts.log.child({ component: 'ring' }) });
      // colocated: the daemon runs beside a worker; that worker's page files are read here.
      this.peers = new PeerClient({ ...peerAuth(), colocated: true, ...(opts.tlsCaFile ? { tls: { ca: readPeerCa(opts.tlsCaFile, '--tls-ca') } } : {}) });
    }
    this.etags = new ObjectEtags(opts.conn, opts.log.child({ component: 'etags' }));
    const ctx: FrontendContext = {
      snapshot: () => this.feed.snapshot(),
      ufs: (m) => this.adapter(m),
      log: opts.log,
      etags: this.etags,
      ...(this.ring && this.peers ? { cluster: { ring: this.ring, peers: this.peers } } : {}),
    };
    this.ops = new FuseOps(ctx, {
      fuseRoot: this.mountpoint,
      attrCacheMs: opts.attrCacheMs ?? 1000,
      readAhead: opts.readAhead ?? {},
      ...(opts.umask !== undefined ? { umask: opts.umask } : {}),
    });
  }

  /** Load the config from etcd, then mount. Resolves once the kernel has initialised the mount. */
  static async start(opts: FuseDaemonOptions): Promise<FuseDaemon> {
    const d = new FuseDaemon(opts);
    try {
      await d.loadConfig();
      await d.register();
      await d.ring?.start();
      await d.etags.start();
      await d.mount();
    } catch (e) {
      await d.stopRing();
      await d.feed.leave();
      await d.feed.closeAdapters();
      await d.ops.close();
      throw e;
    }
    return d;
  }

  get revision(): number {
    return this.feed.informer.appliedRevision();
  }

  /**
   * A file:// mount that overlaps the FUSE mount point (lies inside it, or contains it, so
   * that a path or a symlink inside the mount can lead back into it) would make the daemon
   * wait on itself: the local-file adapter uses synchronous system calls, and one on our
   * own mount blocks the only thread that could answer it. Refused with ELOOP.
   */
  private adapter(m: ParsedMount): UfsAdapter {
    if (m.ufs.scheme === 'file') {
      const root = pathOf(m.ufs.segments);
      if (isPathPrefix(this.mountpoint, root) || isPathPrefix(root, this.mountpoint)) {
        if (!this.warnedLoop.has(m.ufsUri)) {
          this.warnedLoop.add(m.ufsUri);
          this.opts.log.error({ mount: m.path, ufsUri: m.ufsUri, fuseRoot: this.mountpoint }, 'fuse: this file:// mount overlaps the FUSE mount point; not served here (it could deadlock the daemon)');
        }
        throw new AlluxioError('MountLoop', `${m.ufsUri} overlaps the FUSE mount ${this.mountpoint}`, { details: { mount: m.path } });
      }
    }
    return this.feed.adapterFor(m);
  }

  /** Register the leased membership record (fails with WorkerIdTaken when the id is live). */
  private async register(): Promise<void> {
    await this.feed.join(
      { id: this.id, kind: 'fuse', host: hostname(), mountpoint: this.mountpoint, startedAt: new Date().toISOString(), version: MEMBER_VERSION, pid: process.pid },
      {
        ...(this.opts.leaseTtlSeconds !== undefined ? { ttlSeconds: this.opts.leaseTtlSeconds } : {}),
        onIdLost: (e) => {
          this.opts.log.error({ err: e.message }, 'fuse: our client id was taken; unmounting');
          void this.stop('client id taken');
        },
      },
    );
  }

  /** Start the feed and wait for the first snapshot (registration comes after it). */
  private async loadConfig(): Promise<void> {
    // The feed reports the applied revision and retires adapters of changed mounts; the
    // daemon's own caches go with every snapshot.
    this.feed.informer.on('snapshot', (c: SnapshotChange) => {
      this.ops.dropCaches();
      this.opts.log.info({ revision: c.revision, reason: c.reason, mounts: c.snapshot.mounts.length, rules: c.snapshot.rules.length }, 'fuse: configuration applied');
    });
    this.feed.start();
    await this.feed.ready(this.opts.readyTimeoutMs ?? 15_000);
  }

  private async mount(): Promise<void> {
    const native = chooseFuseNative();
    if (!native.fixed) {
      this.opts.log.warn(
        { binding: native.path },
        "fuse: fuse-native's prebuilt binding, without the fix for a lost path: a close of a file whose directory was removed can crash the daemon (docs/fuse.md); build the fixed one with `node scripts/fuse-native-build.mjs`",
      );
    } else {
      this.opts.log.debug({ binding: native.path }, 'fuse: native binding');
    }
    const Fuse = withFgetattr(require('fuse-native') as FuseCtor);
    const fuse = new Fuse(this.mountpoint, this.bindings(), {
      // fuse-native joins options with commas; big_writes (128 KiB writes instead of 4 KiB)
      // has no option of its own, so it rides along with fsname.
      fsname: 'alluxio,big_writes',
      subtype: 'alluxio',
      // The kernel must ask us on every lookup: a rule or mount change is visible to the
      // very next system call. Our own caches are dropped on every snapshot change.
      entryTimeout: '0',
      attrTimeout: '0',
      allowOther: this.opts.allowOther === true,
      // Other users then get what the attributes say (owner: the daemon's user; files 0644,
      // directories 0755; read-only mounts without w): the kernel checks the modes. Without
      // it anyone could write and delete through a mount that shows them nothing writable.
      defaultPermissions: this.opts.allowOther === true,
      // auto_cache: on open, libfuse compares the file's size and mtime (our getattr) with
      // the last ones and keeps the kernel's pages only when both are unchanged.
      autoCache: this.opts.kernelCache === true,
      debug: this.opts.debug === true,
      timeout: { default: 120_000, flush: false, release: false, fsync: false, rename: false, truncate: false, ftruncate: false },
    });
    await new Promise<void>((resolve, reject) => {
      fuse.mount((err) => {
        if (err) reject(new AlluxioError('InvalidState', `cannot mount FUSE at ${this.mountpoint}: ${err.message}`));
        else resolve();
      });
    });
    this.fuse = fuse;
    // Someone ran `alluxio fuse unmount` / fusermount -u: stop serving.
    this.watchTimer = setInterval(() => {
      if (!fuseMountAt(this.mountpoint)) void this.stop('unmounted externally');
    }, 500);
    this.watchTimer.unref();
  }

  /** Unmount (lazily if busy), flush open files, stop the informer. Idempotent. */
  stop(reason: string, drainMs = 5000): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(reason, drainMs);
    return this.stopping;
  }

  private async doStop(reason: string, drainMs: number): Promise<void> {
    clearInterval(this.watchTimer);
    const log = this.opts.log;
    log.info({ reason, calls: this.ops.counters.byOp, errors: this.ops.counters.errors }, 'fuse: stopping');
    if (fuseMountAt(this.mountpoint)) {
      try {
        await fusermountUnmount(this.mountpoint);
      } catch (e) {
        if (isAlluxioError(e) && e.code === 'InvalidState') {
          log.warn({ mountpoint: this.mountpoint }, 'fuse: mount busy; detaching lazily and serving open files for a moment');
          await fusermountUnmount(this.mountpoint, { lazy: true }).catch((e2: unknown) => log.error({ err: (e2 as Error).message }, 'fuse: lazy unmount failed'));
        } else if (!(isAlluxioError(e) && e.code === 'NotFound')) {
          log.error({ err: (e as Error).message }, 'fuse: unmount failed');
        }
      }
    }
    // Applications that still hold files (lazy detach) get a moment to close them.
    const deadline = Date.now() + drainMs;
    while (this.ops.handles.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await this.ops.close();
    this.releaseNative();
    await this.stopRing();
    await this.feed.leave();
    await this.feed.closeAdapters();
    this.finished(reason);
  }

  /** Stop watching the ring and the declared ETags, and close the peer connections (after the last read handle). */
  private async stopRing(): Promise<void> {
    await this.etags.stop();
    await this.ring?.stop();
    this.peers?.close();
    if (this.peers && this.peers.counters.requests > 0) this.opts.log.info({ peers: this.peers.counters }, 'fuse: reads through the owning workers');
  }

  /** Let go of libfuse's thread handle so the event loop can end. */
  private releaseNative(): void {
    const fuse = this.fuse;
    if (!fuse?._thread) return;
    try {
      const binding = fuseNativeBinding<{ fuse_native_unmount(mnt: string, thread: Buffer): void }>();
      binding.fuse_native_unmount(this.mountpoint, fuse._thread);
    } catch (e) {
      this.opts.log.debug({ err: (e as Error).message }, 'fuse: native unmount');
    }
    this.fuse = undefined;
  }

  /** fuse-native callbacks -> FuseOps, with errno mapping and logging. */
  private bindings(): Record<string, Cb> {
    const ops = this.ops;
    const log = this.opts.log;
    const fail = (op: string, path: string, e: unknown, lookup = false): number => {
      const errno = errnoOf(e, { lookup });
      ops.counters.errors++;
      if (errno === Errno.EIO) {
        log.warn({ op, path, errno: errnoName(errno), err: e instanceof Error ? e.message : String(e) }, 'fuse: operation failed');
      } else if (log.isLevelEnabled('debug')) {
        log.debug({ op, path, errno: errnoName(errno), err: e instanceof Error ? e.message : String(e) }, 'fuse: operation refused');
      }
      return errno;
    };
    const run = <T>(op: string, path: string, fn: () => T | Promise<T>, ok: (v: T) => void, err: (errno: number) => void, lookup = false): void => {
      ops.counters.calls++;
      ops.counters.byOp[op] = (ops.counters.byOp[op] ?? 0) + 1;
      let p: T | Promise<T>;
      try {
        p = fn();
      } catch (e) {
        err(fail(op, path, e, lookup));
        return;
      }
      if (p instanceof Promise) p.then(ok, (e: unknown) => err(fail(op, path, e, lookup)));
      else ok(p);
    };
    const voidOp = (op: string, path: string, fn: () => Promise<void>, cb: Cb): void => run(op, path, fn, () => cb(0), (n) => cb(n));
    // flush and release go by descriptor: libfuse hands them no path (null, or "-" for
    // release) once it cannot name the file any more (its directory was removed or replaced).
    // Anything else but a string is the prebuilt binding's uninitialised value (fuse-native.ts).
    const byFd = (op: string, path: unknown): string => {
      if (typeof path === 'string') return path;
      if (path !== null) log.error({ op, got: typeof path }, 'fuse: the native binding passed an invalid path (fuse-native prebuilt without the fix; see docs/fuse.md)');
      return '(no path)';
    };
    return {
      init: (cb: Cb) => cb(0),
      statfs: (_path: string, cb: Cb) => cb(0, ops.statfs()),
      access: (path: string, mode: number, cb: Cb) => run('access', path, () => ops.access(path, mode), () => cb(0), (n) => cb(n), true),
      getattr: (path: string, cb: Cb) => run('getattr', path, () => ops.getattr(path), (a) => cb(0, a), (n) => cb(n), true),
      fgetattr: (path: string, fd: number, cb: Cb) => run('fgetattr', path, () => ops.fgetattr(path, fd), (a) => cb(0, a), (n) => cb(n), true),
      readdir: (path: string, cb: Cb) => run('readdir', path, () => ops.readdir(path), (names) => cb(0, names), (n) => cb(n)),
      open: (path: string, flags: number, cb: Cb) => run('open', path, () => ops.open(path, flags), (fd) => cb(0, fd), (n) => cb(n)),
      create: (path: string, _mode: number, cb: Cb) => run('create', path, () => ops.create(path), (fd) => cb(0, fd), (n) => cb(n)),
      read: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
        run('read', path, () => ops.read(fd, buf, len, pos, path), (n) => cb(n), (n) => cb(n)),
      write: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
        run('write', path, () => ops.write(fd, buf, len, pos), (n) => cb(n), (n) => cb(n)),
      flush: (path: string | null, fd: number, cb: Cb) => voidOp('flush', byFd('flush', path), () => ops.flush(fd), cb),
      fsync: (path: string, _datasync: number, fd: number, cb: Cb) => voidOp('fsync', path, () => ops.flush(fd), cb),
      release: (path: string | null, fd: number, cb: Cb) => voidOp('release', byFd('release', path), () => ops.release(fd), cb),
      truncate: (path: string, size: number, cb: Cb) => voidOp('truncate', path, () => ops.truncate(path, size), cb),
      ftruncate: (path: string, fd: number, size: number, cb: Cb) => voidOp('ftruncate', path, () => ops.ftruncate(fd, size), cb),
      unlink: (path: string, cb: Cb) => voidOp('unlink', path, () => ops.unlink(path), cb),
      mkdir: (path: string, _mode: number, cb: Cb) => voidOp('mkdir', path, () => ops.mkdir(path), cb),
      rmdir: (path: string, cb: Cb) => voidOp('rmdir', path, () => ops.rmdir(path), cb),
      rename: (from: string, to: string, cb: Cb) => voidOp('rename', from, () => ops.rename(from, to), cb),
      utimens: (path: string, _a: number, _m: number, cb: Cb) => voidOp('utimens', path, () => ops.setattrNoop(path), cb),
      chmod: (path: string, _mode: number, cb: Cb) => voidOp('chmod', path, () => ops.setattrNoop(path), cb),
      chown: (path: string, _uid: number, _gid: number, cb: Cb) => voidOp('chown', path, () => ops.setattrNoop(path), cb),
    };
  }
}
