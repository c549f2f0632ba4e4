/**
 * THE route table of the S3 front end (like MinIO's api-router.go): method + level
 * (service / bucket / object) + query subresource (+ one header) -> operation name. Pure:
 * `routeOf` is unit-tested in test/s3/router.test.ts. The first matching row wins.
 *
 * Anything that asks for a feature this endpoint does not implement answers 501
 * NotImplemented instead of being ignored: unknown subresources of S3 (?acl, ?versioning
 * on PUT, ?versionId, ...) here, request headers (SSE-C, object lock, ...) in
 * `unsupportedHeader`.
 */
import { s3err } from './errors.js';

export type Operation =
  | 'ListBuckets'
  | 'HeadBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'ListMultipartUploads'
  | 'ListObjectsV1'
  | 'ListObjectsV2'
  | 'DeleteObjects'
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'GetObject'
  | 'HeadObject'
  | 'GetObjectTagging'
  | 'PutObject'
  | 'CopyObject'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'DeleteObject'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'CreateMultipartUpload'
  | 'CompleteMultipartUpload';

export type Level = 'service' | 'bucket' | 'object';

interface Row {
  method: string;
  level: Level;
  /** Query parameter that must be present. */
  query?: string;
  /** Query parameter whose value must be this (list-type=2). */
  queryValue?: [string, string];
  /** Request header that must be present. */
  header?: string;
  op: Operation;
}

export const ROUTES: readonly Row[] = [
  { method: 'GET', level: 'service', op: 'ListBuckets' },
  { method: 'HEAD', level: 'service', op: 'ListBuckets' },

  { method: 'GET', level: 'bucket', query: 'location', op: 'GetBucketLocation' },
  { method: 'GET', level: 'bucket', query: 'versioning', op: 'GetBucketVersioning' },
  { method: 'GET', level: 'bucket', query: 'uploads', op: 'ListMultipartUploads' },
  { method: 'GET', level: 'bucket', queryValue: ['list-type', '2'], op: 'ListObjectsV2' },
  { method: 'GET', level: 'bucket', op: 'ListObjectsV1' },
  { method: 'HEAD', level: 'bucket', op: 'HeadBucket' },
  { method: 'POST', level: 'bucket', query: 'delete', op: 'DeleteObjects' },
  { method: 'PUT', level: 'bucket', op: 'CreateBucket' },
  { method: 'DELETE', level: 'bucket', op: 'DeleteBucket' },

  { method: 'GET', level: 'object', query: 'tagging', op: 'GetObjectTagging' },
  { method: 'GET', level: 'object', query: 'uploadId', op: 'ListParts' },
  { method: 'GET', level: 'object', op: 'GetObject' },
  { method: 'HEAD', level: 'object', op: 'HeadObject' },
  { method: 'PUT', level: 'object', query: 'uploadId', header: 'x-amz-copy-source', op: 'UploadPartCopy' },
  { method: 'PUT', level: 'object', query: 'uploadId', op: 'UploadPart' },
  { method: 'PUT', level: 'object', header: 'x-amz-copy-source', op: 'CopyObject' },
  { method: 'PUT', level: 'object', op: 'PutObject' },
  { method: 'DELETE', level: 'object', query: 'uploadId', op: 'AbortMultipartUpload' },
  { method: 'DELETE', level: 'object', op: 'DeleteObject' },
  { method: 'POST', level: 'object', query: 'uploads', op: 'CreateMultipartUpload' },
  { method: 'POST', level: 'object', query: 'uploadId', op: 'CompleteMultipartUpload' },
];

/** Subresources of S3 this endpoint does not implement (any method): 501. */
export const UNIMPLEMENTED_SUBRESOURCES: readonly string[] = [
  'acl', 'policy', 'cors', 'lifecycle', 'website', 'logging', 'notification', 'replication', 'encryption',
  'object-lock', 'legal-hold', 'retention', 'torrent', 'requestPayment', 'accelerate', 'analytics', 'inventory',
  'metrics', 'intelligent-tiering', 'ownershipControls', 'publicAccessBlock', 'restore', 'select', 'attributes',
  'versions', 'policyStatus', 'versionId', 'session', 'renameObject', 'metadataTable',
];

/** Subresources implemented for some methods only (GET ?tagging, GET ?versioning). */
const PARTIAL_SUBRESOURCES: readonly string[] = ['tagging', 'versioning', 'location'];

export interface RouteInput {
  method: string;
  bucket: string;
  key: string;
  query: ReadonlyMap<string, string>;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export function levelOf(bucket: string, key: string): Level {
  return bucket === '' ? 'service' : key === '' ? 'bucket' : 'object';
}

/** The operation a request asks for; throws S3Error (501 / 405 / 400) when none. */
export function routeOf(r: RouteInput): Operation {
  const level = levelOf(r.bucket, r.key);
  const q = r.query;
  if (level !== 'service' && q.size > 0) {
    // ?versionId=null names the only version there is.
    const sub = UNIMPLEMENTED_SUBRESOURCES.find((s) => q.has(s) && !(s === 'versionId' && q.get(s) === 'null'));
    if (sub) throw s3err.notImplemented(`${r.method} ?${sub}`);
  }
  if (level === 'object' && r.method === 'PUT' && q.has('partNumber') !== q.has('uploadId')) {
    throw s3err.invalidRequest('UploadPart needs both uploadId and partNumber');
  }
  for (const row of ROUTES) {
    if (row.method !== r.method || row.level !== level) continue;
    if (row.query !== undefined && !q.has(row.query)) continue;
    if (row.queryValue !== undefined && q.get(row.queryValue[0]) !== row.queryValue[1]) continue;
    if (row.header !== undefined && r.headers[row.header] === undefined) continue;
    if (row.query === undefined && q.size > 0) {
      // A row without a subresource does not serve a request that names one it does not know.
      const partial = PARTIAL_SUBRESOURCES.find((s) => q.has(s));
      if (partial) throw s3err.notImplemented(`${r.method} ?${partial}`);
    }
    return row.op;
  }
  if (level === 'service') throw s3err.methodNotAllowed(r.method);
  if (['GET', 'HEAD', 'PUT', 'POST', 'DELETE'].includes(r.method)) throw s3err.notImplemented(`${r.method} on ${level === 'bucket' ? 'a bucket' : 'an object'}${q.size ? ` with ?${[...q.keys()].join('&')}` : ''}`);
  throw s3err.methodNotAllowed(r.method);
}

const SSE_C = [
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-customer-key',
  'x-amz-server-side-encryption-customer-key-md5',
  'x-amz-copy-source-server-side-encryption-customer-algorithm',
  'x-amz-copy-source-server-side-encryption-customer-key',
  'x-amz-copy-source-server-side-encryption-customer-key-md5',
];
/** Every name here and in unsupportedHeader starts with `x-`: server.ts skips the check for a request without such a header (mayAskUnsupported). */
export const UNSUPPORTED_HEADERS = [
  ...SSE_C,
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-context',
  'x-amz-server-side-encryption-bucket-key-enabled',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
  'x-amz-website-redirect-location',
  'x-amz-write-offset-bytes',
  'x-amz-grant-read',
  'x-amz-grant-write',
  'x-amz-grant-read-acp',
  'x-amz-grant-write-acp',
  'x-amz-grant-full-control',
];

/**
 * The first request header that asks for something not implemented, with its value, or
 * undefined. `x-amz-acl: private`, `x-amz-storage-class: STANDARD` and an empty
 * `x-amz-tagging` ask for nothing beyond the default and pass.
 */
export function unsupportedHeader(h: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  for (const n of UNSUPPORTED_HEADERS) if (h[n] !== undefined) return n;
  const acl = h['x-amz-acl'];
  if (acl !== undefined && acl !== 'private') return 'x-amz-acl';
  const sc = h['x-amz-storage-class'];
  if (sc !== undefined && sc !== 'STANDARD') return 'x-amz-storage-class';
  const tagging = h['x-amz-tagging'];
  if (tagging !== undefined && tagging !== '') return 'x-amz-tagging';
  const td = h['x-amz-tagging-directive'];
  if (td !== undefined && td !== 'COPY') return 'x-amz-tagging-directive';
  return undefined;
}
