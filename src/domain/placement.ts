/**
 * File ownership (docs/cluster-cache.md): rendezvous (highest-random-weight) hashing of the
 * resolved UFS URI over the ring's worker names, so that adding or removing one worker moves
 * only the keys that worker wins (about 1/N). The Python client
 * (python/alluxiofs/placement.py) implements the same function; both are pinned by
 * test/fixtures/placement-vectors.json.
 *
 *   worker name  = `${host}:${restPort}` (placementName in src/cluster/record.ts)
 *   key          = the resolved UFS URI (UTF-8); clients without one use the request URI
 *   score(w, k)  = first 8 bytes, big-endian unsigned, of SHA-256(UTF-8(w) || 0x00 || UTF-8(k))
 *   order        = workers sorted by score descending, ties by name ascending (UTF-8 bytes)
 * The first worker of the order owns the key; the next ones are the retry order.
 */
import { createHash } from 'node:crypto';

export function placementScore(worker: string, key: string): bigint {
  const h = createHash('sha256').update(worker, 'utf8').update(Buffer.from([0])).update(key, 'utf8').digest();
  return h.readBigUInt64BE(0);
}

/** Workers in the order they should serve `key` (first = owner). */
export function placementOrder(workers: readonly string[], key: string): string[] {
  const scored = [...new Set(workers)].map((w) => ({ w, s: placementScore(w, key) }));
  scored.sort((a, b) => (a.s !== b.s ? (a.s > b.s ? -1 : 1) : Buffer.compare(Buffer.from(a.w, 'utf8'), Buffer.from(b.w, 'utf8'))));
  return scored.map((x) => x.w);
}

/** How many fixed sample keys `shares` hashes (s3://alluxio-share-sample/<i>). */
export const SHARE_SAMPLE_KEYS = 4096;

/**
 * Each worker's share of the key space on this ring: the fraction of SHARE_SAMPLE_KEYS
 * fixed sample keys it owns (about 1/N each). Deterministic for a given set of names.
 */
export function shares(workers: readonly string[]): Map<string, number> {
  const names = [...new Set(workers)];
  const won = new Map<string, number>(names.map((n) => [n, 0]));
  if (names.length === 0) return won;
  for (let i = 0; i < SHARE_SAMPLE_KEYS; i++) {
    const owner = placementOrder(names, `s3://alluxio-share-sample/${i}`)[0]!;
    won.set(owner, won.get(owner)! + 1);
  }
  for (const [n, c] of won) won.set(n, c / SHARE_SAMPLE_KEYS);
  return won;
}
