/**
 * errno for the FUSE front end: the AlluxioError codes (the contract every front end maps
 * to its own vocabulary) become one negative errno that the kernel hands back to the
 * application. The data path (../common/data-path.ts) turns every UFS failure into an
 * AlluxioError first, so adapters' own errors (Node fs, S3 SDK) never reach this table.
 */
import { constants } from 'node:os';
import { isAlluxioError, type ErrorCode } from '../../domain/errors.js';

const E = constants.errno;

/** Negative errno values as libfuse expects them. */
export const Errno = {
  EPERM: -E.EPERM,
  ENOENT: -E.ENOENT,
  EIO: -E.EIO,
  EBADF: -E.EBADF,
  EAGAIN: -E.EAGAIN,
  EACCES: -E.EACCES,
  EBUSY: -E.EBUSY,
  EEXIST: -E.EEXIST,
  EXDEV: -E.EXDEV,
  ENOTDIR: -E.ENOTDIR,
  EISDIR: -E.EISDIR,
  EINVAL: -E.EINVAL,
  EFBIG: -E.EFBIG,
  ENOSPC: -E.ENOSPC,
  EROFS: -E.EROFS,
  ENAMETOOLONG: -E.ENAMETOOLONG,
  ENOSYS: -E.ENOSYS,
  ENOTEMPTY: -E.ENOTEMPTY,
  ELOOP: -E.ELOOP,
  ENOTSUP: -E.ENOTSUP,
  ETIMEDOUT: -E.ETIMEDOUT,
  ESTALE: -E.ESTALE,
  EINTR: -E.EINTR,
  EDQUOT: -E.EDQUOT,
} as const;

/**
 * Errors of the daemon's own local files (a writer's spool) that an application can act on:
 * passed through, not EIO (a file too large, a full or over-quota spool disk, said as such).
 */
const LOCAL_ERRNOS: Readonly<Record<string, number>> = { EFBIG: Errno.EFBIG, ENOSPC: Errno.ENOSPC, EDQUOT: Errno.EDQUOT };

/** An error that already carries its errno (thrown by the operation layer itself). */
export class FsError extends Error {
  constructor(readonly errno: number, message?: string) {
    super(message ?? `errno ${errno}`);
    this.name = 'FsError';
  }
}

export function fsError(errno: number, message?: string): FsError {
  return new FsError(errno, message);
}

/**
 * errno for every ErrorCode: ONE table, typed so a new code does not compile until it has
 * an errno here. Nothing is matched on message text: a too-long name is its own code
 * (NameTooLong), an unserved UFS scheme too (UfsNotSupported).
 */
export const ERRNO: Readonly<Record<ErrorCode, number>> = {
  // the path or request is not valid
  InvalidPath: Errno.EINVAL,
  NameTooLong: Errno.ENAMETOOLONG,
  InvalidUfsUri: Errno.EINVAL,
  InvalidMount: Errno.EINVAL,
  InvalidOption: Errno.EINVAL,
  InvalidRule: Errno.EINVAL,
  InvalidRuleFile: Errno.EINVAL,
  InvalidArgument: Errno.EINVAL,
  ConfirmationRequired: Errno.EINVAL,
  TooManyChanges: Errno.EINVAL,
  // A rule produced a non-canonical path: a configuration problem, not the caller's.
  RuleResultInvalid: Errno.EIO,
  ChecksumMismatch: Errno.EIO,
  // not there
  NotFound: Errno.ENOENT,
  MountNotFound: Errno.ENOENT,
  RuleNotFound: Errno.ENOENT,
  NoMountForPath: Errno.ENOENT,
  NoMountForUri: Errno.ENOENT,
  MigrationNotFound: Errno.ENOENT,
  // the namespace refuses
  ReadOnlyMount: Errno.EROFS,
  UfsAccessDenied: Errno.EACCES,
  NotADirectory: Errno.ENOTDIR,
  IsADirectory: Errno.EISDIR,
  DirectoryNotEmpty: Errno.ENOTEMPTY,
  MountExists: Errno.EEXIST,
  RuleExists: Errno.EEXIST,
  MountNested: Errno.EBUSY,
  Conflict: Errno.EBUSY,
  WorkerIdTaken: Errno.EBUSY,
  MigrationInProgress: Errno.EBUSY,
  InvalidState: Errno.EBUSY,
  UfsNotSupported: Errno.ENOTSUP,
  MountLoop: Errno.ELOOP,
  // No snapshot yet, or too stale to trust: try again.
  EtcdUnavailable: Errno.EAGAIN,
  EtcdTimeout: Errno.EAGAIN,
  EtcdNoLeader: Errno.EAGAIN,
  WaitTimeout: Errno.EAGAIN,
  EtcdAuthFailed: Errno.EACCES,
  EtcdPermissionDenied: Errno.EACCES,
  EtcdNoSpace: Errno.ENOSPC,
  WorkerAuthFailed: Errno.EACCES,
  WorkerUnavailable: Errno.EAGAIN,
  UfsUnavailable: Errno.EIO,
  Cancelled: Errno.EINTR,
  Internal: Errno.EIO,
  EtcdRejected: Errno.EIO,
};

/**
 * The errno for any error; `lookup` marks a name lookup (getattr), where a path that cannot
 * be a valid Alluxio path simply does not exist (ENOENT) rather than being invalid input.
 * Errors that are neither FsError nor AlluxioError are EIO (a bug), but for the local
 * file errors of LOCAL_ERRNOS.
 */
export function errnoOf(err: unknown, opts: { lookup?: boolean } = {}): number {
  if (err instanceof FsError) return err.errno;
  if (isAlluxioError(err)) {
    if (err.code === 'InvalidPath' && opts.lookup) return Errno.ENOENT;
    return ERRNO[err.code];
  }
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return (code !== undefined && LOCAL_ERRNOS[code]) || Errno.EIO;
}

/** Human name of a (negative) errno, for logs. */
export function errnoName(errno: number): string {
  const n = -errno;
  for (const [k, v] of Object.entries(E)) if (v === n) return k;
  return `errno ${errno}`;
}
