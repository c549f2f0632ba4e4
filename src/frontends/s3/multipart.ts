/**
 * Multipart uploads staged in a directory of the worker (one sub-directory per upload,
 * one file per part). Parts are written atomically (temp + rename); CompleteMultipartUpload
 * streams the chosen parts in order into the UFS adapter's write. Upload ids are 32 hex
 * characters and are checked before they name a directory.
 *
 * A completed upload leaves a small record (`completed/<id>.json`, kept for an hour) so a
 * CompleteMultipartUpload retried after a lost answer gets the same answer, not NoSuchUpload.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

export class MultipartStore {
  constructor(readonly dir: string) {}

  private completedFile(id: string): string {
    if (!ID.test(id)) throw s3err.noSuchUpload(id);
    return path.join(this.dir, 'completed', `${id}.json`);
  }

  /** Record that upload `id` completed (before its parts are removed). */
  async markCompleted(id: string, rec: CompletedUpload): Promise<void> {
    const f = this.completedFile(id);
    await mkdir(path.dirname(f), { recursive: true });
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

  private uploadDir(id: string): string {
    if (!ID.test(id)) throw s3err.noSuchUpload(id);
    return path.join(this.dir, id);
  }

  async create(bucket: string, key: string): Promise<string> {
    const id = randomBytes(16).toString('hex');
    const d = this.uploadDir(id);
    await mkdir(d, { recursive: true });
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
