/**
 * Migration use cases (behind `alluxio migrate ...`). See docs/migration.md.
 *
 * - start:    ONE config transaction records the migration (id m-N allocated from the
 *             records read at the transaction's revision) AND makes the mount read-only
 *             (its previous mode is kept in the record); then a detached copier starts.
 * - cutover:  the source is re-listed and compared with the fingerprint verification
 *             stored (a changed source -> failed + Conflict, resume re-copies); then ONE
 *             config transaction: the mount points at the new URI with the new options
 *             and its previous mode; the record (holding the old binding) says cut-over.
 * - rollback: the same in reverse. Unless forced: first the mount is made read-only (one
 *             commit) and workers apply it, then the new UFS is compared with its
 *             verification fingerprint (changed -> refused, mode restored), then the
 *             rebind commit restores the old binding and the mode from before.
 * - abort:    restores the mount exactly as it was before the migration.
 * Every transaction that reads a record also compares its mod revision at commit (the
 * copier writes records without bumping the config generation).
 *
 * One concern (about 420 lines): the migration use cases (start, cutover, rollback, abort,
 * resume, status), each a guarded transaction over the same record and mount.
 */
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import { checkMountAgainst, checkWrittenMount, checkWrittenOptions, parseMount, toEntry, validateMountPath, type MountEntry, type ParsedMount } from '../domain/mounts.js';
import { isUfsPrefix } from '../domain/ufs-uri.js';
import { isDryRun } from '../store/dry-run.js';
import type { EtcdConnection } from '../store/connection.js';
import { readConfig, transact, type Committed, type ConfigState } from '../store/config-store.js';
import { adapterForBinding, fingerprint, listingDiff, walk } from '../migrate/copier.js';
import { waitForConvergence } from '../cluster/convergence.js';
import { MAX_NAMED, isActive, nextMigrationId, transition, type Binding, type MigrationRecord, type VerifyMode } from '../migrate/record.js';
import { casRecord, getRecord, listRecords, runnerHolder } from '../migrate/store.js';
import { pidAlive, spawnCopier, type SpawnedCopier } from '../migrate/spawn.js';
import { hostname } from 'node:os';

export interface StartInput {
  path: string;
  to: string;
  options?: Record<string, string>;
  verify?: VerifyMode;
  concurrency?: number;
  /** bytes/s, 0 = unlimited */
  bandwidth?: number;
}

function sameOptions(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

function bound(m: MountEntry, b: Binding): boolean {
  return m.ufsUri === b.ufsUri && sameOptions(m.options, b.options);
}

function mountAt(state: ConfigState, path: string): ParsedMount {
  const m = state.mounts.find((x) => x.path === path);
  if (!m) throw new AlluxioError('MountNotFound', `no mount at ${path}`);
  return m;
}

/** Validate the target against the mount (no nesting with its own source) and the table. */
function checkTarget(state: ConfigState, source: ParsedMount, target: ParsedMount): void {
  if (source.ufsUri === target.ufsUri) throw new AlluxioError('InvalidArgument', `${source.path} is already mounted to ${target.ufsUri}; nothing to migrate`);
  if (isUfsPrefix(source.ufs, target.ufs) || isUfsPrefix(target.ufs, source.ufs)) {
    throw new AlluxioError('MountNested', `the target ${target.ufsUri} and the source ${source.ufsUri} would nest; copy to a location outside the source`);
  }
  checkMountAgainst(state.mounts, target, true);
}

export async function startMigration(conn: EtcdConnection, input: StartInput): Promise<Committed<MigrationRecord>> {
  const path = validateMountPath(input.path);
  const target = parseMount({ path, ufsUri: input.to, options: input.options ?? {}, readOnly: false });
  checkWrittenOptions(target.options);
  checkWrittenMount(target);
  const concurrency = input.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new AlluxioError('InvalidArgument', '--concurrency must be 1..64');
  // Pre-flight outside the transaction: table checks (again inside), both UFSs reachable,
  // and an empty target (a non-empty one would mix foreign files into the mount).
  {
    const state = await readConfig(conn);
    const source = mountAt(state, path);
    const held = (await listRecords(conn, state.revision)).records.map((s) => s.record).find((r) => r.path === path && isActive(r));
    if (held) throw inProgress(held);
    checkTarget(state, source, target);
    let dst;
    try {
      dst = adapterForBinding(path, { ufsUri: target.ufsUri, options: target.options }, true);
    } catch (e) {
      if (isAlluxioError(e) && e.code === 'NotFound') throw new AlluxioError('InvalidUfsUri', e.message);
      throw e;
    }
    const src = adapterForBinding(path, { ufsUri: source.ufsUri, options: source.options }, true);
    try {
      await src.list([]).catch((e: unknown) => {
        throw new AlluxioError(isAlluxioError(e) ? e.code : 'UfsUnavailable', `cannot list the source ${source.ufsUri}: ${(e as Error).message}`);
      });
      const entries = await dst.list([]).catch((e: unknown) => {
        if (isAlluxioError(e) && e.code === 'NotFound') return [];
        throw new AlluxioError(isAlluxioError(e) ? e.code : 'UfsUnavailable', `cannot list the target ${target.ufsUri}: ${(e as Error).message}`);
      });
      if (entries.length > 0) {
        throw new AlluxioError(
          'Conflict',
          `the target ${target.ufsUri} is not empty (${entries.slice(0, 5).map((e) => e.name).join(', ')}${entries.length > 5 ? ', ...' : ''}); migrate into an empty location`,
        );
      }
    } finally {
      await Promise.all([src.close(), dst.close()]);
    }
  }
  return transact(
    conn,
    async (state) => {
      const source = mountAt(state, path);
      const { records } = await listRecords(conn, state.revision);
      const held = records.map((s) => s.record).find((r) => r.path === path && isActive(r));
      if (held) throw inProgress(held);
      checkTarget(state, source, target);
      const id = nextMigrationId(records.map((s) => s.record.id));
      const now = new Date().toISOString();
      const record: MigrationRecord = {
        id,
        path,
        state: 'copying',
        from: { ufsUri: source.ufsUri, options: { ...source.options } },
        to: { ufsUri: target.ufsUri, options: { ...target.options } },
        previousReadOnly: source.readOnly,
        verify: input.verify ?? 'size',
        concurrency,
        bandwidth: input.bandwidth ?? 0,
        files: { done: 0, total: 0 },
        bytes: { done: 0, total: 0 },
        verified: { files: 0, bytes: 0 },
        checkpoint: { cursor: null, ahead: [], recopy: [] },
        rate: 0,
        createdAt: now,
        updatedAt: now,
        history: [{ state: 'copying', at: now }],
      };
      const ro = { ...toEntry(source), readOnly: true };
      return {
        ops: [
          { type: 'put', key: conn.layout.mountKey(path), value: JSON.stringify(ro) },
          { type: 'put', key: conn.layout.migrationKey(id), value: JSON.stringify(record) },
        ],
        result: record,
        // The id was allocated from the records at state.revision: it must still be free.
        compares: [{ key: conn.layout.migrationKey(id), modRevision: 0 }],
      };
    },
    { actor: 'migrate start' },
  );
}

/**
 * `migrate start`: record the migration (startMigration) and start its detached copier,
 * whose log and pid file live in `dir`. The copier is spawned only after the commit.
 */
export async function launchMigration(conn: EtcdConnection, input: StartInput, dir: string): Promise<Committed<MigrationRecord> & { copier: SpawnedCopier }> {
  const committed = await startMigration(conn, input);
  const copier = spawnCopier(committed.result.id, committed.result.createdAt, conn.options, dir);
  return { ...committed, copier };
}

function inProgress(r: MigrationRecord): AlluxioError {
  return new AlluxioError(
    'MigrationInProgress',
    `${r.path} is already being migrated by ${r.id} (${r.state}, to ${r.to.ufsUri}); one migration per mount at a time${
      r.state === 'failed' ? ` (resume it: alluxio migrate resume --id ${r.id}, or abort it)` : ''
    }`,
    { details: { id: r.id, state: r.state, path: r.path } },
  );
}

export type Rebound = { record: MigrationRecord; mount: MountEntry; previous: MountEntry };

/**
 * The one transaction behind cutover, rollback and abort: the record moves to `state`, and
 * the mount, which must still be bound to `expected` (else Conflict with `refusing`), is
 * re-pointed at `target` with mode `readOnly`, both in one commit.
 */
async function rebind(
  conn: EtcdConnection,
  id: string,
  how: {
    state: MigrationRecord['state'];
    expected: (r: MigrationRecord) => Binding;
    refusing: (now: string) => string;
    target: (r: MigrationRecord) => Binding;
    readOnly: (r: MigrationRecord, current: ParsedMount) => boolean;
    checkTable: boolean;
    actor: string;
    /** The record must still be exactly the one a check outside the transaction read. */
    recordModRevision?: number;
    /** Further checks of the mount at the transaction's revision (throw to refuse). */
    guard?: (current: ParsedMount, r: MigrationRecord) => void;
  },
): Promise<Committed<Rebound>> {
  return transact(
    conn,
    async (state) => {
      const { record, modRevision } = await getRecord(conn, id, state.revision);
      if (how.recordModRevision !== undefined && modRevision !== how.recordModRevision) {
        throw new AlluxioError('Conflict', `migration ${id} changed while this command checked it (now ${record.state}); try again`);
      }
      const next = transition(record, how.state, new Date());
      const current = mountAt(state, record.path);
      const expected = how.expected(record);
      if (!bound(current, expected)) {
        throw new AlluxioError('Conflict', `mount ${record.path} no longer points at ${expected.ufsUri}${how.refusing(current.ufsUri)}`);
      }
      how.guard?.(current, record);
      const target = how.target(record);
      const mount = parseMount({ path: record.path, ufsUri: target.ufsUri, options: target.options, readOnly: how.readOnly(record, current) });
      if (how.checkTable) checkMountAgainst(state.mounts, mount, true);
      return {
        ops: [
          { type: 'put', key: conn.layout.mountKey(record.path), value: JSON.stringify(toEntry(mount)) },
          { type: 'put', key: conn.layout.migrationKey(id), value: JSON.stringify(next) },
        ],
        result: { record: next, mount: toEntry(mount), previous: toEntry(current) },
        // The record was read at state.revision; the copier writes it without bumping the
        // generation, so the commit also requires it unchanged (else: re-read, re-validate).
        compares: [{ key: conn.layout.migrationKey(id), modRevision }],
      };
    },
    { actor: how.actor },
  );
}

export async function cutover(conn: EtcdConnection, id: string): Promise<Committed<Rebound>> {
  const { record: r0, modRevision } = await getRecord(conn, id);
  if (r0.state !== 'ready') transition(r0, 'cut-over', new Date()); // InvalidState with a hint
  if (r0.sourceFingerprint) await checkSourceUnchanged(conn, r0, modRevision);
  return rebind(conn, id, {
    recordModRevision: r0.sourceFingerprint ? modRevision : undefined,
    state: 'cut-over',
    expected: (r) => r.from,
    refusing: (now) => ` as recorded (it is ${now}); refusing to cut over`,
    target: (r) => r.to,
    readOnly: (r) => r.previousReadOnly,
    checkTable: true,
    actor: 'migrate cutover',
  });
}

/**
 * Cutover's guard against losing a write that raced verification: re-list the source and
 * compare with the fingerprint verification stored. When it differs, the migration goes
 * back to failed with the changed files queued for copying again (`migrate resume`), and
 * cutover is refused (Conflict, exit 3) naming them.
 */
async function checkSourceUnchanged(conn: EtcdConnection, r: MigrationRecord, modRevision: number): Promise<void> {
  const expected = r.sourceFingerprint!;
  const src = adapterForBinding(r.path, r.from, true);
  const dst = adapterForBinding(r.path, r.to, true);
  try {
    const now = await walk(src);
    const fp = fingerprint(now.files, expected.v ?? 1);
    if (fp.sha256 === expected.sha256) return;
    const { changed, removed } = listingDiff(now.files, (await walk(dst, { allowMissingRoot: true })).files);
    const named = changed.slice(0, MAX_NAMED);
    const what =
      (changed.length ? `${changed.length} file${changed.length === 1 ? '' : 's'} written or added since verification: ${named.join(', ')}${changed.length > named.length ? `, and ${changed.length - named.length} more` : ''}` : '') +
      (removed.length ? `${changed.length ? '; ' : ''}${removed.length} file${removed.length === 1 ? '' : 's'} deleted from the source but present in ${r.to.ufsUri}: ${removed.slice(0, MAX_NAMED).join(', ')}` : '') +
      (!changed.length && !removed.length ? `the listing changed (${expected.files} files then, ${fp.files} now)` : '');
    const msg = `the source ${r.from.ufsUri} changed after it was verified (${what}); cutting over now would lose those writes. Copy them again with: alluxio migrate resume --id ${r.id}, then cut over`;
    // Queue the changed files for the copier and put the migration back where resume takes it.
    const next: MigrationRecord = {
      ...transition(r, 'failed', new Date(), 'source changed after verification'),
      error: { code: 'Conflict', message: msg, files: named },
      checkpoint: { ...r.checkpoint, recopy: [...new Set([...r.checkpoint.recopy, ...changed])] },
    };
    const rev = await casRecord(conn, next, modRevision);
    if (rev === false) throw new AlluxioError('Conflict', `migration ${r.id} changed while cutover checked its source; try again`);
    throw new AlluxioError('Conflict', msg, { details: { id: r.id, changed: named, removed: removed.slice(0, MAX_NAMED) } });
  } finally {
    await Promise.all([src.close(), dst.close()]);
  }
}

export async function rollback(conn: EtcdConnection, id: string, opts: { force?: boolean } = {}): Promise<Committed<Rebound>> {
  const { record: r0 } = await getRecord(conn, id);
  if (r0.state !== 'cut-over') transition(r0, 'rolled-back', new Date()); // InvalidState with a hint
  const back = {
    state: 'rolled-back' as const,
    expected: (r: MigrationRecord) => r.to,
    refusing: (now: string) => ` (it is ${now}); refusing to roll back over a later change`,
    target: (r: MigrationRecord) => r.from,
    checkTable: true,
    actor: 'migrate rollback',
  };
  // --dry-run shows the change a rollback makes (the mount back on the old UFS), not its
  // intermediate freeze; the freeze and the check write and read nothing in a dry run.
  if (opts.force || !r0.targetFingerprint || isDryRun(conn)) return rebind(conn, id, { ...back, readOnly: (_r, current) => current.readOnly });
  // 1. Freeze: make the mount read-only (one commit, guarded by the record) and let live
  //    workers apply it, so no write through Alluxio can land on the new UFS after the check.
  const frozen = await transact(
    conn,
    async (state) => {
      const { record, modRevision } = await getRecord(conn, id, state.revision);
      if (record.state !== 'cut-over') transition(record, 'rolled-back', new Date());
      const current = mountAt(state, record.path);
      if (!bound(current, record.to)) throw new AlluxioError('Conflict', `mount ${record.path} no longer points at ${record.to.ufsUri}${back.refusing(current.ufsUri)}`);
      const ro = { ...toEntry(current), readOnly: true };
      return {
        ops: current.readOnly ? [] : [{ type: 'put' as const, key: conn.layout.mountKey(record.path), value: JSON.stringify(ro) }],
        result: { wasReadOnly: current.readOnly, record },
        compares: [{ key: conn.layout.migrationKey(id), modRevision }],
      };
    },
    { actor: 'migrate rollback (read-only while checking)' },
  );
  const { wasReadOnly, record: r1 } = frozen.result;
  try {
    await waitForConvergence(conn, frozen.revision, { timeoutMs: ROLLBACK_CONVERGE_MS });
    // 2. Check: the new UFS must be exactly what verification saw.
    const dst = adapterForBinding(r1.path, r1.to, true);
    try {
      const now = fingerprint((await walk(dst, { allowMissingRoot: true })).files, r1.targetFingerprint!.v ?? 1);
      if (now.sha256 !== r1.targetFingerprint!.sha256) {
        throw new AlluxioError(
          'Conflict',
          `the new UFS ${r1.to.ufsUri} changed since it was verified (${r1.targetFingerprint!.files} files then, ${now.files} now, or contents rewritten): writes made after cutover would be lost by rolling back to ${r1.from.ufsUri}. Copy them back first, or pass --force`,
        );
      }
    } finally {
      await dst.close();
    }
    // 3. Rebind, only if nobody changed the mount's mode meanwhile; the mode before step 1 comes back.
    return await rebind(conn, id, {
      ...back,
      readOnly: () => wasReadOnly,
      guard: (current) => {
        if (!current.readOnly) throw new AlluxioError('Conflict', `mount ${current.path} was made writable while rollback checked ${r1.to.ufsUri}; refusing (try again)`);
      },
    });
  } catch (e) {
    if (!wasReadOnly) await restoreWritable(conn, id).catch(() => undefined);
    throw e;
  }
}

/** How long rollback waits for live workers to apply the read-only mount before checking. */
const ROLLBACK_CONVERGE_MS = 30_000;

/** Undo rollback's step 1 when it refused: writable again, if the mount is still as step 1 left it. */
async function restoreWritable(conn: EtcdConnection, id: string): Promise<void> {
  await transact(
    conn,
    async (state) => {
      const { record, modRevision } = await getRecord(conn, id, state.revision);
      const current = mountAt(state, record.path);
      if (record.state !== 'cut-over' || !bound(current, record.to) || !current.readOnly) throw new AlluxioError('Conflict', 'changed meanwhile; leaving it');
      return {
        ops: [{ type: 'put', key: conn.layout.mountKey(record.path), value: JSON.stringify({ ...toEntry(current), readOnly: false }) }],
        result: undefined,
        compares: [{ key: conn.layout.migrationKey(id), modRevision }],
      };
    },
    { actor: 'migrate rollback (refused: writable again)' },
  );
}

export async function abort(conn: EtcdConnection, id: string): Promise<Committed<{ record: MigrationRecord; mount: MountEntry }>> {
  const { revision, result } = await rebind(conn, id, {
    state: 'aborted',
    expected: (r) => r.from,
    refusing: (now) => ` as recorded (it is ${now}); refusing to overwrite it`,
    target: (r) => r.from,
    readOnly: (r) => r.previousReadOnly,
    checkTable: false,
    actor: 'migrate abort',
  });
  return { revision, result: { record: result.record, mount: result.mount } };
}

/** Is a copier working on this migration (its leased lock exists)? */
export async function copierRunning(conn: EtcdConnection, id: string): Promise<boolean> {
  return (await runnerHolder(conn, id)) !== undefined;
}

/**
 * Continue an interrupted (copier died) or failed migration: a failed one goes back to
 * copying (files that failed verification are copied again first); then a copier starts.
 * The new copier waits for a dead copier's lease to expire; a live one is refused (3).
 */
export async function resume(
  conn: EtcdConnection,
  id: string,
  dir: string,
  tune: { concurrency?: number | undefined; bandwidth?: number | undefined } = {},
): Promise<{ record: MigrationRecord; copier: SpawnedCopier }> {
  let { record, modRevision } = await getRecord(conn, id);
  if (record.state !== 'copying' && record.state !== 'verifying' && record.state !== 'failed') transition(record, 'copying', new Date());
  if (tune.concurrency !== undefined && (!Number.isInteger(tune.concurrency) || tune.concurrency < 1 || tune.concurrency > 64)) {
    throw new AlluxioError('InvalidArgument', '--concurrency must be 1..64');
  }
  const holder = await runnerHolder(conn, id);
  if (holder && (holder.host !== hostname() || pidAlive(holder.pid))) {
    throw new AlluxioError('MigrationInProgress', `a copier is already working on ${id} (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`);
  }
  if (record.state === 'failed' || tune.concurrency !== undefined || tune.bandwidth !== undefined) {
    const base = record.state === 'failed' ? transition(record, 'copying', new Date(), 'resumed') : record;
    const next = {
      ...base,
      ...(tune.concurrency !== undefined ? { concurrency: tune.concurrency } : {}),
      ...(tune.bandwidth !== undefined ? { bandwidth: tune.bandwidth } : {}),
      updatedAt: new Date().toISOString(),
    };
    const rev = await casRecord(conn, next, modRevision);
    if (rev === false) throw new AlluxioError('Conflict', `migration ${id} changed while resuming it; try again`);
    record = next;
    modRevision = rev;
  }
  const copier = spawnCopier(id, record.createdAt, conn.options, dir);
  return { record, copier };
}

export async function migrationStatus(conn: EtcdConnection, id?: string): Promise<{ revision: number; migrations: { record: MigrationRecord; running: boolean }[]; invalid: { key: string; error: string }[] }> {
  // (revision: the config revision, as every --json; migration records do not move it)
  const { configRevision } = await readConfig(conn);
  if (id !== undefined) {
    const { record } = await getRecord(conn, id);
    return { revision: configRevision, migrations: [{ record, running: await copierRunning(conn, id) }], invalid: [] };
  }
  const { records, invalid } = await listRecords(conn);
  const migrations = await Promise.all(records.map(async (s) => ({ record: s.record, running: await copierRunning(conn, s.record.id) })));
  return { revision: configRevision, migrations, invalid };
}
