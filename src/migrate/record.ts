/**
 * The migration record (one readable JSON value per migration under
 * /alluxio/<cluster>/migrations/<id>) and its state machine. Pure: no I/O.
 *
 *   copying -> verifying -> ready -> cut-over -> rolled-back
 *      |           |          |
 *      +-----------+----------+--> aborted        (mount restored exactly as it was)
 *      +-----------+--> failed (reason) --resume--> copying
 *                                   \--abort--> aborted
 *
 * "Active" migrations (copying, verifying, ready, failed) hold their mount: the mount is
 * read-only, and mount update/remove and a second migration of the same mount are refused.
 */
import { formatBytes } from '../domain/bytes.js';
import { AlluxioError } from '../domain/errors.js';
import { redactOptions } from '../domain/mounts.js';

/** What a migration record keeps of a listing (copier.ts: fingerprint). */
export interface Fingerprint {
  files: number;
  sha256: string;
  /** 2: with each file's last change (file:// ctime, else the ETag); absent (1): path, size and mtime only (before 2026-12-02). */
  v?: 2;
}

export const STATES = ['copying', 'verifying', 'ready', 'cut-over', 'rolled-back', 'aborted', 'failed'] as const;
export type MigrationState = (typeof STATES)[number];

export const ACTIVE_STATES: readonly MigrationState[] = ['copying', 'verifying', 'ready', 'failed'];

export type VerifyMode = 'size' | 'checksum';

export interface Binding {
  ufsUri: string;
  options: Record<string, string>;
}

export interface Checkpoint {
  /** Every file whose relative path sorts (UTF-8 byte order) at or before this one is copied. */
  cursor: string | null;
  /** Copied files after the cursor (out-of-order completions with concurrency > 1). */
  ahead: string[];
  /** Files that must be copied again first (they failed verification). */
  recopy: string[];
}

export interface MigrationError {
  code: string;
  message: string;
  /** The files concerned (verification mismatches), at most MAX_NAMED. */
  files?: string[];
}

export interface RunnerInfo {
  pid: number;
  host: string;
  startedAt: string;
  log?: string;
}

export interface MigrationRecord {
  id: string;
  path: string;
  state: MigrationState;
  /** The mount's binding when the migration started (what abort/rollback restore). */
  from: Binding;
  to: Binding;
  /** The mount's readOnly flag before the migration made it read-only. */
  previousReadOnly: boolean;
  verify: VerifyMode;
  concurrency: number;
  /** Copy bandwidth limit in bytes/s (0: none). */
  bandwidth: number;
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  verified: { files: number; bytes: number };
  checkpoint: Checkpoint;
  /** Bytes/s of the current (or last) copier run. */
  rate: number;
  /**
   * sha256 over the sorted (path, size, mtime, last change) listing of the target taken when
   * it was verified (copier.ts: fingerprint); rollback compares it to refuse losing writes
   * made after cutover.
   */
  targetFingerprint?: Fingerprint;
  /**
   * The same over the SOURCE listing that verification compared against: cutover re-lists
   * the source and refuses when it differs (a write that raced verification would be lost).
   */
  sourceFingerprint?: Fingerprint;
  error?: MigrationError;
  runner?: RunnerInfo;
  createdAt: string;
  updatedAt: string;
  history: { state: MigrationState; at: string; note?: string }[];
}

export const MAX_NAMED = 50;
const ID = /^m-([1-9][0-9]{0,8})$/;

export function parseMigrationId(raw: string): string {
  if (!ID.test(raw)) throw new AlluxioError('InvalidArgument', `"${raw}" is not a migration id (m-1, m-2, ...)`);
  return raw;
}

export function nextMigrationId(existing: Iterable<string>): string {
  let max = 0;
  for (const id of existing) {
    const m = ID.exec(id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `m-${max + 1}`;
}

export function isActive(r: Pick<MigrationRecord, 'state'>): boolean {
  return ACTIVE_STATES.includes(r.state);
}

const TRANSITIONS: Record<MigrationState, readonly MigrationState[]> = {
  copying: ['verifying', 'failed', 'aborted'],
  verifying: ['ready', 'failed', 'aborted', 'copying'],
  // ready -> failed: cutover found the source changed after verification (resume re-copies).
  ready: ['cut-over', 'aborted', 'failed'],
  'cut-over': ['rolled-back'],
  'rolled-back': [],
  aborted: [],
  failed: ['copying', 'aborted'],
};

/** A copy of the record in `to`, or InvalidState (exit 3) naming what is possible. */
export function transition(r: MigrationRecord, to: MigrationState, now: Date, note?: string): MigrationRecord {
  if (!TRANSITIONS[r.state].includes(to)) {
    throw new AlluxioError('InvalidState', `migration ${r.id} is ${r.state}; it cannot go to ${to}${hint(r, to)}`, { details: { id: r.id, state: r.state } });
  }
  const at = now.toISOString();
  const next: MigrationRecord = { ...r, state: to, updatedAt: at, history: [...r.history, { state: to, at, ...(note ? { note } : {}) }] };
  if (to !== 'failed') delete next.error;
  return next;
}

function hint(r: MigrationRecord, to: MigrationState): string {
  switch (r.state) {
    case 'copying':
    case 'verifying':
      // Rollback undoes a cutover; a copy in progress is stopped with abort.
      if (to === 'rolled-back') return ` (rollback undoes a cutover; to stop this copy and keep the mount as it was: alluxio migrate abort --id ${r.id})`;
      return ' (wait for ready: alluxio migrate status --id ' + r.id + ' --watch)';
    case 'failed':
      return ` (failed: ${r.error?.message ?? 'unknown'}; resume or abort it)`;
    case 'ready':
      return ' (cut it over or abort it)';
    case 'cut-over':
      return ' (it can only be rolled back)';
    default:
      return ' (it is finished)';
  }
}

export function parseRecord(raw: string): MigrationRecord {
  const r = JSON.parse(raw) as MigrationRecord;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || !STATES.includes(r.state) || typeof r.path !== 'string') {
    throw new Error('not a migration record');
  }
  r.checkpoint ??= { cursor: null, ahead: [], recopy: [] };
  r.checkpoint.recopy ??= [];
  r.checkpoint.ahead ??= [];
  r.verified ??= { files: 0, bytes: 0 };
  r.history ??= [];
  return r;
}


/** Parse a byte count such as 1048576, 512k, 64KiB, 10MB, 1g (binary units). */
export function parseBytes(raw: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?(?:\/s)?$/i.exec(raw.trim());
  if (!m) throw new AlluxioError('InvalidArgument', `${flag} "${raw}" is not a size such as 512k, 10MiB or 1g`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}

/** Seconds left, or null when unknown. */
export function etaSeconds(r: Pick<MigrationRecord, 'state' | 'bytes' | 'rate'>): number | null {
  if (r.state !== 'copying') return r.state === 'ready' || r.state === 'cut-over' ? 0 : null;
  if (!(r.rate > 0)) return null;
  return Math.max(0, Math.ceil((r.bytes.total - r.bytes.done) / r.rate));
}

export interface StatusDoc {
  id: string;
  state: MigrationState;
  path: string;
  from: string;
  to: string;
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  verified: { files: number; bytes: number };
  verify: VerifyMode;
  concurrency: number;
  /** bytes/s limit, 0: none */
  bandwidth: number;
  rate: number;
  eta: number | null;
  error?: MigrationError;
  copier: { running: boolean; pid?: number; host?: string; log?: string };
  binding: { from: Binding & { readOnly: boolean }; to: Binding };
  checkpoint: Checkpoint;
  createdAt: string;
  updatedAt: string;
  history: MigrationRecord['history'];
}

/** The copier has work left: copying or verifying. */
function copying(r: MigrationRecord): boolean {
  return r.state === 'copying' || r.state === 'verifying';
}

/** What `migrate status --json` prints for one migration (secrets redacted unless asked). */
export function statusDoc(r: MigrationRecord, runnerAlive: boolean, showSecrets = false): StatusDoc {
  return {
    id: r.id,
    state: r.state,
    path: r.path,
    from: r.from.ufsUri,
    to: r.to.ufsUri,
    files: { ...r.files },
    bytes: { ...r.bytes },
    verified: { ...r.verified },
    verify: r.verify,
    concurrency: r.concurrency,
    bandwidth: r.bandwidth,
    // (a copy whose copier is not running goes nowhere: no rate, no ETA)
    rate: runnerAlive || !copying(r) ? Math.round(r.rate) : 0,
    eta: runnerAlive || !copying(r) ? etaSeconds(r) : null,
    ...(r.error ? { error: r.error } : {}),
    copier: { running: runnerAlive, ...(r.runner ? { pid: r.runner.pid, host: r.runner.host, ...(r.runner.log ? { log: r.runner.log } : {}) } : {}) },
    binding: {
      from: { ufsUri: r.from.ufsUri, options: redactOptions(r.from.options, showSecrets), readOnly: r.previousReadOnly },
      to: { ufsUri: r.to.ufsUri, options: redactOptions(r.to.options, showSecrets) },
    },
    checkpoint: r.checkpoint,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    history: r.history,
  };
}

/** One line of progress: bar, bytes, files, rate, ETA. */
export function progressLine(r: MigrationRecord, width = 24): string {
  const verifying = r.state === 'verifying';
  const done = verifying ? r.verified.bytes : r.bytes.done;
  const total = r.bytes.total;
  const frac = total > 0 ? Math.min(1, done / total) : r.files.total > 0 ? (verifying ? r.verified.files : r.files.done) / r.files.total : r.state === 'copying' ? 0 : 1;
  const filled = Math.round(frac * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const eta = etaSeconds(r);
  const files = verifying ? `${r.verified.files}/${r.files.total} files verified` : `${r.files.done}/${r.files.total} files`;
  const parts = [
    `${r.id} ${r.state.padEnd(9)}`,
    `[${bar}] ${(frac * 100).toFixed(0).padStart(3)}%`,
    `${formatBytes(done)}/${formatBytes(total)}`,
    files,
  ];
  if (r.state === 'copying') parts.push(`${formatBytes(r.rate)}/s`, `ETA ${eta === null ? '?' : formatDuration(eta)}`);
  return parts.join('  ');
}

export function formatDuration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
