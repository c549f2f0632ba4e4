/**
 * What every S3 handler works with: the parsed request (`Req`), the front end's shared
 * state (`S3Context`: the data path, multipart staging, per-key locks, region), and the
 * small answer helpers. Every resolution, read, write and delete goes through
 * `ctx.dp` (src/frontends/common/data-path.ts); nothing here calls a UFS adapter.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { isAlluxioError } from '../../domain/errors.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { notContentMd5, type UfsEntry } from '../../ufs/types.js';
import type { DataPath, DataTarget } from '../common/data-path.js';
import type { FrontendContext } from '../context.js';
import { fromAlluxio, S3Error, s3err, type ErrorScope } from './errors.js';
import type { KeyLocks } from './key-locks.js';
import type { MultipartStore } from './multipart.js';
import type { VerifiedRequest } from './sigv4.js';
import { xmlDoc, type XmlNode } from './xml.js';

export interface S3Context {
  frontend: FrontendContext;
  dp: DataPath;
  staging: MultipartStore;
  locks: KeyLocks;
  region: string;
}

export interface Req {
  id: string;
  /** Headers every response carries (request id, server). */
  base: Record<string, string>;
  method: string;
  rawPath: string;
  query: Map<string, string>;
  bucket: string;
  key: string;
  snap: Snapshot;
  auth: VerifiedRequest | undefined;
  req: IncomingMessage;
  res: ServerResponse;
}

export const OWNER = { ID: 'alluxio', DisplayName: 'alluxio' };
export const STARTED = new Date();

/** Set with writeHead in one go (no setHeader first: that takes Node's slow header path). */
export function baseHeaders(id: string): Record<string, string> {
  return { 'x-amz-request-id': id, 'x-amz-id-2': id, Server: 'AlluxioS3' };
}

/** baseHeaders as a flat [name, value, ...] list (writeHead takes one; handlers append to it). */
export function baseHeaderList(id: string): (string | number)[] {
  return ['x-amz-request-id', id, 'x-amz-id-2', id, 'Server', 'AlluxioS3'];
}

export { httpDate } from '../common/http-date.js';
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
/** The ETag of no bytes (MD5 of the empty string). */
const EMPTY_ETAG = '"d41d8cd98f00b204e9800998ecf8427e"';

/** The quoted ETag of an entry: the one declared for its version (multipart), else its own. */
export function quoteEtag(e: UfsEntry): string {
  // A directory (`key/`: GET, HEAD, a listed marker) is no bytes, so its ETag is that of no
  // bytes: an s3:// marker object's own ETag would describe bytes that are not sent.
  if (e.type === 'directory') return EMPTY_ETAG;
  if (e.declaredEtag ?? e.etag) return `"${e.declaredEtag ?? e.etag}"`;
  // No ETag from the UFS (file://): one derived from size and mtime, hashed once per entry
  // (a cached entry is the same object for every read within the metadata TTL).
  let tag = derivedEtags.get(e);
  if (tag === undefined) derivedEtags.set(e, (tag = `"${notContentMd5(createHash('md5').update(`${e.size}:${e.mtimeMs}`).digest('hex'))}"`));
  return tag;
}
const derivedEtags = new WeakMap<UfsEntry, string>();

const MIME: Record<string, string> = {
  '.txt': 'text/plain', '.csv': 'text/csv', '.json': 'application/json', '.html': 'text/html', '.xml': 'application/xml',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.parquet': 'application/vnd.apache.parquet',
};
export function contentTypeOf(key: string): string {
  return MIME[path.extname(key).toLowerCase()] ?? 'binary/octet-stream';
}

export function sendXml(r: Req, status: number, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
  const xml = xmlDoc(root, body);
  r.res.writeHead(status, { ...r.base, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml), ...headers });
  r.res.end(r.method === 'HEAD' ? undefined : xml);
}

export function sendEmpty(r: Req, status: number, headers: Record<string, string | number> = {}): void {
  r.res.writeHead(status, { ...r.base, 'Content-Length': 0, ...headers });
  r.res.end();
}

/** Run a data-path call, mapping AlluxioErrors to S3 with `scope` (the key the client named). */
export async function s3call<T>(scope: ErrorScope, f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isAlluxioError(e)) throw fromAlluxio(e, scope);
    throw e;
  }
}

/**
 * Keys are paths in a file-backed namespace, so keys that name the same file as another
 * key (`x//y`, `/x/y` would land on `x/y`) are refused rather than merged silently.
 */
export function checkKey(key: string, argName = 'key'): void {
  if (key.startsWith('/') || key.includes('//')) {
    throw s3err.invalidArgument(`Invalid object name: "${key}" is not a canonical path (empty segment); it would name the same file as another key`, argName, key);
  }
}

/** Resolve `bucket`/`key` against the request's snapshot and bind it (the one data path). */
export async function targetOf(ctx: S3Context, r: Req, bucket: string, key: string, opts: { write?: boolean; existing?: boolean } = {}): Promise<DataTarget> {
  return targetNow(ctx, r, bucket, key, opts);
}

/** S3's limit on a key: 1024 bytes of UTF-8. Writes past it are refused as S3 refuses them. */
const MAX_KEY_BYTES = 1024;

/**
 * targetOf without a promise: the same target, or the same S3 error thrown. `existing`: a
 * write to a key that exists (a delete), not one that makes a key.
 */
export function targetNow(ctx: S3Context, r: Req, bucket: string, key: string, opts: { write?: boolean; existing?: boolean } = {}): DataTarget {
  // (a key made another way, FUSE or REST, can be longer: it can still be read and deleted)
  if (opts.write && !opts.existing && key.length > MAX_KEY_BYTES / 4 && Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 400, `Your key is too long: ${Buffer.byteLength(key)} bytes, at most ${MAX_KEY_BYTES}`, { Key: key });
  }
  try {
    checkKey(key);
    return ctx.dp.target(r.snap, { api: 's3', bucket, key }, opts);
  } catch (e) {
    if (isAlluxioError(e)) throw fromAlluxio(e, { bucket, key });
    throw e;
  }
}

/** Does the bucket exist: a top-level mount, or a top-level virtual directory of a rule? */
export function bucketExists(ctx: S3Context, r: Req, bucket: string): boolean {
  try {
    const res = ctx.dp.resolve(r.snap, { api: 's3', bucket, key: '' }, { allowUnmounted: true });
    if (res.mount !== null) return true;
    return r.snap.virtualChildren(res.alluxioPath).length > 0 || r.snap.virtualChildren('/').includes(bucket);
  } catch (e) {
    if (isAlluxioError(e)) return false;
    throw e;
  }
}

export function requireBucket(ctx: S3Context, r: Req): void {
  if (!bucketExists(ctx, r, r.bucket)) throw s3err.noSuchBucket(r.bucket);
}

/**
 * Whether `key` names what is there: a directory only with a trailing "/" (its marker), a
 * file only without one (`a.txt/` is another key than `a.txt`, and S3 has no object there).
 */
export function namesKind(key: string, e: UfsEntry): boolean {
  return (e.type === 'directory') === key.endsWith('/');
}

/** The object's metadata: NoSuchKey when missing, a directory named without "/" or a file with one. */
export async function statObject(ctx: S3Context, t: DataTarget, key: string, bucket: string): Promise<UfsEntry> {
  const st = await s3call({ bucket, key }, () => ctx.dp.stat(t));
  if (!st || !namesKind(key, st)) throw s3err.noSuchKey(key);
  return st;
}

/** Drain a body that carries nothing (copies). */
export async function drain(r: Req): Promise<void> {
  for await (const _ of r.req) {
    /* no body */
  }
}
