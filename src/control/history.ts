/**
 * The use cases behind `alluxio history`, `history show`, `diff` and `revert`: read the
 * history records (src/domain/history.ts) kept under /alluxio/<cluster>/history/, rebuild
 * the config at an older revision, and put it back in one guarded transaction (itself
 * recorded in history).
 */
import { normalizePath } from '../domain/paths.js';
import { AlluxioError } from '../domain/errors.js';
import { changeTouches, configAt, coverage, describeChange, diffConfigs, parseRecord, summarize, type DescribedChange, type HistoryRecord, type RawConfig } from '../domain/history.js';
import { redactOptions } from '../domain/mounts.js';
import type { EtcdConnection } from '../store/connection.js';
import type { Layout } from '../store/layout.js';
import { readConfig, transact, type Committed, type ConfigState, type Op } from '../store/config-store.js';
import { decodeConfig } from '../store/codec.js';
import { kvRange } from '../store/kv.js';
import { assertNoActiveMigration } from '../migrate/store.js';

export interface HistoryEntry {
  revision: number;
  generation: number;
  at: string;
  who: HistoryRecord['who'];
  command: string;
  summary: string;
  revertedTo?: number;
  /** False: the change was too large to record its values (only which keys it added, changed or removed). */
  complete: boolean;
}

export interface HistoryShow extends HistoryEntry {
  changes: DescribedChange[];
}

interface HistoryView {
  state: ConfigState;
  records: HistoryRecord[];
  /** Records that could not be read (written by hand or by a future version): skipped. */
  invalid: { key: string; error: string }[];
}

/** The config and every kept history record, read at one revision. */
async function readHistory(conn: EtcdConnection): Promise<HistoryView> {
  const state = await readConfig(conn);
  const kvs = (await kvRange(conn, 'read history', { key: conn.layout.historyPrefix, prefix: true, revision: state.revision })).kvs;
  const records: HistoryRecord[] = [];
  const invalid: HistoryView['invalid'] = [];
  for (const kv of kvs) {
    try {
      records.push(parseRecord(kv.key, kv.value, kv.modRevision));
    } catch (e) {
      // skipped, like invalid config entries (the listing says so; revert then cannot
      // undo across it and reads etcd at that revision instead)
      invalid.push({ key: kv.key, error: e instanceof Error ? e.message : String(e) });
    }
  }
  records.sort((a, b) => b.generation - a.generation);
  return { state, records, invalid };
}

/** Described changes for output; mount options redacted unless `showSecrets`. */
export function describeChanges(layout: Layout, changes: HistoryRecord['changes'], showSecrets: boolean): DescribedChange[] {
  const prefixes = { mounts: layout.mountsPrefix, rules: layout.rulesPrefix };
  return changes.map((c) => {
    const d = describeChange(c, prefixes);
    if (d.kind !== 'mount' || showSecrets) return d;
    const redact = (v: Record<string, unknown> | null): Record<string, unknown> | null =>
      v && v.options && typeof v.options === 'object' ? { ...v, options: redactOptions(v.options as Record<string, string>, false) } : v;
    return { ...d, before: redact(d.before), after: redact(d.after) };
  });
}

function entryOf(conn: EtcdConnection, r: HistoryRecord): HistoryEntry {
  return {
    revision: r.revision,
    generation: r.generation,
    at: r.at,
    who: r.who,
    command: r.command,
    summary: summarize(describeChanges(conn.layout, r.changes, false)) + (r.complete ? '' : ' (values not recorded: too large)'),
    ...(r.revertedTo !== undefined ? { revertedTo: r.revertedTo } : {}),
    complete: r.complete,
  };
}

export async function listHistory(conn: EtcdConnection, opts: { path?: string; limit?: number } = {}): Promise<{ revision: number; entries: HistoryEntry[]; invalid: HistoryView['invalid'] }> {
  // An Alluxio path (a relative or malformed one matched nothing, silently)
  if (opts.path !== undefined) opts = { ...opts, path: normalizePath(opts.path, '--path') };
  const { state, records, invalid } = await readHistory(conn);
  const limit = opts.limit ?? 20;
  let selected = records;
  if (opts.path !== undefined) {
    const path = opts.path;
    selected = records.filter((r) => describeChanges(conn.layout, r.changes, false).some((c) => changeTouches(c, path)));
  }
  return { revision: state.configRevision, entries: selected.slice(0, limit).map((r) => entryOf(conn, r)), invalid };
}

export async function showHistory(conn: EtcdConnection, revision: number, showSecrets = false): Promise<HistoryShow> {
  const { records } = await readHistory(conn);
  const r = records.find((x) => x.revision === revision);
  if (!r) {
    const near = records.slice(0, 5).map((x) => x.revision).join(', ');
    throw new AlluxioError('NotFound', `no config change was committed at revision ${revision}${near ? ` (recent changes: ${near}; see alluxio history)` : ''}`);
  }
  return { ...entryOf(conn, r), changes: describeChanges(conn.layout, r.changes, showSecrets) };
}

/**
 * The raw config at `revision`: rebuilt from history when every later change is still
 * kept, else read from etcd at that revision when etcd has not compacted it.
 */
async function rawConfigAt(conn: EtcdConnection, view: HistoryView, revision: number): Promise<RawConfig> {
  if (!Number.isInteger(revision) || revision < 1) throw new AlluxioError('InvalidArgument', `revision must be a positive integer, got ${revision}`);
  if (revision > view.state.revision) throw new AlluxioError('InvalidArgument', `revision ${revision} is in the future (etcd is at ${view.state.revision})`);
  const cov = coverage(view.records, revision, view.state.generationModRevision);
  if (cov.ok) return configAt(view.state.raw, cov.later);
  try {
    const kvs = (await kvRange(conn, 'read config at revision', { key: conn.layout.configPrefix, prefix: true, revision })).kvs;
    return new Map(kvs.filter((kv) => conn.layout.isConfigEntryKey(kv.key)).map((kv) => [kv.key, kv.value]));
  } catch (e) {
    // Only etcd's "compacted" is final; an outage or a deadline is reported as what it is.
    if (!/compacted/i.test(e instanceof Error ? e.message : String(e))) throw e;
    throw new AlluxioError(
      'NotFound',
      `the config at revision ${revision} can no longer be rebuilt: history keeps undoable changes back to revision ${cov.oldestKept ?? 'none'} (ALLUXIO_HISTORY_KEEP; a change too large to record cannot be undone) and etcd compacted the revision`,
    );
  }
}

export async function diffRevisions(conn: EtcdConnection, from: number, to?: number, showSecrets = false): Promise<{ from: number; to: number; changes: DescribedChange[] }> {
  const view = await readHistory(conn);
  const a = await rawConfigAt(conn, view, from);
  const toRev = to ?? view.state.revision;
  const b = to === undefined ? view.state.raw : await rawConfigAt(conn, view, to);
  return { from, to: toRev, changes: describeChanges(conn.layout, diffConfigs(a, b), showSecrets) };
}

export interface RevertResult {
  revertedTo: number;
  changes: DescribedChange[];
}

/**
 * Put the config back to what it was at `revision`, in ONE transaction guarded by the
 * generation the command read: if the config moved on since (another admin committed),
 * refuse (Conflict, exit 3) instead of silently reverting their change too. `approve`, when
 * given, sees the changes before anything is written (the CLI asks there).
 */
export async function revertTo(conn: EtcdConnection, revision: number, approve?: (changes: DescribedChange[]) => Promise<void>): Promise<Committed<RevertResult>> {
  const view = await readHistory(conn);
  const target = await rawConfigAt(conn, view, revision);
  const decoded = decodeConfig(conn.layout, target);
  if (decoded.invalid.length > 0) {
    throw new AlluxioError('InvalidState', `the config at revision ${revision} holds entries that no longer validate (${decoded.invalid.map((i) => i.key).join(', ')}); nothing changed`);
  }
  if (diffConfigs(view.state.raw, target).length === 0) {
    // Already that config: nothing to commit (and no history record for a non-change).
    return { revision: view.state.configRevision, result: { revertedTo: revision, changes: [] }, unchanged: true };
  }
  const readGeneration = view.state.generation;
  if (approve) await approve(describeChanges(conn.layout, diffConfigs(view.state.raw, target), false));
  return transact(
    conn,
    async (state) => {
      if (state.generation !== readGeneration) {
        throw new AlluxioError('Conflict', `the config changed since this command read it (generation ${readGeneration} -> ${state.generation}); nothing reverted. Review with 'alluxio history' and run revert again.`);
      }
      const changes = diffConfigs(state.raw, target);
      for (const c of changes) {
        if (!c.key.startsWith(conn.layout.mountsPrefix)) continue;
        const path = '/' + decodeURIComponent(c.key.slice(conn.layout.mountsPrefix.length));
        await assertNoActiveMigration(conn, path, state.revision, 'revert');
      }
      const ops: Op[] = changes.map((c) => (c.after === null ? { type: 'delete', key: c.key } : { type: 'put', key: c.key, value: c.after }));
      return { ops, result: { revertedTo: revision, changes: describeChanges(conn.layout, changes, false) } };
    },
    { actor: `revert --to ${revision}`, history: { revertedTo: revision } },
  );
}
