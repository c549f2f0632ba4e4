/**
 * The `s3://` (and `s3a://`) UFS adapter: any S3-compatible service, through
 * @aws-sdk/client-s3.
 *
 * Per-mount options (Alluxio's names; the `aws.*` / `alluxio.underfs.s3.*` spellings of
 * Alluxio's own configuration are accepted as aliases):
 *   s3a.accessKeyId        (aws.accessKeyId)           access key; default: the SDK's provider chain
 *   s3a.secretKey          (aws.secretKey)             secret key
 *   s3a.sessionToken                                   optional session token
 *   s3a.endpoint           (alluxio.underfs.s3.endpoint)  e.g. http://127.0.0.1:9000 (https:// when no scheme)
 *   s3a.region             (alluxio.underfs.s3.endpoint.region)  default us-east-1
 *   s3a.path.style.access  (alluxio.underfs.s3.disable.dns.buckets)  "true"/"false";
 *                          default true when an endpoint is set (MinIO, Ceph, ...), else false
 *   s3a.socket.timeout                                 how long a request waits for the answer, then
 *                          for each next body chunk (listings and writes: a connection, or a
 *                          socket with no bytes either way); default 30s
 *
 * A location is an object key: the mount URI's segments plus the location's decoded
 * segments, joined with `/` (segments never contain `/`, so a key cannot leave the mount's
 * key prefix). Directories are key prefixes (and `key/` markers, written by mkdir).
 * Large writes go as multipart uploads of `partSize` bytes, so memory stays bounded.
 * Object reads (read, readFirst) and stat's HEADs (of the key, of a `key/` marker) are plain
 * signed GETs and HEADs (s3-get.ts) over undici, not the SDK's GetObject/HeadObject: the
 * same addressing, credentials, retries and errors, at a quarter of the CPU, with a
 * deadline (s3a.socket.timeout), and without node:http's client in the worker's read path.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { CONTROL_CHARS } from '../domain/paths.js';
import { AlluxioError } from '../domain/errors.js';
import { S3_ACCESS_KEY_OPTIONS, S3_SECRET_KEY_OPTIONS, S3_SOCKET_TIMEOUT, s3SocketTimeoutMs, type ParsedMount } from '../domain/mounts.js';
import { sliceStream } from './body-slice.js';
import { compareUtf8 } from './order.js';
import { DEFAULT_S3_TIMEOUT_MS, S3ObjectGetter } from './s3-get.js';
import { commitWith, type ByteRange, type FirstRead, type UfsAdapter, type UfsEntry, type WriteOptions } from './types.js';


function opt(o: Record<string, string>, ...names: string[]): string | undefined {
  for (const n of names) if (o[n] !== undefined && o[n] !== '') return o[n];
  return undefined;
}

function bool(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new AlluxioError('InvalidOption', `"${v}" is not a boolean (true/false)`);
}

export interface S3UfsOptions {
  accessKeyId?: string;
  secretKey?: string;
  sessionToken?: string;
  endpoint?: string;
  region: string;
  pathStyle: boolean;
  partSize: number;
  /** s3a.socket.timeout (ms). */
  timeoutMs: number;
}

export function s3OptionsFromMount(options: Record<string, string>): S3UfsOptions {
  let endpoint = opt(options, 's3a.endpoint', 'alluxio.underfs.s3.endpoint');
  if (endpoint && !/^[a-z]+:\/\//i.test(endpoint)) endpoint = 'https://' + endpoint;
  const pathStyleRaw = opt(options, 's3a.path.style.access', 'alluxio.underfs.s3.disable.dns.buckets');
  const partMb = opt(options, 's3a.multipart.size');
  const timeout = opt(options, S3_SOCKET_TIMEOUT);
  const out: S3UfsOptions = {
    region: opt(options, 's3a.region', 'alluxio.underfs.s3.endpoint.region', 'aws.region') ?? 'us-east-1',
    pathStyle: bool(pathStyleRaw, endpoint !== undefined),
    partSize: partMb ? Math.max(5, Number(partMb)) * 1024 * 1024 : 8 * 1024 * 1024,
    timeoutMs: timeout === undefined ? DEFAULT_S3_TIMEOUT_MS : s3SocketTimeoutMs(timeout),
  };
  const ak = opt(options, ...S3_ACCESS_KEY_OPTIONS);
  const sk = opt(options, ...S3_SECRET_KEY_OPTIONS);
  const st = opt(options, 's3a.sessionToken', 's3a.session.token');
  if (ak) out.accessKeyId = ak;
  if (sk) out.secretKey = sk;
  if (st) out.sessionToken = st;
  if (endpoint) out.endpoint = endpoint;
  if ((ak === undefined) !== (sk === undefined)) {
    throw new AlluxioError('InvalidOption', 's3a.accessKeyId and s3a.secretKey must be given together');
  }
  if (!Number.isFinite(out.partSize)) throw new AlluxioError('InvalidOption', 's3a.multipart.size must be a number of MiB');
  return out;
}

/**
 * The bytes of `range` from an answer to a GET that asked for it: the body as sent when the
 * store honoured Range (206), else cut out of the whole object a store that ignores Range
 * sent (200), so every caller gets exactly the bytes it asked for, from the right offset.
 */
function rangeOf(r: { statusCode: number; body: Readable }, range: ByteRange | undefined): Readable {
  if (range === undefined || r.statusCode === 206) return r.body;
  return sliceStream(r.body, range.start, range.end - range.start + 1);
}

/** A header's one value (undici gives a repeated header as a list). */
function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** A file's entry from the headers of its GET or HEAD; `sizeOf` reads the size (a GET of a range knows it from Content-Range). */
function entryOf(name: string, h: IncomingHttpHeaders, sizeOf: (contentLength: string | undefined) => number): UfsEntry {
  const etag = one(h.etag)?.replace(/"/g, '');
  const lm = one(h['last-modified']);
  const mtime = lm ? Date.parse(lm) : NaN;
  return { name, type: 'file', size: sizeOf(one(h['content-length'])) || 0, mtimeMs: Number.isFinite(mtime) ? mtime : 0, ...(etag ? { etag } : {}) };
}

function statusOf(e: unknown): number | undefined {
  if (e instanceof S3ServiceException) return e.$metadata?.httpStatusCode;
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export class S3Ufs implements UfsAdapter {
  readonly uri: string;
  readonly bucket: string;
  /** Key prefix of the mount root ('' or 'a/b/'). */
  readonly base: string;
  readonly readOnly: boolean;
  readonly client: S3Client;
  private readonly partSize: number;
  private readonly getter: S3ObjectGetter;

  constructor(uri: string, bucket: string, baseSegments: readonly string[], o: S3UfsOptions, readOnly = false) {
    this.uri = uri;
    this.bucket = bucket;
    this.base = baseSegments.length ? baseSegments.join('/') + '/' : '';
    this.readOnly = readOnly;
    this.partSize = o.partSize;
    const cfg: S3ClientConfig = {
      region: o.region,
      forcePathStyle: o.pathStyle,
      // Plain S3-compatible servers do not all understand aws-chunked trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      // Resolve each command's middleware stack once, not on every send (we add no
      // per-request middleware): a cold 4 KiB read is one GetObject, and resolving the stack
      // was the SDK's largest CPU item in a profile of cold small reads.
      cacheMiddleware: true,
      // The same deadline for what stays on the SDK (listings, directory checks, writes):
      // a connection not made, or a socket with no bytes either way, for that long fails.
      requestHandler: { connectionTimeout: o.timeoutMs, socketTimeout: o.timeoutMs },
    };
    if (o.endpoint) cfg.endpoint = o.endpoint;
    if (o.accessKeyId && o.secretKey) {
      cfg.credentials = { accessKeyId: o.accessKeyId, secretAccessKey: o.secretKey, ...(o.sessionToken ? { sessionToken: o.sessionToken } : {}) };
    }
    this.client = new S3Client(cfg);
    const client = this.client;
    this.getter = new S3ObjectGetter({
      bucket,
      region: o.region,
      pathStyle: o.pathStyle,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      // the mount's keys, else the SDK's provider chain (environment, profile, instance role)
      credentials:
        o.accessKeyId && o.secretKey
          ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretKey, ...(o.sessionToken ? { sessionToken: o.sessionToken } : {}) }
          : () => client.config.credentials(),
      maxAttempts: 3,
      timeoutMs: o.timeoutMs,
    });
  }

  static fromMount(m: ParsedMount): S3Ufs {
    if (m.ufs.scheme !== 's3' && m.ufs.scheme !== 's3a') throw new AlluxioError('InvalidUfsUri', `${m.ufsUri} is not an s3:// URI`);
    return new S3Ufs(m.ufsUri, m.ufs.authority, m.ufs.segments, s3OptionsFromMount(m.options), m.readOnly);
  }

  keyOf(rel: readonly string[]): string {
    for (const seg of rel) {
      if (typeof seg !== 'string' || seg === '' || seg === '.' || seg === '..' || seg.includes('/') || seg.includes('\u0000')) {
        throw new AlluxioError('InvalidPath', `segment ${JSON.stringify(seg)} cannot be used under ${this.uri}`, { step: 'join' });
      }
    }
    const key = this.base + rel.join('/');
    if (!key.startsWith(this.base)) throw new AlluxioError('Internal', 'key escaped the mount');
    return key;
  }

  private dirPrefix(rel: readonly string[]): string {
    const k = this.keyOf(rel);
    return k === '' || k.endsWith('/') ? k : k + '/';
  }

  private fail(e: unknown, what: string): AlluxioError {
    if (e instanceof AlluxioError) return e;
    const status = statusOf(e);
    const name = (e as Error)?.name ?? 'Error';
    const msg = `${what} on ${this.uri}: ${name}${(e as Error)?.message ? ': ' + (e as Error).message : ''}`;
    if (status === 404 || name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket') return new AlluxioError('NotFound', msg, { cause: e });
    if (status === 403 || name === 'AccessDenied') return new AlluxioError('UfsAccessDenied', msg, { cause: e });
    if (status === 416) return new AlluxioError('InvalidArgument', msg, { cause: e });
    if (status === 412 || name === 'PreconditionFailed') return new AlluxioError('Conflict', `${msg} (the object is another version now)`, { cause: e });
    return new AlluxioError('UfsUnavailable', msg, { cause: e });
  }

  private assertWritable(): void {
    if (this.readOnly) throw new AlluxioError('ReadOnlyMount', `${this.uri} is mounted read-only`);
  }

  async stat(rel: readonly string[]): Promise<UfsEntry | null> {
    const name = rel.length ? rel[rel.length - 1]! : '';
    if (rel.length === 0) return { name, type: 'directory', size: 0, mtimeMs: 0 };
    const key = this.keyOf(rel);
    try {
      return entryOf(name, await this.getter.head(key), Number);
    } catch (e) {
      const err = this.fail(e, 'HeadObject');
      if (err.code !== 'NotFound') throw err;
    }
    return this.notAnObject(name, key);
  }

  /**
   * What a name that is no object is: a directory when a `key/` marker exists (mkdir writes
   * one; the entry then has the marker's ETag and date) or any key lies below it, else null
   * (missing). Both are asked at once, one round trip (they were two, one after the other).
   * The marker's answer decides first: a marker ends it (the listing's answer is not
   * waited for), so the same directory always gets the same entry. The marker is asked by
   * HEAD, not left to the listing: S3 gateways over file systems (this project's own S3 API
   * among them) answer a HEAD of `dir/` for an empty directory but list nothing under it.
   * The price: a directory with a marker costs a listing it did not need.
   */
  private async notAnObject(name: string, key: string): Promise<UfsEntry | null> {
    const notFound = (what: string) => (e: unknown): null => {
      const err = this.fail(e, what);
      if (err.code === 'NotFound') return null;
      throw err;
    };
    const below = this.client
      .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key + '/', MaxKeys: 1 }))
      .then((l) => (l.KeyCount ?? 0) > 0 || (l.Contents?.length ?? 0) > 0, notFound('ListObjectsV2'));
    below.catch(() => undefined); // handled where it is awaited (or not needed: a marker answered)
    let marker;
    try {
      marker = await this.getter.head(key + '/').then((h) => h, notFound('HeadObject'));
    } catch (e) {
      // the marker could not be asked: a listing that finds keys still answers
      if (await below.catch(() => false)) return { name, type: 'directory', size: 0, mtimeMs: 0 };
      throw e;
    }
    if (marker) {
      const { etag, mtimeMs } = entryOf(name, marker, () => 0);
      return { name, type: 'directory', size: 0, mtimeMs, ...(etag ? { etag } : {}) };
    }
    return (await below) ? { name, type: 'directory', size: 0, mtimeMs: 0 } : null;
  }

  async list(rel: readonly string[]): Promise<UfsEntry[]> {
    const prefix = this.dirPrefix(rel);
    const out: UfsEntry[] = [];
    // A name can be an object and a directory at once (keys `a` and `a/x`): both are listed.
    const files = new Set<string>();
    const dirs = new Set<string>();
    let token: string | undefined;
    let sawMarker = false;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }),
        );
      } catch (e) {
        throw this.fail(e, 'ListObjectsV2');
      }
      for (const c of page.Contents ?? []) {
        const k = c.Key ?? '';
        if (k === prefix) {
          sawMarker = true;
          continue;
        }
        const name = k.slice(prefix.length);
        if (!name || name.includes('/') || CONTROL_CHARS.test(name) || name === '.' || name === '..' || files.has(name)) continue;
        files.add(name);
        out.push({
          name,
          type: 'file',
          size: Number(c.Size ?? 0),
          mtimeMs: c.LastModified ? c.LastModified.getTime() : 0,
          ...(c.ETag ? { etag: c.ETag.replace(/"/g, '') } : {}),
        });
      }
      for (const cp of page.CommonPrefixes ?? []) {
        const name = (cp.Prefix ?? '').slice(prefix.length).replace(/\/$/, '');
        if (!name || name.includes('/') || CONTROL_CHARS.test(name) || name === '.' || name === '..' || dirs.has(name)) continue;
        dirs.add(name);
        out.push({ name, type: 'directory', size: 0, mtimeMs: 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    if (out.length === 0 && !sawMarker && rel.length > 0) {
      const st = await this.stat(rel);
      if (st === null) throw new AlluxioError('NotFound', `${rel.join('/')}: no such directory under ${this.uri}`);
      if (st.type === 'file') throw new AlluxioError('NotADirectory', `${rel.join('/')}: not a directory`);
    }
    // by name; a name that is both: the file first
    out.sort((a, b) => compareUtf8(a.name, b.name) || (a.type === b.type ? 0 : a.type === 'file' ? -1 : 1));
    return out;
  }

  async readFirst(rel: readonly string[], range: ByteRange): Promise<FirstRead | null> {
    if (rel.length === 0) return null;
    const key = this.keyOf(rel);
    let r;
    try {
      r = await this.getter.get(key, { range: `bytes=${range.start}-${Number.isFinite(range.end) ? range.end : ''}` });
    } catch (e) {
      const err = this.fail(e, 'GetObject');
      // No object of that name: missing or a directory (the GET answered stat's HEAD).
      if (err.code === 'NotFound') return { entry: await this.notAnObject(rel[rel.length - 1]!, key) };
      // 416: empty, or the range starts past the end: the caller stats.
      if (err.code === 'InvalidArgument') return null;
      throw err;
    }
    const h = r.headers;
    // 206 "bytes 0-1048575/4194304": the total is the object's size. A store that ignored the
    // Range answers 200 with the whole object: its length is the size.
    const size = r.statusCode === 206 ? Number(/\/(\d+)\s*$/.exec(one(h['content-range']) ?? '')?.[1] ?? NaN) : Number(one(h['content-length']) ?? NaN);
    if (!Number.isFinite(size)) {
      r.body.destroy();
      return null;
    }
    return { entry: entryOf(rel[rel.length - 1]!, h, () => size), body: rangeOf(r, range) };
  }

  async read(rel: readonly string[], range?: ByteRange, ifEtag?: string): Promise<Readable> {
    const key = this.keyOf(rel);
    let r;
    try {
      // A page of one version: S3 answers 412 when the object is another version now.
      r = await this.getter.get(key, { ...(range ? { range: `bytes=${range.start}-${range.end}` } : {}), ...(ifEtag !== undefined ? { ifMatch: `"${ifEtag}"` } : {}) });
    } catch (e) {
      // Readers ask for ranges inside the size they read: past the end now, the object is
      // another, shorter version (a store may check the Range before If-Match).
      if (range && statusOf(e) === 416) {
        throw new AlluxioError('Conflict', `GetObject on ${this.uri}: ${key} is another version now (shorter than byte ${range.start})`, { cause: e });
      }
      throw this.fail(e, 'GetObject');
    }
    // Stores that ignore If-Match (some S3-compatible ones do) still name what they sent.
    const etag = one(r.headers.etag);
    if (ifEtag !== undefined && etag !== undefined && etag.replace(/"/g, '') !== ifEtag) {
      r.body.destroy();
      throw new AlluxioError('Conflict', `GetObject on ${this.uri}: ${key} is another version now (ETag ${etag}, expected "${ifEtag}")`);
    }
    return rangeOf(r, range);
  }

  async write(rel: readonly string[], body: Readable, opts?: WriteOptions): Promise<UfsEntry> {
    this.assertWritable();
    if (rel.length === 0) throw new AlluxioError('IsADirectory', `the mount root of ${this.uri} is a directory`);
    const key = this.keyOf(rel);
    const chunks: Buffer[] = [];
    let buffered = 0;
    let uploadId: string | undefined;
    const parts: { ETag: string; PartNumber: number }[] = [];
    const abort = async (): Promise<void> => {
      if (uploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
    };
    const flushPart = async (): Promise<void> => {
      const data = Buffer.concat(chunks, buffered);
      chunks.length = 0;
      buffered = 0;
      if (!uploadId) {
        const c = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
        uploadId = c.UploadId!;
      }
      const n = parts.length + 1;
      const u = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: data }));
      parts.push({ ETag: u.ETag!, PartNumber: n });
    };
    try {
      for await (const chunk of body) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        chunks.push(b);
        buffered += b.length;
        if (buffered >= this.partSize) await flushPart();
      }
      if (uploadId && (buffered > 0 || parts.length === 0)) await flushPart();
    } catch (e) {
      await abort();
      body.destroy();
      throw this.fail(e, 'PutObject');
    }
    // Staged: one PUT of what is buffered, or the parts uploaded; the commit makes it the name's.
    let committed = false;
    try {
      return await commitWith(opts, async () => {
        try {
          if (!uploadId) {
            const data = Buffer.concat(chunks, buffered);
            await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: data, ContentLength: data.length }));
          } else {
            await this.client.send(
              new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
            );
          }
          committed = true;
        } catch (e) {
          throw this.fail(e, 'PutObject');
        }
        const st = await this.stat(rel);
        if (!st) throw new AlluxioError('UfsUnavailable', `${key} was written but is not visible in ${this.uri}`);
        return st;
      });
    } finally {
      if (!committed) await abort();
    }
  }

  async delete(rel: readonly string[]): Promise<void> {
    this.assertWritable();
    if (rel.length === 0) throw new AlluxioError('IsADirectory', `the mount root of ${this.uri} cannot be deleted`);
    const st = await this.stat(rel);
    if (!st) throw new AlluxioError('NotFound', `${rel.join('/')}: no such object under ${this.uri}`);
    const key = this.keyOf(rel);
    try {
      if (st.type === 'directory') {
        const l = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key + '/', MaxKeys: 2 }));
        const others = (l.Contents ?? []).filter((c) => c.Key !== key + '/');
        if (others.length > 0 || (l.KeyCount ?? 0) > 1) throw new AlluxioError('DirectoryNotEmpty', `${rel.join('/')}: directory not empty`);
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key + '/' }));
      } else {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
      }
    } catch (e) {
      throw this.fail(e, 'DeleteObject');
    }
  }

  async mkdir(rel: readonly string[]): Promise<void> {
    this.assertWritable();
    if (rel.length === 0) return;
    const key = this.keyOf(rel) + '/';
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: Buffer.alloc(0), ContentLength: 0 }));
    } catch (e) {
      throw this.fail(e, 'PutObject');
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.getter.destroy();
  }
}
