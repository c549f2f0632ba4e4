/**
 * Reading and writing the cluster config (mounts and rules) with optimistic concurrency:
 * every write reads the config at one revision, validates the change against exactly that
 * state, and commits in one transaction guarded by the generation key's mod revision.
 * A lost race re-reads and re-validates (so ten admins racing for one URI commit one).
 */
import { AlluxioError } from '../domain/errors.js';
import type { ParsedMount } from '../domain/mounts.js';
import type { RuleSpec } from '../domain/rules.js';
import type { EtcdConnection } from './connection.js';
import { decodeConfig, type InvalidEntry } from './codec.js';
import { SCHEMA_VERSION } from './layout.js';
import { gatewayRange, GatewayUnsupported, type RangeKv } from './gateway.js';
import { isTransientEtcdError } from './etcd-errors.js';
import { randomUUID } from 'node:crypto';

export interface ConfigState {
  /** etcd revision the state was read at. */
  revision: number;
  /** mod revision of the generation key (0 when never written). */
  generationModRevision: number;
  generation: number;
  schemaVersion: number | undefined;
  mounts: ParsedMount[];
  rules: RuleSpec[];
  invalid: InvalidEntry[];
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
}

export async function readConfig(conn: EtcdConnection): Promise<ConfigState> {
  const { layout } = conn;
  const res = await conn.call('read config', (c) => c.getAll().prefix(layout.configPrefix).exec());
  const revision = Number(res.header.revision);
  const schema = await conn.call('read schema', (c) => c.get(layout.schemaKey).revision(String(revision)).string());
  const kvs = res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) }));
  return stateFrom(conn, revision, kvs, schema);
}

/**
 * The same state as readConfig, read through etcd's JSON gateway so that a read-only
 * command does not load the grpc client (src/store/gateway.ts). Falls back to readConfig
 * when the endpoint has no gateway.
 */
export async function readConfigReadOnly(conn: EtcdConnection): Promise<ConfigState> {
  const { layout } = conn;
  let res;
  try {
    res = await gatewayRange(conn, 'read config', { key: layout.configPrefix, prefix: true });
  } catch (e) {
    if (e instanceof GatewayUnsupported) return readConfig(conn);
    throw e;
  }
  const schema = await gatewayRange(conn, 'read schema', { key: layout.schemaKey, revision: res.revision });
  return stateFrom(conn, res.revision, res.kvs, schema.kvs[0]?.value ?? null);
}

function stateFrom(conn: EtcdConnection, revision: number, kvs: readonly RangeKv[], schema: string | null): ConfigState {
  const { layout } = conn;
  let generationModRevision = 0;
  let generation = 0;
  const pairs: [string, string][] = [];
  for (const kv of kvs) {
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
  return { revision, generationModRevision, generation, schemaVersion, ...decoded };
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
  /** Who made the change, recorded on the generation key. */
  actor?: string;
  maxAttempts?: number;
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
  /** Every commit this call sent: one of them may have landed with its answer lost. */
  const sent: Sent[] = [];
  let lostAnswers = 0;
  for (let attempt = 1; ; attempt++) {
    const state = await readConfig(conn);
    checkSchema(state);
    const { ops, result, compares = [] } = await plan(state);
    // etcd refuses a txn with more than --max-txn-ops operations (each put/delete is one,
    // plus the generation and, on a fresh cluster, the schema put). Refuse before sending,
    // with the numbers, instead of letting etcd's INVALID_ARGUMENT surface.
    const total = ops.length + 1 + (state.schemaVersion === undefined ? 1 : 0);
    if (total > limit) {
      throw new AlluxioError(
        'TooManyChanges',
        `this change needs ${total} etcd operations in one transaction (${ops.length} key writes/deletes + ${total - ops.length} bookkeeping), more than the limit of ${limit}; ` +
          `etcd refuses transactions above its --max-txn-ops (default 128). Start every etcd member with a larger --max-txn-ops (e.g. --max-txn-ops 10000) and set ALLUXIO_ETCD_MAX_TXN_OPS to the same value, or make the change in smaller parts. Nothing was written.`,
        { details: { operations: total, limit } },
      );
    }
    // A nonce per commit on the generation key: if the answer to this commit is lost, the
    // generation history tells whether it landed (findLanded).
    const nonce = randomUUID();
    const generation = { generation: state.generation + 1, updatedAt: new Date().toISOString(), ...(opts.actor ? { by: opts.actor } : {}), txn: nonce };
    sent.push({ nonce, guard: state.generationModRevision });
    let res;
    try {
      res = await conn.call('commit config change', (c) => {
        let txn = c.if(layout.generationKey, 'Mod', '==', state.generationModRevision);
        for (const cmp of compares) txn = txn.and(cmp.key, 'Mod', '==', cmp.modRevision);
        const puts = ops.map((op) => (op.type === 'put' ? c.put(op.key).value(op.value) : c.delete().key(op.key)));
        puts.push(c.put(layout.generationKey).value(JSON.stringify(generation)));
        if (state.schemaVersion === undefined) puts.push(c.put(layout.schemaKey).value(JSON.stringify({ version: SCHEMA_VERSION })));
        return txn.then(...puts).commit();
      });
    } catch (e) {
      if (!isTransientEtcdError(e)) throw e;
      // The answer was lost (no member answered, deadline, no leader): the commit may or may
      // not have landed. Re-read and say which.
      const landed = await findLanded(conn, sent);
      if (landed.kind === 'landed') return { revision: landed.revision, result };
      if (landed.kind !== 'unknown' && ++lostAnswers < MAX_LOST_ANSWERS) {
        // Not applied (yet): commit again. The new commit also fences a lost copy still in
        // flight: both are guarded on the same generation, so at most one can land.
        continue;
      }
      throw lostAnswerError(e, landed);
    }
    if (res.succeeded) return { revision: Number(res.header.revision), result };
    // The compare failed: somebody else committed, or etcd3 re-sent our own commit after a
    // lost answer and the first copy landed. Only the latter carries one of our nonces.
    const landed = await findLanded(conn, sent);
    if (landed.kind === 'landed') return { revision: landed.revision, result };
    if (attempt >= maxAttempts) {
      throw new AlluxioError('Conflict', `the config kept changing underneath this command (${attempt} attempts); try again`);
    }
    // Decorrelated jitter so racing admins spread out.
    const base = Math.min(250, 5 * 2 ** Math.min(attempt, 6));
    await new Promise((r) => setTimeout(r, base / 2 + Math.random() * base));
  }
}

/** How many commits with a lost answer one transact sends before giving up. */
const MAX_LOST_ANSWERS = 3;

interface Sent {
  nonce: string;
  /** The generation key's mod revision the commit was guarded on. */
  guard: number;
}

function lostAnswerError(e: AlluxioError, landed: Exclude<LandedCheck, { kind: 'landed' }>): AlluxioError {
  const check = 'check with `alluxio mount list` / `alluxio path-mapping list` before retrying';
  if (landed.kind === 'unknown') {
    return new AlluxioError(e.code, `${e.message}. The change may or may not have been written (it could not be re-read: ${landed.why}); ${check}`, { cause: e, details: { written: 'unknown' } });
  }
  if (landed.kind === 'pending') {
    return new AlluxioError(e.code, `${e.message}. The change was not written as of revision ${landed.revision}, but etcd received it and may still apply it; ${check}`, { cause: e, details: { written: 'unknown', revision: landed.revision } });
  }
  return new AlluxioError(e.code, `${e.message}. Nothing was written (re-read at revision ${landed.revision}: the config moved on to generation ${landed.generation} without this change)`, {
    cause: e,
    details: { written: false, revision: landed.revision },
  });
}

/**
 * landed: one of the commits is in the history, at `revision`.
 * not-landed: none is, and none can land any more (the generation moved past every guard).
 * pending: none is yet, but the generation is still at a guard, so a lost copy could still apply.
 * unknown: the history could not be read (no answer, compacted).
 */
export type LandedCheck =
  | { kind: 'landed'; revision: number }
  | { kind: 'not-landed'; revision: number; generation: number }
  | { kind: 'pending'; revision: number; generation: number }
  | { kind: 'unknown'; why: string };

/**
 * Did any of the commits carrying these nonces (each guarded on the generation key's mod
 * revision being `guard`) land? Walks the generation key's history back from its newest
 * value to the oldest guard: every config write bumps it, so a commit that landed is one of
 * those values. Reads retry (failover) within the connection's deadline; a compacted
 * history or no answer is "unknown", never a guess.
 */
export async function findLanded(conn: EtcdConnection, sent: readonly Sent[]): Promise<LandedCheck> {
  const key = conn.layout.generationKey;
  const nonces = new Set(sent.map((s) => s.nonce));
  const oldest = Math.min(...sent.map((s) => s.guard));
  try {
    let at: number | undefined;
    let head: { revision: number; generation: number; mod: number } | undefined;
    for (let steps = 0; steps < 1000; steps++) {
      const res = await conn.call('re-read config generation', (c) => {
        const b = c.get(key);
        return (at === undefined ? b : b.revision(String(at))).exec();
      });
      const kv = res.kvs[0];
      const mod = kv ? Number(kv.mod_revision) : 0;
      let value: { generation?: number; txn?: string } = {};
      try {
        value = kv ? (JSON.parse(kv.value.toString('utf8')) as typeof value) : {};
      } catch {
        /* a hand edit: not ours */
      }
      head ??= { revision: Number(res.header.revision), generation: Number(value.generation ?? 0), mod };
      if (mod <= oldest) break;
      if (value.txn !== undefined && nonces.has(value.txn)) return { kind: 'landed', revision: mod };
      at = mod - 1;
    }
    if (!head) return { kind: 'unknown', why: 'no answer' };
    const stillPossible = sent.some((s) => s.guard === head!.mod);
    return { kind: stillPossible ? 'pending' : 'not-landed', revision: head.revision, generation: head.generation };
  } catch (e) {
    return { kind: 'unknown', why: e instanceof Error ? e.message : String(e) };
  }
}
