/**
 * Migration records in etcd: /alluxio/<cluster>/migrations/<id> (readable JSON), and the
 * copier's leased lock /alluxio/<cluster>/migration-runners/<id> (exists while a copier
 * process works on the migration; gone within its TTL when the copier dies).
 *
 * State changes that touch the mount (start, cutover, rollback, abort) go through the
 * config transaction (transact(), guarded by the generation key AND the record's mod
 * revision, which the plan names in `compares`) and read the records at the transaction's
 * revision. The copier's own writes (checkpoints, copying -> verifying ->
 * ready/failed) are compare-and-swap on the record's mod revision, so a concurrent abort
 * always wins and the copier notices it on its next write.
 */
import { AlluxioError } from '../domain/errors.js';
import { isDryRun } from '../store/dry-run.js';
import type { EtcdConnection } from '../store/connection.js';
import { isActive, parseRecord, type MigrationRecord, type RunnerInfo } from './record.js';
import { kvGet, kvRange, kvTxn } from '../store/kv.js';

export interface StoredRecord {
  record: MigrationRecord;
  modRevision: number;
  /** The revision of `migrate start`'s transaction (the record's creation). */
  createRevision?: number;
}

export function runnerKey(conn: EtcdConnection, id: string): string {
  return conn.layout.migrationRunnerKey(id);
}

/** Every migration record (at `revision` when given), sorted by id number. */
export async function listRecords(conn: EtcdConnection, revision?: number): Promise<{ revision: number; records: StoredRecord[]; invalid: { key: string; error: string }[] }> {
  const prefix = conn.layout.migrationsPrefix;
  const res = await kvRange(conn, 'read migrations', { key: prefix, prefix: true, ...(revision !== undefined ? { revision } : {}) });
  const records: StoredRecord[] = [];
  const invalid: { key: string; error: string }[] = [];
  for (const kv of res.kvs) {
    const key = kv.key;
    try {
      const record = parseRecord(kv.value);
      if (conn.layout.migrationKey(record.id) !== key) throw new Error(`key does not match id ${record.id}`);
      records.push({ record, modRevision: kv.modRevision });
    } catch (e) {
      invalid.push({ key, error: (e as Error).message });
    }
  }
  records.sort((a, b) => idNum(a.record.id) - idNum(b.record.id));
  return { revision: res.revision, records, invalid };
}

function idNum(id: string): number {
  return Number(id.slice(2)) || 0;
}

export async function getRecord(conn: EtcdConnection, id: string, revision?: number): Promise<StoredRecord> {
  const { kv } = await kvGet(conn, 'read migration', conn.layout.migrationKey(id), revision);
  if (!kv) throw new AlluxioError('MigrationNotFound', `no migration ${id}; list them with: alluxio migrate status`);
  try {
    return { record: parseRecord(kv.value), modRevision: kv.modRevision, createRevision: kv.createRevision };
  } catch (e) {
    throw new AlluxioError('Internal', `the record of migration ${id} is malformed: ${(e as Error).message}`);
  }
}

/** The active migration holding mount `path` at `revision`, if any. */
export async function activeMigrationFor(conn: EtcdConnection, path: string, revision?: number): Promise<MigrationRecord | undefined> {
  const { records } = await listRecords(conn, revision);
  return records.map((s) => s.record).find((r) => r.path === path && isActive(r));
}

/**
 * For the mount use cases: refuse (exit 3) to change or remove a mount that a migration
 * holds. Call inside a transact() plan with the plan's state.revision.
 */
export async function assertNoActiveMigration(conn: EtcdConnection, path: string, revision: number, doing: string): Promise<void> {
  const m = await activeMigrationFor(conn, path, revision);
  if (m) {
    throw new AlluxioError(
      'MigrationInProgress',
      `cannot ${doing} ${path}: migration ${m.id} (${m.state}, to ${m.to.ufsUri}) holds it; cut it over or abort it first (alluxio migrate abort --id ${m.id})`,
      { details: { id: m.id, state: m.state, path } },
    );
  }
}

/** Compare-and-swap one record; false when it changed since `modRevision`. */
export async function casRecord(conn: EtcdConnection, record: MigrationRecord, modRevision: number): Promise<number | false> {
  const key = conn.layout.migrationKey(record.id);
  // --dry-run: the caller goes on as if the swap landed (e.g. cutover then refuses, exit 3); nothing is written.
  if (isDryRun(conn)) return modRevision;
  const value = JSON.stringify(record);
  const res = await kvTxn(conn, 'write migration', { compare: [{ key, modRevision }], success: [{ type: 'put', key, value }] });
  if (res.succeeded) return res.revision;
  // Refused: someone else wrote it, or a copy of this write that was sent again after a lost
  // answer (another member, or grpc) landed first. The record as written means the latter.
  const now = (await kvGet(conn, 're-read migration', key)).kv;
  return now !== null && now.value === value ? now.modRevision : false;
}

/** Who holds the copier lock of a migration (undefined: no copier is running). */
export async function runnerHolder(conn: EtcdConnection, id: string): Promise<RunnerInfo | undefined> {
  const v = (await kvGet(conn, 'read migration runner', runnerKey(conn, id))).kv?.value;
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as RunnerInfo;
  } catch {
    return { pid: 0, host: '?', startedAt: '' };
  }
}
