/**
 * The JSON documents the commands print with --json (docs/cli.md, /work/shared/spec/cli.md),
 * one type per command: each command's run() returns its type (BaseCommand<T, R>), so the
 * compiler checks what scripts parse, and tests can name the shape they read.
 *
 * Built from the types the control functions return (src/control, src/migrate,
 * src/local); here only what the commands add around them (revision, --wait outcome,
 * redacted options).
 */
import type { WaitOutcome } from '../cluster/convergence.js';
import type { ClientInfo, WorkerInfo } from '../cluster/members.js';
import type { CacheStatus, WorkerAnswer, loadTotals } from '../control/cache.js';
import type { LoadJob } from '../cache/load.js';
import type { HistoryEntry, HistoryShow, RevertResult as RevertDone } from '../control/history.js';
import type { AlluxioRuleFile } from '../control/rules.js';
import type { ResolutionDoc } from '../control/resolve.js';
import type { DescribedChange } from '../domain/history.js';
import type { ErrorCode } from '../domain/errors.js';
import type { MountEntry } from '../domain/mounts.js';
import type { RuleSpec } from '../domain/rules.js';
import type { LocalStatus, StopResult } from '../local/cluster.js';
import type { MigrationState, StatusDoc } from '../migrate/record.js';
import type { AuthResult } from '../store/auth-roles.js';

/** What every mutating command adds with --wait: the convergence outcome. */
export interface Waited {
  wait?: WaitOutcome;
}

/** A failed command under --json (stdout), with the exit code it exits with. */
export interface ErrorDoc {
  error: {
    code: ErrorCode | 'UsageError' | 'Internal';
    message: string;
    exitCode: number;
    step?: string;
    details?: Record<string, unknown>;
  };
}

// mount

export interface MountAddResult extends Waited {
  revision: number;
  mount: MountEntry;
}

export interface MountListResult {
  revision: number;
  mounts: MountEntry[];
}

export interface MountUpdateResult extends Waited {
  revision: number;
  mount: MountEntry;
  previous: MountEntry;
  /** false: the mount already was so; nothing was written (`revision` is the config revision in place). */
  changed: boolean;
}

export interface MountRemoveResult extends Waited {
  revision: number;
  /** null: a malformed value was removed (--force). */
  mount: MountEntry | null;
}

// resolve, path-mapping test

export type ResolveResult = ResolutionDoc;

// path-mapping

export interface RuleListResult {
  revision: number;
  rules: RuleSpec[];
}

export interface RuleAddResult extends Waited {
  revision: number;
  rule: RuleSpec;
  warnings: string[];
}

export interface RuleUpdateResult extends RuleAddResult {
  previous: RuleSpec;
  /** false: the rule already was so; nothing was written (`revision` is the config revision in place). */
  changed: boolean;
}

export interface RuleToggleResult extends Waited {
  revision: number;
  rule: RuleSpec;
  changed: boolean;
}

export interface RuleRemoveResult extends Waited {
  revision: number;
  /** null: a malformed value was removed with --force. */
  rule: RuleSpec | null;
}

export interface RuleImportResult extends Waited {
  revision: number;
  rules: RuleSpec[];
  /** Ids of the rules --replace removed. */
  removed: string[];
  warnings: string[];
}

export type RuleExportResult = AlluxioRuleFile & { revision: number };

// migrate

export interface CopierInfo {
  pid: number;
  log: string;
}

/** `migrate start` without --follow: the migration as recorded. */
export interface MigrationStartedResult extends Waited {
  id: string;
  state: MigrationState;
  revision: number;
  path: string;
  from: string;
  to: string;
  /** Options of the new UFS, redacted. */
  options: Record<string, string>;
  copier: CopierInfo;
}

/** `migrate start --follow`: the status once the copy stopped (ready or failed). */
export type MigrationFollowedResult = Omit<StatusDoc, 'copier'> & Waited & { revision: number; copier: CopierInfo };

export type MigrateStartResult = MigrationStartedResult | MigrationFollowedResult;

/** `migrate status --id ID`: one StatusDoc; without --id, all of them. */
export type MigrateStatusResult = StatusDoc | { revision: number; migrations: StatusDoc[] };

/** `migrate cutover` and `migrate rollback`: the mount re-pointed in one transaction. */
export interface ReboundResult extends Waited {
  revision: number;
  id: string;
  state: MigrationState;
  mount: MountEntry;
  previous: MountEntry;
}

export interface MigrateAbortResult extends Waited {
  revision: number;
  id: string;
  state: MigrationState;
  mount: MountEntry;
}

export interface MigrateResumeResult {
  id: string;
  state: MigrationState;
  copier: CopierInfo;
}

/** The hidden copier process (`migrate run`; no --json, the value is not printed). */
export interface MigrateRunResult {
  id: string;
  state: MigrationState;
}

// worker

export interface WorkerListResult {
  revision: number;
  configRevision: number;
  /** `cache`: the worker's cache use; {enabled: false} without one; null when it did not answer. */
  workers: (WorkerInfo & { cache: WorkerCacheUse | null })[];
  clients: ClientInfo[];
}

export type WorkerCacheUse =
  | { enabled: false }
  | { enabled: true; capacityBytes?: number | undefined; effectiveCapacityBytes?: number | undefined; usedBytes?: number | undefined; pages?: number | undefined; hitRatio?: number | undefined };

// cache

export interface CacheLoadResult {
  path: string;
  workers: WorkerAnswer<LoadJob>[];
  /** With --wait: the sums over the workers. */
  totals?: ReturnType<typeof loadTotals>;
  /** With --wait: rounds the load was started in (more than 1 when the ring changed), and the workers that left or joined meanwhile. */
  rounds?: number;
  left?: string[];
  joined?: string[];
  /** With --wait: the bytes loaded, and how many of them can stay cached (each worker's share up to its cache). */
  fits?: { bytes: number; cacheableBytes: number };
}

export interface CacheStatusResult {
  path: string | null;
  workers: WorkerAnswer<CacheStatus>[];
}

export interface CacheFreeResult {
  path: string;
  pages: number;
  objects: number;
  workers: WorkerAnswer<{ path: string; uri: string; objects: number; pages: number }>[];
}

/** `worker start` (no --json): which worker stopped. */
export interface WorkerStartResult {
  stopped: string;
}

// local

export interface LocalStartResult {
  dir: string;
  cluster: string;
  etcd: { endpoint: string; pid: number; log: string };
  /** Plain endpoints unless --tls-only; HTTPS endpoints with --tls / --tls-only. */
  workers: { id: string; pid: number; s3Endpoint?: string; restEndpoint?: string; s3HttpsEndpoint?: string; restHttpsEndpoint?: string; log: string }[];
  /** With --tls / --tls-only: the throwaway CA and the server certificate. */
  tls?: { caCert: string; cert: string; key: string; only: boolean };
  /** What to export (AWS_CA_BUNDLE too with TLS). */
  env: { ALLUXIO_ETCD_ENDPOINTS: string; ALLUXIO_CLUSTER: string; AWS_CA_BUNDLE?: string };
}

export type LocalStatusResult = LocalStatus;

export type LocalStopResult = StopResult;

// fuse

/** `fuse mount --daemon`: returns once the detached daemon mounted. */
export interface FuseDaemonStartedResult {
  mountpoint: string;
  revision: number;
  pid: number;
  logFile: string;
  staleCleaned: boolean;
}

/** `fuse mount` in the foreground: returns once unmounted. */
export interface FuseStoppedResult {
  mountpoint: string;
  revision: number;
  stopped: string;
  staleCleaned: boolean;
}

export type FuseMountResult = FuseDaemonStartedResult | FuseStoppedResult;

export interface FuseUnmountResult {
  mountpoint: string;
  unmounted: true;
  stale: boolean;
  lazy: boolean;
}

// history, diff, revert

export interface HistoryResult {
  revision: number;
  entries: HistoryEntry[];
  /** History records that could not be read, skipped (also warned about on stderr). */
  invalid: { key: string; error: string }[];
}

export type HistoryShowResult = HistoryShow;

export interface DiffResult {
  from: number;
  to: number;
  changes: DescribedChange[];
}

export interface RevertResult extends RevertDone, Waited {
  revision: number;
}

/** `alluxio etcd setup-auth`: the roles and users as applied (generated passwords shown once). */
export interface SetupAuthResult extends AuthResult {
  cluster: string;
}
