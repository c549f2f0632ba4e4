/**
 * The FUSE operation layer: every file system call the kernel forwards, answered through
 * THE resolver against ONE snapshot per call (resolution.md §5). Independent of the FUSE
 * binding (daemon.ts wires it to fuse-native), so the semantics live in one place:
 *
 * - `/` lists the mounts and the top-level virtual directories of rules; a path under no
 *   mount and not virtual is ENOENT; rules apply to every operation exactly as to S3 and
 *   FSSpec, and virtual directories from rules appear in listings.
 * - Every resolution, stat, listing, read, write, delete, mkdir and rename goes through THE
 *   data path (../common/data-path.ts; the worker cache sits behind it), with read-ahead
 *   over the opened object: its file where it has one, or its ranges (a file read through
 *   the worker that owns it, docs/cluster-cache.md).
 * - Per-component lookups (resolution.md §2): a directory that exists only as a step
 *   towards paths a rule reaches (a multi-segment regex, a prefix rule whose exclude lets
 *   some names fall through) is traversable, and listings show a name only where reading
 *   it reaches the entry listed (../common/traversal.ts, shared with REST and S3).
 * - Writable mounts: create, write, truncate, unlink, mkdir, rmdir, rename inside one
 *   mount (across mounts: EXDEV, so mv falls back to copy + delete). Read-only: EROFS.
 * - Attribute and listing caches (short TTL) are dropped whenever the snapshot changes
 *   and on every write through this daemon.
 *
 * Paths from the kernel are relative to the FUSE root (`/data/x`); the POSIX request is
 * `<fuse-root>/data/x` and the resolver strips the root (resolution.md §2).
 *
 * Size (~500 lines): ONE concern, the operations themselves, which share the per-call
 * snapshot, the stat/listing caches and the handle table. Everything that is not an
 * operation lives in its own module: attributes (attr.ts), spools (spool.ts), open files
 * (handles.ts), read-ahead, errno (errno.ts), and the data path, listing and traversal
 * shared with the other front ends (../common/).
 */
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { baseName, joinPaths, normalizePath, parentOf, pathOf } from '../../domain/paths.js';
import { isAlluxioError } from '../../domain/errors.js';
import type { Resolution } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { sameVersion, type UfsEntry } from '../../ufs/types.js';
import { DataPath, type DataTarget } from '../common/data-path.js';
import { isTraversable, listMerged, type MergedListing } from '../common/listing.js';
import type { FrontendContext } from '../context.js';
import { attrOf, type Attr, type Node, type Owner } from './attr.js';
import { Errno, fsError } from './errno.js';
import { newSpoolDir } from './spool.js';
import { dirPrefix, HandleTable, ReadHandle, WriteHandle, type Located } from './handles.js';
import type { ReadAheadOptions } from './read-ahead.js';

export type { Attr };

const O_ACCMODE = 3;
const O_RDONLY = 0;
const O_TRUNC = 0o1000;
const W_OK = 2;

export interface FuseOpsOptions {
  /** The absolute mount point (the FUSE root), e.g. /mnt/alluxio/fuse. */
  fuseRoot: string;
  /** How long a stat or listing is reused within one snapshot, ms (0: never). */
  attrCacheMs?: number;
  readAhead?: ReadAheadOptions;
  /** Where write spools go (default: a private temp dir, removed by close()). */
  spoolDir?: string;
  /** Bits taken away from the modes the mount shows (default 0o022). */
  umask?: number;
}

interface Target {
  res: Resolution;
  /** Canonical Alluxio path the call named (cache key). */
  path: string;
  /** The data path's target: null when the path lands in no mount (`/`, virtual directories). */
  dt: DataTarget | null;
}

type Bound = Target & { dt: DataTarget };
/** A name hidden (unlinked while open) whose UFS object is still to be removed. */
type PendingHide = { t: Bound; path: string; hidden: string; entry: UfsEntry; writers: WriteHandle[]; timer: NodeJS.Timeout; removing?: Promise<void> };

interface Cached<T> {
  at: number;
  value: T;
}

/** How many files' last-told sizes the daemon keeps (the kernel's view, for open). */
const TOLD_SIZES = 10_000;
/** How long after an ESTALE for a changed size the kernel's retry of that open is let through. */
const STALE_RETRY_MS = 2_000;

export class FuseOps {
  readonly handles = new HandleTable();
  /** Files libfuse hid (unlinked while open: hide()), by their hidden path, until their last close. */
  private readonly hidden = new Map<string, { size: number; mtimeMs: number; writers: WriteHandle[]; uri: string }>();
  /**
   * Names hidden whose UFS object is still to be removed (hide()), by UFS URI: removed when
   * HIDE_GRACE_MS passed or an operation settles it (see hide), or replaced by a rename onto it.
   */
  private readonly pendingHides = new Map<string, PendingHide>();
  private readonly root: string;
  private readonly attrCacheMs: number;
  private readonly readAhead: ReadAheadOptions;
  private readonly spoolDir: string;
  private readonly ownSpool: boolean;
  private snap: Snapshot | undefined;
  private readonly stats = new Map<string, Cached<UfsEntry | null>>();
  private readonly listings = new Map<string, Cached<MergedListing>>();
  /**
   * Counts dropCaches: a stat or listing that was under way across a drop may be of the file
   * before the change that dropped them, and is not kept.
   */
  private cacheGen = 0;
  /**
   * The size of a file as the kernel last heard it (getattr answers: the kernel reads a file
   * by it), most recent last, bounded; and the paths whose open just answered ESTALE for
   * it (the kernel's one retry is not refused again).
   */
  private readonly toldSize = new Map<string, { size: number; seq: number }>();
  /** Counts what the kernel is told (toldSize's seq): a descriptor knows what came after its open. */
  private toldSeq = 0;
  private readonly staleOpen = new Map<string, number>();
  private readonly dp: DataPath;
  private readonly owner: Owner;
  /** Counters for logs and tests. */
  readonly counters = { calls: 0, errors: 0, cacheDrops: 0, byOp: {} as Record<string, number> };

  constructor(private readonly ctx: FrontendContext, opts: FuseOpsOptions) {
    this.dp = new DataPath(ctx);
    this.owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, started: new Date(), umask: opts.umask ?? 0o022 };
    this.root = normalizePath(opts.fuseRoot);
    this.attrCacheMs = opts.attrCacheMs ?? 1000;
    this.readAhead = opts.readAhead ?? {};
    this.ownSpool = opts.spoolDir === undefined;
    this.spoolDir = opts.spoolDir ?? newSpoolDir();
  }

  // ---------------------------------------------------------------- snapshot & resolution

  /** The snapshot for this call (read once); a new one drops every cache. */
  private view(): Snapshot {
    const snap = this.dp.snapshot();
    if (snap !== this.snap) {
      if (this.snap !== undefined) this.counters.cacheDrops++;
      this.snap = snap;
      this.dropCaches();
    }
    return snap;
  }

  dropCaches(): void {
    this.cacheGen++;
    this.stats.clear();
    this.listings.clear();
  }

  private resolve(snap: Snapshot, path: string): Resolution {
    const local = path === '/' ? this.root : this.root === '/' ? path : this.root + path;
    return this.dp.resolve(snap, { api: 'posix', path: local, fuseRoot: this.root }, { allowUnmounted: true });
  }

  private target(snap: Snapshot, path: string): Target {
    const res = this.resolve(snap, path);
    return { res, path: res.alluxioPath, dt: this.dp.bindIfMounted(snap, res) };
  }

  private isVirtual(snap: Snapshot, path: string): boolean {
    if (path === '/') return true;
    return snap.virtualChildren(parentOf(path)).includes(baseName(path)) || snap.virtualChildren(path).length > 0;
  }

  private located(t: Bound, snap: Snapshot): Located {
    return { path: t.path, ufsUri: t.res.ufsUri!, dp: this.dp, target: t.dt, revision: snap.revision, mountPath: t.dt.mount.path, mountUfsUri: t.dt.mount.ufsUri };
  }

  /**
   * For a write handle, before each upload: the mount it was opened in must still be
   * writable and point at the same UFS URI in the CURRENT snapshot. Read-only now (a
   * migration started): EROFS. Removed or repointed (a cutover): ESTALE.
   */
  private recheckFor(at: { mountPath: string; mountUfsUri: string }, since = 'the file was opened for writing'): () => void {
    return () => {
      const m = this.view().mounts.find((x) => x.path === at.mountPath);
      if (!m || m.ufsUri !== at.mountUfsUri) {
        throw fsError(Errno.ESTALE, `mount ${at.mountPath} ${m ? `now points at ${m.ufsUri}` : 'was removed'} since ${since}`);
      }
      if (m.readOnly) throw fsError(Errno.EROFS, `mount ${at.mountPath} became read-only since ${since}`);
    };
  }

  // ---------------------------------------------------------------- caches

  private fresh<T>(c: Cached<T> | undefined): c is Cached<T> {
    return c !== undefined && this.attrCacheMs > 0 && Date.now() - c.at < this.attrCacheMs;
  }

  private async statOf(t: Bound, useCache = true): Promise<UfsEntry | null> {
    const hit = this.stats.get(t.path);
    if (useCache && this.fresh(hit)) return hit.value;
    const gen = this.cacheGen;
    const entry = await this.dp.stat(t.dt);
    if (gen === this.cacheGen) this.stats.set(t.path, { at: Date.now(), value: entry });
    return entry;
  }

  private async lookup(snap: Snapshot, path: string): Promise<{ node: Node; t: Target | null }> {
    if (path === '/') return { node: { kind: 'root' }, t: null };
    const hidden = this.hidden.get(path);
    if (hidden) {
      // (its writers' spool when it has writers: a truncate after the unlink shrinks it)
      const size = hidden.writers.length > 0 ? Math.max(...hidden.writers.map((w) => w.currentSize)) : hidden.size;
      return { node: { kind: 'ufs', entry: { name: baseName(path), type: 'file', size, mtimeMs: hidden.mtimeMs }, readOnly: false }, t: null };
    }
    const t = this.target(snap, path);
    if (isBound(t)) {
      // (a release still uploading is the file's last change: a truncate by name that found
      // its writer before the release returned already; the UFS still holds the version before)
      await this.handles.settled(t.res.ufsUri!);
      if (this.pendingHides.has(t.res.ufsUri!)) throw fsError(Errno.ENOENT); // unlinked (hide)
      const writing = this.handles.writersOf(t.res.ufsUri!);
      if (writing.length > 0) {
        const size = Math.max(...writing.map((w) => w.currentSize));
        return { node: { kind: 'ufs', entry: { name: baseName(path), type: 'file', size, mtimeMs: Date.now() }, readOnly: t.dt.mount.readOnly }, t };
      }
      let entry: UfsEntry | null;
      try {
        entry = await this.statOf(t);
      } catch (e) {
        // An unreachable UFS still shows its mount point as a directory.
        if (t.dt.rel.length === 0) return { node: { kind: 'virtual' }, t };
        throw e;
      }
      if (entry) return { node: { kind: 'ufs', entry, readOnly: t.dt.mount.readOnly }, t };
    }
    if (this.isVirtual(snap, t.path)) return { node: { kind: 'virtual' }, t };
    // A step towards paths the rules reach (per-component lookups): a directory.
    if (await this.traversable(snap, t)) return { node: { kind: 'virtual' }, t };
    throw fsError(Errno.ENOENT);
  }

  // ---------------------------------------------------------------- metadata

  async getattr(path: string): Promise<Attr> {
    const snap = this.view();
    const { node } = await this.lookup(snap, path);
    const attr = attrOf(node, this.owner);
    if (node.kind === 'ufs' && node.entry.type === 'file') this.told(path, node.entry.size);
    return attr;
  }

  /**
   * The attributes of an open descriptor, which the kernel asks before a read past the size
   * it knows (with attrTimeout 0: at every end of file). A reader whose version is larger
   * than the size the kernel was last told for the name (a lookup found it replaced by a
   * smaller object, or re-pointed by a rule) gets ESTALE: before, the read ended early at
   * that size with no error, a prefix of its version (the fuzz probe of 2026-12-02). Its own
   * larger size is not reported instead: the kernel keeps one size and one page cache per
   * name, so the old version's tail would then be read by descriptors of the new one.
   * Otherwise the reader's own version. From memory: no stat of the name (a read to the end
   * of a file replaced meanwhile that nobody looked up reads whole and ends with 0).
   * (fstat(2) itself is asked by the name: Linux's FUSE getattr has no descriptor.)
   * Once the name moved on through this daemon (a writer of it is open, or one replaced the
   * version read), by the name: the kernel takes the size as the file's, and an O_APPEND
   * writer's next write lands at it. (Before 2026-12-02 a reader at its end of file while
   * an appender wrote, as `tail -f` does, put the kernel's size back to its version's, and
   * every append then overwrote the file from there: the appended lines were lost.)
   */
  async fgetattr(path: string, fd: number): Promise<Attr> {
    const h = this.handles.get(fd);
    if (h?.kind !== 'read' || !h.entry || h.apartFromName || h.isReplaced || this.handles.writersOf(h.at.ufsUri).length > 0) return this.getattr(path);
    // (told before the open: the kernel had not heard of this version yet, e.g. a file that
    // grew since a lookup; the descriptor's own size is then news, not a step back)
    const told = this.toldSize.get(path);
    if (told !== undefined && told.seq > h.openedAt && told.size < h.entry.size) {
      throw fsError(Errno.ESTALE, `${path} is ${told.size} bytes now; this descriptor reads a version of ${h.entry.size} bytes, which the kernel can no longer read to its end`);
    }
    this.told(path, h.entry.size);
    h.sizeToldAt = this.toldSeq;
    return attrOf({ kind: 'ufs', entry: h.entry, readOnly: h.at.target.mount.readOnly }, this.owner);
  }

  /**
   * A read of a descriptor's own version that ended short of the size the kernel was told of
   * the name since (a lookup found it replaced by a larger object): ESTALE, not the short
   * count. The kernel holds one size per name; a short read under it is taken as the end of
   * the file only when no lookup changed that size while the read was under way, and
   * otherwise the rest of the page is handed to the reader as zeros (the fuzz probe of
   * 2026-12-02: a read racing a stat of the replaced name returned its version padded with
   * zeros). The daemon cannot see which of the two the kernel will do, so it says the
   * version ended while the name moved on. (A descriptor the kernel was last given its own
   * size for, by fgetattr at its end of file, reads to its end and gets 0 as before.)
   */
  private endedBehindName(h: ReadHandle, path: string | undefined, n: number, len: number, pos: number): number {
    if (n >= len || path === undefined || !h.entry || h.apartFromName || h.isReplaced) return n;
    const told = this.toldSize.get(path);
    if (told === undefined || told.seq <= h.sizeToldAt || told.size <= pos + n) return n;
    if (this.handles.writersOf(h.at.ufsUri).length > 0) return n; // (the name's size is a writer's: read on in it)
    throw fsError(Errno.ESTALE, `${path} is ${told.size} bytes now; this descriptor's version ends at ${pos + n}, short of the size the kernel was told`);
  }

  /**
   * The sizes told of names a rename through this mount moved: the kernel's inodes (and the
   * sizes it holds for them) move with their names, so what was told of `from` (and below it)
   * is now of `to`, and what was told of the name replaced at `to` is of no file any more.
   * (Left by name, a descriptor of a file renamed over a larger one got ESTALE at its end:
   * the review of 2026-12-03.)
   */
  private renamedSizes(from: string, to: string): void {
    const under = (k: string, p: string) => k === p || k.startsWith(p === '/' ? '/' : `${p}/`);
    const moved: [string, { size: number; seq: number }][] = [];
    for (const [k, v] of [...this.toldSize]) {
      if (under(k, from)) moved.push([to + k.slice(from.length), v]);
      if (under(k, from) || under(k, to)) this.toldSize.delete(k);
    }
    for (const [k, v] of moved) this.toldSize.set(k, v);
  }

  /** The size the kernel now holds for `path` (open() compares: a file that shrank since is ESTALE). */
  private told(path: string, size: number): void {
    this.toldSize.delete(path);
    this.toldSize.set(path, { size, seq: ++this.toldSeq });
    if (this.toldSize.size > TOLD_SIZES) this.toldSize.delete(this.toldSize.keys().next().value!);
  }

  /** Per-component lookups: children below `t` reach something though `t` itself does not. */
  private async traversable(snap: Snapshot, t: Target): Promise<boolean> {
    const cached = this.listings.get(t.path);
    if (this.fresh(cached)) return cached.value.exists;
    return isTraversable(this.dp, snap, t.res);
  }

  async readdir(path: string): Promise<string[]> {
    const snap = this.view();
    if (path === '/') return ['.', '..', ...snap.virtualChildren('/')];
    const t = this.target(snap, path);
    const cached = this.listings.get(t.path);
    const gen = this.cacheGen;
    let l: MergedListing;
    if (this.fresh(cached)) l = cached.value;
    else {
      // THE shared listing (common/listing.ts): UFS entries, virtual directories, and the
      // children that per-component lookups reach, exactly as REST and S3 list them.
      // (a name that is a file and a directory is the file, as its lookup says: design 6)
      l = await listMerged(this.dp, snap, t.res, { fileWins: true });
      if (gen === this.cacheGen) this.listings.set(t.path, { at: Date.now(), value: l });
    }
    if (!l.exists) throw fsError(l.ufsFile ? Errno.ENOTDIR : Errno.ENOENT);
    if (isBound(t) && l.ufsDirectory && gen === this.cacheGen) this.primeChildren(snap, t, l.entries, new Set(l.virtual));
    const names = l.entries.map((e) => e.name);
    // Files created here and still open for writing (not in the UFS before their first
    // close) are listed as `stat` finds them (before 2026-12-02 `ls` left them out).
    if (isBound(t)) names.push(...this.openNewFiles(snap, t, new Set(names)));
    if (this.pendingHides.size === 0) return ['.', '..', ...names];
    // Names unlinked while open (hide) are gone here already: each child as the resolver
    // places it (an alias path of a hidden file is hidden too), only while any is pending.
    const hidden = (n: string): boolean => {
      const p = childPath(t.path, n);
      if (p === undefined) return false;
      const c = this.target(snap, p);
      return isBound(c) && this.pendingHides.has(c.res.ufsUri!);
    };
    return ['.', '..', ...names.filter((n) => !hidden(n))];
  }

  /** Names of files open for writing through this daemon directly in `dir`, not in `listed`. */
  private openNewFiles(snap: Snapshot, dir: Bound, listed: ReadonlySet<string>): string[] {
    const out: string[] = [];
    const under = dirPrefix(dir.res.ufsUri!);
    for (const w of this.handles.writersBelow(dir.res.ufsUri!)) {
      if (w.at.ufsUri.indexOf('/', under.length) !== -1) continue; // (deeper down)
      const name = baseName(w.at.path);
      if (listed.has(name) || out.includes(name)) continue;
      const p = childPath(dir.path, name);
      if (p === undefined) continue;
      const c = this.target(snap, p);
      if (isBound(c) && c.res.ufsUri === w.at.ufsUri) out.push(name);
    }
    return out;
  }

  /**
   * A listing carries every child's stat: keep them, so `ls -l` and `find` cost one list
   * per directory. Only for children that resolve to exactly "this location + name" (a
   * rule may send a child elsewhere).
   */
  private primeChildren(snap: Snapshot, t: Bound, entries: UfsEntry[], virtual: Set<string>): void {
    if (this.attrCacheMs <= 0) return;
    const now = Date.now();
    for (const e of entries) {
      if (virtual.has(e.name)) continue;
      const child = childPath(t.path, e.name);
      if (child === undefined) continue;
      let res: Resolution;
      try {
        res = this.resolve(snap, child);
      } catch {
        continue;
      }
      const rel = res.location?.relSegments;
      const base = t.dt.rel;
      if (!res.mount || res.mount.path !== t.dt.mount.path || !rel || rel.length !== base.length + 1 || rel[rel.length - 1] !== e.name) continue;
      let same = true;
      for (let i = 0; i < base.length; i++) if (rel[i] !== base[i]) same = false;
      if (same) this.stats.set(child, { at: now, value: e });
    }
  }

  statfs(): Record<string, number> {
    const big = 0x40000000;
    return { bsize: 4096, frsize: 4096, blocks: big, bfree: big, bavail: big, files: 1_000_000, ffree: 1_000_000, favail: 1_000_000, fsid: 0, flag: 0, namemax: 255 };
  }

  // ---------------------------------------------------------------- open / read / write

  async open(path: string, flags: number): Promise<number> {
    const snap = this.view();
    const t = this.target(snap, path);
    const writing = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (!isBound(t)) throw fsError(this.isVirtual(snap, t.path) ? Errno.EISDIR : Errno.ENOENT);
    if (this.pendingHides.has(t.res.ufsUri!)) throw fsError(Errno.ENOENT); // unlinked (hide)
    if (writing && t.dt.mount.readOnly) throw fsError(Errno.EROFS);
    // (for reading too: a release still uploading left the writers already, and the UFS
    // still holds the version before its last change, a truncate by name already answered)
    await this.handles.settled(t.res.ufsUri!);
    const inFlight = this.handles.writersOf(t.res.ufsUri!);
    if (!writing && inFlight.length === 0) {
      // Open once: size and bytes from the same opened version (DataPath.open).
      const gen = this.cacheGen;
      const obj = await this.dp.open(t.dt);
      if (!obj) throw this.goneSinceLookup(snap, t);
      if (obj.entry.type === 'directory') {
        obj.close();
        throw fsError(Errno.EISDIR);
      }
      if (gen === this.cacheGen) this.stats.set(t.path, { at: Date.now(), value: obj.entry });
      const told = this.toldSize.get(path)?.size;
      const retried = this.staleOpen.get(path);
      if (retried !== undefined) this.staleOpen.delete(path);
      if (told !== undefined && obj.entry.size < told && !(retried !== undefined && Date.now() - retried < STALE_RETRY_MS)) {
        // The file shrank since the kernel heard its size (our attribute cache, or a change
        // in between): the kernel reads by that size and would zero-fill the tail past the
        // new end. ESTALE makes it look the name up again (now answered with this version's
        // size) and open once more; that retry is not refused again, even if the file
        // changed once more. (A grown file is fine: a read past the old size asks first.)
        obj.close();
        this.staleOpen.set(path, Date.now());
        if (this.staleOpen.size > TOLD_SIZES) this.staleOpen.delete(this.staleOpen.keys().next().value!);
        throw fsError(Errno.ESTALE, `${t.path} is ${obj.entry.size} bytes now, not the ${told} the kernel was told`);
      }
      // Kept when windows can be read from it (an open file, or an object read through its
      // owning workers, docs/cluster-cache.md); else each window is a DataPath.read stream.
      const usable = Boolean(obj.file?.readInto || obj.file?.sendTo || obj.ranges);
      if (!usable) obj.close();
      // (its entry, for fgetattr, only when its reads are of that version)
      return this.handles.add(usable ? new ReadHandle(this.located(t, snap), obj.entry.size, this.readAhead, obj, undefined, obj.entry, this.toldSeq) : new ReadHandle(this.located(t, snap), obj.entry.size, this.readAhead));
    }
    // Always a fresh stat at open: another client may have changed the file.
    const entry = inFlight.length ? null : await this.statOf(t, false);
    if (!entry && inFlight.length === 0) throw this.goneSinceLookup(snap, t);
    if (entry && entry.type === 'directory') throw fsError(Errno.EISDIR);
    const size = entry ? entry.size : Math.max(...inFlight.map((w) => w.currentSize));
    if (!writing) {
      // Opened for reading while this daemon writes it: the bytes written so far, as a local
      // file shows them (the writer with the largest spool when several write it).
      const writer = inFlight.find((w) => w.currentSize === size);
      return this.handles.add(new ReadHandle(this.located(t, snap), size, this.readAhead, undefined, writer));
    }
    // Another descriptor of this daemon writes the file: share its spool (one file, as on a
    // local file system: two O_APPEND writers interleave, a truncate is seen by both).
    // (asked again after the stat above: an open that ran meanwhile may have made the handle)
    const shared = this.handles.writersOf(t.res.ufsUri!)[0];
    if (shared) {
      if ((flags & O_TRUNC) !== 0) {
        await shared.truncate(0);
        // (the release of its last descriptor, an unlink or a rename took it off the name while
        // the truncate waited its turn: no new descriptor for a handle on its way out; again)
        if (!this.handles.writersOf(t.res.ufsUri!).includes(shared)) return this.open(path, flags);
      }
      shared.refs++; // (after the truncate: one that failed leaves the count as it was)
      return this.handles.add(shared);
    }
    const at = this.located(t, snap);
    const h = new WriteHandle(at, this.spoolDir, { existingSize: size, fresh: false, recheck: this.recheckFor(at) });
    if ((flags & O_TRUNC) !== 0) {
      try {
        await h.truncate(0);
      } catch (e) {
        await h.dispose();
        throw e;
      }
    }
    // (and once more: the truncate awaited)
    const joined = this.handles.writersOf(t.res.ufsUri!)[0];
    if (joined) {
      await h.dispose();
      if ((flags & O_TRUNC) !== 0) await joined.truncate(0);
      if (!this.handles.writersOf(t.res.ufsUri!).includes(joined)) return this.open(path, flags); // (as above)
      joined.refs++;
      return this.handles.add(joined);
    }
    return this.handles.add(h);
  }

  /**
   * The kernel opens a name its (cached) lookup found, and the UFS no longer has it (deleted
   * behind the mount within --attr-cache). ESTALE, not ENOENT: the kernel then looks the name
   * up again (LOOKUP_REVAL) and goes on from what it finds now: ENOENT for a plain open, a
   * create for O_CREAT (which the kernel does not pass to open: an O_CREAT|O_TRUNC open used
   * to fail with ENOENT for up to a second). The stat just taken answers that lookup.
   */
  private goneSinceLookup(snap: Snapshot, t: Bound): Error {
    if (this.isVirtual(snap, t.path)) return fsError(Errno.EISDIR);
    this.stats.set(t.path, { at: Date.now(), value: null });
    this.listings.clear();
    return fsError(Errno.ESTALE, `${t.path} is gone from the UFS since the kernel looked it up`);
  }

  async create(path: string): Promise<number> {
    const snap = this.view();
    const t = this.target(snap, path);
    if (!isBound(t)) throw fsError(this.isVirtual(snap, t.path) ? Errno.EEXIST : Errno.ENOENT);
    if (t.dt.mount.readOnly) throw fsError(Errno.EROFS);
    if (t.dt.rel.length === 0) throw fsError(Errno.EEXIST);
    await this.settleHide(t.res.ufsUri!);
    await this.requireParent(t, snap, path);
    await this.handles.settled(t.res.ufsUri!);
    this.dropCaches();
    const at = this.located(t, snap);
    return this.handles.add(new WriteHandle(at, this.spoolDir, { existingSize: 0, fresh: true, recheck: this.recheckFor(at) }));
  }

  /**
   * The UFS directory that will hold a new entry must exist (the adapters would create it).
   * Where it does not but the entry's parent is a directory of this view all the same (a
   * rule's target, children falling through a prefix rule's exclude, a regex rule's step),
   * the UFS directory is made, as an S3 or REST PUT of that name makes it.
   */
  private async requireParent(t: Bound, snap: Snapshot, path: string): Promise<void> {
    if (t.dt.rel.length <= 1) return;
    const dir = { ...t.dt, rel: t.dt.rel.slice(0, -1) };
    const parent = await this.dp.stat(dir);
    if (parent) {
      if (parent.type !== 'directory') throw fsError(Errno.ENOTDIR);
      return;
    }
    const { node } = await this.lookup(snap, parentOf(normalizePath(path))); // (ENOENT when it is not there either)
    if (node.kind === 'ufs' && node.entry.type !== 'directory') throw fsError(Errno.ENOTDIR);
    await this.dp.mkdir(dir);
  }

  /**
   * The hot path: no snapshot, no resolution (done at open); sync when the bytes are here.
   * A reader reads its version (or the spool of the writer it was opened beside, as large as
   * it was at the open); past its end, while a writer of this daemon holds the file (that
   * one, or one of the name), it reads on in that writer's bytes, as a local file shows a
   * reader the bytes written since its open (`tail -f`). Not only for the reader: a read
   * answered short of the size the kernel holds makes the kernel take the file to end there,
   * and an O_APPEND writer's next write lands at that size. (Before 2026-12-02 a reader at
   * its end of file while an appender wrote through the mount made every later append
   * overwrite the file from that point: appended lines were lost.)
   */
  read(fd: number, buf: Buffer, len: number, pos: number, path?: string): number | Promise<number> {
    const h = this.handles.get(fd);
    if (!h) throw fsError(Errno.EBADF);
    const r = h.read(buf, len, pos);
    if (!(h instanceof ReadHandle) || (typeof r === 'number' && r >= len)) return r; // (the common case: no closure)
    const onInWriter = (n: number): number | Promise<number> => {
      if (n >= len) return n;
      // A writer of the name only while the kernel still names the reader's file so (`path`:
      // after `mv log log.1` and a new `log`, the reader of log.1 does not read on in it).
      const ofName = h.apartFromName || path === undefined ? undefined : this.handles.writersOf(h.at.ufsUri).find((x) => x.at.path === path);
      const w = h.besideOpenWriter ?? ofName;
      // (only for bytes it has: a writer that wrote nothing is not asked, which would bring
      // the whole old content into its spool; and as a reader beside it reads, also when it
      // closes meanwhile)
      const more = w && w.currentSize > pos + n ? w.readBeside(buf, n, len - n, pos + n).then((m) => n + m) : n;
      return typeof more === 'number' ? this.endedBehindName(h, path, more, len, pos) : more.then((m) => this.endedBehindName(h, path, m, len, pos));
    };
    return typeof r === 'number' ? onInWriter(r) : r.then(onInWriter);
  }

  async write(fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
    const h = this.handles.get(fd);
    if (!h) throw fsError(Errno.EBADF);
    if (!(h instanceof WriteHandle)) throw fsError(Errno.EBADF);
    if (this.pendingHides.size > 0) await this.settleHideOf(h); // (an unlinked file in use: no rename is coming)
    return h.write(buf, len, pos);
  }

  async flush(fd: number): Promise<void> {
    const h = this.handles.get(fd);
    if (!h) throw fsError(Errno.EBADF);
    if (this.pendingHides.size > 0 && h instanceof WriteHandle) await this.settleHideOf(h);
    if (h instanceof WriteHandle) await this.upload(h);
  }

  /**
   * Upload a writer's spool (a new version of its file): descriptors of this daemon reading
   * the version before it now fail with ESTALE. The kernel keeps the pages the writer wrote
   * through the mount, so without this a reader got those pages among the old version's
   * windows: a mix of both.
   */
  private async upload(h: WriteHandle): Promise<void> {
    if (!(await h.flush())) return; // (nothing changed since the last upload)
    this.replaced(h.at.ufsUri);
    this.dropCaches();
  }

  private replaced(ufsUri: string): void {
    for (const r of this.handles.readersOf(ufsUri)) r.markReplaced();
  }

  async release(fd: number): Promise<void> {
    const h = this.handles.get(fd);
    if (!h) return;
    try {
      if (h instanceof WriteHandle && h.refs > 1) {
        // Another descriptor still writes this spool: close(2) uploads, the spool stays.
        h.refs--;
        this.handles.forget(fd);
        await this.upload(h);
        return;
      }
      if (h instanceof WriteHandle) {
        await this.handles.closeWith(h, async () => {
          try {
            // (not `if (h.dirty)` here: a truncate by name that found this writer before its
            // release began may still be queued on it; flush decides in the handle's order)
            await this.upload(h);
          } catch (e) {
            // The application saw this error at close(2) (flush); nothing can take the bytes now.
            this.ctx.log.warn({ path: h.at.path, mount: h.at.mountPath, bytes: h.currentSize, err: (e as Error).message }, 'fuse: discarding unwritten data of a closed file');
            throw e;
          } finally {
            await h.dispose();
          }
        });
      } else {
        await h.close();
        this.ctx.log.debug({ path: h.at.path, ...h.reader.stats }, 'fuse: read handle closed');
      }
    } finally {
      this.handles.remove(fd);
    }
  }

  async ftruncate(fd: number, size: number): Promise<void> {
    const h = this.handles.get(fd);
    if (!h) throw fsError(Errno.EBADF);
    if (!(h instanceof WriteHandle)) throw fsError(Errno.EINVAL);
    await h.truncate(size);
  }

  async truncate(path: string, size: number): Promise<void> {
    const snap = this.view();
    const t = this.target(snap, path);
    if (!isBound(t)) throw fsError(this.isVirtual(snap, t.path) ? Errno.EISDIR : Errno.ENOENT);
    if (t.dt.mount.readOnly) throw fsError(Errno.EROFS);
    await this.settleHide(t.res.ufsUri!);
    await this.handles.settled(t.res.ufsUri!);
    const open = this.handles.writersOf(t.res.ufsUri!);
    if (open.length > 0) {
      for (const w of open) await w.truncate(size);
      return;
    }
    const entry = await this.statOf(t, false);
    if (!entry) throw fsError(Errno.ENOENT);
    if (entry.type === 'directory') throw fsError(Errno.EISDIR);
    if (entry.size === size) return;
    if (size === 0) {
      await this.dp.write(t.dt, Readable.from([]));
      this.replaced(t.res.ufsUri!);
    } else {
      const h = new WriteHandle(this.located(t, snap), this.spoolDir, { existingSize: entry.size, fresh: false });
      try {
        await h.truncate(size);
        await this.upload(h);
      } finally {
        await h.dispose();
      }
    }
    this.dropCaches();
  }

  // ---------------------------------------------------------------- namespace changes

  /** A target that may be changed: in a writable mount. */
  private writable(snap: Snapshot, path: string, missing: number): Bound {
    const t = this.target(snap, path);
    if (!isBound(t)) throw fsError(missing);
    if (t.dt.mount.readOnly) throw fsError(Errno.EROFS);
    return t;
  }

  async unlink(path: string): Promise<void> {
    const hidden = this.hidden.get(path);
    if (hidden) {
      // libfuse's unlink of a hidden file at its last close (its own hide only: a later
      // hide of the same name, a rename's, waits for its rename)
      this.hidden.delete(path);
      if (this.pendingHides.get(hidden.uri)?.hidden === path) await this.settleHide(hidden.uri);
      return;
    }
    const snap = this.view();
    const t = this.writable(snap, path, this.isVirtual(snap, normalizePath(path)) ? Errno.EISDIR : Errno.ENOENT);
    if (t.dt.rel.length === 0) throw fsError(Errno.EISDIR);
    await this.settleHide(t.res.ufsUri!);
    const { entry } = await this.removeName(t);
    this.toldSize.delete(normalizePath(path)); // (a file created under the name later is another one)
    if (entry) await this.keepParent(t.dt, path);
  }

  /**
   * POSIX keeps a directory until rmdir. On an object store a directory without a marker is
   * only the prefix of its keys, and went with the last of them: after an unlink, a rename out
   * of it or an rmdir below it, rmdir of it was ENOENT, and `shutil.rmtree` of a tree written
   * through S3 failed (probe of 2026-12-03). So a parent that a change left without a name is
   * made again (a `key/` marker, as mkdir writes it). Where directories are real (file://) the
   * stat finds it and nothing is written. The change itself is done: a failure here is logged.
   */
  private async keepParent(dt: DataTarget, path: string): Promise<void> {
    if (dt.rel.length <= 1) return; // (the mount root is always there)
    const dir = { ...dt, rel: dt.rel.slice(0, -1) };
    try {
      if (!(await this.dp.stat(dir, { fresh: true }))) await this.dp.mkdir(dir);
    } catch (e) {
      this.ctx.log.warn({ path: parentOf(normalizePath(path)), err: (e as Error).message }, 'fuse: a directory emptied through the mount could not be kept; the object store may show it gone');
    } finally {
      this.dropCaches();
    }
  }

  /**
   * unlink(2) of the file at `t` in the UFS: its entry as it was, and its writers (detached:
   * they keep an anonymous file). No entry but writers: only a spool so far (created, not
   * yet closed), gone with the name.
   */
  private async removeName(t: Bound): Promise<{ entry: UfsEntry | null; writers: WriteHandle[] }> {
    let entry: UfsEntry | null = null;
    const writers = await this.whileNameGoes(t.res.ufsUri!, async (held) => {
      entry = await this.statOf(t, false);
      if (!entry && held.length === 0) throw fsError(Errno.ENOENT);
      if (entry?.type === 'directory') throw fsError(Errno.EISDIR);
      if (entry) await this.dp.delete(t.dt);
    });
    return { entry, writers };
  }

  /**
   * Run `change`, which may take the name `uri` away (unlink, a rename over it), with the
   * name's writers held (holdWriters): when it succeeds they leave the name (detached: an
   * anonymous file each), when it fails they write the name as before (relinked).
   */
  private async whileNameGoes(uri: string, change: (writers: WriteHandle[]) => Promise<void>): Promise<WriteHandle[]> {
    const writers = await this.holdWriters(uri);
    try {
      await change(writers);
    } catch (e) {
      for (const w of writers) w.relink();
      throw e;
    } finally {
      this.dropCaches();
    }
    for (const w of writers) this.handles.detach(w);
    return writers;
  }

  /**
   * libfuse's unlink of an open file: it renames the file to `.fuse_hidden<ids>` in its
   * directory, keeps it while open, and unlinks that name at the last close. That name must
   * not reach the UFS (S3 and FSSpec clients would see it), so the unlink happens here: the
   * file leaves the UFS at once, its writers keep their spool and upload nothing (as unlink),
   * and the hidden name lives in this daemon only (getattr answers it, unlink forgets it).
   */
  private async hide(snap: Snapshot, from: string, to: string): Promise<void> {
    const t = this.target(snap, from);
    if (!isBound(t)) throw fsError(Errno.ENOENT);
    if (t.dt.mount.readOnly) throw fsError(Errno.EROFS);
    const uri = t.res.ufsUri!;
    await this.settleHide(uri); // (hidden before, and created again since)
    let entry: UfsEntry | null = null;
    // The name leaves this daemon at once (lookups say ENOENT, its writers upload nothing);
    // the UFS object goes a moment later (pendingHides): libfuse hides the target of a
    // rename the same way, right before the rename itself, which then replaces the object
    // in one step (no moment without it for other clients; a rename that fails, EXDEV say,
    // leaves it where it was). A plain unlink has no rename after it: the object goes at the
    // next operation on the name or its directory, a write or flush through one of its
    // writers, libfuse's unlink of this hidden name at the last close, or when
    // HIDE_GRACE_MS passed; and only the version that was hidden (settleHide).
    const writers = await this.whileNameGoes(uri, async (held) => {
      entry = await this.statOf(t, false);
      if (!entry && held.length === 0) throw fsError(Errno.ENOENT);
      if (entry?.type === 'directory') throw fsError(Errno.EISDIR);
    });
    const e = entry as UfsEntry | null;
    if (e) for (const w of writers) w.leftName(e);
    this.hidden.set(to, { size: e?.size ?? 0, mtimeMs: e?.mtimeMs ?? Date.now(), writers, uri });
    if (e) {
      const timer = setTimeout(() => void this.settleHide(uri), HIDE_GRACE_MS);
      timer.unref();
      this.pendingHides.set(uri, { t, path: normalizePath(from), hidden: to, entry: e, writers, timer });
    }
  }

  /** A write or flush through a writer of a hidden name: that hide was an unlink. */
  private settleHideOf(h: WriteHandle): Promise<void> {
    const p = this.pendingHides.get(h.at.ufsUri);
    return p && p.writers.includes(h) ? this.settleHide(h.at.ufsUri) : Promise.resolve();
  }

  /**
   * The writers of a file about to leave the UFS (unlinked, or replaced by a rename) that have
   * not read its bytes yet read them now, of `version` only: the descriptors keep them, as on
   * a local file system. A writer that cannot (another version is there already) is told
   * ESTALE at its next read or write.
   */
  private async keepContents(writers: readonly WriteHandle[], version: UfsEntry, path: string): Promise<void> {
    for (const w of writers) {
      await w.keepContent(version).catch((e: unknown) => this.ctx.log.warn({ path, err: (e as Error).message }, 'fuse: could not keep the content of a file open for writing as it left'));
    }
  }

  /** Names hidden below the directory `uri` are removed now (before it is listed, removed or moved). */
  private async settleHidesBelow(uri: string): Promise<void> {
    for (const u of [...this.pendingHides.keys()]) if (u.startsWith(dirPrefix(uri))) await this.settleHide(u);
  }

  /**
   * Remove the UFS object of a hidden name now, if it is still to be removed. The name stays
   * pending (lookups ENOENT) until the removal is over: a lookup meanwhile must not find the
   * object on its way out.
   */
  private settleHide(uri: string): Promise<void> {
    const p = this.pendingHides.get(uri);
    if (!p) return Promise.resolve();
    clearTimeout(p.timer);
    p.removing ??= (async () => {
      try {
        // Not through a mount that became read-only (a migration froze it), was removed or
        // now points elsewhere since the hide: that throws, and the object stays (logged).
        this.recheckFor({ mountPath: p.t.dt.mount.path, mountUfsUri: p.t.dt.mount.ufsUri }, 'the file was unlinked')();
        // Its writers that have not read the old bytes yet read them now: the descriptors of
        // an unlinked file keep its content (before 2026-12-02 a write after the unlink of a
        // file opened without O_TRUNC failed with ENOENT, the object gone).
        await this.keepContents(p.writers, p.entry, p.path);
        // Only the version that was unlinked: another client (S3, FSSpec, another daemon)
        // may have written the name meanwhile.
        const cur = await this.dp.stat(p.t.dt, { fresh: true });
        if (!cur || !sameVersion(cur, p.entry)) {
          this.ctx.log.debug({ path: p.path }, 'fuse: a file unlinked while open was written again meanwhile; its new version stays');
          return;
        }
        await this.dp.delete(p.t.dt);
        await this.keepParent(p.t.dt, p.path);
      } catch (e) {
        if (!(isAlluxioError(e) && e.code === 'NotFound')) {
          this.ctx.log.warn({ path: p.path, err: (e as Error).message }, 'fuse: could not remove a file unlinked while open; it stays in the UFS');
        }
      } finally {
        if (this.pendingHides.get(uri) === p) this.pendingHides.delete(uri);
        this.dropCaches();
      }
    })();
    return p.removing;
  }

  /**
   * The name `uri` may go away (unlink, a rename over it): a release still uploading lands
   * first, and the handles still writing it stop uploading (after an upload in flight) until
   * the caller says: the change was made, so they keep their bytes as an anonymous file
   * (reads and writes go on in the spool, as on an unlinked local file) and leave the name
   * (detach); or it failed, and they write the name as before (relink).
   */
  private async holdWriters(uri: string): Promise<WriteHandle[]> {
    await this.handles.settled(uri);
    const writers = this.handles.writersOf(uri);
    for (const w of writers) await w.unlink();
    return writers;
  }

  async mkdir(path: string): Promise<void> {
    const snap = this.view();
    const t = this.writable(snap, path, this.isVirtual(snap, normalizePath(path)) ? Errno.EEXIST : Errno.ENOENT);
    if (t.dt.rel.length === 0) throw fsError(Errno.EEXIST);
    await this.settleHide(t.res.ufsUri!);
    if (await this.statOf(t, false)) throw fsError(Errno.EEXIST);
    await this.requireParent(t, snap, path);
    await this.dp.mkdir(t.dt);
    this.dropCaches();
  }

  async rmdir(path: string): Promise<void> {
    const snap = this.view();
    const target = this.target(snap, path);
    // A directory that exists only because rules reach below it (per-component lookups) is
    // the namespace's, as a virtual one is: EBUSY, not ENOENT.
    if (!isBound(target) && !this.isVirtual(snap, target.path) && (await this.traversable(snap, target))) throw fsError(Errno.EBUSY);
    const t = this.writable(snap, path, this.isVirtual(snap, normalizePath(path)) ? Errno.EBUSY : Errno.ENOENT);
    if (t.dt.rel.length === 0) throw fsError(Errno.EBUSY);
    const entry = await this.statOf(t, false);
    if (!entry) throw fsError(this.isVirtual(snap, t.path) ? Errno.EBUSY : Errno.ENOENT);
    if (entry.type !== 'directory') throw fsError(Errno.ENOTDIR);
    await this.settleHidesBelow(t.res.ufsUri!);
    // (a file created below and still open for writing is not in the UFS yet: until
    // 2026-12-02 the directory was removed, and the file's close created it again)
    if (this.handles.writersBelow(t.res.ufsUri!).length > 0 || (await this.dp.list(t.dt)).length > 0) throw fsError(Errno.ENOTEMPTY);
    await this.dp.delete(t.dt);
    this.forgetHiddenBelow(normalizePath(path));
    this.dropCaches();
    await this.keepParent(t.dt, path);
  }

  async rename(from: string, to: string): Promise<void> {
    const snap = this.view();
    if (HIDDEN_NAME.test(baseName(to))) return this.hide(snap, from, to);
    const dst = this.target(snap, to);
    // A target hidden just before (libfuse hides the target of a rename when it is open):
    // the rename replaces its object, and one that fails (EXDEV, ...) leaves it where it was.
    const hideOf = (): PendingHide | undefined => (isBound(dst) ? this.pendingHides.get(dst.res.ufsUri!) : undefined);
    // A directory cannot replace the file: that hide was an unlink (the name is free, as on a
    // local file system; before 2026-12-02 this rename failed with ENOTDIR).
    if (hideOf() && !hideOf()!.removing && (await this.isDirectory(snap, from))) await this.settleHide(dst.res.ufsUri!);
    // Its descriptors keep the bytes they had open (before 2026-12-02 a writer that had not
    // written read the new file's bytes after the rename, with no error).
    const pending = hideOf();
    if (pending && !pending.removing) await this.keepContents(pending.writers, pending.entry, pending.path);
    const replacing = hideOf(); // (read again after each wait: settled meanwhile, or on its way out)
    if (replacing?.removing) await replacing.removing; // (too late: on its way out)
    else if (replacing) {
      this.pendingHides.delete(dst.res.ufsUri!);
      clearTimeout(replacing.timer);
      this.dropCaches();
      try {
        return await this.renameTo(snap, from, to, dst);
      } catch (e) {
        // The target stays: its writers (detached at the hide) write it again.
        for (const w of replacing.writers) {
          w.relink();
          this.handles.reattach(w);
        }
        throw e;
      }
    }
    return this.renameTo(snap, from, to, dst);
  }

  private async isDirectory(snap: Snapshot, path: string): Promise<boolean> {
    const t = this.target(snap, path);
    return isBound(t) && (await this.statOf(t, false))?.type === 'directory';
  }

  private async renameTo(snap: Snapshot, from: string, to: string, dst: Target): Promise<void> {
    const src = this.target(snap, from);
    if (!isBound(src)) throw fsError(this.isVirtual(snap, src.path) || (await this.traversable(snap, src)) ? Errno.EBUSY : Errno.ENOENT);
    const sr = src.dt.rel;
    if (sr.length === 0) throw fsError(Errno.EBUSY); // a mount root, wherever it would go
    if (!isBound(dst)) throw fsError(Errno.EXDEV);
    if (src.dt.mount.readOnly || dst.dt.mount.readOnly) throw fsError(Errno.EROFS);
    // Different mounts (or a rule sending one side elsewhere): not one file system.
    if (src.dt.mount.path !== dst.dt.mount.path || src.dt.adapter !== dst.dt.adapter) throw fsError(Errno.EXDEV);
    const dr = dst.dt.rel;
    if (dr.length === 0) throw fsError(Errno.EBUSY);
    await this.settleHide(src.res.ufsUri!);
    await this.settleHidesBelow(src.res.ufsUri!); // (a directory moving: its unlinked files stay gone)
    await this.settleHidesBelow(dst.res.ufsUri!); // (a directory replaced must be empty)
    // A file open for writing here moves with its descriptors (POSIX), and so do the files
    // open for writing below a directory that moves: what they wrote so far is uploaded under
    // the old names first, so that the rename carries it.
    const srcUri = src.res.ufsUri!;
    await this.handles.settled(srcUri, true);
    const moving = [...this.handles.writersOf(srcUri), ...this.handles.writersBelow(srcUri)];
    for (const w of moving) await this.upload(w);
    const srcEntry = await this.statOf(src, false);
    if (!srcEntry) throw fsError(Errno.ENOENT);
    if (src.res.ufsUri === dst.res.ufsUri) return;
    if (dr.length > sr.length && sr.every((s, i) => dr[i] === s)) throw fsError(Errno.EINVAL);
    const dstEntry = await this.statOf(dst, false);
    if (dstEntry) {
      if (srcEntry.type === 'file' && dstEntry.type === 'directory') throw fsError(Errno.EISDIR);
      if (srcEntry.type === 'directory' && dstEntry.type === 'file') throw fsError(Errno.ENOTDIR);
      // (a file created below it and still open for writing is not in the UFS yet)
      if (dstEntry.type === 'directory' && (this.handles.writersBelow(dst.res.ufsUri!).length > 0 || (await this.dp.list(dst.dt)).length > 0)) throw fsError(Errno.ENOTEMPTY);
    } else {
      await this.requireParent(dst, snap, to);
    }
    this.dropCaches();
    const at = this.located(dst, snap);
    // Where a moving writer's file is after the rename: the same place below the new name.
    const movedTo = (w: WriteHandle): Located => {
      if (w.at.ufsUri === srcUri) return at;
      const below = w.at.target.rel.slice(sr.length); // (its names below the directory, as they are)
      return { ...at, path: joinPaths(at.path, pathOf(below)), ufsUri: at.ufsUri + w.at.ufsUri.slice(srcUri.length), target: { ...at.target, rel: [...at.target.rel, ...below] } };
    };
    // The moving writers' uploads wait while the file moves (a release's last upload must not
    // land on the old name mid-rename), and then go to the new name.
    const move = async (): Promise<void> => {
      await this.dp.rename(src.dt, dst.dt, srcEntry.type, dstEntry !== null);
      this.renamedSizes(normalizePath(from), normalizePath(to));
      if (dstEntry?.type === 'directory') this.forgetHiddenBelow(normalizePath(to));
      for (const w of moving) this.handles.retarget(w, movedTo(w));
      if (srcEntry.type === 'directory') this.moveHidden(normalizePath(from), normalizePath(to));
    };
    // Descriptors writing the file replaced at `to` keep an anonymous file (upload nothing).
    await this.whileNameGoes(dst.res.ufsUri!, () => moving.reduce<() => Promise<void>>((inner, w) => () => w.exclusive(inner), move)());
    // (a rename within its directory leaves the directory a name)
    if (sr.length !== dr.length || sr.some((s, i) => i < sr.length - 1 && dr[i] !== s)) await this.keepParent(src.dt, from);
  }

  /**
   * The hidden names below a directory that moved move with it: libfuse names them by their
   * new path from then on (before 2026-12-02 fstat and ftruncate of such a descriptor were
   * ENOENT, and the last close's unlink of the hidden name missed it).
   */
  private moveHidden(from: string, to: string): void {
    for (const [path, h] of [...this.hidden]) {
      if (!path.startsWith(`${from}/`)) continue;
      this.hidden.delete(path);
      this.hidden.set(to + path.slice(from.length), h);
    }
  }

  /**
   * The hidden names below a directory that was removed or replaced: libfuse cannot name them
   * any more, so the unlink of the last close (by name) never comes; their descriptors' flush
   * and release come without a path, and go by descriptor.
   */
  private forgetHiddenBelow(dir: string): void {
    for (const path of [...this.hidden.keys()]) if (path.startsWith(`${dir}/`)) this.hidden.delete(path);
  }

  /** access(2): exists, and W_OK only where changes are possible (not on read-only mounts or virtual dirs). */
  async access(path: string, mode: number): Promise<void> {
    const snap = this.view();
    const { node } = await this.lookup(snap, path);
    if ((mode & W_OK) === 0) return;
    if (node.kind === 'ufs' && !node.readOnly) return;
    throw fsError(node.kind === 'ufs' ? Errno.EROFS : Errno.EACCES);
  }

  /** Times, modes and owners are not kept by the UFS: accepted (touch, cp -p), not stored. */
  async setattrNoop(path: string): Promise<void> {
    const snap = this.view();
    const { node } = await this.lookup(snap, path);
    if (node.kind === 'ufs' && node.readOnly) throw fsError(Errno.EROFS);
    if (node.kind !== 'ufs') throw fsError(Errno.EPERM);
  }

  /** Release everything (unmount): pending writes are flushed. */
  async close(): Promise<void> {
    for (const uri of [...this.pendingHides.keys()]) await this.settleHide(uri);
    for (const [fd] of this.handles.all()) await this.release(fd).catch(() => undefined);
    if (this.ownSpool) rmSync(this.spoolDir, { recursive: true, force: true });
  }
}

/** The canonical path of `name` in the directory `dir` (undefined: not a name a path can hold). */
function childPath(dir: string, name: string): string | undefined {
  try {
    return joinPaths(dir, normalizePath(pathOf([name])));
  } catch {
    return undefined;
  }
}

/**
 * How long the UFS object of a name libfuse hid stays while a rename onto the name may
 * follow (it follows within the same request, milliseconds); then it is removed (unlink).
 */
const HIDE_GRACE_MS = 2000;

/** The name libfuse gives a file unlinked while open (fuse.c: ".fuse_hidden%08x%08x"). */
const HIDDEN_NAME = /^\.fuse_hidden[0-9a-f]{16}$/;

function isBound(t: Target): t is Bound {
  return t.dt !== null;
}
