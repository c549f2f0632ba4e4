/**
 * Worker placement: which worker serves a path. Rendezvous (highest-random-weight)
 * hashing, so that adding or removing one worker moves only the paths that worker wins.
 * The Python client (python/alluxiofs/placement.py) implements the same function; the
 * S3 redirect is meant to use this one. Documented in docs/rest-api.md ("Worker choice").
 *
 *   worker name  = `${host}:${restPort}` (the REST address the client talks to)
 *   key          = the request URI exactly as sent in the `uri` parameter (UTF-8)
 *   score(w, k)  = first 8 bytes, big-endian unsigned, of SHA-256(UTF-8(w) || 0x00 || UTF-8(k))
 *   order        = workers sorted by score descending, ties by name ascending (UTF-8 bytes)
 * The first worker of the order serves the key; the next ones are the retry order.
 */
import { createHash } from 'node:crypto';

export function placementScore(worker: string, key: string): bigint {
  const h = createHash('sha256').update(worker, 'utf8').update(Buffer.from([0])).update(key, 'utf8').digest();
  return h.readBigUInt64BE(0);
}

/** Workers in the order they should serve `key` (first = preferred). */
export function placementOrder(workers: readonly string[], key: string): string[] {
  const scored = [...new Set(workers)].map((w) => ({ w, s: placementScore(w, key) }));
  scored.sort((a, b) => (a.s !== b.s ? (a.s > b.s ? -1 : 1) : Buffer.compare(Buffer.from(a.w, 'utf8'), Buffer.from(b.w, 'utf8'))));
  return scored.map((x) => x.w);
}
