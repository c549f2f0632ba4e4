/**
 * S3 error vocabulary: an S3Error carries the S3 code and HTTP status; AlluxioErrors from
 * the resolver and the UFS adapters are mapped here, in one place.
 */
import { AlluxioError } from '../../domain/errors.js';
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
  malformedXml: (why = 'The XML you provided was not well-formed or did not validate against our published schema') => new S3Error('MalformedXML', 400, why),
  notImplemented: (what: string) => new S3Error('NotImplemented', 501, `${what} is not implemented by this S3 endpoint`),
  methodNotAllowed: (what: string) => new S3Error('MethodNotAllowed', 405, `The specified method is not allowed against this resource: ${what}`),
  invalidRange: (size: number) => new S3Error('InvalidRange', 416, 'The requested range is not satisfiable', { ActualObjectSize: String(size) }, { 'Content-Range': `bytes */${size}` }),
  preconditionFailed: (cond: string) => new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', { Condition: cond }),
  badDigest: (why: string) => new S3Error('BadDigest', 400, why),
  internal: (why: string) => new S3Error('InternalError', 500, why),
};

/** Map a resolver / adapter error to S3. */
export function fromAlluxio(e: AlluxioError, ctx: { bucket?: string; key?: string }): S3Error {
  switch (e.code) {
    case 'NoMountForPath':
      // the bucket itself does not resolve to a mount: NoSuchBucket, whatever the key
      return s3err.noSuchBucket(ctx.bucket ?? '', e.message);
    case 'NotFound':
      return ctx.key ? s3err.noSuchKey(ctx.key) : s3err.noSuchBucket(ctx.bucket ?? '', e.message);
    case 'InvalidPath':
      return s3err.invalidArgument(`Invalid object name: ${e.message}`, 'key', ctx.key);
    case 'RuleResultInvalid':
      return new S3Error('InvalidRequest', 400, e.message);
    case 'ReadOnlyMount':
    case 'UfsAccessDenied':
      return s3err.accessDenied(e.message);
    case 'IsADirectory':
    case 'NotADirectory':
    case 'DirectoryNotEmpty':
      return new S3Error('InvalidRequest', 400, e.message);
    case 'ChecksumMismatch':
      return s3err.badDigest(e.message);
    case 'InvalidArgument':
      return s3err.invalidArgument(e.message);
    case 'EtcdUnavailable':
    case 'UfsUnavailable':
      return new S3Error('ServiceUnavailable', 503, e.message);
    default:
      return s3err.internal(e.message);
  }
}

export function errorXml(err: S3Error, resource: string, requestId: string): string {
  return xmlDoc(
    'Error',
    { Code: err.code, Message: err.message, ...err.extra, Resource: resource, RequestId: requestId },
    false,
  );
}
