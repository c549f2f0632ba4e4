/**
 * Reading an object version from the worker that owns it: `GET /api/v1/peer/read` on the
 * owner's REST port (docs/cluster-cache.md "Peer read"), over keep-alive connections, signed
 * with the worker's own credentials when the cluster requires signatures. Answers become
 * AlluxioErrors a caller can act on: Conflict (the UFS holds another version: re-stat),
 * NotFound (the owner has no mount holding the URI), UfsUnavailable (the peer failed or
 * could not read the UFS: try the next owner). A peer that failed is suspect for a few
 * seconds, so the next reads go to the next owner straight away instead of each waiting for
 * the same failure; the ring drops a dead worker within its lease TTL.
 *
 * Requests go through undici, not node:http's client: the worker's own servers run
 * node:http's server code, and a client in the same process feeds V8 other shapes at the
 * functions both share (docs/cache.md, "The warm path", fourth round).
 */
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { AlluxioError } from '../domain/errors.js';
import type { RingMember } from '../cluster/ring.js';
import { signV4, type Credentials } from '../domain/sigv4.js';
import type { ByteRange } from '../ufs/types.js';
import type { ObjectRef } from './page-store.js';
import type { PageFiles } from './colocated.js';
import { isLocalAddress } from '../frontends/rest/local-peer.js';

export const PEER_READ_PATH = '/api/v1/peer/read';
export const PEER_PAGES_PATH = '/api/v1/peer/pages';
export const PEER_INVALIDATE_PATH = '/api/v1/peer/invalidate';
/** How long a change waits for a peer to confirm it dropped what it cached of the name (ms). */
export const INVALIDATE_TIMEOUT_MS = 2000;
/**
 * A read or listing that has heard nothing from its peer for this long (no answer, or no
 * bytes of its body) asks the peer's /healthz whether it is alive, and again after each
 * further period of silence; a peer that does not answer that within twice this time is
 * hung (stopped, deadlocked) and the read fails over instead of waiting for the idle
 * deadline (ms).
 */
export const LIVENESS_CHECK_MS = 2000;

export interface PeerClientOptions {
  /** Sign peer reads with the first key (the cluster's ALLUXIO_S3_CREDENTIALS). */
  credentials?: Credentials;
  /** For workers reachable only over HTTPS: CA to trust, and our certificate for mutual TLS. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** A connection with no byte for this long fails (ms, default 30 s). */
  idleTimeoutMs?: number;
  /** How long a failed peer is tried last (ms, default 5 s). */
  suspectMs?: number;
  /** LIVENESS_CHECK_MS, for tests. */
  livenessMs?: number;
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
  /** Changes announced to peers (one per peer told), and those a peer did not confirm. */
  invalidations: number;
  invalidationFailures: number;
}

export class PeerClient {
  readonly counters: PeerCounters = { requests: 0, bytes: 0, colocatedBytes: 0, failures: 0, invalidations: 0, invalidationFailures: 0 };
  private readonly suspects = new Map<string, number>();
  /**
   * Workers that did not confirm a change lately: until when announce.ts skips them, and
   * which incarnation failed (a worker restarted since is asked again at once).
   */
  private readonly unconfirmed = new Map<string, { until: number; incarnation: string | undefined }>();
  /** Keep-alive pools per peer, http and https (with the cluster's CA and our certificate). */
  private readonly agent: Agent;
  /**
   * Invalidations have pools of their own: behind peer reads that hold every connection of a
   * peer's pool (idle up to 30 s) they would wait past their deadline.
   */
  private readonly control: Agent;
  private readonly key: [string, string] | undefined;
  private readonly idleMs: number;
  private readonly livenessMs: number;
  /** A health check of a peer in flight, shared by every request that waits on that peer. */
  private readonly checks = new Map<string, Promise<string | undefined>>();
  /** Health checks have a pool of their own: behind busy control connections they would time out. */
  private readonly health: Agent;

  constructor(private readonly opts: PeerClientOptions = {}) {
    const first = opts.credentials ? [...opts.credentials][0] : undefined;
    this.key = first;
    this.idleMs = opts.idleTimeoutMs ?? 30_000;
    this.livenessMs = opts.livenessMs ?? LIVENESS_CHECK_MS;
    this.agent = new Agent({ connections: 64, headersTimeout: this.idleMs, bodyTimeout: this.idleMs, ...(opts.tls ? { connect: { ...opts.tls } } : {}) });
    this.control = new Agent({ connections: 8, connect: { timeout: INVALIDATE_TIMEOUT_MS, ...(opts.tls ?? {}) } });
    this.health = new Agent({ connections: 2, connect: { timeout: 2 * this.livenessMs, ...(opts.tls ?? {}) } });
  }

  /**
   * `order` without the peers that failed in the last `suspectMs`: a reader goes on to the
   * next owner, or its fallback, instead of waiting on the same failure again.
   */
  healthy<T extends { name: string }>(order: readonly T[]): T[] {
    return notIn(this.suspects, order);
  }

  /**
   * `others` without the workers that, in the last `suspectMs`, did not confirm a change or
   * failed a health check (announce.ts): a hung worker costs the writers one deadline at
   * most, not one per change. Another failed peer READ does not count here: an owner cuts a
   * stream on purpose when the object changes under it, and its announcements were skipped
   * for 5 s after such a read, so it served the old version for its metadata TTL (the fuzz
   * probe of 2026-12-02).
   */
  confirming<T extends { name: string; incarnation?: string }>(others: readonly T[]): T[] {
    const now = Date.now();
    return others.filter((m) => {
      const u = this.unconfirmed.get(m.name);
      if (u === undefined) return true;
      if (u.until > now && u.incarnation === m.incarnation) return false;
      this.unconfirmed.delete(m.name);
      return true;
    });
  }

  /** `peer` did not confirm a change, or failed a health check: skipped by announcements for a while (confirming). */
  private unconfirm(peer: RingMember): void {
    this.unconfirmed.set(peer.name, { until: Date.now() + (this.opts.suspectMs ?? 5000), incarnation: peer.incarnation });
  }

  /** A peer read from `name` failed: counted, and the peer is tried last for a while. */
  suspect(name: string): void {
    this.counters.failures++;
    this.distrust(name);
  }

  private distrust(name: string): void {
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
  private async get(peer: RingMember, target: string): Promise<string | null> {
    const q = target.indexOf('?');
    const headers: Record<string, string> = { accept: 'application/json' };
    this.sign(peer, headers, target.slice(0, q), target.slice(q + 1));
    let res: Dispatcher.ResponseData;
    try {
      res = await this.watched(peer, { origin: originOf(peer), method: 'GET', path: target, headers });
    } catch (e) {
      throw new AlluxioError('UfsUnavailable', `request to worker ${peer.name} failed: ${this.reason(e)}`, { details: { peer: peer.name }, cause: e });
    }
    const text = await res.body.text().catch((e: unknown) => {
      throw new AlluxioError('UfsUnavailable', `request to worker ${peer.name} failed: ${this.reason(e)}`, { details: { peer: peer.name }, cause: e });
    });
    return res.statusCode === 200 ? text : null;
  }

  /** Bytes [range.start, range.end] of exactly `ref`, from `peer`'s cache. */
  async read(peer: RingMember, ref: ObjectRef, range: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const query = new URLSearchParams({ uri: ref.uri, version: ref.version, size: String(ref.size) }).toString().replace(/\+/g, '%20');
    const headers: Record<string, string> = { range: `bytes=${range.start}-${range.end}`, accept: 'application/octet-stream' };
    this.sign(peer, headers, PEER_READ_PATH, query);
    this.counters.requests++;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.watched(peer, { origin: originOf(peer), method: 'GET', path: `${PEER_READ_PATH}?${query}`, headers }, signal);
    } catch (e) {
      throw new AlluxioError('UfsUnavailable', `peer read from worker ${peer.name} failed: ${this.reason(e)}`, { details: { peer: peer.name }, cause: e });
    }
    const status = res.statusCode;
    // 200 only for the whole object (a hop that dropped Range would shift the bytes).
    const whole = range.start === 0 && range.end === ref.size - 1;
    if (status === 206 || (status === 200 && whole)) {
      const want = `bytes ${range.start}-${range.end}/${ref.size}`;
      const got = res.headers['content-range'];
      if (status === 206 && got !== want) {
        res.body.destroy();
        throw new AlluxioError('UfsUnavailable', `worker ${peer.name} answered ${String(got)} for ${want}`);
      }
      return res.body;
    }
    let message = await firstText(res.body, 500);
    try {
      message = (JSON.parse(message) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      /* not JSON */
    }
    const code = status === 409 ? 'Conflict' : status === 404 ? 'NotFound' : 'UfsUnavailable';
    throw new AlluxioError(code, `worker ${peer.name} answered ${status} to a peer read of ${ref.uri}: ${message}`, { details: { peer: peer.name, status } });
  }

  /**
   * Tell `peer` that `uri` changed in the UFS (`tree`: and everything below it): it drops the
   * metadata and pages it cached of it (POST /api/v1/peer/invalidate). Resolves once the peer
   * confirmed; throws when it did not within `timeoutMs` or refused.
   */
  async invalidate(peer: RingMember, uri: string, tree: boolean, timeoutMs = INVALIDATE_TIMEOUT_MS): Promise<void> {
    const query = new URLSearchParams({ uri, ...(tree ? { tree: 'true' } : {}) }).toString().replace(/\+/g, '%20');
    const headers: Record<string, string> = { accept: 'application/json' };
    this.sign(peer, headers, PEER_INVALIDATE_PATH, query, 'POST');
    this.counters.invalidations++;
    // The whole exchange (a connection, the request, the answer) within the deadline.
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await this.control.request({ origin: originOf(peer), method: 'POST', path: `${PEER_INVALIDATE_PATH}?${query}`, headers, signal });
      res.body.on('error', ignore);
      const text = await res.body.text();
      if (res.statusCode !== 204) throw new Error(`answered ${res.statusCode}: ${text.slice(0, 200)}`);
    } catch (e) {
      this.counters.invalidationFailures++;
      // not asked again for a while (announce.ts): a hung worker costs one deadline, not one
      // per change; nor read from (it is likely dead)
      this.unconfirm(peer);
      this.distrust(peer.name);
      const why = signal.aborted ? `no answer within ${timeoutMs} ms` : this.reason(e);
      throw new AlluxioError('UfsUnavailable', `worker ${peer.name} did not confirm it dropped ${uri}: ${why}`, { details: { peer: peer.name }, cause: e });
    }
  }

  /**
   * A request to `peer` (aborted with `signal`) under a watch: when nothing has come from the
   * peer for `livenessMs` (no answer yet, or no bytes of its body), it is asked whether it is
   * alive (GET /healthz on a pool of its own, one check per peer at a time, shared by every
   * request waiting on it). A peer that does not answer that within 2 x `livenessMs` (a failed
   * connection is tried once more) is hung (stopped, deadlocked): the request is aborted, or
   * its body destroyed, with an error saying so, and the reader fails over. A peer that is
   * alive but slow (a cold page behind a slow UFS, a reader that holds the body back) is
   * waited for, up to the idle deadline. The body's first error listener is set here, so the
   * error of a body destroyed early (a reader that stops) is not uncaught.
   */
  private async watched(peer: RingMember, req: Dispatcher.RequestOptions, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    const ac = new AbortController();
    // The caller's signal aborts the request and, after the headers, its body (until it closes).
    const onAbort = (): void => ac.abort(signal?.reason);
    if (signal?.aborted) ac.abort(signal.reason);
    else signal?.addEventListener('abort', onAbort, { once: true });
    let body: Dispatcher.ResponseData['body'] | undefined;
    let hung: Error | undefined;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let heardAt = Date.now();
    const stop = (): void => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const tick = (): void => {
      if (done) return;
      const quietMs = Date.now() - heardAt;
      if (quietMs < this.livenessMs) {
        timer = setTimeout(tick, this.livenessMs - quietMs).unref();
        return;
      }
      void this.alive(peer).then((why) => {
        if (done) return;
        if (why === undefined) {
          heardAt = Date.now(); // alive: another period of silence before the next check
          timer = setTimeout(tick, this.livenessMs).unref();
          return;
        }
        stop();
        hung = new Error(`worker ${peer.name} stopped answering (its /healthz ${why})`);
        // hung, not a stream it cut: changes skip it for a while too (a deadline each saved)
        this.unconfirm(peer);
        if (body) body.destroy(hung);
        else ac.abort(hung);
      });
    };
    timer = setTimeout(tick, this.livenessMs).unref();
    let res: Dispatcher.ResponseData;
    try {
      res = await this.agent.request({ ...req, signal: ac.signal });
    } catch (e) {
      stop();
      throw hung ?? e;
    }
    heardAt = Date.now();
    body = res.body;
    // Progress without consuming: undici hands each chunk to the body's push().
    const push = body.push;
    body.push = function (this: typeof body, chunk: unknown, encoding?: BufferEncoding): boolean {
      heardAt = Date.now();
      return push.call(this, chunk, encoding);
    };
    body.on('error', this.explainBodyError);
    body.once('close', stop);
    return res;
  }

  /** undefined when `peer` answers GET /healthz within 2 x `livenessMs`; else what happened. */
  private alive(peer: RingMember): Promise<string | undefined> {
    let check = this.checks.get(peer.name);
    if (check) return check;
    const deadlineMs = 2 * this.livenessMs;
    const ask = async (): Promise<{ why?: string; again?: boolean }> => {
      const signal = AbortSignal.timeout(deadlineMs);
      try {
        const res = await this.health.request({ origin: originOf(peer), method: 'GET', path: '/healthz', signal });
        await res.body.dump().catch(ignore);
        return res.statusCode === 200 ? {} : { why: `answered ${res.statusCode}` };
      } catch (e) {
        if (signal.aborted) return { why: `did not answer within ${deadlineMs} ms` };
        return { why: `failed: ${this.reason(e)}`, again: true }; // e.g. a kept-alive connection closed under it
      }
    };
    check = ask()
      .then(async (first) => (first.again ? (await ask()).why : first.why))
      .finally(() => this.checks.delete(peer.name));
    this.checks.set(peer.name, check);
    return check;
  }

  /** Sign a peer request with the worker's key (when the cluster requires signatures). */
  private sign(peer: RingMember, headers: Record<string, string>, rawPath: string, rawQuery: string, method = 'GET'): void {
    if (this.key) Object.assign(headers, signV4({ method, rawPath, rawQuery, host: hostOf(peer), accessKey: this.key[0], secret: this.key[1], now: Date.now() }));
  }

  /** A peer's body that stalled past the idle deadline: say so, in the error every reader gets. */
  private readonly explainBodyError = (e: Error & { code?: string }): void => {
    if (e.code === 'UND_ERR_BODY_TIMEOUT') e.message = `no answer within ${this.idleMs} ms`;
  };

  /** What went wrong, in words: a deadline says so. */
  private reason(e: unknown): string {
    const code = (e as { code?: string })?.code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return `no answer within ${this.idleMs} ms`;
    return (e as Error)?.message ?? String(e);
  }

  close(): void {
    void this.agent.destroy().catch(() => undefined);
    void this.control.destroy().catch(() => undefined);
    void this.health.destroy().catch(() => undefined);
  }
}

/** host:port as signed and sent (IPv6 in brackets). */
function hostOf(peer: RingMember): string {
  return peer.host.includes(':') ? `[${peer.host}]:${peer.restPort}` : `${peer.host}:${peer.restPort}`;
}

function originOf(peer: RingMember): string {
  return `${peer.scheme === 'https' ? 'https' : 'http'}://${hostOf(peer)}`;
}

function ignore(): void {}

/** Up to `max` characters of an error answer's body (the rest is not read: the body is destroyed). */
async function firstText(body: Readable, max: number): Promise<string> {
  let text = '';
  try {
    for await (const c of body) {
      text += (c as Buffer).toString('utf8');
      if (text.length >= max) break;
    }
  } catch {
    // the body is only for the message
  }
  return text.slice(0, max);
}

/** `members` without those `until` holds a time in the future for (expired entries dropped). */
function notIn<T extends { name: string }>(until: Map<string, number>, members: readonly T[]): T[] {
  const now = Date.now();
  return members.filter((m) => {
    const t = until.get(m.name);
    if (t === undefined) return true;
    if (t > now) return false;
    until.delete(m.name);
    return true;
  });
}
