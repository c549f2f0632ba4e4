/**
 * Multipart uploads staged in a directory of the worker (one sub-directory per upload,
 * one file per part). Parts are written atomically (temp + rename); CompleteMultipartUpload
 * streams the chosen parts in order into the UFS adapter's write. Upload ids are 32 hex
 * characters and are checked before they name a directory.
 *
 * A completed upload leaves a small record (`completed/<id>.json`, kept for an hour) so a
 * CompleteMultipartUpload retried after a lost answer gets the same answer, not NoSuchUpload.
 *
 * Staging is bounded: an upload with no activity (no part written, no listing of its
 * parts... only writes count: the directory's and its files' mtimes) for longer than the
 * maximum age is abandoned and removed by `sweep()` (the S3 front end runs it at start and
 * periodically; ALLUXIO_S3_MULTIPART_MAX_AGE, default 24h), as S3's lifecycle rule
 * AbortIncompleteMultipartUpload does.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, createReadStream, createWriteStream, lstatSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AlluxioError } from '../../domain/errors.js';
import { s3err } from './errors.js';

export interface UploadMeta {
  bucket: string;
  key: string;
  initiated: string;
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  mtimeMs: number;
  file: string;
}

const ID = /^[0-9a-f]{32}$/;
const PART = /^(\d{5})\.([0-9a-f]{32})$/;

export interface CompletedUpload {
  bucket: string;
  key: string;
  /** Quoted ETag answered by the completion. */
  etag: string;
  /** The part list the completion used ("n:etag,..."): a retry must name the same parts. */
  parts: string;
  completedMs: number;
}

const COMPLETED_TTL_MS = 60 * 60 * 1000;

/**
 * A process's own staging directory when none is configured: `<tmpdir>/alluxio-s3-multipart-
 * <instance>` (one per worker: an upload lives on the worker that created it; a directory
 * shared by the workers of a host let each list, complete and abort the others' uploads).
 * The instance is `<cluster>/<id>`, written with `+` for the `/` (neither name can hold one).
 */
export function defaultStagingDir(instance: string | undefined, base = tmpdir()): string {
  const dir = path.join(base, instance ? `alluxio-s3-multipart-${instance.replace(/\//g, '+').replace(/[^A-Za-z0-9._+-]/g, '_')}` : 'alluxio-s3-multipart');
  ensurePrivateDir(dir);
  return dir;
}

/**
 * Make `dir` (in a shared directory such as /tmp) this user's own: created 0700, or, when it
 * is there, a directory of this user's that no one else can write to (read bits are taken
 * away). A symbolic link, a file, another user's directory or one others could have written
 * into is refused: the worker does not start (and a recreated one is checked again before
 * an upload goes in).
 */
export function ensurePrivateDir(dir: string): void {
  const refuse = (why: string): never => {
    throw new AlluxioError('UfsAccessDenied', `the multipart staging directory ${dir} ${why}: not used; remove it or set ALLUXIO_S3_STAGING_DIR`);
  };
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AlluxioError('UfsUnavailable', `cannot create the multipart staging directory ${dir}: ${(e as Error).message}; set ALLUXIO_S3_STAGING_DIR`);
  }
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (st.isSymbolicLink()) refuse('is a symbolic link');
  if (!st.isDirectory()) refuse('is not a directory');
  if (uid !== undefined && st.uid !== uid) refuse(`is owned by uid ${st.uid}, not this process's ${uid}`);
  if ((st.mode & 0o022) !== 0) refuse(`can be written by others (mode ${(st.mode & 0o777).toString(8)})`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

export class MultipartStore {
  /**
   * `owned`: the directory is this process's own in a shared place (defaultStagingDir): it is
   * checked again (ensurePrivateDir: made if a /tmp cleaner removed it, refused if someone
   * else's is there now) before each upload or completion record goes in. Otherwise it is
   * made as configured.
   */
  constructor(readonly dir: string, private readonly owned = false) {}

  /**
   * At stop: the staging directory removed when nothing is in it (an owned one: one per
   * worker id in the shared tmpdir; the completion records of the last hour keep it).
   */
  async removeIfEmpty(): Promise<void> {
    if (!this.owned) return;
    await rmdir(path.join(this.dir, 'completed')).catch(() => undefined);
    await rmdir(this.dir).catch(() => undefined);
  }

  /** mkdir `d` directly under the staging directory, the staging directory checked (owned) or made first. */
  private async mkdirIn(d: string): Promise<void> {
    if (this.owned) ensurePrivateDir(this.dir);
    else await mkdir(this.dir, { recursive: true });
    await mkdir(d).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }

  private completedFile(id: string): string {
    if (!ID.test(id)) throw s3err.noSuchUpload(id);
    return path.join(this.dir, 'completed', `${id}.json`);
  }

  /** Record that upload `id` completed (before its parts are removed). */
  async markCompleted(id: string, rec: CompletedUpload): Promise<void> {
    const f = this.completedFile(id);
    await this.mkdirIn(path.dirname(f));
    const tmp = `${f}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(rec));
    await rename(tmp, f);
  }

  /** The completion record of `id`, if it completed within the last hour. */
  async completed(id: string): Promise<CompletedUpload | undefined> {
    try {
      const rec = JSON.parse(await readFile(this.completedFile(id), 'utf8')) as CompletedUpload;
      return Date.now() - rec.completedMs < COMPLETED_TTL_MS ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  /** Drop completion records older than an hour. */
  async pruneCompleted(): Promise<void> {
    const d = path.join(this.dir, 'completed');
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const f = path.join(d, n);
      try {
        if (Date.now() - (await stat(f)).mtimeMs > COMPLETED_TTL_MS) await unlink(f);
      } catch {
        /* gone */
      }
    }
  }

  /**
   * Remove uploads whose last write is older than `maxAgeMs` (and completion records older
   * than an hour). Returns what was removed. Never throws: a failed removal is retried by
   * the next sweep.
   */
  async sweep(maxAgeMs: number, now = Date.now()): Promise<{ uploads: number; bytes: number }> {
    let uploads = 0;
    let bytes = 0;
    let ids: string[];
    try {
      ids = await readdir(this.dir);
    } catch {
      return { uploads, bytes };
    }
    for (const id of ids) {
      if (!ID.test(id)) continue;
      const d = path.join(this.dir, id);
      try {
        let last = (await stat(d)).mtimeMs;
        let size = 0;
        for (const f of await readdir(d)) {
          const st = await stat(path.join(d, f)).catch(() => undefined);
          if (!st) continue;
          last = Math.max(last, st.mtimeMs);
          size += st.size;
        }
        if (now - last <= maxAgeMs) continue;
        await rm(d, { recursive: true, force: true });
        uploads++;
        bytes += size;
      } catch {
        /* gone meanwhile, or not removable now: the next sweep tries again */
      }
    }
    await this.pruneCompleted();
    return { uploads, bytes };
  }

  private uploadDir(id: string): string {
    if (!ID.test(id)) throw s3err.noSuchUpload(id);
    return path.join(this.dir, id);
  }

  async create(bucket: string, key: string): Promise<string> {
    const id = randomBytes(16).toString('hex');
    const d = this.uploadDir(id);
    await this.mkdirIn(d);
    const meta: UploadMeta = { bucket, key, initiated: new Date().toISOString() };
    await writeFile(path.join(d, 'meta.json'), JSON.stringify(meta));
    return id;
  }

  async get(id: string, bucket?: string, key?: string): Promise<UploadMeta> {
    const d = this.uploadDir(id);
    let meta: UploadMeta;
    try {
      meta = JSON.parse(await readFile(path.join(d, 'meta.json'), 'utf8')) as UploadMeta;
    } catch {
      throw s3err.noSuchUpload(id);
    }
    if ((bucket !== undefined && meta.bucket !== bucket) || (key !== undefined && meta.key !== key)) throw s3err.noSuchUpload(id);
    return meta;
  }

  /** Store part `n` from a stream; returns its ETag (MD5 hex, like S3) and size. */
  async putPart(id: string, n: number, body: Readable): Promise<{ etag: string; size: number }> {
    const d = this.uploadDir(id);
    const tmp = path.join(d, `.tmp-${n}-${randomBytes(6).toString('hex')}`);
    const md5 = createHash('md5');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        md5.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(tmp, { flags: 'wx', highWaterMark: 1 << 20 }));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    const etag = md5.digest('hex');
    const prefix = String(n).padStart(5, '0');
    for (const f of await readdir(d)) if (f.startsWith(prefix + '.')) await unlink(path.join(d, f)).catch(() => undefined);
    try {
      await rename(tmp, path.join(d, `${prefix}.${etag}`));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      // aborted meanwhile
      throw s3err.noSuchUpload(id);
    }
    return { etag, size };
  }

  async parts(id: string): Promise<PartInfo[]> {
    const d = this.uploadDir(id);
    let files: string[];
    try {
      files = await readdir(d);
    } catch {
      throw s3err.noSuchUpload(id);
    }
    const out: PartInfo[] = [];
    for (const f of files) {
      const m = PART.exec(f);
      if (!m) continue;
      try {
        const st = await stat(path.join(d, f));
        out.push({ partNumber: Number(m[1]), etag: m[2]!, size: st.size, mtimeMs: st.mtimeMs, file: path.join(d, f) });
      } catch {
        /* replaced meanwhile */
      }
    }
    out.sort((a, b) => a.partNumber - b.partNumber);
    return out;
  }

  /** The parts in order, as one stream (backpressure from the consumer). */
  concat(parts: readonly PartInfo[]): Readable {
    return Readable.from(
      (async function* () {
        for (const p of parts) {
          for await (const chunk of createReadStream(p.file, { highWaterMark: 1 << 20 })) yield chunk as Buffer;
        }
      })(),
      { objectMode: false },
    );
  }

  async abort(id: string): Promise<void> {
    const d = this.uploadDir(id);
    await this.get(id);
    await rm(d, { recursive: true, force: true });
  }

  async list(): Promise<(UploadMeta & { uploadId: string })[]> {
    let ids: string[];
    try {
      ids = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: (UploadMeta & { uploadId: string })[] = [];
    for (const id of ids) {
      if (!ID.test(id)) continue;
      try {
        out.push({ uploadId: id, ...(await this.get(id)) });
      } catch {
        /* gone */
      }
    }
    return out;
  }
}

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10000;

/** The multipart ETag S3 reports: md5 of the binary part md5s, "-N". */
export function multipartEtag(etags: readonly string[]): string {
  const h = createHash('md5');
  for (const e of etags) h.update(Buffer.from(e, 'hex'));
  return `${h.digest('hex')}-${etags.length}`;
}
