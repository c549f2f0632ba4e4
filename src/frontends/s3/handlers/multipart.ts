/**
 * Multipart uploads: Create, UploadPart, UploadPartCopy, Complete (conditional, idempotent
 * for a retry after a lost answer), Abort, ListParts, ListMultipartUploads. Parts are
 * staged on the worker (multipart.ts); Complete streams them in order through
 * DataPath.write under the key's lock.
 */
import type { TLSSocket } from 'node:tls';
import { S3Error, s3err } from '../errors.js';
import { lockIdOf } from '../key-locks.js';
import { MAX_PARTS, MIN_PART_SIZE, multipartEtag, type PartInfo } from '../multipart.js';
import { conditionsFrom } from '../preconditions.js';
import { copySourceRange } from '../ranges.js';
import { readXml, requireBodyLength, throughStages, withBody } from '../request-body.js';
import { declaredChecksums, MultipartChecksumVerifier } from '../body.js';
import { CHECKSUM_ALGORITHMS } from '../checksums.js';
import { drain, isoDate, OWNER, quoteEtag, requireBucket, s3call, sendEmpty, sendXml, targetOf, type Req, type S3Context } from '../request.js';
import { listingEncoder, pageSizeParam, urlEncodingParam } from '../list-params.js';
import { pageUploads } from '../upload-listing.js';
import { child, childrenNamed } from '../xml.js';
import { againOnSourceChange, checkWriteConditions, openCopySource } from './object.js';

export async function createMultipart(ctx: S3Context, r: Req): Promise<void> {
  await targetOf(ctx, r, r.bucket, r.key, { write: true });
  if (r.key.endsWith('/')) throw s3err.directoryKeyWithData();
  void ctx.staging.pruneCompleted();
  const id = await ctx.staging.create(r.bucket, r.key);
  const alg = r.req.headers['x-amz-checksum-algorithm'];
  sendXml(r, 200, 'InitiateMultipartUploadResult', { Bucket: r.bucket, Key: r.key, UploadId: id }, typeof alg === 'string' ? { 'x-amz-checksum-algorithm': alg } : {});
}

function partNumberOf(r: Req): number {
  const raw = r.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PARTS) throw s3err.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
  return n;
}

export async function uploadPart(ctx: S3Context, r: Req): Promise<void> {
  requireBodyLength(r);
  const id = r.query.get('uploadId')!;
  const n = partNumberOf(r);
  await targetOf(ctx, r, r.bucket, r.key, { write: true });
  await ctx.staging.get(id, r.bucket, r.key);
  const { etag } = await withBody(r, (body) => ctx.staging.putPart(id, n, body));
  const headers: Record<string, string> = { ETag: `"${etag}"` };
  for (const [k, v] of Object.entries(r.req.headers)) if (k.startsWith('x-amz-checksum-') && typeof v === 'string') headers[k] = v;
  sendEmpty(r, 200, headers);
}

export async function uploadPartCopy(ctx: S3Context, r: Req): Promise<void> {
  const id = r.query.get('uploadId')!;
  const n = partNumberOf(r);
  await targetOf(ctx, r, r.bucket, r.key, { write: true });
  await ctx.staging.get(id, r.bucket, r.key);
  await drain(r);
  // (a source changed under the copy, within the metadata TTL: once more, as GetObject)
  const { etag } = await againOnSourceChange(async () => {
    const { src, t, st } = await openCopySource(ctx, r);
    const rh = r.req.headers['x-amz-copy-source-range'];
    const range = copySourceRange(typeof rh === 'string' ? rh : undefined, st.size);
    const f = await s3call(src, () => ctx.dp.open(t));
    if (!f) throw s3err.noSuchKey(src.key);
    const body = await s3call(src, () => f.stream(range));
    return ctx.staging.putPart(id, n, body);
  });
  sendXml(r, 200, 'CopyPartResult', { LastModified: isoDate(Date.now()), ETag: `"${etag}"` });
}

/** The object's URL as the client reached this worker (S3 answers a URL, not a path). */
function objectUrl(r: Req): string {
  const scheme = (r.req.socket as TLSSocket).encrypted === true ? 'https' : 'http';
  const local = r.req.socket.localAddress ?? '127.0.0.1';
  const host = r.req.headers.host ?? `${local.includes(':') ? `[${local}]` : local}:${r.req.socket.localPort ?? ''}`;
  return `${scheme}://${host}${r.rawPath}`;
}

function partList(parts: readonly { n: number; etag: string }[]): string {
  return parts.map((p) => `${p.n}:${p.etag}`).join(',');
}

export async function completeMultipart(ctx: S3Context, r: Req): Promise<void> {
  const id = r.query.get('uploadId')!;
  const t = await targetOf(ctx, r, r.bucket, r.key, { write: true });
  // (x-amz-checksum-* here is the object's checksum, full or composite of the parts', not
  // the XML's: checked as the object is assembled, MultipartChecksumVerifier)
  const doc = await readXml(r, 'CompleteMultipartUpload', false);
  const wanted = childrenNamed(doc, 'Part').map((p) => ({
    n: Number(child(p, 'PartNumber')?.text ?? NaN),
    etag: (child(p, 'ETag')?.text ?? '').trim().replace(/^"|"$/g, '').toLowerCase(),
    checksums: new Map(CHECKSUM_ALGORITHMS.flatMap((alg) => {
      const v = child(p, `Checksum${alg.toUpperCase()}`)?.text.trim();
      return v ? [[alg, v] as const] : [];
    })),
  }));
  const objectChecksums = new Map(declaredChecksums(r.req.headers).map((c) => [c.alg, c.want]));
  if (wanted.length === 0) throw s3err.malformedXml('The XML you provided was not well-formed or did not validate against our published schema');
  const answer = (etag: string) =>
    sendXml(r, 200, 'CompleteMultipartUploadResult', { Location: objectUrl(r), Bucket: r.bucket, Key: r.key, ETag: etag });
  const etag = await ctx.locks.run(lockIdOf(t), async () => {
    try {
      await ctx.staging.get(id, r.bucket, r.key);
    } catch (e) {
      // A retry after a lost answer: the same upload, completed with the same parts.
      const done = await ctx.staging.completed(id);
      if (e instanceof S3Error && done && done.bucket === r.bucket && done.key === r.key && done.parts === partList(wanted)) return done.etag;
      throw e;
    }
    const have = new Map((await ctx.staging.parts(id)).map((p) => [p.partNumber, p]));
    const chosen: PartInfo[] = [];
    // the order of the whole list first, as S3 (a part too small before an unordered one is InvalidPartOrder)
    let prev = 0;
    for (const w of wanted) {
      if (!Number.isInteger(w.n) || w.n <= prev) throw new S3Error('InvalidPartOrder', 400, 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
      prev = w.n;
    }
    for (const [i, w] of wanted.entries()) {
      const p = have.get(w.n);
      if (!p || (w.etag !== '' && w.etag !== p.etag)) {
        throw new S3Error('InvalidPart', 400, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.", { PartNumber: String(w.n) });
      }
      if (i < wanted.length - 1 && p.size < MIN_PART_SIZE) throw new S3Error('EntityTooSmall', 400, 'Your proposed upload is smaller than the minimum allowed object size.', { PartNumber: String(w.n) });
      chosen.push(p);
    }
    await checkWriteConditions(ctx, r, t, conditionsFrom(r.req.headers));
    // (not refused when its client has gone, unlike a PUT: the whole object is assembled
    // before the commit and the client hears nothing meanwhile, so a large one outlasts SDK
    // read timeouts; its retry then finds it completed, as in S3)
    const verifiers = CHECKSUM_ALGORITHMS.filter((alg) => objectChecksums.has(alg) || wanted.some((w) => w.checksums.has(alg))).map(
      (alg) => new MultipartChecksumVerifier(alg, chosen.map((p) => p.size), objectChecksums.get(alg), wanted.map((w) => w.checksums.get(alg))),
    );
    const entry = await s3call({ bucket: r.bucket, key: r.key }, () => throughStages(ctx.staging.concat(chosen), verifiers, (body) => ctx.dp.write(t, body)));
    // S3's multipart form, declared for the version just written so GET/HEAD/listings on any
    // worker agree (src/cluster/object-etags.ts); if it cannot be recorded, the object's own.
    const mp = multipartEtag(chosen.map((p) => p.etag));
    const etag = (await ctx.dp.declareEtag(t, entry, mp)) ? `"${mp}"` : quoteEtag(entry);
    await ctx.staging.markCompleted(id, { bucket: r.bucket, key: r.key, etag, parts: partList(wanted), completedMs: Date.now() });
    await ctx.staging.abort(id).catch(() => undefined);
    return etag;
  });
  answer(etag);
}

export async function abortMultipart(ctx: S3Context, r: Req): Promise<void> {
  const id = r.query.get('uploadId')!;
  const t = await targetOf(ctx, r, r.bucket, r.key);
  // Under the key's lock, as Complete: an abort racing a Complete of the upload waits for it
  // and then finds no upload (NoSuchUpload), where it removed the parts under the Complete
  // reading them (which answered NoSuchKey, s3-tests 2026-12-02).
  await ctx.locks.run(lockIdOf(t), async () => {
    await ctx.staging.get(id, r.bucket, r.key);
    await ctx.staging.abort(id);
  });
  sendEmpty(r, 204);
}

export async function listParts(ctx: S3Context, r: Req): Promise<void> {
  const id = r.query.get('uploadId')!;
  await ctx.staging.get(id, r.bucket, r.key);
  const marker = Number(r.query.get('part-number-marker') ?? '0') || 0;
  const max = Math.min(1000, Number(r.query.get('max-parts') ?? '1000') || 1000);
  const all = (await ctx.staging.parts(id)).filter((p) => p.partNumber > marker);
  const page = all.slice(0, max);
  const truncated = all.length > max;
  sendXml(r, 200, 'ListPartsResult', {
    Bucket: r.bucket,
    Key: r.key,
    UploadId: id,
    Initiator: OWNER,
    Owner: OWNER,
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    ...(page.length ? { NextPartNumberMarker: page[page.length - 1]!.partNumber } : {}),
    MaxParts: max,
    IsTruncated: truncated,
    Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: isoDate(p.mtimeMs), ETag: `"${p.etag}"`, Size: p.size })),
  });
}

export async function listUploads(ctx: S3Context, r: Req): Promise<void> {
  requireBucket(ctx, r);
  const q = r.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = keyMarker ? (q.get('upload-id-marker') ?? '') : '';
  const maxUploads = pageSizeParam(q, 'max-uploads');
  const asked = urlEncodingParam(q);
  const mine = (await ctx.staging.list()).filter((u) => u.bucket === r.bucket);
  const page = pageUploads(mine, { prefix, delimiter, keyMarker, uploadIdMarker, maxUploads });
  const { url, e } = listingEncoder(asked, [prefix, delimiter, keyMarker, page.nextKeyMarker ?? '', ...page.uploads.map((u) => u.key), ...page.commonPrefixes]);
  sendXml(r, 200, 'ListMultipartUploadsResult', {
    Bucket: r.bucket,
    KeyMarker: e(keyMarker),
    UploadIdMarker: uploadIdMarker,
    ...(page.nextKeyMarker !== undefined ? { NextKeyMarker: e(page.nextKeyMarker), NextUploadIdMarker: page.nextUploadIdMarker } : {}),
    ...(delimiter ? { Delimiter: e(delimiter) } : {}),
    Prefix: e(prefix),
    MaxUploads: maxUploads,
    IsTruncated: page.isTruncated,
    ...(url ? { EncodingType: 'url' } : {}),
    Upload: page.uploads.map((u) => ({ Key: e(u.key), UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD', Initiated: u.initiated })),
    CommonPrefixes: page.commonPrefixes.map((cp) => ({ Prefix: e(cp) })),
  });
}
