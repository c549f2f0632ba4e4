/**
 * Service and bucket operations: ListBuckets, HeadBucket, GetBucketLocation,
 * GetBucketVersioning, ListObjects v1/v2, DeleteObjects, and the answers to CreateBucket /
 * DeleteBucket (buckets are mounts, made with the CLI).
 */
import { isAlluxioError } from '../../../domain/errors.js';
import { compareUtf8 } from '../../../ufs/file.js';
import { fromAlluxio, S3Error, s3err } from '../errors.js';
import { decodeToken, encodeToken, Lister } from '../listing.js';
import { readXml } from '../request-body.js';
import { bucketExists, isoDate, OWNER, quoteEtag, requireBucket, sendEmpty, sendXml, STARTED, type Req, type S3Context } from '../request.js';
import { listingEncoder, pageSizeParam, urlEncodingParam } from '../list-params.js';
import { child, childrenNamed, esc, XML_NS, type XmlNode } from '../xml.js';
import { deleteKey } from './object.js';

/** ListBuckets, with `prefix`, `max-buckets` (1..10000) and `continuation-token` pages. */
export function listBuckets(_ctx: S3Context, r: Req): void {
  const q = r.query;
  const prefix = q.get('prefix') ?? '';
  const mb = q.get('max-buckets');
  if (mb !== undefined && (!/^\d+$/.test(mb) || Number(mb) < 1 || Number(mb) > 10000)) {
    throw s3err.invalidArgument('max-buckets must be an integer between 1 and 10000', 'max-buckets', mb);
  }
  const token = q.get('continuation-token');
  const after = token !== undefined ? decodeToken(token) : '';
  const names = r.snap.virtualChildren('/').filter((n) => n.startsWith(prefix) && compareUtf8(n, after) > 0).sort(compareUtf8);
  const page = mb !== undefined ? names.slice(0, Number(mb)) : names;
  const more = page.length < names.length;
  sendXml(r, 200, 'ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: page.map((n) => ({ Name: n, CreationDate: isoDate(STARTED.getTime()) })) },
    ...(more ? { ContinuationToken: encodeToken(page[page.length - 1]!) } : {}),
    ...(q.has('prefix') ? { Prefix: prefix } : {}),
  });
}

export function headBucket(ctx: S3Context, r: Req): void {
  requireBucket(ctx, r);
  sendEmpty(r, 200, { 'x-amz-bucket-region': ctx.region });
}

export function getBucketLocation(ctx: S3Context, r: Req): void {
  requireBucket(ctx, r);
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${XML_NS}">${ctx.region === 'us-east-1' ? '' : esc(ctx.region)}</LocationConstraint>`;
  r.res.writeHead(200, { ...r.base, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml) });
  r.res.end(xml);
}

export function getBucketVersioning(ctx: S3Context, r: Req): void {
  requireBucket(ctx, r);
  sendXml(r, 200, 'VersioningConfiguration', {});
}

export function createBucket(ctx: S3Context, r: Req): void {
  if (bucketExists(ctx, r, r.bucket)) throw new S3Error('BucketAlreadyOwnedByYou', 409, 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: r.bucket });
  throw s3err.notImplemented('CreateBucket (buckets are mounts: use `alluxio mount add`)');
}

export function deleteBucket(): void {
  throw s3err.notImplemented('DeleteBucket (buckets are mounts: use `alluxio mount remove`)');
}

function listParams(r: Req, v2: boolean) {
  const q = r.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = pageSizeParam(q, 'max-keys');
  const url = urlEncodingParam(q);
  let marker = '';
  let token: string | undefined;
  let startAfter: string | undefined;
  if (v2) {
    token = q.get('continuation-token');
    startAfter = q.get('start-after');
    if (token !== undefined) marker = decodeToken(token);
    else if (startAfter) marker = startAfter;
  } else marker = q.get('marker') ?? '';
  return { prefix, delimiter, maxKeys, url, marker, token, startAfter };
}

export async function listObjects(ctx: S3Context, r: Req, v2: boolean): Promise<void> {
  requireBucket(ctx, r);
  const p = listParams(r, v2);
  const out = await new Lister(ctx.dp, r.snap).list({ bucket: r.bucket, prefix: p.prefix, delimiter: p.delimiter, marker: p.marker, maxKeys: p.maxKeys });
  const next = out.isTruncated && out.last !== undefined ? out.last : undefined;
  const { url, e } = listingEncoder(p.url, [p.prefix, p.delimiter, p.marker, p.startAfter ?? '', next ?? '', ...out.contents.map((c) => c.key), ...out.commonPrefixes]);
  const contents = out.contents.map((c) => ({
    Key: e(c.key),
    LastModified: isoDate(c.entry.mtimeMs),
    ETag: quoteEtag(c.entry),
    Size: c.entry.type === 'directory' ? 0 : c.entry.size, // a marker `dir/` (an empty directory)
    ...(v2 && r.query.get('fetch-owner') !== 'true' ? {} : { Owner: OWNER }),
    StorageClass: 'STANDARD',
  }));
  const cps = out.commonPrefixes.map((cp) => ({ Prefix: e(cp) }));
  if (v2) {
    sendXml(r, 200, 'ListBucketResult', {
      Name: r.bucket,
      Prefix: e(p.prefix),
      ...(p.delimiter ? { Delimiter: e(p.delimiter) } : {}),
      MaxKeys: p.maxKeys,
      ...(url ? { EncodingType: 'url' } : {}),
      KeyCount: contents.length + cps.length,
      IsTruncated: out.isTruncated,
      ...(p.token !== undefined ? { ContinuationToken: p.token } : {}),
      ...(next !== undefined ? { NextContinuationToken: encodeToken(next) } : {}),
      ...(p.startAfter !== undefined ? { StartAfter: e(p.startAfter) } : {}),
      Contents: contents,
      CommonPrefixes: cps,
    });
  } else {
    sendXml(r, 200, 'ListBucketResult', {
      Name: r.bucket,
      Prefix: e(p.prefix),
      Marker: e(p.marker),
      ...(p.delimiter ? { Delimiter: e(p.delimiter) } : {}),
      MaxKeys: p.maxKeys,
      ...(url ? { EncodingType: 'url' } : {}),
      IsTruncated: out.isTruncated,
      ...(next !== undefined ? { NextMarker: e(next) } : {}),
      Contents: contents,
      CommonPrefixes: cps,
    });
  }
}

export async function deleteObjects(ctx: S3Context, r: Req): Promise<void> {
  const doc = await readXml(r, 'Delete');
  const quiet = (child(doc, 'Quiet')?.text ?? '').trim() === 'true';
  const objects = childrenNamed(doc, 'Object');
  // The schema asks for 1 to 1000 objects (AWS: MalformedXML for an empty Delete).
  if (objects.length === 0) throw s3err.malformedXml('A Delete request must name at least one key');
  if (objects.length > 1000) throw s3err.malformedXml('A Delete request may name at most 1000 keys');
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  for (const o of objects) {
    const keyEl = child(o, 'Key');
    if (!keyEl) throw s3err.malformedXml();
    const key = keyEl.text;
    // A VersionId names one version to delete; objects are not versioned here, so only
    // "null" (the one version there is) names the object (as ?versionId on DeleteObject).
    // Any other must not delete the object: that key fails, the others go on.
    const version = child(o, 'VersionId')?.text.trim();
    if (version !== undefined && version !== 'null') {
      errors.push({ Key: key, VersionId: version, Code: 'NotImplemented', Message: 'Objects are not versioned: a VersionId other than "null" names no version here; nothing was deleted' });
      continue;
    }
    if (child(o, 'LastModifiedTime') || child(o, 'Size')) {
      errors.push({ Key: key, Code: 'NotImplemented', Message: 'A delete is conditional on the ETag only (LastModifiedTime and Size are not implemented); nothing was deleted' });
      continue;
    }
    const etag = child(o, 'ETag')?.text.trim();
    try {
      await deleteKey(ctx, r, key, etag);
      if (!quiet) deleted.push(version === undefined ? { Key: key } : { Key: key, VersionId: version });
    } catch (e) {
      const s3 = e instanceof S3Error ? e : isAlluxioError(e) ? fromAlluxio(e, { bucket: r.bucket, key }) : s3err.internal((e as Error).message);
      errors.push({ Key: key, Code: s3.code, Message: s3.message });
    }
  }
  sendXml(r, 200, 'DeleteResult', { Deleted: deleted, Error: errors });
}
