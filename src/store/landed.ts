/**
 * Did a config commit whose answer was lost land? (transact in config-store.ts.) Every
 * config commit puts a fresh nonce on config/generation, guarded on the generation key's
 * mod revision; the generation key's history, read back to the guard, tells.
 */
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from './connection.js';
import { kvGet } from './kv.js';

/** How many commits with a lost answer one transact sends before giving up. */
export const MAX_LOST_ANSWERS = 3;

export interface Sent {
  nonce: string;
  /** The generation key's mod revision the commit was guarded on. */
  guard: number;
}

export function lostAnswerError(e: AlluxioError, landed: Exclude<LandedCheck, { kind: 'landed' }>): AlluxioError {
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
  | { kind: 'landed'; revision: number; nonce: string }
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
      const res = await kvGet(conn, 're-read config generation', key, at);
      const kv = res.kv;
      const mod = kv ? kv.modRevision : 0;
      let value: { generation?: number; txn?: string } = {};
      try {
        value = kv ? (JSON.parse(kv.value) as typeof value) : {};
      } catch {
        /* a hand edit: not ours */
      }
      head ??= { revision: res.revision, generation: Number(value.generation ?? 0), mod };
      if (mod <= oldest) break;
      if (value.txn !== undefined && nonces.has(value.txn)) return { kind: 'landed', revision: mod, nonce: value.txn };
      at = mod - 1;
    }
    if (!head) return { kind: 'unknown', why: 'no answer' };
    const stillPossible = sent.some((s) => s.guard === head!.mod);
    return { kind: stillPossible ? 'pending' : 'not-landed', revision: head.revision, generation: head.generation };
  } catch (e) {
    // An etcd failure by its code: its message names the members and what to check, as the
    // commit's error this goes into already does.
    return { kind: 'unknown', why: isAlluxioError(e) ? e.code : e instanceof Error ? e.message : String(e) };
  }
}
