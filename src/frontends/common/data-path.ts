/**
 * THE data path: the one step every front end (S3, REST/FSSpec, FUSE) takes from a request
 * to the bytes. Each request takes ONE snapshot (`ctx.snapshot()`), then
 *
 *   resolve (Snapshot.resolve, latency observed per API)
 *     -> target (mount of the resolution, its UFS adapter, the decoded relative location)
 *     -> writability (a write against a read-only mount is ReadOnlyMount)
 *     -> the worker cache (ctx.cache, when the worker has --cache-dir; src/cache/) -> the UFS
 *
 * Everything thrown from here is an AlluxioError typed by ErrorCode; each protocol boundary
 * maps codes to its own vocabulary with its own table (s3/errors.ts, rest/errors.ts,
 * fuse/errno.ts). Nothing here knows about HTTP, XML or errno.
 */
import { AlluxioError, isAlluxioError } from '../../domain/errors.js';
import type { ParsedMount } from '../../domain/mounts.js';
import type { Resolution, ResolveRequest } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { joinUnderUfs } from '../../domain/ufs-uri.js';
import type { Readable, Writable } from 'node:stream';
import type { ByteRange, LocalFile, UfsAdapter, UfsEntry, UfsOpenFile, WriteOptions } from '../../ufs/types.js';
import type { FrontendContext } from '../context.js';
import { uriOf } from '../../cache/cache.js';
import { announceChange, mayHaveChanged } from '../../cache/announce.js';
import { clusterObject } from '../../cache/cluster-read.js';
import type { ObjectRef } from '../../cache/page-store.js';
import { UfsPageSource, versionOf, type PageSource } from '../../cache/source.js';
import type { RingMember } from '../../cluster/ring.js';
import { mountContaining } from '../../domain/mounts.js';
import { primedObject } from './primed-object.js';

/** A resolved request bound to its mount and adapter: what handlers operate on. */
export interface DataTarget {
  /** The snapshot the request was resolved against (read once per request). */
  snapshot: Snapshot;
  resolution: Resolution;
  mount: ParsedMount;
  adapter: UfsAdapter;
  /** Decoded segments below the mount root (from joinUnderUfs, never split here). */
  rel: readonly string[];
}

export interface TargetOptions {
  /** The request will modify the UFS: refuse (ReadOnlyMount) on a read-only mount. */
  write?: boolean;
}

export class DataPath {
  constructor(private readonly ctx: FrontendContext) {}

  /** The snapshot for one request (throws EtcdUnavailable when none or too stale). */
  snapshot(): Snapshot {
    return this.ctx.snapshot();
  }

  /** Resolve one request against `snap`, observing its latency under its API. */
  resolve(snap: Snapshot, request: ResolveRequest, opts: { allowUnmounted?: boolean; trace?: boolean } = {}): Resolution {
    const t0 = performance.now();
    try {
      return snap.resolve(request, { trace: opts.trace ?? false, allowUnmounted: opts.allowUnmounted ?? false });
    } finally {
      this.ctx.observeResolve?.(request.api, (performance.now() - t0) / 1e3);
    }
  }

  /** Resolve and bind: throws NoMountForPath when the path lands in no mount. */
  target(snap: Snapshot, request: ResolveRequest, opts: TargetOptions = {}): DataTarget {
    return this.bind(snap, this.resolve(snap, request), opts);
  }

  /**
   * Bind an existing resolution (made with allowUnmounted) to its mount and adapter; null
   * when it lands in no mount (a virtual directory, `/`).
   */
  bindIfMounted(snap: Snapshot, resolution: Resolution, opts: TargetOptions = {}): DataTarget | null {
    if (!resolution.mount || !resolution.location) return null;
    return this.bind(snap, resolution, opts);
  }

  /** Bind an existing resolution; throws NoMountForPath when it lands in no mount. */
  bind(snap: Snapshot, resolution: Resolution, opts: TargetOptions = {}): DataTarget {
    const mount = resolution.mount ? snap.mount(resolution.mount.path) : undefined;
    if (!mount || !resolution.location) {
      throw new AlluxioError('NoMountForPath', `no mount for ${resolution.rewrittenPath}`, { step: 'mount' });
    }
    if (opts.write) requireWritable(mount);
    let adapter: UfsAdapter;
    try {
      adapter = this.ctx.ufs(mount);
    } catch (e) {
      // The adapter could not be built (a scheme this worker does not serve, bad options):
      // same code, step 'adapter', so a boundary can tell it from a missing object.
      const a = asAlluxioError(e);
      throw new AlluxioError(a.code, a.message, { step: 'adapter', ...(a.details ? { details: a.details } : {}), cause: e });
    }
    return { snapshot: snap, resolution, mount, adapter, rel: resolution.location.relSegments };
  }

  /**
   * The child `name` of a target directory, joined below the mount by joinUnderUfs (which
   * checks the name), never resolved through the rules again: tree walks (recursive
   * delete, directory moves) stay inside the location they started at. The child keeps
   * the parent's resolution.
   */
  child(t: DataTarget, name: string): DataTarget {
    return { ...t, rel: joinUnderUfs(t.mount.ufs, [...t.rel, name]).relSegments };
  }

  // ---- the bytes: every front end reads, writes and deletes through these, so the worker
  // cache (issue: worker cache) sits behind them and sees every write and delete.

  /**
   * Metadata of the target (null when missing). `fresh`: ask the UFS, never the cache's
   * metadata (a decision that must see the current version: conditional writes).
   */
  async stat(t: DataTarget, opts: { fresh?: boolean } = {}): Promise<UfsEntry | null> {
    const statUfs = () => this.ufs(() => t.adapter.stat(t.rel));
    return this.declared(uriOf(t), this.ctx.cache && !opts.fresh ? await this.ctx.cache.stat(t, statUfs) : await statUfs());
  }

  /** Children of the target directory, sorted by name (UTF-8 bytes). */
  async list(t: DataTarget): Promise<UfsEntry[]> {
    const entries = await this.ufs(() => t.adapter.list(t.rel));
    if (!this.ctx.etags?.count) return entries;
    return entries.map((e) => {
      if (e.type !== 'file') return e;
      try {
        return this.declared(joinUnderUfs(t.mount.ufs, [...t.rel, e.name]).uri, e)!;
      } catch {
        return e; // a name no URI can carry (the listing shows it as it is)
      }
    });
  }

  /**
   * The entry with the ETag declared for its version, if one was (a multipart upload's; see
   * src/cluster/object-etags.ts). A copy: cached entries are never changed.
   */
  private declared(uri: string, e: UfsEntry | null): UfsEntry | null {
    const d = this.ctx.etags;
    if (!d?.count || !e || e.type !== 'file') return e;
    const etag = d.lookup(uri, versionOf(e));
    return etag ? { ...e, declaredEtag: etag } : e;
  }

  /** An opened object with its entry's declared ETag. */
  private declaredObject(uri: string, o: DataObject | null): DataObject | null {
    if (!o || !this.ctx.etags?.count) return o;
    const entry = this.declared(uri, o.entry)!;
    return entry === o.entry ? o : withEntry(o, entry);
  }

  /**
   * Open the target for reading: metadata and bytes of ONE version of the object (null when
   * missing). The caller must close() it unless it took stream(), which closes at its end.
   */
  async open(t: DataTarget, hint: OpenHint = {}): Promise<DataObject | null> {
    return this.declaredObject(uriOf(t), await this.openVersionNow(t, hint));
  }

  private async openVersionNow(t: DataTarget, hint: OpenHint): Promise<DataObject | null> {
    const cache = this.ctx.cache;
    if (this.remoteOwners(t, hint.avoid).length > 0) {
      const o = await this.openThroughOwners(t, hint.avoid);
      if (o !== undefined) return o;
    }
    if (cache) {
      const a = t.adapter;
      const readFirst = a.readFirst && !hint.noBytes ? (range: ByteRange) => this.ufs(() => a.readFirst!(t.rel, range)) : undefined;
      const o = await cache.open(t, () => this.ufs(() => a.stat(t.rel)), readFirst, hint.firstByte);
      if (o !== undefined) return o;
    } else if (t.adapter.readFirst && hint.reads) {
      // No cache: the metadata and the bytes the caller will read in ONE request (not a
      // stat and then a read); missing: answered; null (empty, past the end) or a
      // directory: the stat below.
      const a = t.adapter;
      const want = hint.reads;
      const r = await this.ufs(() => a.readFirst!(t.rel, { start: want.start, end: want.end ?? Number.POSITIVE_INFINITY }));
      if (r && !r.body && !r.entry) return null;
      if (r?.body) {
        const etag = r.entry.etag;
        const span = { start: want.start, end: Math.min(want.end ?? Number.POSITIVE_INFINITY, r.entry.size - 1) };
        return primedObject(r.entry, span, r.body, (range) => this.ufs(() => a.read(t.rel, range, etag)));
      }
    }
    if (t.adapter.openRead) {
      const f = await this.ufs(() => t.adapter.openRead!(t.rel));
      return f ? fromOpenFile(f) : null;
    }
    const entry = await this.stat(t);
    if (!entry) return null;
    const a = t.adapter;
    // Every read names the version stat saw (the ETag, where the adapter can check it): an
    // object replaced meanwhile is a Conflict, never the new bytes under the old size.
    const etag = entry.etag;
    return {
      entry,
      bytes: (range) => this.ufs(() => (a.readBuffer && etag === undefined ? a.readBuffer(t.rel, range) : collect(a.read(t.rel, range, etag)))),
      stream: (range) => this.ufs(() => a.read(t.rel, range, etag)),
      // FUSE reads its windows from this object (pinned to the version), not from whatever
      // the UFS holds by then (DataPath.read)
      ranges: true,
      close: () => {},
    };
  }

  /**
   * The owners to read the target from when another process owns it (docs/cluster-cache.md):
   * the ring's order up to this worker (which then serves from its own cache), without the
   * peers that failed moments ago (the fallback serves instead of waiting on them again);
   * [] when there is no ring or this worker owns the file.
   */
  private remoteOwners(t: DataTarget, avoid?: ReadonlySet<string>): RingMember[] {
    const c = this.ctx.cluster;
    if (!c) return [];
    const order = c.ring.order(uriOf(t));
    // This worker first (every file when it is alone in the ring): nobody to ask before it.
    if (order.length === 0 || order[0]!.name === c.ring.selfName) return [];
    const self = order.findIndex((m) => m.name === c.ring.selfName);
    const owners = c.peers.healthy(self < 0 ? order : order.slice(0, self));
    return avoid && avoid.size > 0 ? owners.filter((m) => !avoid.has(m.name)) : owners;
  }

  /**
   * The worker that should serve the target when it is not this process (S3 redirect): the
   * first owner not suspected of having failed; undefined when this process owns it.
   */
  remoteOwner(t: DataTarget): RingMember | undefined {
    return this.remoteOwners(t)[0];
  }

  /** Another worker owns the target in the cluster cache (so this one should not cache it). */
  ownedElsewhere(t: DataTarget): boolean {
    const c = this.ctx.cluster;
    if (!c) return false;
    const owner = c.ring.order(uriOf(t))[0];
    return owner !== undefined && owner.name !== c.ring.selfName;
  }

  /** Metadata here (the cache's TTL), bytes from the owners; undefined when not a file. */
  private async openThroughOwners(t: DataTarget, avoid?: ReadonlySet<string>): Promise<DataObject | null | undefined> {
    const entry = await this.stat(t);
    if (!entry) return null;
    if (entry.type !== 'file') return undefined;
    const uri = uriOf(t);
    const ref: ObjectRef = { uri, version: versionOf(entry), size: entry.size };
    const ufs = new UfsPageSource(t.adapter, t.rel);
    const cache = this.ctx.cache;
    // A member of the ring falls back to its own cache (it is the next owner); anyone else
    // (a FUSE daemon, a worker without a cache) to the UFS.
    const fallback: PageSource = cache && this.ctx.cluster!.ring.selfName !== undefined ? cache.source(entry, ref, ufs) : ufs;
    return clusterObject({
      entry,
      ref,
      // asked again for every range: a long-lived reader (a FUSE handle) follows the ring
      owners: () => this.remoteOwners(t, avoid),
      peers: this.ctx.cluster!.peers,
      fallback,
      // another version in the UFS: forget this worker's metadata (not the declared ETag,
      // which names the new version when one was declared)
      onChanged: () => this.ctx.cache?.invalidate(uri),
      log: this.ctx.log,
    });
  }

  /**
   * Exactly the version `ref` of a UFS object, from this process's cache (or its UFS): what
   * a peer read asks of the owner. The URI is located in a mount of `snap` (NotFound when
   * none holds it); nothing is resolved through the rules and nothing is forwarded, so a
   * peer read never loops.
   */
  openVersion(snap: Snapshot, ref: ObjectRef): DataObject {
    const at = mountContaining(snap.mounts, ref.uri);
    if (!at) throw new AlluxioError('NotFound', `no mount of this worker holds ${ref.uri}`);
    let adapter: UfsAdapter;
    try {
      adapter = this.ctx.ufs(at.mount);
    } catch (e) {
      throw asAlluxioError(e);
    }
    const entry: UfsEntry = { name: at.rel[at.rel.length - 1] ?? '', type: 'file', size: ref.size, mtimeMs: mtimeOfVersion(ref.version) };
    const source = new UfsPageSource(adapter, at.rel);
    if (this.ctx.cache) return this.ctx.cache.openVersion(entry, ref, source);
    return {
      entry,
      bytes: (range) => this.ufs(() => (source.readBuffer ? source.readBuffer(ref, range ?? { start: 0, end: ref.size - 1 }) : collect(source.read(ref, range ?? { start: 0, end: ref.size - 1 })))),
      stream: (range) => this.ufs(() => source.read(ref, range ?? { start: 0, end: ref.size - 1 })),
      ranges: true,
      close: () => {},
    };
  }

  /**
   * The page files of `ref` covering bytes [start, end] that this process's cache holds on
   * disk (none without a cache): for co-located readers (docs/cluster-cache.md).
   */
  pageFiles(ref: ObjectRef, start: number, end: number): { pageSize: number; pages: { index: number; path: string }[] } {
    const cache = this.ctx.cache;
    if (!cache) return { pageSize: 0, pages: [] };
    const ps = cache.store.pageSize;
    return cache.store.pageFiles(ref, Math.floor(start / ps), Math.floor(end / ps));
  }

  /**
   * A stream of the target's bytes (or a range), without opening it first: for readers
   * that fetch one range at a time (FUSE read-ahead windows over adapters without an open
   * file, the old content of a file being rewritten). Throws NotFound when missing.
   */
  async read(t: DataTarget, range?: ByteRange): Promise<Readable> {
    return this.ufs(() => t.adapter.read(t.rel, range));
  }

  /** Whether the target's adapter can hand out local files (short-circuit reads). */
  hasLocalFiles(t: DataTarget): boolean {
    return typeof t.adapter.localFile === 'function';
  }

  /**
   * The target as a local regular file a client on this host may open itself, with the
   * adapter's containment; null when the adapter has no local files or there is no regular
   * file there.
   */
  async localFile(t: DataTarget): Promise<LocalFile | null> {
    const a = t.adapter;
    if (!a.localFile) return null;
    return this.ufs(() => a.localFile!(t.rel));
  }

  /** Write a whole object (create or replace). */
  async write(t: DataTarget, body: Readable, opts?: WriteOptions): Promise<UfsEntry> {
    requireWritable(t.mount);
    // (the pages only: the declared ETag stays until the write changed something, since a
    // condition at the commit compares against it, and a refused write leaves the version)
    this.dropCached(uriOf(t), false);
    const around = opts?.aroundCommit;
    if (!around) return this.change(t, () => t.adapter.write(t.rel, body));
    // What the caller's wrapper throws itself (a condition that failed at the commit) reaches
    // the caller unchanged; what the commit throws is a UFS failure like any other. Failed
    // before its commit ran (a body cut or refused, a condition failing at the commit, its
    // client gone), the write changed nothing: no other worker is told (a 412 of a
    // conditional write losing a race dropped the object from every worker's cache).
    let fromCommit: unknown;
    let committing = false;
    let own: { e: unknown } | undefined;
    const wrapped: WriteOptions = {
      aroundCommit: (commit) =>
        around(() => {
          committing = true;
          return commit().catch((e: unknown) => Promise.reject((fromCommit = e)));
        }).catch((e: unknown) => {
          if (e !== fromCommit) own = { e };
          throw e;
        }),
    };
    try {
      return await this.change(t, () => t.adapter.write(t.rel, body, wrapped), { changedNothing: () => !committing });
    } catch (e) {
      throw own ? own.e : e;
    }
  }

  /**
   * Delete the target (a file, or an empty directory). `announce: false`: the caller tells
   * the other workers itself (a tree delete, once for the tree: announceTree).
   */
  async delete(t: DataTarget, opts: { announce?: boolean } = {}): Promise<void> {
    return this.change(t, () => t.adapter.delete(t.rel), opts);
  }

  async mkdir(t: DataTarget): Promise<void> {
    return this.change(t, () => t.adapter.mkdir(t.rel));
  }

  /**
   * A change to the target in the UFS: writable mount checked, this worker's cache dropped
   * after it, and the other workers told (src/cache/announce.ts) unless it certainly
   * changed nothing (`announce: false`: the caller tells them; `changedNothing`: asked when
   * `f` failed).
   */
  private async change<T>(t: DataTarget, f: () => Promise<T>, o: { announce?: boolean; changedNothing?: () => boolean } = {}): Promise<T> {
    requireWritable(t.mount);
    let failure: unknown;
    let failed = false;
    try {
      return await this.ufs(f);
    } catch (e) {
      failure = e;
      failed = true;
      throw e;
    } finally {
      const unchanged = failed && (!mayHaveChanged(failure) || o.changedNothing?.() === true);
      if (unchanged) this.dropCached(uriOf(t), false);
      else this.invalidate(t);
      if (o.announce !== false && !unchanged) await this.announce(uriOf(t), false);
    }
  }

  /** Tell the other workers that everything at or below the target changed (after a tree delete). */
  announceTree(t: DataTarget): Promise<void> {
    return this.announce(uriOf(t), true);
  }

  private async announce(uri: string, tree: boolean): Promise<void> {
    if (this.ctx.cluster) await announceChange(this.ctx.cluster, this.ctx.log, uri, tree);
  }

  /** Drop the target's cached metadata and pages on this worker, and its declared ETag (after a write or delete). */
  invalidate(t: DataTarget): void {
    this.forgetHere(uriOf(t), false);
  }

  /**
   * Drop everything cached at or below the target (a directory moved or removed, a name
   * renamed over): the metadata, and the pages of the name itself, at once; the pages below
   * it over the next turns of the loop (WorkerCache.free).
   */
  invalidateTree(t: DataTarget): void {
    this.forgetHere(uriOf(t), true);
  }

  /** After a change made here: the cache (dropCached) and the declared ETag record, which is this worker's to delete. */
  private forgetHere(uri: string, tree: boolean): void {
    this.dropCached(uri, tree);
    this.ctx.etags?.forget(uri);
  }

  /**
   * Drop what this process cached of a UFS URI (`tree`: and below it): after a change here,
   * or one another worker announced (POST /api/v1/peer/invalidate; the declared ETag record
   * in etcd is the changing worker's to delete: the others see that through their mirror).
   */
  dropCached(uri: string, tree: boolean): void {
    const cache = this.ctx.cache;
    if (tree) cache?.free(uri).catch((e: Error) => this.ctx.log.warn({ uri, err: e.message }, 'dropping cached pages below a changed path failed'));
    else cache?.invalidate(uri);
  }

  /**
   * Declare the ETag clients are told for the version `entry` of the target (a completed
   * multipart upload). False when it could not be recorded (etcd unreachable, no registry):
   * the caller then reports the entry's own ETag, so every answer agrees.
   */
  async declareEtag(t: DataTarget, entry: UfsEntry, etag: string): Promise<boolean> {
    const d = this.ctx.etags;
    if (!d || entry.type !== 'file') return false;
    try {
      await d.declare(uriOf(t), versionOf(entry), etag);
      return true;
    } catch (e) {
      this.ctx.log.warn({ err: (e as Error).message, uri: uriOf(t) }, 'could not record the multipart ETag; answering the object\'s own');
      return false;
    }
  }

  /**
   * Move `from` (a file or a directory of type `type`) to `to` inside ONE mount: the
   * adapter's own rename where it has one, else copy then delete (a directory is recreated
   * and its children moved one by one: not atomic). `toExists`: `to` is an existing (empty)
   * directory, or a file to replace. Across mounts: InvalidArgument (the caller decides
   * what that means in its protocol, e.g. EXDEV).
   */
  async rename(from: DataTarget, to: DataTarget, type: 'file' | 'directory', toExists: boolean): Promise<void> {
    requireWritable(from.mount);
    requireWritable(to.mount);
    if (from.mount.path !== to.mount.path || from.adapter !== to.adapter) {
      throw new AlluxioError('InvalidArgument', `${from.resolution.alluxioPath} and ${to.resolution.alluxioPath} are in different mounts`);
    }
    const a = from.adapter;
    try {
      if (a.rename) {
        try {
          return await this.ufs(() => a.rename!(from.rel, to.rel));
        } catch (e) {
          // (an adapter that cannot move these two in one step, e.g. across file systems: copy)
          if (!(isAlluxioError(e) && e.code === 'UfsNotSupported')) throw e;
        }
      }
      return await this.ufs(() => moveTree(a, from.rel, to.rel, type, toExists));
    } finally {
      // both names now hold other bytes (or none): drop what this worker and the others
      // cached under them (also after a failure: a move of a tree fails part-way)
      this.invalidateTree(from);
      this.invalidateTree(to);
      await Promise.all([this.announce(uriOf(from), true), this.announce(uriOf(to), true)]);
    }
  }

  /**
   * Run one UFS call: AlluxioErrors pass through; anything else (a bug, an SDK error the
   * adapter did not map) becomes UfsUnavailable naming what happened, so every boundary
   * answers from its table instead of a stack trace.
   */
  async ufs<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw asAlluxioError(e);
    }
  }
}

/** ReadOnlyMount when `mount` is read-only (checked per request against its snapshot). */
export function requireWritable(mount: ParsedMount): void {
  if (mount.readOnly) throw new AlluxioError('ReadOnlyMount', `${mount.path} is mounted read-only`, { details: { mount: mount.path } });
}

/** Any thrown value as an AlluxioError (unknown errors become UfsUnavailable with their message). */
export function asAlluxioError(e: unknown): AlluxioError {
  if (isAlluxioError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new AlluxioError('UfsUnavailable', msg, { cause: e });
}

/**
 * One opened version of an object: its metadata and its bytes. `bytes` is for lengths up to
 * SMALL_OBJECT_BYTES (one buffer); `stream` for anything; `sendTo` (optional) writes into a
 * destination with backpressure and reused buffers.
 */
/**
 * What the caller of open() will read first, when it knows: `firstByte` of its first range
 * (S3 GET with a Range, a REST read at an offset). A cold open through the cache asks the
 * UFS for that part in the same request that tells it the version (WorkerCache.open).
 */
export interface OpenHint {
  firstByte?: number;
  /** Only the metadata will be used (HEAD): nothing is fetched ahead. */
  noBytes?: boolean;
  /**
   * The bytes the caller reads right after opening (a GET): [start, end], end undefined =
   * to the object's end. Without a cache, a UFS with `readFirst` answers the metadata and
   * these bytes in one request (primed-object.ts).
   */
  reads?: { start: number; end?: number };
  /**
   * Workers (placement names) the client already failed on for this read: not asked as
   * owners (a client failing over from a hung owner would otherwise wait on it again
   * through this worker; the next owner, or this worker's cache, serves instead).
   */
  avoid?: ReadonlySet<string>;
}

/**
 * An opened object. It may be a class instance (primedObject): wrap one (withEntry), never
 * copy it with a spread, which would drop methods that live on its prototype.
 */
export interface DataObject {
  entry: UfsEntry;
  bytes(range?: ByteRange): Promise<Buffer>;
  /**
   * What bytes() would give, when it is at hand without I/O (a page in the cache's memory
   * tier), else undefined: a warm small read skips the promises. Optional.
   */
  bytesNow?(range?: ByteRange): Buffer | undefined;
  /** Takes ownership: the object is closed when the stream ends. */
  stream(range?: ByteRange): Promise<Readable>;
  sendTo?(dest: Writable, range?: ByteRange): Promise<void>;
  /** The adapter's open file, when it has one (FUSE reads ranges into its windows from it). */
  file?: UfsOpenFile;
  /**
   * bytes() and stream() may be called any number of times, for any ranges, until close()
   * (objects of the worker cache and of the cluster cache: FUSE reads its windows from them).
   */
  ranges?: boolean;
  close(): void;
}

/**
 * `o` answering with another entry (the same bytes): a view that forwards each call to it. Not
 * a spread: an object whose methods live on its class's prototype (primedObject) would lose
 * them in the copy.
 */
function withEntry(o: DataObject, entry: UfsEntry): DataObject {
  return {
    entry,
    bytes: (range) => o.bytes(range),
    ...(o.bytesNow ? { bytesNow: (range?: ByteRange) => o.bytesNow!(range) } : {}),
    stream: (range) => o.stream(range),
    ...(o.sendTo ? { sendTo: (dest: Writable, range?: ByteRange) => o.sendTo!(dest, range) } : {}),
    ...(o.file ? { file: o.file } : {}),
    ...(o.ranges ? { ranges: true } : {}),
    close: () => o.close(),
  };
}

function fromOpenFile(f: UfsOpenFile): DataObject {
  return {
    entry: f.entry,
    bytes: async (range) => f.readBuffer(range),
    stream: async (range) => f.stream(range),
    ...(f.sendTo ? { sendTo: (dest: Writable, range?: ByteRange) => f.sendTo!(dest, range) } : {}),
    file: f,
    close: () => f.close(),
  };
}

/** Copy-then-delete move through the adapter interface (read, write, mkdir, list, delete). */
async function moveTree(a: UfsAdapter, from: readonly string[], to: readonly string[], type: 'file' | 'directory', toExists: boolean): Promise<void> {
  if (type === 'file') {
    const body = await a.read(from);
    try {
      await a.write(to, body);
    } catch (e) {
      body.destroy(); // the source's file or socket, when the write failed before reading it
      throw e;
    }
    await a.delete(from);
    return;
  }
  if (!toExists) await a.mkdir(to);
  // (a name an object store lists twice, object `a` and keys below `a/`: the file, then the tree)
  for (const child of await a.list(from)) {
    await moveTree(a, [...from, child.name], [...to, child.name], child.type, false);
  }
  await gone(() => a.delete(from));
}

/**
 * Delete a directory whose children were just deleted or moved. In an object store a
 * directory without a `key/` marker is only the keys below it, so it went with the last of
 * them: NotFound then means done.
 */
async function gone(del: () => Promise<void>): Promise<void> {
  try {
    await del();
  } catch (e) {
    if (!(isAlluxioError(e) && e.code === 'NotFound')) throw e;
  }
}

/** DataPath.delete of a directory whose children were just deleted (see gone()); the caller announces the tree. */
export function deleteGoneDirectory(dp: DataPath, t: DataTarget): Promise<void> {
  return gone(() => dp.delete(t, { announce: false }));
}

/** The mtime a version names (`sm:<size>:<mtimeMs>`), else 0 (an ETag names none). */
function mtimeOfVersion(v: string): number {
  const m = /^sm:\d+:(\d+(?:\.\d+)?)$/.exec(v);
  return m ? Number(m[1]) : 0;
}

async function collect(p: Promise<Readable>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
