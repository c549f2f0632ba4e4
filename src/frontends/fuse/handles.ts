/**
 * Open files of the FUSE daemon. A handle keeps what `open` resolved (the data path's
 * target: location, mount, adapter; the snapshot revision) for its whole life: a file
 * opened before a rule changes keeps reading what it opened, like a POSIX file descriptor
 * on a renamed file. Every byte is read and written through THE data path
 * (../common/data-path.ts), so the worker cache behind it sees FUSE traffic too.
 *
 * - ReadHandle: read-only; reads go through a ReadAhead over the opened object's file
 *   (DataObject.file: positional reads into reused windows), over the opened object's own
 *   range streams when it serves any range until closed (DataObject.ranges: a file another
 *   worker owns, read through the owners with failover, docs/cluster-cache.md), or, with
 *   neither, range streams from DataPath.read. A window whose stream fails is dropped and
 *   read again by the next read that needs it; an object that changed since the open
 *   (Conflict from the owner) fails reads with ESTALE.
 * - WriteHandle: the UFS adapters write whole objects, so writes land in a local spool file
 *   (in the daemon's private temp dir, never on the mount) and are uploaded in one stream on
 *   flush (every close(2)) and release. The existing content is fetched only when a read or
 *   a partial write needs it: `cp` onto an existing file (open, ftruncate 0, writes) never
 *   downloads the old bytes.
 *   Before every upload the handle re-checks its mount against the CURRENT snapshot
 *   (`recheck`, from ops.ts): a mount that became read-only since the open (a migration
 *   started) fails the flush with EROFS, one that was removed or now points at another UFS
 *   URI (a cutover) with ESTALE, so no write opened under the old mode lands afterwards.
 *   close(2) then reports the error to the application, and the spool is discarded at
 *   release (logged with its size): the bytes were never written anywhere.
 */
import { createReadStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { AlluxioError, isAlluxioError } from '../../domain/errors.js';
import { sameVersion, type UfsEntry } from '../../ufs/types.js';
import type { DataObject, DataPath, DataTarget } from '../common/data-path.js';
import { Errno, fsError } from './errno.js';
import { ReadAhead, type RangeProvider, type ReadAheadOptions } from './read-ahead.js';

export interface Located {
  /** Canonical Alluxio path the application named (before rules), for logs. */
  path: string;
  /** The resolved UFS URI: identity of the file for the writers table. */
  ufsUri: string;
  /** The data path and the target `open` bound (mount, adapter, location). */
  dp: DataPath;
  target: DataTarget;
  revision: number;
  /** The mount the path resolved into at open, and its UFS URI then. */
  mountPath: string;
  mountUfsUri: string;
}

export class ReadHandle {
  readonly kind = 'read';
  readonly reader: ReadAhead;
  /** This daemon uploaded a new version of the file since the open: reads are ESTALE. */
  private replaced = false;
  private closed = false;

  /**
   * `obj`: the object opened once through the data path, when its file can read or send
   * ranges into a sink, or when it serves any range until closed (`ranges`); every window
   * then reads from that one opened version (no per-window open or stat). Otherwise each
   * window is a range stream of whatever the UFS holds now (DataPath.read). `entry`: the
   * version opened, when every read is of it (the attributes the kernel is given for this
   * descriptor: ops.fgetattr); `openedAt`: what the kernel had been told of the name by then
   * (ops.toldSeq).
   */
  /**
   * The latest ops.toldSeq at which the kernel was given this descriptor's own size (its open,
   * then each fgetattr): a size told of the name after it is another version's.
   */
  sizeToldAt: number;

  constructor(readonly at: Located, size: number, opts: ReadAheadOptions, private readonly obj?: DataObject, private readonly writer?: WriteHandle, readonly entry?: UfsEntry, readonly openedAt = 0) {
    this.sizeToldAt = openedAt;
    // (beside a writer the windows are not used: see read)
    this.reader = new ReadAhead(writer ? writer.provider() : providerOf(at, obj), size, opts);
    writer?.addReader();
  }

  /**
   * Reads what a writer of this daemon holds apart from the name (opened beside it): its
   * spool while it is open (its own uploads do not replace what it reads), or, unlinked,
   * the anonymous spool it left. Otherwise (a plain reader, or one beside a writer that
   * closed and left its upload) it holds a version of the name, which a new upload
   * through this mount replaces.
   */
  get apartFromName(): boolean {
    return this.writer !== undefined && (!this.writer.isClosed || this.writer.isUnlinked);
  }

  /** The writer this handle was opened beside, while it is open (its spool still grows). */
  get besideOpenWriter(): WriteHandle | undefined {
    return this.writer && !this.writer.isClosed ? this.writer : undefined;
  }

  /** A writer of this daemon replaced the file: the version this handle reads is gone. */
  markReplaced(): void {
    this.replaced = true;
  }

  get isReplaced(): boolean {
    return this.replaced;
  }

  /** A number when the bytes were already here (answered in the same tick), else a promise. */
  read(buf: Buffer, len: number, pos: number): number | Promise<number> {
    if (this.replaced) throw fsError(Errno.ESTALE, `${this.at.path} was rewritten through this mount since it was opened`);
    // Beside a writer every read asks it: its spool changes under the reader (writes,
    // truncates), and read-ahead windows kept the bytes and the size of the moment they were
    // filled (the POSIX tester of 2026-12-02: stale bytes, short reads, ESTALE, and pages of
    // old bytes in the kernel's cache that the writer then read back as its own).
    if (this.writer) return this.writer.readBeside(buf, 0, len, pos).catch((e: unknown) => {
      throw this.stale(e);
    });
    let r: number | Promise<number>;
    try {
      r = this.reader.read(pos, len, buf);
    } catch (e) {
      throw this.stale(e);
    }
    return typeof r === 'number' ? r : r.catch((e: unknown) => {
      throw this.stale(e);
    });
  }

  /**
   * The version opened is gone from the UFS (an owner answered Conflict: replaced; NotFound:
   * deleted or renamed behind this descriptor): ESTALE, as NFS says it. ENOENT is no answer
   * to read(2).
   */
  private stale(e: unknown): unknown {
    if (!isAlluxioError(e) || (e.code !== 'Conflict' && e.code !== 'NotFound')) return e;
    return fsError(Errno.ESTALE, `${this.at.path} ${e.code === 'Conflict' ? 'changed' : 'was removed'} since it was opened: ${e.message}`);
  }

  /** Stop reading ahead, then close the file (after any read in flight on it returned). Once. */
  async close(): Promise<void> {
    if (this.closed) return; // (a release racing the unmount's)
    this.closed = true;
    try {
      await this.reader.close();
    } finally {
      this.obj?.close();
      await this.writer?.dropReader();
    }
  }
}

/** Where a read handle's windows come from (see the constructor). */
function providerOf(at: Located, obj: DataObject | undefined): RangeProvider {
  const file = obj?.file;
  if (file?.readInto) {
    const readInto = file.readInto;
    return { kind: 'read', read: (target, offset, length, position) => readInto.call(file, target, offset, length, position) };
  }
  if (file?.sendTo) {
    const sendTo = file.sendTo;
    return { kind: 'send', send: (start, end, dest) => sendTo.call(file, dest, { start, end }) };
  }
  if (obj?.ranges) return { kind: 'stream', open: (start, end) => obj.stream({ start, end }) };
  return { kind: 'stream', open: (start, end) => at.dp.read(at.target, { start, end }) };
}

let spoolSeq = 0;

export class WriteHandle {
  readonly kind = 'write';
  dirty: boolean;
  /** Descriptors of this daemon sharing this spool (open for writing the same file). */
  refs = 1;
  /** Unlinked (or replaced by a rename) while open: nothing is uploaded any more. */
  private unlinked = false;
  /** Disposed: no more writes or uploads; the spool stays while readers beside it are open. */
  private closed = false;
  /** Read handles opened beside this one (they read the spool, and after the close what it left). */
  private readers = 0;
  /** The version this handle left, opened at its close for the readers beside it. */
  private version: DataObject | undefined;
  /** The version its last upload made (what a reader beside it reads once it is closed). */
  private uploaded: UfsEntry | undefined;
  private fh: FileHandle | undefined;
  private readonly spoolPath: string;
  /** The existing content is in the spool (or was discarded by a truncate to 0). */
  private materialized: boolean;
  /** Why the existing content can no longer be brought in (the version that left the name was gone or replaced). */
  private contentLost: string | undefined;
  /** The version whose bytes the spool must start from (the file left its name: hide). */
  private leftVersion: UfsEntry | undefined;
  private size: number;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly recheck: (() => void) | undefined;

  /**
   * `recheck`: throws (EROFS, ESTALE) when the mount may no longer be written through this
   * handle; called right before each upload.
   */
  constructor(public at: Located, spoolDir: string, opts: { existingSize: number; fresh: boolean; recheck?: () => void }) {
    this.recheck = opts.recheck;
    this.spoolPath = join(spoolDir, `spool-${process.pid}-${++spoolSeq}`);
    this.materialized = opts.fresh || opts.existingSize === 0;
    this.size = opts.fresh ? 0 : opts.existingSize;
    // A created file exists once its creator closes it, even when nothing was written.
    this.dirty = opts.fresh;
  }

  get currentSize(): number {
    return this.size;
  }

  /**
   * The file left its name (unlinked or replaced while open): from now on the old bytes this
   * handle still has to bring in are of `version` only (else ESTALE), whatever the name holds.
   */
  leftName(version: UfsEntry): void {
    this.leftVersion ??= version;
  }

  /**
   * Bring the existing content into the spool now, if it is not there yet: before the UFS
   * object of a file unlinked while open goes, so the descriptor keeps its bytes (its first
   * write would otherwise find nothing to read them from: ENOENT).
   */
  keepContent(version: UfsEntry): Promise<void> {
    this.leftVersion ??= version;
    if (this.materialized || this.closed) return Promise.resolve();
    return this.serial(async () => {
      if (this.closed || this.materialized) return;
      // (gone or another version by now: materialize marks the bytes lost, and this
      // descriptor's reads and writes say ESTALE rather than take up what the name holds)
      await this.materialize(version);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isUnlinked(): boolean {
    return this.unlinked;
  }

  /** Operations on one handle run one at a time (the kernel may send them concurrently). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async file(): Promise<FileHandle> {
    if (this.closed) throw fsError(Errno.EBADF, `${this.at.path}: the file was closed`);
    if (!this.fh) this.fh = await open(this.spoolPath, 'w+', 0o600);
    return this.fh;
  }

  /**
   * Bring the old content into the spool (once); `version`: only that version of the file
   * (else Conflict), the one a descriptor of a file unlinked or replaced had open.
   */
  private async materialize(version?: UfsEntry): Promise<void> {
    if (this.materialized) return;
    if (this.contentLost !== undefined) throw fsError(Errno.ESTALE, this.contentLost);
    version ??= this.leftVersion;
    const fh = await this.file();
    let src: Readable;
    if (version) {
      const obj = await this.at.dp.open(this.at.target);
      if (!obj || !sameVersion(obj.entry, version)) {
        obj?.close();
        // (its bytes are lost to this descriptor: its reads and writes say so from now on)
        this.contentLost = `${this.at.path} left its name and ${obj ? 'another version is there now' : 'is gone from the UFS'} before its bytes were kept for this descriptor`;
        throw fsError(Errno.ESTALE, this.contentLost);
      }
      src = obj.entry.size > 0 ? await obj.stream({ start: 0, end: obj.entry.size - 1 }) : (obj.close(), Readable.from([]));
    } else src = await this.at.dp.read(this.at.target);
    let pos = 0;
    await pipeline(
      src,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          fh.write(chunk, 0, chunk.length, pos).then(
            ({ bytesWritten }) => {
              pos += bytesWritten;
              cb();
            },
            cb,
          );
        },
      }),
    );
    this.size = pos;
    this.materialized = true;
  }

  read(buf: Buffer, len: number, pos: number): Promise<number> {
    return this.readAt(buf, 0, len, pos);
  }

  private readAt(buf: Buffer, offset: number, len: number, pos: number): Promise<number> {
    return this.serial(async () => {
      // (closed while this read waited its turn: the spool is gone or going, and file()
      // would make an empty one; a reader beside it reads what the close left instead)
      if (this.closed) throw new AlluxioError('InvalidState', `${this.at.path}: its writer closed it`);
      await this.materialize();
      if (pos >= this.size) return 0;
      const fh = await this.file();
      const { bytesRead } = await fh.read(buf, offset, Math.min(len, this.size - pos), pos);
      return bytesRead;
    });
  }

  /**
   * What another descriptor opened for reading while this one writes reads: this spool (its
   * bytes so far, as a local file shows another descriptor's writes). Once this handle is
   * closed: the version it uploaded and no other, opened at the close while such readers are
   * open (`dispose`), so they read on as readers of any version do (a file:// descriptor
   * survives an unlink or rename of the name; a change of the object is ESTALE). An unlinked
   * writer uploaded nothing: its spool is the only copy and is kept until the last reader
   * beside it closes, as the anonymous file of an unlinked local file.
   */
  provider(): RangeProvider {
    return { kind: 'read', read: (target, offset, length, position) => this.readBeside(target, offset, length, position) };
  }

  /** A read of a descriptor beside this handle (see provider): the spool, or what the close left. */
  async readBeside(target: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (!this.closed) {
      try {
        return await this.readAt(target, offset, length, position);
      } catch (e) {
        if (!this.closed) throw e; // closed meanwhile: read what it left below
      }
    }
    if (this.fh) {
      if (position >= this.size) return 0;
      const { bytesRead } = await this.fh.read(target, offset, Math.min(length, this.size - position), position);
      return bytesRead;
    }
    return this.readVersion(target, offset, length, position);
  }

  /** The version this handle left in the UFS (its upload, or what it opened unchanged). */
  private async openVersion(): Promise<DataObject> {
    if (this.unlinked) throw new AlluxioError('NotFound', `${this.at.path} was unlinked, and its writer closed it`);
    const obj = await this.at.dp.open(this.at.target);
    if (!obj) throw new AlluxioError('NotFound', `${this.at.path} is gone from the UFS`);
    const u = this.uploaded;
    if (u && !sameVersion(obj.entry, u)) {
      obj.close();
      throw new AlluxioError('Conflict', `${this.at.path} changed since its writer closed it`);
    }
    return obj;
  }

  /**
   * A read after the close: from the version opened at the close when it serves ranges
   * (an open file, a cache object), else from a fresh open of it per read (checked again).
   */
  private async readVersion(target: Buffer, offset: number, length: number, position: number): Promise<number> {
    const kept = this.version;
    const obj = kept ?? (await this.openVersion());
    const end = Math.min(position + length, obj.entry.size) - 1;
    if (end < position) {
      if (!kept) obj.close();
      return 0;
    }
    if (obj.file?.readInto) {
      try {
        return await obj.file.readInto(target, offset, end - position + 1, position);
      } finally {
        if (!kept) obj.close();
      }
    }
    let n = 0; // (a stream of a fresh open owns the object and closes it at its end)
    for await (const c of await obj.stream({ start: position, end })) {
      const b = c as Buffer;
      b.copy(target, offset + n, 0, Math.min(b.length, length - n));
      n += Math.min(b.length, length - n);
    }
    return n;
  }

  write(buf: Buffer, len: number, pos: number): Promise<number> {
    return this.serial(async () => {
      // A write that replaces everything from 0 on does not need the old bytes unless it
      // leaves some of them in place; the general case materialises first.
      if (!this.materialized) {
        if (pos === 0 && len >= this.size) this.materialized = true;
        else await this.materialize();
      }
      const fh = await this.file();
      let done = 0;
      while (done < len) {
        const { bytesWritten } = await fh.write(buf, done, len - done, pos + done);
        done += bytesWritten;
      }
      this.size = Math.max(this.size, pos + len);
      this.dirty = true; // (an unlinked handle uploads nothing: flush)
      return len;
    });
  }

  truncate(size: number): Promise<void> {
    return this.serial(async () => {
      if (!this.materialized) {
        if (size === 0) this.materialized = true;
        else await this.materialize();
      }
      const fh = await this.file();
      await fh.truncate(size);
      this.size = size;
      this.dirty = true;
    });
  }

  /**
   * The file was unlinked, or replaced by a rename, while open (POSIX: the descriptor keeps
   * an anonymous file): reads and writes go on in the spool, nothing is uploaded any more.
   * Resolves once an upload in flight is over, so the caller's delete comes after it.
   */
  unlink(): Promise<void> {
    return this.serial(async () => {
      this.unlinked = true;
    });
  }

  /** The unlink (or rename over the file) failed: the handle writes its name again. */
  relink(): void {
    this.unlinked = false;
  }

  /** Run `fn` while no other operation of this handle runs (a rename of its file). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serial(fn);
  }

  /** The file was renamed while open: later uploads go to its new name. */
  retarget(at: Located): void {
    this.at = at;
  }

  /** Upload the spool as the new object when it changed. */
  flush(): Promise<UfsEntry | null> {
    return this.serial(async () => {
      if (!this.dirty || this.unlinked) return null;
      this.recheck?.();
      await this.materialize();
      const fh = await this.file();
      await fh.datasync().catch(() => undefined);
      const body = createReadStream(this.spoolPath, { start: 0, highWaterMark: 1024 * 1024 });
      this.recheck?.(); // again: materialising may have taken a while
      const entry = await this.at.dp.write(this.at.target, body);
      this.dirty = false;
      this.uploaded = entry;
      return entry;
    });
  }

  /**
   * Close for writing (after the final flush) and drop the spool. Readers beside this handle
   * get the version it left, opened here (before the release is over: an unlink or rename
   * by name waits for it), or, when it was unlinked, keep the spool until the last closes.
   */
  dispose(): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return; // (a release racing the unmount's)
      this.closed = true;
      if (this.readers > 0 && this.unlinked) return;
      if (this.readers > 0) {
        // A version that cannot serve ranges (read per window instead) or is gone or
        // changed already: the readers' next read opens it again and says which.
        const obj = await this.openVersion().catch(() => undefined);
        if (obj && (obj.file?.readInto || obj.ranges)) this.version = obj;
        else obj?.close();
      }
      await this.dropSpool();
    });
  }

  addReader(): void {
    this.readers++;
  }

  /** A reader beside this handle closed: the last one after the handle's close lets go of what it read. */
  dropReader(): Promise<void> {
    this.readers--;
    if (this.readers > 0 || !this.closed) return Promise.resolve();
    return this.serial(async () => {
      this.version?.close();
      this.version = undefined;
      await this.dropSpool();
    });
  }

  private async dropSpool(): Promise<void> {
    // Taken away before it is closed: a reader beside this handle that read it while it was
    // closing got EBADF, EIO to the application (a reader right after the writer's close,
    // once in a run of the FUSE suite on 2026-12-02); now it reads the version kept.
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
    await rm(this.spoolPath, { force: true });
  }
}

export type Handle = ReadHandle | WriteHandle;

/** fh numbers handed to the kernel. */
export class HandleTable {
  private next = 1;
  private readonly open = new Map<number, Handle>();
  /**
   * ufsUri -> handles writing it (getattr reports the spool's size while they are open).
   * A handle leaves it when its release starts, or when its file is unlinked or renamed.
   */
  private readonly writers = new Map<string, Set<WriteHandle>>();
  /** ufsUri -> releases of its writers still uploading (changes by name wait for them). */
  private readonly closing = new Map<string, Set<Promise<unknown>>>();

  add(h: Handle): number {
    const fd = this.next++;
    if (this.next > 0x7fffffff) this.next = 1;
    this.open.set(fd, h);
    if (h instanceof WriteHandle) this.index(h);
    return fd;
  }

  private index(h: WriteHandle): void {
    let set = this.writers.get(h.at.ufsUri);
    if (!set) this.writers.set(h.at.ufsUri, (set = new Set()));
    set.add(h);
  }

  /** `h` writes the file its name shows again (the change that detached it was undone). */
  reattach(h: WriteHandle): void {
    if (!h.isClosed) this.index(h);
  }

  /** `h` no longer writes the file its name shows (release started, unlinked, renamed). */
  detach(h: WriteHandle): void {
    const set = this.writers.get(h.at.ufsUri);
    set?.delete(h);
    if (set && set.size === 0) this.writers.delete(h.at.ufsUri);
  }

  /**
   * `h`'s file was renamed to `at`: it writes (and getattr shows it under) the new name. A
   * handle whose release began meanwhile (no longer indexed) only uploads there: it is not
   * indexed again.
   */
  retarget(h: WriteHandle, at: Located): void {
    const indexed = this.writers.get(h.at.ufsUri)?.has(h) === true;
    this.detach(h);
    h.retarget(at);
    if (indexed) this.index(h);
  }

  /**
   * The release of `h` runs `final` (its last upload, then dropping the spool): `h` leaves the
   * writers at once, and `settled(uri)` waits for `final`. close(2) may return before the
   * kernel's release is over: a truncate, rename or unlink by name right after it must not
   * act on the UFS before that upload lands, nor on a spool about to be dropped.
   */
  async closeWith(h: WriteHandle, final: () => Promise<void>): Promise<void> {
    const uri = h.at.ufsUri;
    this.detach(h);
    const p = final();
    let set = this.closing.get(uri);
    if (!set) this.closing.set(uri, (set = new Set()));
    set.add(p);
    try {
      await p;
    } finally {
      set.delete(p);
      if (set.size === 0 && this.closing.get(uri) === set) this.closing.delete(uri);
    }
  }

  /** Resolves once no release of a writer of `uri` (`below`: or of anything below it) is uploading any more. */
  async settled(uri: string, below = false): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const [u, set] of this.closing) if (u === uri || (below && u.startsWith(dirPrefix(uri)))) waits.push(...set);
    if (waits.length > 0) await Promise.allSettled(waits);
  }

  /** Handles writing files below the directory `uri`. */
  writersBelow(uri: string): WriteHandle[] {
    const out: WriteHandle[] = [];
    for (const [u, set] of this.writers) if (u.startsWith(dirPrefix(uri))) out.push(...set);
    return out;
  }

  get(fd: number): Handle | undefined {
    return this.open.get(fd);
  }

  /** Drop the descriptor `fd` only (its handle is still open through another one). */
  forget(fd: number): void {
    this.open.delete(fd);
  }

  remove(fd: number): Handle | undefined {
    const h = this.open.get(fd);
    if (!h) return undefined;
    this.open.delete(fd);
    if (h instanceof WriteHandle) this.detach(h);
    return h;
  }

  /** Handles reading a version of `ufsUri` from the UFS (not a writer's spool). */
  readersOf(ufsUri: string): ReadHandle[] {
    const out: ReadHandle[] = [];
    for (const h of this.open.values()) if (h instanceof ReadHandle && !h.apartFromName && h.at.ufsUri === ufsUri) out.push(h);
    return out;
  }

  writersOf(ufsUri: string): WriteHandle[] {
    return [...(this.writers.get(ufsUri) ?? [])];
  }

  get size(): number {
    return this.open.size;
  }

  all(): [number, Handle][] {
    return [...this.open];
  }
}

/** What the UFS URIs below the directory `uri` start with (a mount root's URI ends in "/"). */
export function dirPrefix(uri: string): string {
  return uri.endsWith('/') ? uri : `${uri}/`;
}
