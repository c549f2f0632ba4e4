/**
 * The REST API's error vocabulary: JSON bodies {"error": {"code", "message", "step"?}}
 * with an HTTP status chosen by code, in one place (docs/rest-api.md lists them).
 */
import type { AlluxioError } from '../../domain/errors.js';

export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** HTTP status for an AlluxioError code from the resolver or a UFS adapter. */
export function statusOf(code: string): number {
  switch (code) {
    case 'NotFound':
    case 'NoMountForPath':
    case 'NoMountForUri':
    case 'MountNotFound':
      return 404;
    case 'ReadOnlyMount':
    case 'UfsAccessDenied':
      return 403;
    case 'InvalidPath':
    case 'InvalidArgument':
    case 'RuleResultInvalid':
    case 'InvalidUfsUri':
    case 'ChecksumMismatch':
      return 400;
    case 'IsADirectory':
    case 'NotADirectory':
    case 'DirectoryNotEmpty':
      return 409;
    case 'EtcdUnavailable':
    case 'UfsUnavailable':
      return 503;
    default:
      return 500;
  }
}

export function fromAlluxio(e: AlluxioError): RestError {
  return new RestError(statusOf(e.code), e.code, e.message, e.step ? { 'x-alluxio-error-step': e.step } : {});
}

export const restErr = {
  badRequest: (why: string) => new RestError(400, 'InvalidArgument', why),
  notFound: (why: string) => new RestError(404, 'NotFound', why),
  readOnly: (mount: string) => new RestError(403, 'ReadOnlyMount', `${mount} is mounted read-only`),
  methodNotAllowed: (method: string, path: string, allowed: string[]) =>
    new RestError(405, 'MethodNotAllowed', `${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, { allow: allowed.join(', ') }),
  invalidRange: (size: number) => new RestError(416, 'InvalidRange', `the requested range is not satisfiable (size ${size})`, { 'content-range': `bytes */${size}` }),
};
