/**
 * --dry-run: a mutating command runs exactly as it would (same reads, same validation, same
 * plan, same exit codes for bad input) and stops where transact() would commit, carrying
 * what it would have written. Nothing is sent to etcd. The CLI's base command turns the
 * stop into the dry-run report (src/control/impact.ts).
 */
import type { ConfigState, Op } from './config-store.js';

const dryRunConnections = new WeakSet<object>();

/** Make every transact() on `conn` stop before committing. */
export function enableDryRun(conn: object): void {
  dryRunConnections.add(conn);
}

export function isDryRun(conn: object): boolean {
  return dryRunConnections.has(conn);
}

/** Thrown by transact() in dry-run mode: the state it read and the operations it would commit. */
export class DryRun extends Error {
  constructor(
    readonly state: ConfigState,
    readonly ops: readonly Op[],
    readonly result: unknown,
  ) {
    super('dry run: nothing written');
    this.name = 'DryRun';
  }
}

export function isDryRunStop(e: unknown): e is DryRun {
  return e instanceof DryRun;
}
