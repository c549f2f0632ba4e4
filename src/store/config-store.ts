/**
 * Reading and writing the cluster config (mounts and rules) with optimistic concurrency:
 * every write reads the config at one revision, validates the change against exactly that
 * state, and commits in one transaction guarded by the generation key's mod revision.
 * A lost race re-reads and re-validates (so ten admins racing for one URI commit one).
 */
import { hostname, userInfo } from 'node:os';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import { changeAction, changesOf, type HistoryRecord } from '../domain/history.js';
import type { ParsedMount } from '../domain/mounts.js';
import type { RuleSpec } from '../domain/rules.js';
import type { EtcdConnection } from './connection.js';
import { decodeConfig, type InvalidEntry } from './codec.js';
import { SCHEMA_VERSION } from './layout.js';
import { kvGet, kvRange, kvTxn, type RangeKv, type TxnCompare, type TxnOp } from './kv.js';
import { isTransientEtcdError } from './etcd-errors.js';
import { findLanded, lostAnswerError, MAX_LOST_ANSWERS, type Sent } from './landed.js';
import { randomUUID } from 'node:crypto';
import { DryRun, isDryRun } from './dry-run.js';

export interface ConfigState {
  /** etcd revision the state was read at. */
  revision: number;
  /**
   * The config revision (resolution.md §6): the highest mod revision under the config
   * prefix, i.e. the etcd revision of the last change to mounts or rules (0 when empty).
   * Unlike `revision` it does not move with membership writes.
   */
  configRevision: number;
  /** mod revision of the generation key (0 when never written). */
  generationModRevision: number;
  generation: number;
  schemaVersion: number | undefined;
  mounts: ParsedMount[];
  rules: RuleSpec[];
  invalid: InvalidEntry[];
  /** Raw values of the mount and rule keys (what history records and diffs compare). */
  raw: Map<string, string>;
}

export type Op = { type: 'put'; key: string; value: string } | { type: 'delete'; key: string };

export interface Plan<T> {
  ops: Op[];
  result: T;
  /**
   * Keys outside the config prefix the plan read at state.revision (e.g. a migration
   * record): the commit also requires each to still have this mod revision (0: absent), so
   * a change to them underneath makes the attempt retry and re-validate.
   */
  compares?: { key: string; modRevision: number }[];
}

/**
 * The most operations one commit may carry, checked before sending: ALLUXIO_ETCD_MAX_TXN_OPS
 * when set. Unset, etcd itself is the authority (its --max-txn-ops, 128 by default, 10000 in
 * `alluxio local start`): a refusal comes back as the same TooManyChanges error.
 */
export function maxTxnOps(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ALLUXIO_ETCD_MAX_TXN_OPS;
  if (raw === undefined || raw.trim() === '') return Number.POSITIVE_INFINITY;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2) throw new AlluxioError('InvalidArgument', `ALLUXIO_ETCD_MAX_TXN_OPS="${raw}" must be an integer >= 2 (etcd's --max-txn-ops)`);
  return n;
}

export interface Committed<T> {
  revision: number;
  result: T;
  /** Nothing needed writing (every operation was a no-op against the state read): nothing was sent. */
  unchanged?: true;
}

/**
 * The operations of a plan that change something, against the raw values read: one per key
 * (the last one asked for: a delete then a put of one key, as `import --replace` plans for
 * an id it deletes and creates again, is the put; etcd refuses a transaction naming a key
 * twice), without puts of the value already there and deletes of keys that are absent.
 * `raw` holds every key for which `inRaw` is true (others are always kept).
 */
export function effectiveOps(ops: readonly Op[], raw: ReadonlyMap<string, string>, inRaw: (key: string) => boolean): Op[] {
  const last = new Map<string, Op>();
  for (const op of ops) {
    last.delete(op.key); // keep the order of the last op per key
    last.set(op.key, op);
  }
  return [...last.values()].filter((op) => !inRaw(op.key) || (op.type === 'put' ? raw.get(op.key) !== op.value : raw.has(op.key)));
}

/**
 * The config (mounts, rules, generation) and the schema key, both at one revision. Through
 * etcd's JSON gateway (kv.ts), so a command does not load the grpc client.
 */
export async function readConfig(conn: EtcdConnection): Promise<ConfigState> {
  const { layout } = conn;
  const res = await kvRange(conn, 'read config', { key: layout.configPrefix, prefix: true });
  const schema = await kvGet(conn, 'read schema', layout.schemaKey, res.revision);
  return stateFrom(conn, res.revision, res.kvs, schema.kv?.value ?? null);
}

function stateFrom(conn: EtcdConnection, revision: number, kvs: readonly RangeKv[], schema: string | null): ConfigState {
  const { layout } = conn;
  let generationModRevision = 0;
  let generation = 0;
  let configRevision = 0;
  const pairs: [string, string][] = [];
  const raw = new Map<string, string>();
  for (const kv of kvs) {
    configRevision = Math.max(configRevision, kv.modRevision);
    if (layout.isConfigEntryKey(kv.key)) raw.set(kv.key, kv.value);
    if (kv.key === layout.generationKey) {
      generationModRevision = kv.modRevision;
      try {
        generation = Number((JSON.parse(kv.value) as { generation?: number }).generation) || 0;
      } catch {
        generation = 0;
      }
      continue;
    }
    pairs.push([kv.key, kv.value]);
  }
  let schemaVersion: number | undefined;
  if (schema !== null) {
    try {
      schemaVersion = Number((JSON.parse(schema) as { version?: number }).version);
    } catch {
      schemaVersion = NaN;
    }
  }
  const decoded = decodeConfig(layout, pairs);
  return { revision, configRevision, generationModRevision, generation, schemaVersion, ...decoded, raw };
}

function checkSchema(state: ConfigState): void {
  if (state.schemaVersion !== undefined && state.schemaVersion !== SCHEMA_VERSION) {
    throw new AlluxioError(
      'Conflict',
      `the cluster's etcd layout is schema version ${String(state.schemaVersion)}; this alluxio CLI writes version ${SCHEMA_VERSION}. Upgrade the CLI before changing this cluster.`,
    );
  }
}

export interface TransactOptions {
  /** The command that made the change, recorded on the generation key and in history. */
  actor?: string;
  maxAttempts?: number;
  /** Extra fields of the history record (revert: the revision it restored). */
  history?: Pick<HistoryRecord, 'revertedTo'>;
}

/**
 * How many history records a cluster keeps (ALLUXIO_HISTORY_KEEP, default 1000): each
 * commit deletes the records older than the last N in the same transaction.
 */
export function historyKeep(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ALLUXIO_HISTORY_KEEP;
  if (raw === undefined || raw.trim() === '') return 1000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new AlluxioError('InvalidArgument', `ALLUXIO_HISTORY_KEEP="${raw}" must be an integer >= 1`);
  return n;
}

/** A history record larger than this keeps its summary but not its values (etcd's request limit is 1.5 MiB). */
const MAX_RECORD_BYTES = 512 * 1024;

/** Who runs this process: the etcd user it authenticates as, and user@host. */
function who(conn: EtcdConnection): HistoryRecord['who'] {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return { etcdUser: conn.options.user ?? null, os: `${user}@${hostname()}` };
}

/** The history record of one commit (values dropped when too large to store). */
function historyValue(conn: EtcdConnection, state: ConfigState, ops: readonly Op[], opts: TransactOptions): string {
  const record: Omit<HistoryRecord, 'revision'> = {
    generation: state.generation + 1,
    prevRevision: state.generationModRevision,
    at: new Date().toISOString(),
    who: who(conn),
    command: opts.actor ?? 'unknown',
    changes: changesOf(state.raw, ops, (k) => conn.layout.isConfigEntryKey(k)),
    complete: true,
    ...(opts.history ?? {}),
  };
  let value = JSON.stringify(record);
  if (value.length > MAX_RECORD_BYTES) {
    // Keep which keys changed, not their values: this change cannot be undone from history.
    record.changes = record.changes.map((c) => ({ key: c.key, before: null, after: null, action: changeAction(c) }));
    record.complete = false;
    value = JSON.stringify(record);
  }
  return value;
}

/**
 * Validate-and-commit loop. `plan` must be pure with respect to etcd: it receives the state
 * and returns the operations (or throws an AlluxioError, which aborts with nothing written).
 * It may be async to read other keys (e.g. migration records) AT `state.revision`: a
 * change to them that matters must either bump the generation or be named in the plan's
 * `compares` (their mod revisions at state.revision), so the commit guard covers them.
 * A plan needing more than maxTxnOps() operations fails (TooManyChanges, exit 2) unsent.
 *
 * A commit whose answer is lost (EtcdUnavailable / EtcdTimeout / EtcdNoLeader after it was
 * sent) is never retried blindly: the nonce it put on the generation key is looked up
 * (findLanded). Landed: success with its revision. Not landed: the error, saying nothing was
 * written. Not knowable: the error, saying so. A refused compare is checked the same way,
 * because etcd3's failover may have re-sent a commit whose first copy landed.
 */
export async function transact<T>(conn: EtcdConnection, plan: (state: ConfigState) => Plan<T> | Promise<Plan<T>>, opts: TransactOptions = {}): Promise<Committed<T>> {
  const { layout } = conn;
  const maxAttempts = opts.maxAttempts ?? 40;
  const limit = maxTxnOps();
  /** Every commit this call sent, with its plan's result: one may have landed with its answer lost. */
  const sent: (Sent & { result: T })[] = [];
  /** The commit of ours that landed, if one did (after a lost answer), as transact's outcome. */
  /** A commit of ours found landed, as transact's outcome: its revision and its plan's result. */
  const committedAs = (landed: { revision: number; nonce: string }): Committed<T> => ({ revision: landed.revision, result: sent.find((x) => x.nonce === landed.nonce)!.result });
  const ours = async (): Promise<Committed<T> | undefined> => {
    if (sent.length === 0) return undefined;
    const landed = await findLanded(conn, sent);
    return landed.kind === 'landed' ? committedAs(landed) : undefined;
  };
  let lostAnswers = 0;
  /** The error of the last commit whose answer was lost (then the next attempt looks for it first). */
  let lastLost: Parameters<typeof lostAnswerError>[0] | undefined;
  for (let attempt = 1; ; attempt++) {
    let state: ConfigState;
    try {
      state = await readConfig(conn);
    } catch (e) {
      // after a lost answer, etcd's silence leaves it open whether that commit landed
      if (lastLost && isTransientEtcdError(e)) throw lostAnswerError(lastLost, { kind: 'unknown', why: isAlluxioError(e) ? e.code : (e as Error).message });
      throw e;
    }
    checkSchema(state);
    // After a lost answer, a copy of ours may have landed since findLanded said "pending":
    // planned again, a plan that does not fail on it (a rule under a fresh id, an import)
    // would commit the change a second time, guarded on this newer read. Asked after the
    // read, so a copy landing later fails this attempt's guard (and is found there).
    if (lastLost) {
      // (and when that cannot be told, the lost answer's error: planning again could commit twice)
      const landed = await findLanded(conn, sent);
      if (landed.kind === 'landed') return committedAs(landed);
      if (landed.kind === 'unknown') throw lostAnswerError(lastLost, landed);
    }
    let planned: Plan<T>;
    try {
      planned = await plan(state);
    } catch (e) {
      // After a lost answer, a plan that now fails may fail BECAUSE our commit landed
      // meanwhile (the mount it adds exists, the one it removes is gone): that is success.
      const done = await ours();
      if (done) return done;
      throw e;
    }
    const { result, compares = [] } = planned;
    const ops = effectiveOps(planned.ops, state.raw, (k) => layout.isConfigEntryKey(k));
    // Nothing would change (a rule disabled again, an update to the values in place): no
    // commit, no history record, no reload on the workers; the config revision in place.
    if (ops.length === 0 && !isDryRun(conn)) {
      // Unless a commit of ours whose answer was lost landed after all: that is what put
      // the values in place, and it is reported as written.
      const done = await ours();
      if (done) return done;
      return { revision: state.configRevision, result, unchanged: true };
    }
    // etcd refuses a txn with more than --max-txn-ops operations (each put/delete is one,
    // plus the generation and, on a fresh cluster, the schema put). Refuse before sending,
    // with the numbers, instead of letting etcd's INVALID_ARGUMENT surface.
    // + the generation, the history record and the trim of old records (+ schema when new)
    const total = ops.length + 3 + (state.schemaVersion === undefined ? 1 : 0);
    if (total > limit) {
      throw new AlluxioError(
        'TooManyChanges',
        `this change needs ${total} etcd operations in one transaction (${ops.length} key writes/deletes + ${total - ops.length} bookkeeping), more than the limit of ${limit}; ` +
          `etcd refuses transactions above its --max-txn-ops (default 128). Start every etcd member with a larger --max-txn-ops (e.g. --max-txn-ops 10000) and set ALLUXIO_ETCD_MAX_TXN_OPS to the same value, or make the change in smaller parts. Nothing was written.`,
        { details: { operations: total, limit } },
      );
    }
    // --dry-run: everything above ran (reads, validation, the plan); nothing is sent.
    if (isDryRun(conn)) throw new DryRun(state, ops, result);
    const keep = historyKeep();
    const history = historyValue(conn, state, ops, opts);
    // A nonce per commit on the generation key: if the answer to this commit is lost, the
    // generation history tells whether it landed (findLanded).
    const nonce = randomUUID();
    const generation = { generation: state.generation + 1, updatedAt: new Date().toISOString(), ...(opts.actor ? { by: opts.actor } : {}), txn: nonce };
    sent.push({ nonce, guard: state.generationModRevision, result });
    let res;
    try {
      const compare: TxnCompare[] = [{ key: layout.generationKey, modRevision: state.generationModRevision }, ...compares];
      const success: TxnOp[] = [
        ...ops,
        { type: 'put', key: layout.generationKey, value: JSON.stringify(generation) },
        { type: 'put', key: layout.historyKey(generation.generation), value: history },
        // Keep the last `keep` records: delete [history/, history/<generation - keep + 1>).
        { type: 'deleteRange', start: layout.historyPrefix, end: layout.historyKey(Math.max(0, generation.generation - keep + 1)) },
      ];
      if (state.schemaVersion === undefined) success.push({ type: 'put', key: layout.schemaKey, value: JSON.stringify({ version: SCHEMA_VERSION }) });
      res = await kvTxn(conn, 'commit config change', { compare, success });
    } catch (e) {
      if (!isTransientEtcdError(e)) throw e;
      // The answer was lost (no member answered, deadline, no leader): the commit may or may
      // not have landed. Re-read and say which.
      const landed = await findLanded(conn, sent);
      if (landed.kind === 'landed') return committedAs(landed);
      if (landed.kind !== 'unknown' && ++lostAnswers < MAX_LOST_ANSWERS) {
        lastLost = e;
        // Not applied (yet): commit again, planned on a new read (checked for our copy
        // first, above). A lost copy still in flight and the new commit are each guarded on
        // a generation the other one moves, so at most one can land.
        continue;
      }
      throw lostAnswerError(e, landed);
    }
    if (res.succeeded) return { revision: res.revision, result };
    // The compare failed: somebody else committed, or etcd3 re-sent our own commit after a
    // lost answer and the first copy landed. Only the latter carries one of our nonces.
    const done = await ours();
    if (done) return done;
    if (attempt >= maxAttempts) {
      throw new AlluxioError('Conflict', `the config kept changing underneath this command (${attempt} attempts); try again`);
    }
    // Decorrelated jitter so racing admins spread out.
    const base = Math.min(250, 5 * 2 ** Math.min(attempt, 6));
    await new Promise((r) => setTimeout(r, base / 2 + Math.random() * base));
  }
}
