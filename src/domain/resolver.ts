/**
 * THE resolver (resolution.md): one pure module, no I/O. A Snapshot is (mount table,
 * compiled rules, revision); it is built once per etcd revision and then resolves many
 * requests from every front end (CLI, S3, REST/FSSpec, FUSE).
 *
 * CONTRACT (stable):
 *   Snapshot.build(revision, { mounts, rules, invalid }) compiles once (./snapshot.ts);
 *   snapshot.resolve(request, opts) -> Resolution, or throws AlluxioError with `step` set:
 *     InvalidPath (decode / normalize), RuleResultInvalid (rewrite, names the rule),
 *     NoMountForPath (mount), NoMountForUri (decode: fsspec reverse lookup found no mount).
 *
 * Pipeline (resolution.md): front end -> Alluxio path -> normalizePath -> first matching
 * rule (single pass) -> normalizePath again -> mount by first segment -> joinUnderUfs.
 */
import type { UfsLocation } from './ufs-uri.js';

export type Api = 'alluxio' | 'posix' | 's3' | 'fsspec';

export type ResolveRequest =
  /** An Alluxio path (`/data/x`), or `alluxio:///data/x` via fsspec. */
  | { api: 'alluxio'; path: string }
  /** A local path under a FUSE root: `/mnt/fuse/data/x` with fuseRoot `/mnt/fuse`. */
  | { api: 'posix'; path: string; fuseRoot: string }
  /** Bucket and (already percent-decoded, once) key. key may be '' for the bucket itself. */
  | { api: 's3'; bucket: string; key: string }
  /** A UFS-native URI (`s3://b/data/x`) or `alluxio:///data/x`. */
  | { api: 'fsspec'; uri: string };

export interface TraceStep {
  step: 'input' | 'decode' | 'normalize' | 'rule' | 'rewrite' | 'mount' | 'join' | string;
  [k: string]: unknown;
}

export interface Resolution {
  api: Api;
  input: string;
  /** Alluxio path after the front end and normalisation, before rules. */
  alluxioPath: string;
  /** After the (single-pass) rewrite; equals alluxioPath when no rule fired. */
  rewrittenPath: string;
  rule: { id: string; kind: 'prefix' | 'regex'; captures?: Record<string, string> } | null;
  /** null when the rewritten path lands in no mount (only with allowUnmounted). */
  mount: { path: string; ufsUri: string; readOnly: boolean } | null;
  ufsUri: string | null;
  /**
   * What UFS adapters consume (decoded segments); null when unmounted. Always produced by
   * joinUnderUfs; memoised per snapshot, so the same object may be returned to several
   * requests: treat it as read-only.
   */
  location: UfsLocation | null;
  revision: number;
  trace: TraceStep[];
}

export interface ResolveOptions {
  /** Return mount/ufsUri null instead of throwing NoMountForPath (path-mapping test, listing /). */
  allowUnmounted?: boolean;
  /**
   * Record the trace (default true). Hot paths that never show it may pass false: `trace`
   * is then [] and the rules tried are not collected; everything else is identical.
   */
  trace?: boolean;
}

/** The default FUSE root of `alluxio resolve --api posix` and `alluxio fuse mount`. */
export const DEFAULT_FUSE_ROOT = '/mnt/alluxio/fuse';

export { Snapshot } from './snapshot.js';
