/**
 * Announcing a change to the other workers (docs/cluster-cache.md "Writes"): after this
 * process changed a name in the UFS, every other member of the ring drops what it cached of
 * it (POST /api/v1/peer/invalidate), and the change is answered only once they confirmed.
 * Without it, a worker that had read the name served the old version, or the deleted
 * object, for up to its metadata TTL (and a CopyObject on it stored the old bytes).
 *
 * Bounded: each worker has INVALIDATE_TIMEOUT_MS to confirm. One that does not (dead, hung,
 * partitioned) is logged and counted, it may serve the old version for up to its TTL, and
 * it is not asked again for a few seconds, nor one that failed a health check
 * (PeerClient.confirming; another failed peer READ does not count: an owner cuts a stream on
 * purpose when the object changes under it), so a hung
 * worker costs the writers one deadline per suspect period, not one per change. Skipped
 * workers are counted as failures too. The skip holds against the process that failed: a
 * worker restarted under the same name (RingMember.incarnation) is asked at once.
 */
import type { Logger } from 'pino';
import { isAlluxioError, type ErrorCode } from '../domain/errors.js';
import type { Ring } from '../cluster/ring.js';
import type { PeerClient } from './peer-client.js';

/** Failures after which the UFS certainly holds what it held before: nothing to announce. */
const CHANGED_NOTHING: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'NotFound',
  'NotADirectory',
  'IsADirectory',
  'DirectoryNotEmpty',
  'UfsAccessDenied',
  'UfsNotSupported',
  'InvalidPath',
  'NameTooLong',
  'InvalidArgument',
  'ReadOnlyMount',
  'Conflict',
]);

/** Whether a change that ended with `failure` (undefined: it succeeded) may have changed the UFS. */
export function mayHaveChanged(failure: unknown): boolean {
  return !(isAlluxioError(failure) && CHANGED_NOTHING.has(failure.code));
}

/**
 * Tell the other members of `ring` that `uri` changed (`tree`: and everything below it);
 * resolves once each confirmed or failed. Never throws.
 */
export async function announceChange(cluster: { ring: Ring; peers: PeerClient }, log: Logger, uri: string, tree: boolean): Promise<void> {
  const { ring, peers } = cluster;
  const others = ring.current().filter((m) => m.name !== ring.selfName);
  if (others.length === 0) return;
  const asked = peers.confirming(others);
  const skipped = others.length - asked.length;
  if (skipped > 0) {
    peers.counters.invalidations += skipped;
    peers.counters.invalidationFailures += skipped;
  }
  await Promise.all(
    asked.map((m) =>
      peers.invalidate(m, uri, tree).catch((e: Error) => log.warn({ peer: m.name, uri, err: e.message }, 'a worker did not confirm a change; it may serve the old version for up to its metadata TTL')),
    ),
  );
}
