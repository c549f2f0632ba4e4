/**
 * HTTP answers for errors, in ONE table shared by the REST API (/api/v1/ data endpoints)
 * and the worker's own endpoints (/api/v1/status, /readyz, ...): JSON bodies
 * {"error": {"code", "message", "step"?}} with the status chosen by code
 * (docs/rest-api.md lists them). The table is typed Record<ErrorCode, number>, so a new
 * ErrorCode does not compile until it has a status here.
 */
import type { AlluxioError, ErrorCode } from '../../domain/errors.js';

/** HTTP status for every ErrorCode (REST API and worker endpoints alike). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  // 400: the request (or a rule's result for it) is not valid
  InvalidPath: 400,
  NameTooLong: 400,
  InvalidUfsUri: 400,
  InvalidMount: 400,
  InvalidOption: 400,
  InvalidRule: 400,
  InvalidRuleFile: 400,
  InvalidArgument: 400,
  RuleResultInvalid: 400,
  ConfirmationRequired: 400,
  TooManyChanges: 400,
  ChecksumMismatch: 400,
  // 403: refused by the mount's mode or by the UFS
  ReadOnlyMount: 403,
  UfsAccessDenied: 403,
  // 404
  NotFound: 404,
  MountNotFound: 404,
  RuleNotFound: 404,
  NoMountForPath: 404,
  NoMountForUri: 404,
  MigrationNotFound: 404,
  // 409: the namespace is not in a state that allows it
  MountExists: 409,
  MountNested: 409,
  RuleExists: 409,
  Conflict: 409,
  WorkerIdTaken: 409,
  MigrationInProgress: 409,
  InvalidState: 409,
  NotADirectory: 409,
  IsADirectory: 409,
  DirectoryNotEmpty: 409,
  // 501: the mount's UFS scheme is not served by this worker
  UfsNotSupported: 501,
  MountLoop: 508,
  // 503: try again (etcd, the UFS, the cluster)
  EtcdUnavailable: 503,
  EtcdTimeout: 503,
  EtcdNoLeader: 503,
  EtcdAuthFailed: 503,
  EtcdPermissionDenied: 503,
  EtcdNoSpace: 503,
  WaitTimeout: 503,
  WorkerAuthFailed: 503,
  WorkerUnavailable: 503,
  UfsUnavailable: 503,
  // 499-ish cancellations and the rest: 500
  Cancelled: 500,
  Internal: 500,
  EtcdRejected: 500,
};

/** HTTP status of an ErrorCode. */
export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

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

/** The REST answer for an AlluxioError (status from HTTP_STATUS; the step as a header). */
export function fromAlluxio(e: AlluxioError): RestError {
  return new RestError(HTTP_STATUS[e.code], e.code, e.message, e.step ? { 'x-alluxio-error-step': e.step } : {});
}

/** REST-only answers that no ErrorCode stands for (HTTP protocol matters). */
export const restErr = {
  badRequest: (why: string) => new RestError(400, 'InvalidArgument', why),
  methodNotAllowed: (method: string, path: string, allowed: string[]) =>
    new RestError(405, 'MethodNotAllowed', `${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, { allow: allowed.join(', ') }),
  invalidRange: (size: number) => new RestError(416, 'InvalidRange', `the requested range is not satisfiable (size ${size})`, { 'content-range': `bytes */${size}` }),
};
