/**
 * The `file://` UFS adapter: a directory of the local file system.
 *
 * Containment (the mount must never be left):
 * - A location is the mount root plus decoded segments taken from a Resolution (so they
 *   were produced by joinUnderUfs); each segment is re-checked here (no '', '.', '..',
 *   '/', '\\' is allowed as a name character but never as a separator on POSIX, NUL).
 * - The joined path is checked with path.resolve to be the root or below it.
 * - Symlinks: what a location leads to must be inside the real path of the root. A
 *   symlink inside the mount that points outside it is refused (NotFound for reads,
 *   UfsAccessDenied for writes); symlinks that stay inside the mount are followed.
 *
 * The symlink check is made on what was actually opened, not on a path resolved before
 * (realpath-then-open races with a directory being swapped for a symlink in between):
 * every read, stat, listing and short-circuit grant first opens the location with O_PATH
 * (which opens nothing for I/O: no side effects on devices or FIFOs, even outside the
 * mount), asks the kernel where that descriptor is (readlink of /proc/self/fd/N) and
 * requires it inside the real root; only then is the same inode reopened for reading
 * through /proc/self/fd/N (no second path lookup) and only if it is a regular file or a
 * directory. A GET costs open(O_PATH)+readlink+fstat+open+close+read+close; nothing is
 * cached. Writes check the nearest existing ancestor's real path before creating
 * anything, then the temporary file's descriptor right after creating it and again after
 * the rename (where the inode ended up).
 *
 * Metadata calls on the request path (realpath, stat) and reads of small files are
 * synchronous system calls, like nginx does: on a local file system they take
 * microseconds, while a hop through libuv's thread pool per call costs far more under
 * load. Directory listings, large reads and all writes stay asynchronous (streams).
 *
 * Writes are atomic: the bytes go to a temporary file in the target's directory
 * (`.alluxio-tmp-*`, hidden from listings), which is renamed over the target once the
 * whole body arrived (a failed or aborted upload leaves the old content untouched).
 *
 * One concern, one file (about 600 lines): the file:// adapter and its containment proofs stay
 * together so every path into the local file system is read in one place.
 */
import { createHash, randomBytes } from 'node:crypto';
import { close as fsClose, closeSync, constants as FS, createReadStream, fstat, fstatSync, openSync, read as fsRead, readlinkSync, readSync, realpathSync, write as fsWrite, type Stats } from 'node:fs';
import { lstat, mkdir, readdir, realpath, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AlluxioError } from '../domain/errors.js';
import type { ParsedMount } from '../domain/mounts.js';
import { CONTROL_CHARS } from '../domain/paths.js';
import { compareUtf8 } from './order.js';
import { SMALL_OBJECT_BYTES, commitWith, notContentMd5, type ByteRange, type LocalFile, type UfsAdapter, type UfsEntry, type UfsOpenFile, type WriteOptions } from './types.js';

export const TEMP_PREFIX = '.alluxio-tmp-';
/** Files up to this size are read with one read(2) and handed over as one chunk. */
const SMALL_READ = 256 * 1024;
const STREAM_HWM = 256 * 1024;
/**
 * Linux open(2) O_PATH (not in fs.constants): a descriptor that only names an inode. It
 * can be fstat'ed, readlink'ed through /proc/self/fd and reopened there for I/O.
 */
const O_PATH = 0o10000000;

/** Re-exported for modules not yet importing ./order.js directly. */
export { compareUtf8 };

/**
 * The version of a local file: size, mtime, ctime and inode. ctime is the one a user cannot
 * set: a same-size rewrite in place whose mtime was put back (`cp -p`, `touch -d`, utime)
 * changes only it (before 2026-12-01 such a rewrite was never seen, even at TTL 0).
 */
export function fileEtag(st: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>): string {
  return notContentMd5(createHash('md5').update(`${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`).digest('hex'));
}

/**
 * Whether a file open since `was` now holds other bytes in the range it had: it shrank, or
 * its mtime moved while its size did not grow (a rewrite in place). Appends, renames,
 * unlinks and mode changes are not: a descriptor reads on through them.
 */
export function rewrittenInPlace(was: Pick<Stats, 'size' | 'mtimeMs'>, now: Pick<Stats, 'size' | 'mtimeMs'>): boolean {
  return now.size < was.size || (now.mtimeMs !== was.mtimeMs && now.size === was.size);
}

/**
 * Whether a file open since `was` changed at all (its content, size or times): what `exact`
 * reads refuse. The ctime catches a rewrite in place whose mtime was set back (rsync
 * --inplace). One change of the ctime is not the content's: the file's last link going (a
 * rename of a new version over it, an unlink), which leaves the open inode's bytes as they
 * were. (That was a Conflict: readers of an object replaced by rename while it was read got
 * 409s, two writers replacing it ten times a second; the cluster probe of 2026-12-03.)
 */
function changedAtAll(was: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'nlink'>, now: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'nlink'>): boolean {
  if (now.size !== was.size || now.mtimeMs !== was.mtimeMs) return true;
  return now.ctimeMs !== was.ctimeMs && !(now.nlink === 0 && was.nlink > 0);
}

/** The Conflict of a read that saw its file change: `exact` reads refuse any change (a rename, a chmod), the others only a rewrite. */
function changedWhileRead(rel: readonly string[], exact = false): AlluxioError {
  return new AlluxioError('Conflict', `${rel.join('/')} ${exact ? 'changed (content, size, times, a rename or a chmod)' : 'was rewritten in place'} while it was read`);
}

/** fs functions for a ReadStream whose every read is followed by the check of rewrittenInPlace (`exact`: changedAtAll). */
function checkedReads(was: Stats, rel: readonly string[], exact = false): { read: typeof fsRead; close: typeof fsClose } {
  const changed = exact ? changedAtAll : rewrittenInPlace;
  const read = ((fd: number, buf: Buffer, off: number, len: number, pos: number, cb: (e: Error | null, n: number, b: Buffer) => void) => {
    fsRead(fd, buf, off, len, pos, (err, n, b) => {
      if (err) return cb(err, 0, b);
      fstat(fd, (e2, now) => {
        if (e2) return cb(e2, 0, b);
        if (changed(was, now)) return cb(changedWhileRead(rel, exact), 0, b);
        cb(null, n, b);
      });
    });
  }) as unknown as typeof fsRead;
  return { read, close: fsClose };
}

export type { LocalFile };

function checkRel(rel: readonly string[]): void {
  for (const seg of rel) {
    if (typeof seg !== 'string' || seg === '' || seg === '.' || seg === '..' || seg.includes('/') || seg.includes('\u0000')) {
      throw new AlluxioError('InvalidPath', `segment ${JSON.stringify(seg)} cannot be used under a file:// mount`, { step: 'join' });
    }
  }
}

function isUsableName(name: string): boolean {
  return name !== '' && !name.startsWith(TEMP_PREFIX) && !CONTROL_CHARS.test(name) && name.isWellFormed() && Buffer.byteLength(name) <= 255;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

const PUMP_CHUNK = 256 * 1024;
const PUMP_BUFFERS = 4;

/** The bytes a range covers in a file of `size` bytes (the whole file without a range). */
function span(size: number, range?: ByteRange): { start: number; end: number; length: number } {
  const start = range ? range.start : 0;
  const end = range ? Math.min(range.end, size - 1) : size - 1;
  return { start, end, length: Math.max(0, end - start + 1) };
}

/** Read `length` bytes at `start` from a descriptor; shorter when the file ends first. */
function readAt(fd: number, start: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * Copy [start, end] of an open file into `dest`: positional reads into PUMP_BUFFERS reused
 * buffers, each handed back once `dest` reports it written (so at most
 * PUMP_BUFFERS * PUMP_CHUNK bytes are in flight, and no per-chunk garbage). Ends `dest`
 * on success; rejects (leaving `dest` to the caller) on a read error, and on a rewrite in
 * place when `read` checks for it (checkedReads); resolves when `dest` closes early (the
 * client went away).
 */
function pump(fd: number, start: number, end: number, dest: Writable, read: typeof fsRead): Promise<void> {
  return new Promise((resolve, reject) => {
    const free: Buffer[] = Array.from({ length: PUMP_BUFFERS }, () => Buffer.allocUnsafeSlow(PUMP_CHUNK));
    let pos = start;
    let reading = false;
    let inFlight = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      dest.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    let closing = false;
    // The client went away: settle once no read is in flight (the caller closes the fd next).
    const onClose = () => {
      if (reading) closing = true;
      else finish();
    };
    dest.on('close', onClose);
    const next = (): void => {
      if (reading || settled) return;
      if (pos > end) {
        if (inFlight === 0) {
          dest.end();
          finish();
        }
        return;
      }
      const buf = free.pop();
      if (!buf) return;
      reading = true;
      const n = Math.min(PUMP_CHUNK, end - pos + 1);
      read(fd, buf, 0, n, pos, (err, got) => {
        reading = false;
        if (settled) return;
        if (closing) return finish();
        if (err) return finish(err);
        if (got === 0) return finish(new AlluxioError('UfsUnavailable', 'the file became shorter while it was read'));
        pos += got;
        inFlight++;
        dest.write(got === buf.length ? buf : buf.subarray(0, got), (werr) => {
          inFlight--;
          if (werr) return onClose();
          free.push(buf);
          next();
        });
        next();
      });
    };
    next();
  });
}

export class FileUfs implements UfsAdapter {
  readonly uri: string;
  readonly root: string;
  readonly readOnly: boolean;
  private realRoot: string | undefined;

  constructor(uri: string, rootSegments: readonly string[], opts: { readOnly?: boolean } = {}) {
    this.uri = uri;
    this.root = path.resolve('/' + rootSegments.join('/'));
    this.readOnly = opts.readOnly === true;
  }

  static fromMount(m: ParsedMount): FileUfs {
    if (m.ufs.scheme !== 'file') throw new AlluxioError('InvalidUfsUri', `${m.ufsUri} is not a file:// URI`);
    return new FileUfs(m.ufsUri, m.ufs.segments, { readOnly: m.readOnly });
  }

  /** The local path of a location, proven to be the root or below it (lexically). */
  pathOf(rel: readonly string[]): string {
    checkRel(rel);
    const p = path.resolve(this.root, ...rel);
    if (p !== this.root && !p.startsWith(this.root === '/' ? '/' : this.root + path.sep)) {
      throw new AlluxioError('InvalidPath', `location escapes the mount ${this.uri}`, { step: 'join' });
    }
    return p;
  }

  private async rootReal(): Promise<string> {
    return this.rootRealSync();
  }

  private rootRealSync(): string {
    if (this.realRoot === undefined) {
      try {
        this.realRoot = realpathSync.native(this.root);
      } catch (e) {
        if (errno(e) === 'ENOENT') throw new AlluxioError('NotFound', `the mount's directory ${this.root} does not exist`);
        throw this.ioError(e, this.root);
      }
    }
    return this.realRoot;
  }

  /** Where an open descriptor is, as the kernel sees it (symlinks resolved). */
  private fdPath(fd: number, p: string): string {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch (e) {
      throw new AlluxioError('UfsUnavailable', `${path.relative(this.root, p) || '.'}: cannot verify where it leads (/proc/self/fd: ${errno(e) ?? String(e)})`, { cause: e });
    }
  }

  /**
   * Open what a location leads to (symlinks followed) with O_PATH and prove that the
   * descriptor is inside the real root. null (nothing left open) when missing, when a
   * parent is not a directory, on a symlink loop, or when it is outside the mount. The
   * caller closes `fd`.
   */
  private openInside(p: string): { fd: number; real: string } | null {
    const root = this.rootRealSync();
    let fd: number;
    try {
      fd = openSync(p, O_PATH);
    } catch (e) {
      const c = errno(e);
      if (c === 'ENOENT' || c === 'ENOTDIR' || c === 'ELOOP') return null;
      throw this.ioError(e, p);
    }
    let real: string;
    try {
      real = this.fdPath(fd, p);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (!this.inside(real, root)) {
      closeSync(fd);
      return null;
    }
    return { fd, real };
  }

  /**
   * Open a location for reading, proven inside the mount (see openInside), with its
   * metadata. Only regular files and directories are opened; null otherwise.
   */
  private openReadable(p: string): { fd: number; st: Stats } | null {
    return this.withInside(
      p,
      (h) => {
        const st = fstatSync(h.fd);
        if (!st.isFile() && !st.isDirectory()) return null;
        // the same inode, no second path lookup
        return { fd: openSync(`/proc/self/fd/${h.fd}`, FS.O_RDONLY), st };
      },
      true,
    );
  }

  /**
   * Run `use` on the descriptor openInside gives for a location (proven inside the
   * mount) and close that descriptor afterwards, whatever happens. null when openInside
   * refuses (missing, a parent not a directory, a loop, outside the mount). An error of
   * `use` becomes this.ioError for the location, or null if it is ENOENT and
   * `enoentIsNull`.
   */
  private withInside<T>(p: string, use: (h: { fd: number; real: string }) => T, enoentIsNull = false): T | null {
    const h = this.openInside(p);
    if (h === null) return null;
    try {
      return use(h);
    } catch (e) {
      if (enoentIsNull && errno(e) === 'ENOENT') return null;
      throw this.ioError(e, p);
    } finally {
      closeSync(h.fd);
    }
  }

  async openRead(rel: readonly string[]): Promise<UfsOpenFile | null> {
    const p = this.pathOf(rel);
    const o = this.openReadable(p);
    if (o === null) return null;
    const { fd, st } = o;
    const entry = this.entry(rel.length ? rel[rel.length - 1]! : '', st);
    let open = true;
    return {
      entry,
      readBuffer: (range?: ByteRange) => {
        if (entry.type !== 'file') throw new AlluxioError('IsADirectory', `${rel.join('/')}: is a directory`);
        const { start, length } = span(st.size, range);
        if (length > SMALL_OBJECT_BYTES) throw new AlluxioError('InvalidArgument', `readBuffer is for up to ${SMALL_OBJECT_BYTES} bytes`);
        const data = readAt(fd, start, length);
        if (rewrittenInPlace(st, fstatSync(fd))) throw changedWhileRead(rel);
        return data;
      },
      // The bytes of the version opened, or an error: a file rewritten in place while this
      // streams would give the new bytes after the old ones, and the cache would keep them
      // under the old version (each read checks the file, as readInto below).
      stream: (range?: ByteRange, opts?: { exact?: boolean }) => {
        if (entry.type !== 'file') throw new AlluxioError('IsADirectory', `${rel.join('/')}: is a directory`);
        const { start, end, length } = span(st.size, range);
        open = false;
        if (length === 0) {
          // (an empty file or range: a read stream refuses end = start - 1; before 2026-12-02
          // CopyObject of an empty object answered 500 on a worker without a cache)
          closeSync(fd);
          return Readable.from([], { objectMode: false });
        }
        return createReadStream('', { fd, start, end, highWaterMark: STREAM_HWM, autoClose: true, fs: checkedReads(st, rel, opts?.exact) });
      },
      sendTo: (dest: Writable, range?: ByteRange) => {
        if (entry.type !== 'file') throw new AlluxioError('IsADirectory', `${rel.join('/')}: is a directory`);
        const { start, end } = span(st.size, range);
        return pump(fd, start, end, dest, checkedReads(st, rel).read);
      },
      // Each read is checked against the content opened: a file rewritten in place (same
      // inode) while open would otherwise give the new bytes after the old ones. What a
      // descriptor of a local file reads on through is accepted: a rename, an unlink, a chmod
      // (ctime only) and an append (the bytes opened are unchanged; the size grew).
      readInto: (target: Buffer, offset: number, length: number, position: number) =>
        new Promise<number>((resolve, reject) => {
          if (!open) return reject(new AlluxioError('InvalidState', `${rel.join('/')}: read after close`));
          fsRead(fd, target, offset, length, position, (err, n) => {
            if (err) return reject(this.ioError(err, p));
            fstat(fd, (e2, now) => {
              if (e2) return reject(this.ioError(e2, p));
              if (rewrittenInPlace(st, now)) return reject(changedWhileRead(rel));
              resolve(n);
            });
          });
        }),
      close: () => {
        if (open) {
          open = false;
          closeSync(fd);
        }
      },
    };
  }

  private inside(real: string, root: string): boolean {
    return real === root || real.startsWith(root === '/' ? '/' : root + path.sep);
  }

  /** For writes: the nearest existing ancestor (or the path) must resolve inside the mount. */
  private async checkWritable(p: string): Promise<void> {
    if (this.readOnly) throw new AlluxioError('ReadOnlyMount', `${this.uri} is mounted read-only`);
    const root = await this.rootReal();
    let cur = p;
    for (;;) {
      try {
        const real = await realpath(cur);
        if (!this.inside(real, root)) throw new AlluxioError('UfsAccessDenied', `a symbolic link under ${this.uri} points outside the mount`);
        return;
      } catch (e) {
        if (e instanceof AlluxioError) throw e;
        const c = errno(e);
        if (c === 'ENOTDIR') throw new AlluxioError('NotADirectory', `a parent of the target is a file, not a directory`);
        if (c !== 'ENOENT') throw this.ioError(e, cur);
        // A dangling symlink at `cur` would be followed by the write: refuse it.
        try {
          const l = await lstat(cur);
          if (l.isSymbolicLink()) throw new AlluxioError('UfsAccessDenied', `a dangling symbolic link under ${this.uri} cannot be written through`);
        } catch (e2) {
          if (e2 instanceof AlluxioError) throw e2;
        }
        if (cur === this.root) throw new AlluxioError('NotFound', `the mount's directory ${this.root} does not exist`);
        cur = path.dirname(cur);
      }
    }
  }

  private ioError(e: unknown, p: string): AlluxioError {
    const c = errno(e);
    const rel = path.relative(this.root, p) || '.';
    switch (c) {
      case 'ENOENT':
        return new AlluxioError('NotFound', `${rel}: no such file or directory under ${this.uri}`, { cause: e });
      case 'ENOTDIR':
        return new AlluxioError('NotADirectory', `${rel}: not a directory`, { cause: e });
      case 'EISDIR':
        return new AlluxioError('IsADirectory', `${rel}: is a directory`, { cause: e });
      case 'ENOTEMPTY':
      case 'EEXIST':
        return new AlluxioError('DirectoryNotEmpty', `${rel}: directory not empty`, { cause: e });
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return new AlluxioError('UfsAccessDenied', `${rel}: permission denied by the file system (${c})`, { cause: e });
      default:
        return new AlluxioError('UfsUnavailable', `${rel}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }

  private entry(name: string, st: Stats): UfsEntry {
    const dir = st.isDirectory();
    return {
      name,
      type: dir ? 'directory' : 'file',
      size: dir ? 0 : st.size,
      mtimeMs: Math.floor(st.mtimeMs),
      ...(dir ? {} : { etag: fileEtag(st), changedMs: Math.floor(st.ctimeMs) }),
    };
  }

  async stat(rel: readonly string[]): Promise<UfsEntry | null> {
    const p = this.pathOf(rel);
    return this.withInside(p, (h) => {
      const st = fstatSync(h.fd);
      if (!st.isFile() && !st.isDirectory()) return null;
      return this.entry(rel.length ? rel[rel.length - 1]! : '', st);
    });
  }

  /**
   * For short-circuit reads: the regular file at a location with the containment every
   * read here has (pathOf: lexically the root or below; openInside: the inode it leads
   * to, as the kernel resolved it, is inside the real root), as that inode's real path
   * plus its identity, both taken from the same descriptor. null when there is no
   * regular file there (missing, a directory, another kind, deleted, or outside). The
   * client opens the path with O_NOFOLLOW and compares the identity, so a path swapped
   * after the grant is never read.
   */
  async localFile(rel: readonly string[]): Promise<LocalFile | null> {
    const p = this.pathOf(rel);
    const found = this.withInside(p, (h) => ({ real: h.real, st: fstatSync(h.fd, { bigint: true }) }));
    if (found === null) return null;
    const { real, st } = found;
    if (!st.isFile() || st.nlink === 0n) return null;
    return { path: real, size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev };
  }

  async list(rel: readonly string[]): Promise<UfsEntry[]> {
    const p = this.pathOf(rel);
    const h = this.openInside(p);
    if (h === null) throw new AlluxioError('NotFound', `${rel.join('/') || '/'}: no such directory under ${this.uri}`);
    // The directory is pinned by its descriptor: names are read and looked up in the
    // inode proven inside the mount, whatever happens to the path meanwhile.
    const pinned = `/proc/self/fd/${h.fd}`;
    const out: UfsEntry[] = [];
    try {
      let names: string[];
      try {
        names = await readdir(pinned);
      } catch (e) {
        throw this.ioError(e, p);
      }
      const usable = names.filter(isUsableName);
      // Bounded concurrency for the per-entry stat (large directories).
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < usable.length) {
          const name = usable[next++]!;
          const child = `${pinned}/${name}`;
          try {
            let st = await lstat(child);
            if (st.isSymbolicLink()) {
              const t = this.openInside(child);
              if (t === null) continue;
              try {
                st = fstatSync(t.fd);
              } finally {
                closeSync(t.fd);
              }
            }
            if (!st.isFile() && !st.isDirectory()) continue;
            out.push(this.entry(name, st));
          } catch {
            // vanished or unreadable between readdir and stat: not listed
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(16, usable.length) }, worker));
    } finally {
      closeSync(h.fd);
    }
    out.sort((a, b) => compareUtf8(a.name, b.name));
    return out;
  }

  async readBuffer(rel: readonly string[], range?: ByteRange): Promise<Buffer> {
    const p = this.pathOf(rel);
    const o = this.openReadable(p);
    if (o === null) throw new AlluxioError('NotFound', `${rel.join('/')}: no such file under ${this.uri}`);
    const { fd, st } = o;
    try {
      if (st.isDirectory()) throw new AlluxioError('IsADirectory', `${rel.join('/')}: is a directory`);
      const { start, length } = span(st.size, range);
      if (length > SMALL_OBJECT_BYTES) throw new AlluxioError('InvalidArgument', `readBuffer is for objects up to ${SMALL_OBJECT_BYTES} bytes`);
      return readAt(fd, start, length);
    } catch (e) {
      if (e instanceof AlluxioError) throw e;
      throw this.ioError(e, p);
    } finally {
      closeSync(fd);
    }
  }

  async read(rel: readonly string[], range?: ByteRange): Promise<Readable> {
    const p = this.pathOf(rel);
    const o = this.openReadable(p);
    if (o === null) throw new AlluxioError('NotFound', `${rel.join('/')}: no such file under ${this.uri}`);
    const { fd, st } = o;
    let handedOver = false;
    try {
      if (st.isDirectory()) throw new AlluxioError('IsADirectory', `${rel.join('/')}: is a directory`);
      const { start, end, length } = span(st.size, range);
      if (length <= SMALL_READ) {
        const buf = readAt(fd, start, length);
        return Readable.from(buf.length ? [buf] : [], { objectMode: false });
      }
      handedOver = true;
      return createReadStream('', { fd, start, end, highWaterMark: STREAM_HWM, autoClose: true });
    } catch (e) {
      if (e instanceof AlluxioError) throw e;
      throw this.ioError(e, p);
    } finally {
      if (!handedOver) closeSync(fd);
    }
  }

  async write(rel: readonly string[], body: Readable, opts?: WriteOptions): Promise<UfsEntry> {
    if (rel.length === 0) throw new AlluxioError('IsADirectory', `the mount root of ${this.uri} is a directory`);
    const p = this.pathOf(rel);
    await this.checkWritable(p);
    const dir = path.dirname(p);
    /** The first directory this write made (mkdir -p), if it made any. */
    let made: string | undefined;
    try {
      made = await mkdir(dir, { recursive: true });
    } catch (e) {
      throw this.ioError(e, dir);
    }
    await this.checkWritable(dir);
    try {
      const st = await lstat(p);
      if (st.isDirectory()) throw new AlluxioError('IsADirectory', `${rel.join('/')}: is a directory`);
    } catch (e) {
      if (e instanceof AlluxioError) throw e;
    }
    const name = rel[rel.length - 1]!;
    const root = this.rootRealSync();
    const tmp = path.join(dir, TEMP_PREFIX + randomBytes(8).toString('hex'));
    let fd: number | undefined;
    // The directory made above can be removed before the temp file is in it (an S3 delete
    // of its last object prunes emptied directories): make it again, a few times.
    for (let attempt = 1; fd === undefined; attempt++) {
      try {
        fd = openSync(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, 0o644);
      } catch (e) {
        if (errno(e) !== 'ENOENT' || attempt >= 5) throw this.ioError(e, p);
        await mkdir(dir, { recursive: true }).catch(() => undefined);
      }
    }
    let renamed = false;
    let sink: FdSink | undefined;
    try {
      // The directory may have been swapped for a symlink since checkWritable: the file
      // just created must be inside the mount before any byte goes to it.
      if (!this.inside(this.fdPath(fd, p), root)) {
        throw new AlluxioError('UfsAccessDenied', `a symbolic link under ${this.uri} points outside the mount`);
      }
      sink = fdSink(fd);
      await pipeline(body, sink);
      const staged = fd;
      return await commitWith(opts, async () => {
        await rename(tmp, p);
        renamed = true;
        // ... and where the rename put it (the same inode, followed through the descriptor).
        const now = this.fdPath(staged, p);
        const base = path.basename(now);
        if (!this.inside(now, root) || (base !== name && base !== `${name} (deleted)`)) {
          throw new AlluxioError('UfsAccessDenied', `the directory of ${rel.join('/')} under ${this.uri} was moved while it was written`);
        }
        return this.entry(name, fstatSync(staged));
      });
    } catch (e) {
      if (!renamed) {
        await unlink(tmp).catch(() => undefined);
        // A failed write leaves no directory of its own behind (S3 listed it as a prefix, and
        // a migration copied it): those it made, deepest first, while they are empty.
        if (made !== undefined) await removeEmptyUpTo(dir, made);
      }
      if (e instanceof AlluxioError) throw e;
      // An error of the body stream (bad checksum, client gone) passes through unchanged.
      if (errno(e) === undefined || !(e as NodeJS.ErrnoException).syscall) throw e;
      throw this.ioError(e, p);
    } finally {
      // (a write still queued when the body failed must not land on a reused descriptor)
      await sink?.idle();
      closeSync(fd);
    }
  }

  async delete(rel: readonly string[]): Promise<void> {
    if (rel.length === 0) throw new AlluxioError('IsADirectory', `the mount root of ${this.uri} cannot be deleted`);
    const p = this.pathOf(rel);
    await this.checkWritable(p);
    let st: Stats;
    try {
      st = await lstat(p);
    } catch (e) {
      throw this.ioError(e, p);
    }
    try {
      if (st.isDirectory()) await rmdir(p);
      else await unlink(p);
    } catch (e) {
      throw this.ioError(e, p);
    }
  }

  /** Remove a directory tree (used by tests and recursive deletes of the REST front end). */
  async deleteRecursive(rel: readonly string[]): Promise<void> {
    if (rel.length === 0) throw new AlluxioError('IsADirectory', `the mount root of ${this.uri} cannot be deleted`);
    const p = this.pathOf(rel);
    await this.checkWritable(p);
    await rm(p, { recursive: true, force: true });
  }

  /**
   * rename(2) inside the mount: one step, all or nothing (a directory with everything in it,
   * symbolic links as links, names no front end can show included; a file keeps its inode).
   * The parents of both names are checked to be inside the mount first, as for a write.
   * EXDEV (another file system mounted below the mount's directory): UfsNotSupported, and the
   * data path copies instead. (Before 2026-12-03 file:// had no rename: every move was a copy
   * and delete, entry by entry; a move that failed part-way left the tree split between the
   * two names, and links became copies of their targets.)
   */
  async rename(from: readonly string[], to: readonly string[]): Promise<void> {
    if (from.length === 0 || to.length === 0) throw new AlluxioError('InvalidArgument', `the mount root of ${this.uri} cannot be moved`);
    const src = this.pathOf(from);
    const dst = this.pathOf(to);
    await this.checkWritable(path.dirname(src));
    await this.checkWritable(path.dirname(dst));
    try {
      await rename(src, dst);
    } catch (e) {
      const c = errno(e);
      if (c === 'EXDEV') throw new AlluxioError('UfsNotSupported', `${from.join('/')} and ${to.join('/')} are on different file systems under ${this.uri}`, { cause: e });
      if (c === 'EINVAL') throw new AlluxioError('InvalidArgument', `${from.join('/')} cannot be moved below itself`, { cause: e });
      throw this.ioError(e, c === 'ENOTEMPTY' || c === 'EEXIST' || c === 'EISDIR' || c === 'ENOTDIR' ? dst : src);
    }
  }

  async mkdir(rel: readonly string[]): Promise<void> {
    const p = this.pathOf(rel);
    await this.checkWritable(p);
    try {
      await mkdir(p, { recursive: true });
    } catch (e) {
      throw this.ioError(e, p);
    }
    await this.checkWritable(p);
  }

  async close(): Promise<void> {
    /* nothing held open */
  }
}

/** rmdir `dir` and its parents up to and including `top`, stopping at the first that is not empty (or gone). */
async function removeEmptyUpTo(dir: string, top: string): Promise<void> {
  for (let d = dir; d === top || d.startsWith(top + path.sep); d = path.dirname(d)) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    if (d === top) return;
  }
}

interface FdSink extends Writable {
  /** Resolves once no write is in flight (after a failure too). */
  idle(): Promise<void>;
}

/**
 * A Writable onto an open descriptor that never closes it: the caller closes it, once. (An
 * fs.WriteStream closes its fd when a failed pipeline destroys it, even with autoClose
 * false: the caller's close then hit EBADF, or, once the number was reused, another file
 * of the process, which crashed the worker after a run of cut-off uploads.)
 */
function fdSink(fd: number): FdSink {
  let inFlight: Promise<void> = Promise.resolve();
  const writeAll = (buf: Buffer, cb: (e?: Error | null) => void): void => {
    fsWrite(fd, buf, 0, buf.length, null, (err, n) => {
      if (err) cb(err);
      else if (n < buf.length) writeAll(buf.subarray(n), cb);
      else cb();
    });
  };
  const sink = new Writable({
    highWaterMark: STREAM_HWM,
    write(chunk: Buffer, _enc, cb) {
      inFlight = new Promise<void>((done) =>
        writeAll(chunk, (e) => {
          done();
          cb(e);
        }),
      );
    },
  });
  return Object.assign(sink, { idle: () => inFlight });
}
