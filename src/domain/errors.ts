/**
 * Typed errors. Every expected failure is an AlluxioError carrying a stable `code`
 * that users and scripts can act on, and the process exit code from cli.md.
 * Front ends map the same codes to their own vocabulary (S3 XML codes, errno, Python
 * exceptions), so the code is the contract, not the message.
 */

export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  conflict: 3,
  notFound: 4,
  unavailable: 5,
  cancelled: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Codes are grouped by the exit code they map to. */
const CODES = {
  // 2: usage / invalid input
  InvalidPath: ExitCode.usage,
  /** A path segment longer than 255 bytes or a path longer than 4096 (resolution.md §1). */
  NameTooLong: ExitCode.usage,
  InvalidUfsUri: ExitCode.usage,
  InvalidMount: ExitCode.usage,
  InvalidOption: ExitCode.usage,
  InvalidRule: ExitCode.usage,
  InvalidRuleFile: ExitCode.usage,
  InvalidArgument: ExitCode.usage,
  RuleResultInvalid: ExitCode.usage,
  ConfirmationRequired: ExitCode.usage,
  /** One change needs more etcd transaction operations than etcd allows (--max-txn-ops). */
  TooManyChanges: ExitCode.usage,
  // 3: conflict
  MountExists: ExitCode.conflict,
  MountNested: ExitCode.conflict,
  RuleExists: ExitCode.conflict,
  Conflict: ExitCode.conflict,
  WorkerIdTaken: ExitCode.conflict,
  MigrationInProgress: ExitCode.conflict,
  InvalidState: ExitCode.conflict,
  ReadOnlyMount: ExitCode.conflict,
  // UFS data-plane failures (adapters; front ends map them to S3 codes / errno)
  NotADirectory: ExitCode.conflict,
  IsADirectory: ExitCode.conflict,
  DirectoryNotEmpty: ExitCode.conflict,
  UfsAccessDenied: ExitCode.conflict,
  ChecksumMismatch: ExitCode.usage,
  // 4: not found
  NotFound: ExitCode.notFound,
  MountNotFound: ExitCode.notFound,
  RuleNotFound: ExitCode.notFound,
  NoMountForPath: ExitCode.notFound,
  NoMountForUri: ExitCode.notFound,
  MigrationNotFound: ExitCode.notFound,
  // 5: etcd or the cluster unreachable / timed out
  /** No etcd member answered (every endpoint refused, timed out connecting, or failed TLS). */
  EtcdUnavailable: ExitCode.unavailable,
  /** Members answer, but the operation did not complete within --etcd-timeout (overload). */
  EtcdTimeout: ExitCode.unavailable,
  /** Members answer, but the cluster has no leader (election running, or quorum lost). */
  EtcdNoLeader: ExitCode.unavailable,
  /** etcd refused the user name / password (or requires one and none was given). */
  EtcdAuthFailed: ExitCode.unavailable,
  /** The etcd user is authenticated but its roles do not allow this read or write. */
  EtcdPermissionDenied: ExitCode.unavailable,
  /** etcd's database is full (NOSPACE alarm): it refuses every write until an operator frees space. */
  EtcdNoSpace: ExitCode.unavailable,
  WaitTimeout: ExitCode.unavailable,
  /** A worker refused this process's request signature (ALLUXIO_S3_CREDENTIALS). */
  WorkerAuthFailed: ExitCode.unavailable,
  /** A worker the CLI asked (cache load/status/free) did not answer. */
  WorkerUnavailable: ExitCode.unavailable,
  UfsUnavailable: ExitCode.unavailable,
  /** The mount's UFS scheme is known to the mount table but not served by this process. */
  UfsNotSupported: ExitCode.unavailable,
  /**
   * A file:// mount overlapping the FUSE mount point: the daemon would wait on its own
   * mount (deadlock), so it does not serve it.
   */
  MountLoop: ExitCode.conflict,
  // 130
  Cancelled: ExitCode.cancelled,
  // 1
  Internal: ExitCode.unexpected,
  /** etcd answered and refused the request (INVALID_ARGUMENT, FAILED_PRECONDITION, ...): not an outage. */
  EtcdRejected: ExitCode.unexpected,
} as const;

export type ErrorCode = keyof typeof CODES;

/** A code this version knows (e.g. one a worker answered with). */
export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(CODES, s);
}

export class AlluxioError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCode;
  /** Which resolution step failed (resolution.md §7), when the error came from resolving. */
  readonly step: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: { step?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AlluxioError';
    this.code = code;
    this.exitCode = CODES[code];
    this.step = opts.step;
    this.details = opts.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      exitCode: this.exitCode,
      ...(this.step ? { step: this.step } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isAlluxioError(e: unknown): e is AlluxioError {
  return e instanceof AlluxioError;
}

/**
 * A value as an error message shows it: JSON-quoted, and clipped when long (a 5,000-character
 * id or path is named by its start and its length, not echoed whole).
 */
export function quote(value: unknown, max = 120): string {
  const text = JSON.stringify(value) ?? String(value);
  if (typeof value !== 'string' || value.length <= max) return text;
  return `${JSON.stringify(value.slice(0, max))}... (${value.length} characters)`;
}
