/**
 * What `migrate cutover` and `migrate rollback` print and return: both re-point a mount
 * in one transaction and report it the same way.
 */
import type { Rebound } from '../control/migrations.js';
import { redactOptions } from '../domain/mounts.js';
import type { ReboundResult } from './results.js';

export function reboundLine(verb: string, revision: number, result: Rebound): string {
  return `${verb} ${result.record.id}: ${result.mount.path} -> ${result.mount.ufsUri} (was ${result.previous.ufsUri}) at revision ${revision}`;
}

export function reboundDoc(revision: number, result: Rebound): ReboundResult {
  return {
    revision,
    id: result.record.id,
    state: result.record.state,
    mount: { ...result.mount, options: redactOptions(result.mount.options, false) },
    previous: { ...result.previous, options: redactOptions(result.previous.options, false) },
  };
}
