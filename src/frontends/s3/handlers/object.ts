/**
 * Object operations: GetObject / HeadObject (preconditions, ranges, response-* overrides),
 * PutObject (conditional: If-None-Match: *, If-Match), DeleteObject, CopyObject,
 * GetObjectTagging. Reads go through DataPath.open (one consistent version of the file),
 * writes and deletes through DataPath.write / delete under the key's lock.
 */
import type { Readable, Writable } from 'node:stream';
import { isAlluxioError } from '../../../domain/errors.js';
import { PRUNE_EMPTY_DIRS_OPTION } from '../../../domain/mounts.js';
import { SMALL_OBJECT_BYTES, type ByteRange, type UfsEntry, type WriteOptions } from '../../../ufs/types.js';
import type { DataObject, DataTarget } from '../../common/data-path.js';
import { fromAlluxio, S3Error, s3err } from '../errors.js';
import { lockIdOf } from '../key-locks.js';
import { requireWaitingClient } from '../../common/client-waiting.js';
import { againOnConflict } from '../../common/again-on-conflict.js';
import { conditionOf, conditionsFrom, evaluateCopySource, evaluateRead, evaluateWrite, hasWriteConditions, type Conditions } from '../preconditions.js';
import { objectRange } from '../ranges.js';
import { maybeRedirect } from '../redirect.js';
import { requireBodyLength, withBody } from '../request-body.js';
import { baseHeaderList, checkKey, contentTypeOf, drain, httpDate, isoDate, quoteEtag, s3call, sendEmpty, sendXml, namesKind, statObject, targetNow, targetOf, type Req, type S3Context } from '../request.js';
import { openHint } from '../../common/range.js';
import { sendLazyBody } from '../../common/lazy-body.js';

type Body = Buffer | Readable | ((dest: Writable) => Promise<void>);

/** response-* query parameters of GetObject and the headers they set. */
const RESPONSE_OVERRIDES: readonly (readonly [string, string])[] = [
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
  ['response-content-language', 'Content-Language'],
  ['response-cache-control', 'Cache-Control'],
  ['response-expires', 'Expires'],
];

/**
 * A response-* value a header cannot carry is the client's error, refused before anything
 * is resolved: 400 InvalidArgument, as S3 ("Header value cannot be represented using
 * ISO-8859-1"). Node refused it inside writeHead: 500 InternalError, logged as ours.
 */
function checkOverrides(q: ReadonlyMap<string, string>): void {
  if (q.size === 0) return;
  for (const p of ['response-content-type', ...RESPONSE_OVERRIDES.map(([name]) => name)]) {
    const v = q.get(p);
    if (v && /[^\t\x20-\x7e\x80-\xff]/.test(v)) {
      throw s3err.invalidArgument(/[\x00-\x1f\x7f]/.test(v) ? 'Header value contains a control character.' : 'Header value cannot be represented using ISO-8859-1.', p, v);
    }
  }
}

export async function getObject(ctx: S3Context, r: Req, head: boolean): Promise<void> {
  checkOverrides(r.query);
  const t = targetNow(ctx, r, r.bucket, r.key);
  if (maybeRedirect(ctx, r, t)) return;
  // The object replaced between the metadata this worker trusted and the bytes: while
  // nothing was sent yet, the current version is served.
  return againOnSourceChange(() => getOpened(ctx, r, head, t), r);
}

async function getOpened(ctx: S3Context, r: Req, head: boolean, t: DataTarget): Promise<void> {
  const range = r.req.headers.range;
  let f: DataObject | null;
  try {
    f = await ctx.dp.open(t, openHint(typeof range === 'string' ? range : undefined, head));
  } catch (e) {
    if (isAlluxioError(e)) throw fromAlluxio(e, { bucket: r.bucket, key: r.key });
    throw e;
  }
  if (!f) throw s3err.noSuchKey(r.key);
  let owned = true;
  try {
    if (!namesKind(r.key, f.entry)) throw s3err.noSuchKey(r.key);
    await serveObject(r, head, f.entry, (range) => {
      const length = range ? range.end - range.start + 1 : f.entry.size;
      if (length <= SMALL_OBJECT_BYTES) {
        // a page in the cache's memory: no promise to wait for
        const now = f.bytesNow?.(range ?? undefined);
        if (now) return now;
      }
      return openBody(r, f, range, length, () => (owned = false));
    });
  } finally {
    if (owned) f.close();
  }
}

/** The body of an opened object: small ones as one buffer, else sent or streamed. `streamed`: the stream owns the object now. */
async function openBody(r: Req, f: DataObject, range: ByteRange | null, length: number, streamed: () => void): Promise<Body> {
  const scope = { bucket: r.bucket, key: r.key };
  if (length <= SMALL_OBJECT_BYTES) return s3call(scope, () => f.bytes(range ?? undefined));
  if (f.sendTo) return (dest: Writable) => f.sendTo!(dest, range ?? undefined);
  streamed();
  return s3call(scope, () => f.stream(range ?? undefined));
}

function defaultType(key: string, isDir: boolean): string {
  return isDir ? 'application/x-directory' : contentTypeOf(key);
}

async function serveObject(r: Req, head: boolean, st: UfsEntry, open: (range: ByteRange | null) => Body | Promise<Body>): Promise<void> {
  const isDir = st.type === 'directory';
  const etag = quoteEtag(st);
  const lastModified = httpDate(st.mtimeMs);
  const conditions = conditionsFrom(r.req.headers);
  const cond = evaluateRead(conditions, { etag, mtimeMs: st.mtimeMs });
  if (cond === 'not-modified') return sendEmpty(r, 304, { ETag: etag, 'Last-Modified': lastModified });
  if (cond === 'failed') throw s3err.preconditionFailed(conditionOf(conditions, cond));
  const size = isDir ? 0 : st.size;
  const range = objectRange(typeof r.req.headers.range === 'string' ? r.req.headers.range : undefined, r.query.get('partNumber'), size);
  const q = r.query;
  // One flat list for writeHead (no object to build and walk per response).
  const headers: (string | number)[] = baseHeaderList(r.id);
  headers.push(
    'ETag', etag,
    'Last-Modified', lastModified,
    'Accept-Ranges', 'bytes',
    'Content-Type', (q.size > 0 && q.get('response-content-type')) || defaultType(r.key, isDir),
  );
  if (q.size > 0) {
    if (q.has('partNumber')) headers.push('x-amz-mp-parts-count', 1);
    for (const [p, h] of RESPONSE_OVERRIDES) {
      const v = q.get(p);
      if (v) headers.push(h, v); // (an empty value overrides nothing: no empty header)
    }
  }
  // Content-Length after Content-Disposition: Node turns a Content-Disposition that follows it
  // into a Buffer and then refuses any byte over 0x7f in it (a Latin-1 filename answered 500).
  headers.push('Content-Length', range ? range.end - range.start + 1 : size);
  if (range) headers.push('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
  const status = range ? 206 : 200;
  if (head || isDir || size === 0) {
    r.res.writeHead(status, headers);
    r.res.end();
    return;
  }
  const length = range ? range.end - range.start + 1 : size;
  const opened = open(range);
  const data = Buffer.isBuffer(opened) ? opened : await opened;
  if (Buffer.isBuffer(data)) {
    if (data.length !== length) throw s3err.internal('the object changed while it was read; retry');
    r.res.writeHead(status, headers);
    r.res.end(data);
    return;
  }
  // (the status line with the first bytes: a source that finds another version before any
  // is a Conflict the GET still answers, by serving the current version: getObject)
  await sendLazyBody(r.res, status, headers, data);
}

/**
 * Check the write conditions of `c` against the current object of `t` (call under the key's
 * lock, so nothing in this worker writes the key between the check and the write).
 */
export async function checkWriteConditions(ctx: S3Context, r: { bucket: string; key: string }, t: DataTarget, c: Conditions): Promise<void> {
  if (!hasWriteConditions(c)) return;
  // The UFS's current version, not the cache's (within its TTL it may be another's write).
  const cur = await s3call({ bucket: r.bucket, key: r.key }, () => ctx.dp.stat(t, { fresh: true }));
  // (what the key names: a file, or with a trailing "/" a directory, whose marker has the ETag of no bytes)
  const version = cur && namesKind(r.key, cur) ? { etag: quoteEtag(cur), mtimeMs: cur.mtimeMs } : null;
  switch (evaluateWrite(c, version)) {
    case 'ok':
      return;
    case 'failed':
      throw s3err.preconditionFailed(c.ifNoneMatch !== undefined ? 'If-None-Match' : 'If-Match');
    case 'missing':
      throw s3err.noSuchKey(r.key);
    case 'unsupported':
      throw new S3Error('NotImplemented', 501, 'A header you provided implies functionality that is not implemented: If-None-Match on a write takes only "*"', { Header: 'If-None-Match' });
  }
}

/**
 * A write's commit under its key's lock, its conditions checked there (again: the caller
 * checked them before the body, so a failing one answers at once), so nothing else this
 * worker writes lands between the check and the commit.
 */
function lockedCommit(ctx: S3Context, r: Req, t: DataTarget, c: Conditions): WriteOptions {
  return {
    aroundCommit: (commit) =>
      ctx.locks.run(lockIdOf(t), async () => {
        await checkWriteConditions(ctx, r, t, c);
        await requireWaitingClient(r.req, `${r.method} ${r.bucket}/${r.key}`);
        return commit();
      }),
  };
}

function checksumHeaders(r: Req): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.req.headers)) if (k.startsWith('x-amz-checksum-') && typeof v === 'string') headers[k] = v;
  return headers;
}

export async function putObject(ctx: S3Context, r: Req): Promise<void> {
  requireBodyLength(r);
  const t = await targetOf(ctx, r, r.bucket, r.key, { write: true });
  const scope = { bucket: r.bucket, key: r.key };
  const cond = conditionsFrom(r.req.headers);
  if (r.key.endsWith('/')) {
    // A "directory marker": create the directory (the body must be empty).
    const n = await withBody(r, async (body) => {
      let len = 0;
      for await (const c of body) len += (c as Buffer).length;
      return len;
    });
    if (n !== 0) throw s3err.directoryKeyWithData();
    await ctx.locks.run(lockIdOf(t), async () => {
      await checkWriteConditions(ctx, r, t, cond);
      // A file of that name: refused on every mount (an object store would take the marker,
      // and the name would then be a file that no request for `name/` reaches).
      if ((await s3call(scope, () => ctx.dp.stat(t)))?.type === 'file') {
        throw s3err.invalidRequest(`${r.key}: a file has that name; a name is a file or a directory here, not both (docs/s3-api.md, Limits)`);
      }
      await s3call(scope, () => ctx.dp.mkdir(t));
    });
    sendEmpty(r, 200, { ETag: '"d41d8cd98f00b204e9800998ecf8427e"' });
    return;
  }
  // A condition that fails already is answered before the body is read; the commit checks
  // again under the key's lock, which the body's streaming does not hold (a stalled client
  // would block every other write of the key).
  await checkWriteConditions(ctx, r, t, cond);
  const entry = await withBody(r, (body) => s3call(scope, () => ctx.dp.write(t, body, lockedCommit(ctx, r, t, cond))));
  sendEmpty(r, 200, { ETag: quoteEtag(entry), ...checksumHeaders(r) });
}

/**
 * Delete one key; S3: deleting what is not there (or a non-empty "directory") succeeds
 * quietly. A key ending in "/" names a directory only: `a.txt/` is not the file `a.txt`.
 * `ifMatch` (a conditional delete, If-Match or DeleteObjects' ETag): only that version,
 * checked under the key's lock: 412 PreconditionFailed for another, 404 NoSuchKey for none.
 */
export async function deleteKey(ctx: S3Context, r: Req, key: string, ifMatch?: string): Promise<void> {
  const t = await targetOf(ctx, r, r.bucket, key, { write: true, existing: true });
  try {
    await ctx.locks.run(lockIdOf(t), async () => {
      if (ifMatch !== undefined) await checkWriteConditions(ctx, { bucket: r.bucket, key }, t, { ifMatch });
      if (key.endsWith('/') && (await ctx.dp.stat(t))?.type !== 'directory') return;
      await requireWaitingClient(r.req, `DELETE ${r.bucket}/${key}`);
      await ctx.dp.delete(t);
      await pruneEmptyParents(ctx, t);
    });
  } catch (e) {
    if (isAlluxioError(e) && (e.code === 'NotFound' || e.code === 'DirectoryNotEmpty' || e.code === 'IsADirectory' || e.code === 'NotADirectory')) return;
    throw e;
  }
}

/**
 * In an object store a prefix exists only while a key is below it. A file:// mount makes the
 * directories of a PUT's key, so once the last object below them is deleted through S3 they
 * go too (up to the mount root; rmdir, so a directory that gained an entry meanwhile stays),
 * instead of lingering as prefixes and empty markers (`aws s3 sync` then `aws s3 rm
 * --recursive` left every directory). The mount option s3.prune.empty.dirs=false keeps them.
 * Object stores have no implicit directories: their markers are objects, kept.
 */
async function pruneEmptyParents(ctx: S3Context, t: DataTarget): Promise<void> {
  if (!t.mount.ufsUri.startsWith('file:') || t.mount.options[PRUNE_EMPTY_DIRS_OPTION] === 'false') return;
  for (let n = t.rel.length - 1; n >= 1; n--) {
    try {
      // rmdir: one call whatever the directory holds, refused unless it is empty
      await ctx.dp.delete({ ...t, rel: t.rel.slice(0, n) });
    } catch {
      return; // not empty (DirectoryNotEmpty: nothing announced), or gone: nothing more to prune
    }
  }
}

export async function deleteObject(ctx: S3Context, r: Req): Promise<void> {
  // A delete is conditional on If-Match only: any other condition answers 501, never ignored
  // (a client sending If-None-Match: * meant "not if it exists", and would lose the object).
  for (const h of ['x-amz-if-match-last-modified-time', 'x-amz-if-match-size', 'if-none-match', 'if-modified-since', 'if-unmodified-since']) {
    if (r.req.headers[h] !== undefined) throw new S3Error('NotImplemented', 501, `A header you provided implies functionality that is not implemented: ${h} (a delete is conditional on If-Match only)`, { Header: h });
  }
  const ifMatch = r.req.headers['if-match'];
  await s3call({ bucket: r.bucket, key: r.key }, () => deleteKey(ctx, r, r.key, typeof ifMatch === 'string' ? ifMatch : undefined));
  sendEmpty(r, 204);
}

export async function getObjectTagging(ctx: S3Context, r: Req): Promise<void> {
  // No tags are stored; an empty tag set keeps copy tools (aws s3 cp) working.
  const t = await targetOf(ctx, r, r.bucket, r.key);
  await statObject(ctx, t, r.key, r.bucket);
  sendXml(r, 200, 'Tagging', { TagSet: {} });
}

/** x-amz-copy-source: "bucket/key" or "/bucket/key", percent-encoded, maybe "?versionId=". */
export function copySource(r: Req): { bucket: string; key: string } {
  let raw = String(r.req.headers['x-amz-copy-source'] ?? '');
  const qi = raw.indexOf('?');
  if (qi >= 0) {
    const v = /(?:^|&)versionId=([^&]*)/.exec(raw.slice(qi + 1));
    if (v && v[1] !== 'null') throw s3err.notImplemented('x-amz-copy-source with a versionId (objects are not versioned)');
    raw = raw.slice(0, qi);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw s3err.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', raw);
  }
  if (decoded.startsWith('/')) decoded = decoded.slice(1);
  const i = decoded.indexOf('/');
  if (i <= 0 || i === decoded.length - 1) throw s3err.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', raw);
  const key = decoded.slice(i + 1);
  checkKey(key, 'x-amz-copy-source');
  return { bucket: decoded.slice(0, i), key };
}

/** The copy source's target and metadata, its x-amz-copy-source-if-* conditions checked. */
export async function openCopySource(ctx: S3Context, r: Req): Promise<{ src: { bucket: string; key: string }; t: DataTarget; st: UfsEntry }> {
  const src = copySource(r);
  const t = await targetOf(ctx, r, src.bucket, src.key);
  const st = await statObject(ctx, t, src.key, src.bucket);
  if (st.type !== 'file') throw s3err.noSuchKey(src.key);
  const failed = evaluateCopySource(conditionsFrom(r.req.headers, 'x-amz-copy-source-'), { etag: quoteEtag(st), mtimeMs: st.mtimeMs });
  if (failed !== undefined) throw s3err.preconditionFailed(failed);
  return { src, t, st };
}

export async function copyObject(ctx: S3Context, r: Req): Promise<void> {
  const directive = r.req.headers['x-amz-metadata-directive'];
  if (directive !== undefined && directive !== 'COPY' && directive !== 'REPLACE') {
    throw s3err.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', String(directive));
  }
  const dst = await targetOf(ctx, r, r.bucket, r.key, { write: true });
  const { src, t: srcT } = await openCopySource(ctx, r);
  if (lockIdOf(srcT) === lockIdOf(dst) && directive !== 'REPLACE') {
    throw s3err.invalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  await drain(r);
  const cond = conditionsFrom(r.req.headers);
  await checkWriteConditions(ctx, r, dst, cond);
  const copy = async (again: boolean): Promise<UfsEntry> => {
    // (once more: the source's conditions are checked again, against its current version)
    const { t } = again ? await openCopySource(ctx, r) : { t: srcT };
    const f = await s3call(src, () => ctx.dp.open(t));
    if (!f) throw s3err.noSuchKey(src.key);
    const body = await s3call(src, () => f.stream());
    try {
      return await s3call({ bucket: r.bucket, key: r.key }, () => ctx.dp.write(dst, body, lockedCommit(ctx, r, dst, cond)));
    } catch (e) {
      body.destroy(); // a write refused before it read the source must not leak its file or socket
      throw e;
    }
  };
  const entry = await againOnSourceChange(copy);
  sendXml(r, 200, 'CopyObjectResult', { LastModified: isoDate(entry.mtimeMs), ETag: quoteEtag(entry) });
}

/**
 * Whether a read failed because its source changed under it (againOnConflict): a Conflict,
 * before or after its mapping to S3's OperationAborted.
 */
function sourceChanged(e: unknown): boolean {
  return (e instanceof S3Error && e.code === 'OperationAborted') || (isAlluxioError(e) && e.code === 'Conflict');
}

/** againOnConflict (src/frontends/common/again-on-conflict.ts) for S3's requests. */
export function againOnSourceChange<T>(f: (again: boolean) => Promise<T>, r?: Req): Promise<T> {
  return againOnConflict(f, { res: r?.res, changed: sourceChanged });
}
