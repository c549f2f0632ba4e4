/**
 * errno for the FUSE front end: AlluxioError codes (the contract every front end maps to
 * its own vocabulary), Node fs errors from the local-file adapter, and S3 error names all
 * become one negative errno that the kernel hands back to the application.
 */
import { constants } from 'node:os';
import { isAlluxioError } from '../../domain/errors.js';

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
} as const;

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

/** AlluxioError code -> errno. Codes of adapters not (yet) in ErrorCode are matched by name too. */
const BY_CODE: Record<string, number> = {
  NotFound: Errno.ENOENT,
  NoMountForPath: Errno.ENOENT,
  MountNotFound: Errno.ENOENT,
  NoMountForUri: Errno.ENOENT,
  ReadOnlyMount: Errno.EROFS,
  InvalidPath: Errno.EINVAL,
  InvalidArgument: Errno.EINVAL,
  // A rule produced a non-canonical path: a configuration problem, not the caller's.
  RuleResultInvalid: Errno.EIO,
  // No snapshot yet, or too stale to trust (context.ts): try again.
  EtcdUnavailable: Errno.EAGAIN,
  EtcdAuthFailed: Errno.EACCES,
  NotADirectory: Errno.ENOTDIR,
  NotDirectory: Errno.ENOTDIR,
  IsADirectory: Errno.EISDIR,
  IsDirectory: Errno.EISDIR,
  AlreadyExists: Errno.EEXIST,
  Exists: Errno.EEXIST,
  NotEmpty: Errno.ENOTEMPTY,
  DirectoryNotEmpty: Errno.ENOTEMPTY,
  AccessDenied: Errno.EACCES,
  PermissionDenied: Errno.EACCES,
  Conflict: Errno.EBUSY,
  InvalidState: Errno.EBUSY,
  Unsupported: Errno.ENOTSUP,
  NotSupported: Errno.ENOTSUP,
  UfsUnavailable: Errno.EIO,
};

/** S3 (and other SDK) error names -> errno. */
const BY_NAME: Record<string, number> = {
  NoSuchKey: Errno.ENOENT,
  NoSuchBucket: Errno.ENOENT,
  NotFound: Errno.ENOENT,
  AccessDenied: Errno.EACCES,
  Forbidden: Errno.EACCES,
  InvalidRange: Errno.EINVAL,
  RequestTimeout: Errno.ETIMEDOUT,
  TimeoutError: Errno.ETIMEDOUT,
};

/**
 * The errno for any error; `lookup` marks a name lookup (getattr), where a path that cannot
 * be a valid Alluxio path simply does not exist (ENOENT) rather than being invalid input.
 */
export function errnoOf(err: unknown, opts: { lookup?: boolean } = {}): number {
  if (err instanceof FsError) return err.errno;
  if (isAlluxioError(err)) {
    if (err.code === 'InvalidPath') {
      if (/longer than/.test(err.message)) return Errno.ENAMETOOLONG;
      return opts.lookup ? Errno.ENOENT : Errno.EINVAL;
    }
    const hit = BY_CODE[err.code];
    if (hit !== undefined) return hit;
    // An adapter may carry the errno it saw (details.errno / cause).
    const detail = err.details?.errno;
    if (typeof detail === 'string' && detail in E) return -(E as Record<string, number>)[detail]!;
    if (err.cause !== undefined && err.cause !== err) return errnoOf(err.cause, opts);
    return Errno.EIO;
  }
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; name?: unknown; errno?: unknown; $metadata?: { httpStatusCode?: number } };
    // Node fs errors: code 'ENOENT' etc.
    if (typeof e.code === 'string') {
      const n = (E as Record<string, number>)[e.code];
      if (n !== undefined) return -n;
      const byCode = BY_CODE[e.code] ?? BY_NAME[e.code];
      if (byCode !== undefined) return byCode;
    }
    if (typeof e.name === 'string') {
      const byName = BY_NAME[e.name];
      if (byName !== undefined) return byName;
    }
    const status = e.$metadata?.httpStatusCode;
    if (status === 404) return Errno.ENOENT;
    if (status === 403) return Errno.EACCES;
  }
  return Errno.EIO;
}

/** Human name of a (negative) errno, for logs. */
export function errnoName(errno: number): string {
  const n = -errno;
  for (const [k, v] of Object.entries(E)) if (v === n) return k;
  return `errno ${errno}`;
}
