/**
 * Config history (pure, no I/O): what one committed config change did, as the raw etcd
 * values of the keys it touched before and after, and the arithmetic on it that `alluxio
 * history`, `diff` and `revert` need:
 *
 *   - a record per committed change (written in the SAME transaction as the change, by
 *     src/store/config-store.ts, so history can never disagree with the config);
 *   - the config at an older revision = today's config with every later record undone,
 *     newest first (works after etcd compacted those revisions away, as long as the
 *     records are still kept: `coverage` says whether they are);
 *   - a diff between two configs, by mount path and rule id.
 *
 * Config here is the raw key -> JSON value map of `config/mounts/` and `config/rules/`
 * (the generation key is bookkeeping and never part of it).
 */
import { AlluxioError } from './errors.js';
import { isPathPrefix } from './paths.js';

/** Raw config: etcd key -> stored JSON value, mounts and rules only. */
export type RawConfig = ReadonlyMap<string, string>;

export interface KeyChange {
  key: string;
  /** Value before the change; null when the key did not exist. */
  before: string | null;
  /** Value after the change; null when the change deleted it. */
  after: string | null;
  /**
   * What the change did, kept when the values are not (a record too large to store them:
   * both are null then, and only this tells an addition from a removal).
   */
  action?: ChangeAction;
}

export type ChangeAction = 'added' | 'removed' | 'changed';

/** What a key change did: from its values, or its kept action when they were dropped. */
export function changeAction(c: KeyChange): ChangeAction {
  if (c.before === null && c.after === null) {
    // (older records kept no action; a record written by hand may hold anything)
    return c.action === 'added' || c.action === 'removed' ? c.action : 'changed';
  }
  return c.before === null ? 'added' : c.after === null ? 'removed' : 'changed';
}

export interface HistoryWho {
  /** The etcd user the command authenticated as (null without etcd auth). */
  etcdUser: string | null;
  /** OS user and host the command ran on: `user@host`. */
  os: string;
}

export interface HistoryRecord {
  /** The config generation this change produced (history keys are ordered by it). */
  generation: number;
  /** Revision of the previous config change (the generation key's mod revision it replaced; 0: none). */
  prevRevision: number;
  /** etcd revision of this change: the history key's own mod revision (filled in when read). */
  revision: number;
  /** ISO time on the machine that committed. */
  at: string;
  who: HistoryWho;
  /** The command that made the change (`mount add`, `revert`, `migrate cutover`, ...). */
  command: string;
  /** Config keys this change wrote or deleted, with their values before and after. */
  changes: KeyChange[];
  /** Set by `revert`: the revision whose config it restored. */
  revertedTo?: number;
  /**
   * False when the record was too large to keep the values (only the keys): the change
   * cannot be undone from history (diff/revert then need etcd itself at that revision).
   */
  complete: boolean;
}

/** The key changes `ops` make to `before` (config keys only; unchanged puts are dropped). */
export function changesOf(before: RawConfig, ops: readonly ({ type: 'put'; key: string; value: string } | { type: 'delete'; key: string })[], isConfigKey: (k: string) => boolean): KeyChange[] {
  const after = new Map<string, string | null>();
  for (const op of ops) {
    if (!isConfigKey(op.key)) continue;
    after.set(op.key, op.type === 'put' ? op.value : null);
  }
  const out: KeyChange[] = [];
  for (const [key, value] of after) {
    const prev = before.get(key) ?? null;
    if (prev === value) continue;
    out.push({ key, before: prev, after: value });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Apply key changes forward. */
export function applyChanges(config: RawConfig, changes: readonly KeyChange[]): Map<string, string> {
  const next = new Map(config);
  for (const c of changes) {
    if (c.after === null) next.delete(c.key);
    else next.set(c.key, c.after);
  }
  return next;
}

/** Undo key changes (what the config was before them). */
export function undoChanges(config: RawConfig, changes: readonly KeyChange[]): Map<string, string> {
  const prev = new Map(config);
  for (const c of changes) {
    if (c.before === null) prev.delete(c.key);
    else prev.set(c.key, c.before);
  }
  return prev;
}

/**
 * Whether the kept records cover every config change after `revision` (so the config at
 * `revision` can be rebuilt). `records` in any order; `currentGenerationRevision` is the
 * revision of the newest config change (the generation key's mod revision; 0: never).
 */
export function coverage(records: readonly HistoryRecord[], revision: number, currentGenerationRevision: number): { ok: true; later: HistoryRecord[] } | { ok: false; oldestKept: number | null } {
  if (revision >= currentGenerationRevision) return { ok: true, later: [] };
  const later = records.filter((r) => r.revision > revision).sort((a, b) => b.generation - a.generation);
  const oldest = later[later.length - 1];
  // The chain is whole when the newest record is the current change, generations are
  // consecutive, and the oldest later record's predecessor is at or before `revision`.
  const newestOk = later.length > 0 && later[0]!.revision === currentGenerationRevision;
  const consecutive = later.every((r, i) => i === 0 || later[i - 1]!.generation === r.generation + 1);
  // A record that kept only its keys (too large) cannot be undone: not covered either.
  const undoable = later.every((r) => r.complete);
  if (!newestOk || !consecutive || !undoable || !oldest || oldest.prevRevision > revision) {
    const kept = [...records].sort((a, b) => a.revision - b.revision)[0];
    return { ok: false, oldestKept: kept ? kept.prevRevision : null };
  }
  return { ok: true, later };
}

/** The config at `revision`: `current` with every later change undone, newest first. */
export function configAt(current: RawConfig, later: readonly HistoryRecord[]): Map<string, string> {
  let cfg = new Map(current);
  for (const r of [...later].sort((a, b) => b.generation - a.generation)) cfg = undoChanges(cfg, r.changes);
  return cfg;
}

/** What it takes to go from `from` to `to`, as key changes (sorted by key). */
export function diffConfigs(from: RawConfig, to: RawConfig): KeyChange[] {
  const keys = new Set([...from.keys(), ...to.keys()]);
  const out: KeyChange[] = [];
  for (const key of keys) {
    const a = from.get(key) ?? null;
    const b = to.get(key) ?? null;
    if (a !== b) out.push({ key, before: a, after: b });
  }
  return out.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}

/** A change described for people: what kind of entry, its name, and what happened. */
export interface DescribedChange {
  kind: 'mount' | 'rule' | 'other';
  /** Mount path or rule id. */
  name: string;
  action: ChangeAction;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

export function describeChange(c: KeyChange, prefixes: { mounts: string; rules: string }): DescribedChange {
  const before = parseValue(c.before);
  const after = parseValue(c.after);
  const action = changeAction(c);
  if (c.key.startsWith(prefixes.mounts)) {
    return { kind: 'mount', name: String((after ?? before)?.path ?? '/' + decodeURIComponent(c.key.slice(prefixes.mounts.length))), action, before, after };
  }
  if (c.key.startsWith(prefixes.rules)) {
    return { kind: 'rule', name: String((after ?? before)?.id ?? decodeURIComponent(c.key.slice(prefixes.rules.length))), action, before, after };
  }
  return { kind: 'other', name: c.key, action, before, after };
}

/** One line: `+mount /data`, `~rule model-latest`, `-mount /old`. */
export function summarize(changes: readonly DescribedChange[]): string {
  if (changes.length === 0) return 'no config change';
  const sign = { added: '+', removed: '-', changed: '~' } as const;
  const parts = changes.slice(0, 4).map((c) => `${sign[c.action]}${c.kind} ${c.name}`);
  if (changes.length > 4) parts.push(`(+${changes.length - 4} more)`);
  return parts.join(', ');
}

/**
 * Whether a change concerns `path` (history --path): a mount whose path and `path` are
 * one inside the other, a prefix rule whose source or destination is, or a regex rule
 * whose pattern or template names a segment of `path`.
 */
export function changeTouches(c: DescribedChange, path: string): boolean {
  const related = (p: unknown): boolean => typeof p === 'string' && p.startsWith('/') && (isPathPrefix(p, path) || isPathPrefix(path, p));
  for (const v of [c.before, c.after]) {
    if (!v) continue;
    if (c.kind === 'mount' && related(v.path)) return true;
    if (c.kind === 'rule') {
      if (v.kind === 'prefix' && (related(v.src) || related(v.dst))) return true;
      if (v.kind === 'regex') {
        const first = path.split('/').filter(Boolean)[0];
        if (first !== undefined && (String(v.src).includes(first) || String(v.dst).includes(first))) return true;
      }
    }
  }
  return false;
}

function parseValue(v: string | null): Record<string, unknown> | null {
  if (v === null) return null;
  try {
    const o = JSON.parse(v) as unknown;
    return o && typeof o === 'object' ? (o as Record<string, unknown>) : { value: v };
  } catch {
    return { value: v };
  }
}

/** Parse a stored record (etcd value); throws InvalidArgument naming the key when malformed. */
export function parseRecord(key: string, value: string, modRevision: number): HistoryRecord {
  let o: Partial<HistoryRecord>;
  try {
    o = JSON.parse(value) as Partial<HistoryRecord>;
  } catch {
    throw new AlluxioError('InvalidArgument', `history record ${key} is not JSON`);
  }
  if (typeof o.generation !== 'number' || !Array.isArray(o.changes)) throw new AlluxioError('InvalidArgument', `history record ${key} is malformed`);
  const changes = (o.changes as unknown[]).map((c, i) => parseChange(key, i, c));
  return {
    generation: o.generation,
    prevRevision: typeof o.prevRevision === 'number' ? o.prevRevision : 0,
    revision: modRevision,
    at: String(o.at ?? ''),
    who: { etcdUser: o.who?.etcdUser ?? null, os: String(o.who?.os ?? '') },
    command: String(o.command ?? ''),
    changes,
    complete: o.complete !== false,
    ...(typeof o.revertedTo === 'number' ? { revertedTo: o.revertedTo } : {}),
  };
}

/**
 * One stored key change, checked: a key, and values that are strings or null (a record
 * edited by hand, or by a future version, must not reach history, diff or revert with
 * anything else: they would fail on it, or undo a change into a wrong config).
 */
function parseChange(key: string, i: number, c: unknown): KeyChange {
  const o = (c && typeof c === 'object' ? c : {}) as Record<string, unknown>;
  const value = (v: unknown): string | null | undefined => (v === undefined || v === null ? null : typeof v === 'string' ? v : undefined);
  const before = value(o.before);
  const after = value(o.after);
  if (typeof o.key !== 'string' || o.key === '' || before === undefined || after === undefined) {
    throw new AlluxioError('InvalidArgument', `history record ${key} is malformed (change ${i + 1})`);
  }
  const action = o.action === 'added' || o.action === 'removed' || o.action === 'changed' ? { action: o.action as ChangeAction } : {};
  return { key: o.key, before, after, ...action };
}
