/**
 * `--s3-redirect` (docs/cluster-cache.md "S3 redirect"): a GET or HEAD of an object another
 * worker owns is answered 307 with the same request on the owner's S3 endpoint. The Location
 * carries `x-alluxio-redirected=<this worker>`, and a request carrying it is served where it
 * lands: at most one redirect per request, whatever two workers think of the ring.
 */
import type { TLSSocket } from 'node:tls';
import type { RingMember } from '../../cluster/ring.js';
import type { DataTarget } from '../common/data-path.js';
import type { Req, S3Context } from './request.js';
import { sendEmpty } from './request.js';

export const REDIRECTED_PARAM = 'x-alluxio-redirected';

/** The owner's URL for this request, or null when it is served here. */
export function redirectLocation(r: Req, owner: RingMember, from: string): string | null {
  const secure = (r.req.socket as TLSSocket).encrypted === true;
  let scheme: 'http' | 'https';
  let port: number;
  if (owner.scheme === 'https') [scheme, port] = ['https', owner.s3Port];
  else if (secure && owner.s3TlsPort !== null) [scheme, port] = ['https', owner.s3TlsPort];
  else if (secure) return null; // never downgrade a client from HTTPS to HTTP
  else [scheme, port] = ['http', owner.s3Port];
  const raw = r.req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  const host = owner.host.includes(':') ? `[${owner.host}]` : owner.host;
  const mark = `${REDIRECTED_PARAM}=${encodeURIComponent(from)}`;
  return `${scheme}://${host}:${port}${path}?${query ? `${query}&` : ''}${mark}`;
}

/** Answer 307 when the object belongs to another worker and redirects are on; true if sent. */
export function maybeRedirect(ctx: S3Context, r: Req, t: DataTarget): boolean {
  const cluster = ctx.frontend.cluster;
  if (!cluster?.redirect || r.query.has(REDIRECTED_PARAM)) return false;
  const owner = ctx.dp.remoteOwner(t);
  if (!owner) return false;
  const location = redirectLocation(r, owner, cluster.ring.selfName ?? 'worker');
  if (!location) return false;
  sendEmpty(r, 307, { Location: location });
  return true;
}
