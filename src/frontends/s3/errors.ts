/**
 * The S3 error vocabulary and THE one mapping from ErrorCode to S3 answers. The table is
 * typed `Record<ErrorCode, ...>`, so adding a code to src/domain/errors.ts without deciding
 * its S3 answer does not compile. Nothing here looks at message text.
 */
import type { AlluxioError, ErrorCode } from '../../domain/errors.js';
import { xmlDoc } from './xml.js';

export class S3Error extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const s3err = {
  noSuchBucket: (bucket: string, why?: string) => new S3Error('NoSuchBucket', 404, why ?? 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string) => new S3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key }),
  noSuchUpload: (id: string) => new S3Error('NoSuchUpload', 404, 'The specified multipart upload does not exist.', { UploadId: id }),
  accessDenied: (why: string) => new S3Error('AccessDenied', 403, why),
  invalidArgument: (why: string, name?: string, value?: string) =>
    new S3Error('InvalidArgument', 400, why, { ...(name ? { ArgumentName: name } : {}), ...(value !== undefined ? { ArgumentValue: value } : {}) }),
  invalidRequest: (why: string) => new S3Error('InvalidRequest', 400, why),
  /** A PUT (or multipart upload) of bytes to a key ending in "/". */
  directoryKeyWithData: () => new S3Error('InvalidRequest', 400, 'An object key ending in "/" names a directory, which holds no bytes in this namespace (docs/s3-api.md, Limits)'),
  malformedXml: (why = 'The XML you provided was not well-formed or did not validate against our published schema') => new S3Error('MalformedXML', 400, why),
  notImplemented: (what: string) => new S3Error('NotImplemented', 501, `${what} is not implemented by this S3 endpoint`, {}, {}),
  methodNotAllowed: (what: string) => new S3Error('MethodNotAllowed', 405, `The specified method is not allowed against this resource: ${what}`),
  invalidRange: (size: number) => new S3Error('InvalidRange', 416, 'The requested range is not satisfiable', { ActualObjectSize: String(size) }, { 'Content-Range': `bytes */${size}` }),
  preconditionFailed: (cond: string) => new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', { Condition: cond }),
  conditionalRequestConflict: () => new S3Error('ConditionalRequestConflict', 409, 'A conflicting operation occurred. If using PutObject you can retry the request. If using CompleteMultipartUpload you can retry the request.'),
  badDigest: (why: string) => new S3Error('BadDigest', 400, why),
  /** A Content-MD5 that is no MD5 (not 16 bytes of base64); BadDigest is one that does not match. */
  invalidDigest: () => new S3Error('InvalidDigest', 400, 'The Content-MD5 you specified is not valid.'),
  missingContentLength: () => new S3Error('MissingContentLength', 411, 'You must provide the Content-Length HTTP header.'),
  /** partNumber past the object's parts (a file is one part). */
  invalidPartNumber: () => new S3Error('InvalidPartNumber', 416, 'The requested partnumber is not satisfiable'),
  internal: (why: string) => new S3Error('InternalError', 500, why),
  serviceUnavailable: (why: string) => new S3Error('ServiceUnavailable', 503, why, {}, { 'Retry-After': '1' }),
};

/** What the mapping may name in the answer. */
export interface ErrorScope {
  bucket?: string;
  key?: string;
}

type Mapper = (e: AlluxioError, s: ErrorScope) => S3Error;

const invalidRequest: Mapper = (e) => s3err.invalidRequest(e.message);
const unavailable: Mapper = (e) => s3err.serviceUnavailable(e.message);
const internal: Mapper = (e) => s3err.internal(e.message);
/** A file-backed namespace cannot hold what was asked (a file where a directory is, ...). */
const namespaceLimit: Mapper = (e, s) =>
  new S3Error('InvalidRequest', 400, `${e.message} (a file-backed bucket cannot hold both "a" and "a/b"; see docs/s3-api.md, Limits)`, s.key !== undefined ? { Key: s.key } : {});

/** THE table: every ErrorCode has exactly one S3 answer. */
export const S3_ERRORS: Record<ErrorCode, Mapper> = {
  InvalidPath: (e, s) => s3err.invalidArgument(`Invalid object name: ${e.message}`, 'key', s.key),
  NameTooLong: (e, s) => new S3Error('KeyTooLongError', 400, `Your key is too long: ${e.message}`, s.key !== undefined ? { Key: s.key } : {}),
  InvalidUfsUri: internal,
  InvalidMount: internal,
  InvalidOption: internal,
  InvalidRule: internal,
  InvalidRuleFile: internal,
  InvalidArgument: (e) => s3err.invalidArgument(e.message),
  RuleResultInvalid: invalidRequest,
  ConfirmationRequired: internal,
  TooManyChanges: internal,
  MountExists: internal,
  MountNested: internal,
  RuleExists: internal,
  Conflict: (e) => new S3Error('OperationAborted', 409, e.message),
  WorkerIdTaken: internal,
  MigrationInProgress: (e) => new S3Error('OperationAborted', 409, e.message),
  InvalidState: internal,
  ReadOnlyMount: (e) => s3err.accessDenied(`Access Denied: ${e.message}`),
  NotADirectory: namespaceLimit,
  IsADirectory: namespaceLimit,
  DirectoryNotEmpty: namespaceLimit,
  UfsAccessDenied: (e) => s3err.accessDenied(e.message),
  ChecksumMismatch: (e) => s3err.badDigest(e.message),
  // Not found is the key (or the bucket when there is no key).
  NotFound: (e, s) => (s.key ? s3err.noSuchKey(s.key) : s3err.noSuchBucket(s.bucket ?? '', e.message)),
  // A mount whose UFS scheme this worker does not serve.
  UfsNotSupported: (e) => new S3Error('NotImplemented', 501, e.message),
  // Only the FUSE daemon refuses a mount that overlaps its own mount point.
  MountLoop: internal,
  MountNotFound: (e, s) => s3err.noSuchBucket(s.bucket ?? '', e.message),
  RuleNotFound: internal,
  // the bucket itself does not resolve to a mount: NoSuchBucket, whatever the key
  NoMountForPath: (e, s) => s3err.noSuchBucket(s.bucket ?? '', e.message),
  NoMountForUri: (e, s) => s3err.noSuchBucket(s.bucket ?? '', e.message),
  MigrationNotFound: internal,
  EtcdUnavailable: unavailable,
  EtcdAuthFailed: unavailable,
  EtcdTimeout: unavailable,
  EtcdNoLeader: unavailable,
  EtcdPermissionDenied: unavailable,
  EtcdNoSpace: unavailable,
  WaitTimeout: unavailable,
  WorkerAuthFailed: unavailable,
  WorkerUnavailable: unavailable,
  UfsUnavailable: unavailable,
  Cancelled: (e) => s3err.serviceUnavailable(e.message),
  Internal: internal,
  EtcdRejected: internal,
};

/** Map a resolver / data-path / adapter error to S3 (through the table). */
export function fromAlluxio(e: AlluxioError, scope: ErrorScope): S3Error {
  return S3_ERRORS[e.code](e, scope);
}

export function errorXml(err: S3Error, resource: string, requestId: string): string {
  return xmlDoc('Error', { Code: err.code, Message: err.message, ...err.extra, Resource: resource, RequestId: requestId }, false);
}
