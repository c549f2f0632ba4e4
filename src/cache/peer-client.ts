/**
 * Reading an object version from the worker that owns it: `GET /api/v1/peer/read` on the
 * owner's REST port (docs/cluster-cache.md "Peer read"), over keep-alive connections, signed
 * with the worker's own credentials when the cluster requires signatures. Answers become
 * AlluxioErrors a caller can act on: Conflict (the UFS holds another version: re-stat),
 * NotFound (the owner has no mount holding the URI), UfsUnavailable (the peer failed or
 * could not read the UFS: try the next owner). A peer that failed is suspect for a few
 * seconds, so the next reads go to the next owner straight away instead of each waiting for
 * the same failure; the ring drops a dead worker within its lease TTL.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { RingMember } from '../cluster/ring.js';
import type { Credentials } from '../frontends/s3/sigv4.js';
import { signV4 } from '../domain/sigv4.js';
import type { ByteRange } from '../ufs/types.js';
import type { ObjectRef } from './page-store.js';
import type { PageFiles } from './colocated.js';
import { isLocalAddress } from '../frontends/rest/local-peer.js';

export const PEER_READ_PATH = '/api/v1/peer/read';
export const PEER_PAGES_PATH = '/api/v1/peer/pages';

export interface PeerClientOptions {
  /** Sign peer reads with the first key (the cluster's ALLUXIO_S3_CREDENTIALS). */
  credentials?: Credentials;
  /** For workers reachable only over HTTPS: CA to trust, and our certificate for mutual TLS. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** A connection with no byte for this long fails (ms, default 30 s). */
  idleTimeoutMs?: number;
  /** How long a failed peer is tried last (ms, default 5 s). */
  suspectMs?: number;
  /**
   * Read the page files of owners on this host directly (co-located reads, ./colocated.ts).
   * The FUSE daemon sets it: it runs beside a worker.
   */
  colocated?: boolean;
}

export interface PeerCounters {
  requests: number;
  /** Bytes received from peers (counted by the reader: cluster-read.ts), co-located ones included. */
  bytes: number;
  /** Of those, bytes read from a co-located owner's page files. */
  colocatedBytes: number;
  failures: number;
}

export class PeerClient {
  readonly counters: PeerCounters = { requests: 0, bytes: 0, colocatedBytes: 0, failures: 0 };
  private readonly suspects = new Map<string, number>();
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent: https.Agent;
  private readonly key: [string, string] | undefined;

  constructor(private readonly opts: PeerClientOptions = {}) {
    const first = opts.credentials ? [...opts.credentials][0] : undefined;
    this.key = first;
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ...(opts.tls ?? {}) });
  }

  /**
   * `order` without the peers that failed in the last `suspectMs`: a reader goes on to the
   * next owner, or its fallback, instead of waiting on the same failure again.
   */
  healthy<T extends { name: string }>(order: readonly T[]): T[] {
    const now = Date.now();
    return order.filter((m) => {
      const until = this.suspects.get(m.name);
      if (until === undefined) return true;
      if (until > now) return false;
      this.suspects.delete(m.name);
      return true;
    });
  }

  suspect(name: string): void {
    this.counters.failures++;
    this.suspects.set(name, Date.now() + (this.opts.suspectMs ?? 5000));
  }

  /** Whether `peer`'s page files can be read here (co-located reads on, and it is on this host). */
  colocatedWith(peer: RingMember): boolean {
    return this.opts.colocated === true && isLocalAddress(peer.host);
  }

  /**
   * The page files `peer` holds of `ref` for bytes [start, end] (GET /api/v1/peer/pages, which
   * answers only readers on its host); null when it cannot say (older worker, refused).
   * Failures of the peer itself throw, as read() does.
   */
  async pageFiles(peer: RingMember, ref: ObjectRef, start: number, end: number): Promise<PageFiles | null> {
    const query = new URLSearchParams({ uri: ref.uri, version: ref.version, size: String(ref.size), start: String(start), end: String(end) }).toString().replace(/\+/g, '%20');
    const body = await this.get(peer, `${PEER_PAGES_PATH}?${query}`);
    if (body === null) return null;
    try {
      const doc = JSON.parse(body) as PageFiles;
      return Number.isInteger(doc.pageSize) && doc.pageSize > 0 && Array.isArray(doc.pages) ? doc : null;
    } catch {
      return null;
    }
  }

  /** A small GET answered with JSON: its body on 200, null on another answer; throws when the peer fails. */
  private get(peer: RingMember, target: string): Promise<string | null> {
    const secure = peer.scheme === 'https';
    const port = peer.restPort;
    const host = peer.host.includes(':') ? `[${peer.host}]:${port}` : `${peer.host}:${port}`;
    const q = target.indexOf('?');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.key) Object.assign(headers, signV4({ method: 'GET', rawPath: target.slice(0, q), rawQuery: target.slice(q + 1), host, accessKey: this.key[0], secret: this.key[1] }));
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        { host: peer.host, port, method: 'GET', path: target, headers, agent: secure ? this.httpsAgent : this.httpAgent, timeout: this.opts.idleTimeoutMs ?? 30_000 },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('error', reject);
          res.on('end', () => resolve(res.statusCode === 200 ? Buffer.concat(parts).toString('utf8') : null));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.idleTimeoutMs ?? 30_000} ms`)));
      req.on('error', (e) => reject(new AlluxioError('UfsUnavailable', `request to worker ${peer.name} failed: ${e.message}`, { details: { peer: peer.name }, cause: e })));
      req.end();
    });
  }

  /** Bytes [range.start, range.end] of exactly `ref`, from `peer`'s cache. */
  read(peer: RingMember, ref: ObjectRef, range: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const secure = peer.scheme === 'https';
    const port = peer.restPort;
    const query = new URLSearchParams({ uri: ref.uri, version: ref.version, size: String(ref.size) }).toString().replace(/\+/g, '%20');
    const host = peer.host.includes(':') ? `[${peer.host}]:${port}` : `${peer.host}:${port}`;
    const headers: Record<string, string> = { range: `bytes=${range.start}-${range.end}`, accept: 'application/octet-stream' };
    if (this.key) Object.assign(headers, signV4({ method: 'GET', rawPath: PEER_READ_PATH, rawQuery: query, host, accessKey: this.key[0], secret: this.key[1] }));
    this.counters.requests++;
    return new Promise<Readable>((resolve, reject) => {
      const req = (secure ? https : http).request(
        {
          host: peer.host,
          port,
          method: 'GET',
          path: `${PEER_READ_PATH}?${query}`,
          headers,
          agent: secure ? this.httpsAgent : this.httpAgent,
          timeout: this.opts.idleTimeoutMs ?? 30_000,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          // 200 only for the whole object (a hop that dropped Range would shift the bytes).
          const whole = range.start === 0 && range.end === ref.size - 1;
          if (status === 206 || (status === 200 && whole)) {
            const want = `bytes ${range.start}-${range.end}/${ref.size}`;
            if (status === 206 && res.headers['content-range'] !== want) {
              res.destroy();
              return reject(new AlluxioError('UfsUnavailable', `worker ${peer.name} answered ${String(res.headers['content-range'])} for ${want}`));
            }
            return resolve(res);
          }
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('error', () => {});
          res.on('end', () => {
            let message = Buffer.concat(parts).toString('utf8').slice(0, 500);
            try {
              message = (JSON.parse(message) as { error?: { message?: string } }).error?.message ?? message;
            } catch {
              /* not JSON */
            }
            const code = status === 409 ? 'Conflict' : status === 404 ? 'NotFound' : 'UfsUnavailable';
            reject(new AlluxioError(code, `worker ${peer.name} answered ${status} to a peer read of ${ref.uri}: ${message}`, { details: { peer: peer.name, status } }));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.opts.idleTimeoutMs ?? 30_000} ms`)));
      req.on('error', (e) => reject(isAlluxioError(e) ? e : new AlluxioError('UfsUnavailable', `peer read from worker ${peer.name} failed: ${e.message}`, { details: { peer: peer.name }, cause: e })));
      req.end();
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
