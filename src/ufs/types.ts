/**
 * The one UFS adapter interface, used by every front end (S3, REST/FSSpec, FUSE) and by
 * migration. An adapter is bound to one mount root (URI + options); every call names a
 * location below it by decoded relative segments taken from a Resolution's `location`
 * (so nothing but `joinUnderUfs` ever turns a path into a UFS location).
 */
import type { Readable, Writable } from 'node:stream';

export interface UfsEntry {
  /** Last segment (decoded); '' for the mount root. */
  name: string;
  type: 'file' | 'directory';
  size: number;
  mtimeMs: number;
  /** Stable content tag where the UFS has one (S3 ETag without quotes; file: size-mtime hash). */
  etag?: string;
  /**
   * file:// files: the inode's last change (ctime, ms), which no one can set back: a rewrite
   * whose mtime was put back still moves it. Absent for other UFSs (an object's mtime is
   * already its last change).
   */
  changedMs?: number;
  /**
   * The ETag clients are told for this version when one was declared for it (a multipart
   * upload's "<md5 of part md5s>-N"; src/cluster/object-etags.ts). Set by DataPath only; the
   * version of the object (cache keys, peer reads) stays `etag`.
   */
  declaredEtag?: string;
}

/** readFirst's answer: a file and the bytes asked for, or (no body) what a stat says of a name that is no object. */
export type FirstRead = { entry: UfsEntry; body: Readable } | { entry: UfsEntry | null; body?: undefined };

export interface ByteRange {
  /** Inclusive first byte. */
  start: number;
  /** Inclusive last byte. */
  end: number;
}

/** How a write commits. */
export interface WriteOptions {
  /**
   * Runs the commit, the step that makes the new version the name's (a rename, the final PUT
   * or CompleteMultipartUpload), once the whole body is staged. A caller checks its write
   * conditions and holds its key's lock around that step only, not while a client streams
   * the body; throwing instead of calling `commit` abandons the write (nothing lands).
   */
  aroundCommit?: (commit: () => Promise<UfsEntry>) => Promise<UfsEntry>;
}

/** Commit through the caller's wrapper, if it gave one. */
export function commitWith(opts: WriteOptions | undefined, commit: () => Promise<UfsEntry>): Promise<UfsEntry> {
  return opts?.aroundCommit ? opts.aroundCommit(commit) : commit();
}

export interface UfsAdapter {
  readonly uri: string;
  stat(rel: readonly string[]): Promise<UfsEntry | null>;
  /**
   * Direct children of a directory, sorted by name (UTF-8 byte order). Throws NotFound /
   * NotADirectory. On an object store a name can be both an object and a directory (keys
   * `a` and `a/x`): it is listed twice, the file first. Views where a name is one thing
   * (POSIX, fsspec: listMerged) show the directory; S3 listings show both.
   */
  list(rel: readonly string[]): Promise<UfsEntry[]>;
  /**
   * Open a stream of the file's bytes (or a byte range). `ifEtag`: only the version with this
   * ETag; another one is AlluxioError('Conflict') (adapters that cannot check ignore it).
   */
  read(rel: readonly string[], range?: ByteRange, ifEtag?: string): Promise<Readable>;
  /**
   * Optional fast path for small objects: the bytes (or a range) in one buffer. Front ends
   * use it for objects up to `SMALL_OBJECT_BYTES` and fall back to `read` otherwise.
   */
  readBuffer?(rel: readonly string[], range?: ByteRange): Promise<Buffer>;
  /**
   * Optional: open a file once and serve its metadata and bytes from the same open file
   * (one consistent version; fewer system calls). null when missing. The caller must
   * `close()` it unless it took `stream()`, which closes when the stream ends.
   */
  openRead?(rel: readonly string[]): Promise<UfsOpenFile | null>;
  /**
   * Optional, for stores where each request costs a round trip (s3://): the file's metadata
   * and the bytes of `range` in ONE request, so that a cold open does not wait for a stat
   * before the first byte. The body holds [range.start, min(range.end, size - 1)] (range.end
   * may be Infinity: to the end). When the name is no object (missing, or a directory) the
   * answer has no body and `entry` is what `stat` would say (null, or the directory), found
   * without asking for the name again. null when it cannot answer that way (an empty object,
   * or a range past its end): the caller stats instead.
   */
  readFirst?(rel: readonly string[], range: ByteRange): Promise<FirstRead | null>;
  /** Write a whole object from a stream (create or replace), returning its new entry. */
  write(rel: readonly string[], body: Readable, opts?: WriteOptions): Promise<UfsEntry>;
  delete(rel: readonly string[]): Promise<void>;
  mkdir(rel: readonly string[]): Promise<void>;
  close(): Promise<void>;

  // ---- capabilities an adapter may lack: callers test for the method, never the class.

  /**
   * Optional: move a file or directory to another location of the same adapter in one
   * step (the destination's parent exists; an existing destination file is replaced).
   * Without it, the data path copies and deletes.
   */
  rename?(from: readonly string[], to: readonly string[]): Promise<void>;
  /**
   * Optional (adapters on this host's file system): the regular file at `rel` as a
   * co-located client may open it itself (short-circuit reads), with the containment the
   * adapter gives every read; null when there is no regular file there.
   */
  localFile?(rel: readonly string[]): Promise<LocalFile | null>;
}

/**
 * A regular file as a co-located client may open it itself (short-circuit reads, see
 * docs/rest-api.md): its real path, proven inside the mount, and the identity the client
 * checks on the file it opens (size, mtime and ctime in ns, inode, device).
 */
export interface LocalFile {
  path: string;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
}

/** Objects up to this size may be served through `readBuffer` (one buffer, no stream). */
export const SMALL_OBJECT_BYTES = 256 * 1024;

export interface UfsOpenFile {
  entry: UfsEntry;
  /** The bytes (or a range) in one buffer; for lengths up to SMALL_OBJECT_BYTES. */
  readBuffer(range?: ByteRange): Buffer;
  /**
   * A stream of the bytes (or a range); takes ownership of the open file. `exact`: any
   * change of the file while it streams is a Conflict, growth too (for cache pages: a file
   * truncated and rewritten larger in place looks like an append); without it a file that
   * grew reads on, as a descriptor of a local file does.
   */
  stream(range?: ByteRange, opts?: { exact?: boolean }): Readable;
  /**
   * Optional: write the bytes (or a range) straight into `dest` with a few reused buffers
   * and backpressure from write callbacks (less CPU and garbage than a stream). Does not
   * end `dest` on failure and does not close the file (the caller still calls close()).
   */
  sendTo?(dest: Writable, range?: ByteRange): Promise<void>;
  /**
   * Optional: read up to `length` bytes at file offset `position` into `target` at `offset`
   * (caller-owned memory, no allocation; the FUSE read-ahead fills its reused windows with
   * it). Resolves with the count, 0 at end of file. Must not be called after close().
   */
  readInto?(target: Buffer, offset: number, length: number, position: number): Promise<number>;
  close(): void;
}

/**
 * An ETag that is not the MD5 of the bytes is marked so with a "-1" suffix (the form of a
 * multipart ETag, which no client takes for the content's MD5). A bare 32-digit hex ETag is
 * the content's MD5 to S3 clients: rclone compared it with the MD5 of what it uploaded and
 * failed every copy ("corrupted on transfer: md5 hash differ"), and s3cmd does the same.
 */
export function notContentMd5(hex: string): string {
  return `${hex}-1`;
}

/**
 * Two stats name the same version of an object: the same size and ETag when the UFS gives
 * one, else the same size and mtime (file://).
 */
export function sameVersion(a: UfsEntry, b: UfsEntry): boolean {
  if (a.type !== b.type || a.size !== b.size) return false;
  return b.etag !== undefined ? a.etag === b.etag : a.mtimeMs === b.mtimeMs;
}
