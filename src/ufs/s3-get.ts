/**
 * The s3:// adapter's object reads (GetObject, and HeadObject of a file) as plain HTTP
 * requests signed by our own SigV4 signer (src/domain/sigv4.ts), instead of the SDK's
 * commands: on a cold read of a small object the SDK's middleware stack (endpoint rules,
 * schema serialisation, retry bookkeeping, its signer) was the largest CPU item of the
 * worker, ~4x the cost of this request. Listings and writes stay on the SDK (src/ufs/s3.ts).
 *
 * The requests go through undici (one connection pool per endpoint), not node:http's
 * client: the worker's S3 and REST servers run node:http's server code, and a client in the
 * same process feeds V8 other object shapes at the functions both share (OutgoingMessage,
 * the socket writes), which were then optimised for both or thrown away; a worker whose
 * cold reads went through node:http spent 0.053-0.056 ms of CPU per warm 4 KiB GET against
 * 0.038-0.042 through undici and 0.037-0.044 for a worker over file:// (docs/cache.md,
 * "The warm path", fourth round). undici also gives the reads a deadline: no response
 * headers within `timeoutMs`, or no body bytes for that long, fails the read with a
 * TimeoutError that says so (the mount option s3a.socket.timeout).
 *
 * It addresses objects as the SDK does with the adapter's options: the endpoint (with its
 * path prefix), path-style or virtual-hosted buckets (virtual-hosted only for DNS-compatible
 * names without dots, else path-style, as the SDK's rules do over https), AWS's regional
 * endpoint when none is set; http and https. Credentials: the mount's keys (and session
 * token), else the SDK client's own provider chain (environment, profile, instance role).
 * Retries as the SDK's standard mode: up to `maxAttempts` for network errors before an
 * answer, 5xx and 429/throttling answers, with capped exponential back-off and jitter; a
 * deadline is not retried (the UFS was reached and is slow: another attempt would double
 * the wait). Errors carry the S3 error code as `name` and the HTTP status as
 * `$metadata.httpStatusCode`, like the SDK's, so the adapter maps them to ErrorCodes with
 * its one table (S3Ufs.fail).
 */
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { awsUriEncode, signV4 } from '../domain/sigv4.js';

export interface S3GetCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3GetOptions {
  bucket: string;
  region: string;
  pathStyle: boolean;
  /** e.g. http://127.0.0.1:9000 (a path prefix is kept); AWS's regional endpoint when absent. */
  endpoint?: string;
  /** The mount's credentials, or the SDK client's provider (called per request; it caches). */
  credentials: S3GetCredentials | (() => Promise<S3GetCredentials>);
  /** Attempts per request, the first included (the SDK's maxAttempts). */
  maxAttempts: number;
  /** How long to wait for the response headers, and for each next body chunk (ms; default 30 s). */
  timeoutMs?: number;
}

/** An answer of 200 or 206 (HEAD: 200): its body is read or destroyed by the caller. */
export interface S3Response {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

/** The deadline when the mount sets none: the AWS SDK for Java's socket read timeout. */
export const DEFAULT_S3_TIMEOUT_MS = 30_000;

/** A failed GetObject, shaped like the SDK's service errors (name = S3 code, $metadata.httpStatusCode). */
export class S3GetError extends Error {
  readonly $metadata: { httpStatusCode?: number };
  constructor(name: string, message: string, status?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

/** Network errors worth another attempt (the SDK's transient errors). */
const TRANSIENT = new Set(['UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);
const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException', 'RequestLimitExceeded', 'BandwidthLimitExceeded']);
const DNS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export class S3ObjectGetter {
  private readonly hostname: string;
  /** The Host header (and what is signed): host[:port], the port only when not the default. */
  private readonly host: string;
  /** Path prefix of every object: endpoint path + '/bucket' for path style. */
  private readonly prefix: string;
  private readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(private readonly o: S3GetOptions) {
    const virtual = !o.pathStyle && DNS_BUCKET.test(o.bucket) && !/^\d+\.\d+\.\d+\.\d+$/.test(o.bucket);
    const u = new URL(o.endpoint ?? `https://s3.${o.region}.amazonaws.com`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the S3 endpoint ${o.endpoint} is not http(s)`);
    this.hostname = virtual ? `${o.bucket}.${u.hostname}` : u.hostname;
    this.host = u.port ? `${this.hostname}:${u.port}` : this.hostname;
    const base = u.pathname.replace(/\/+$/, '');
    this.prefix = virtual ? base : `${base}/${awsUriEncode(o.bucket, false)}`;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_S3_TIMEOUT_MS;
    // As the SDK's default handler: keep-alive, at most 50 connections per host.
    this.pool = new Pool(`${u.protocol}//${this.host}`, { connections: 50, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
  }

  /**
   * GET `key` (optionally `range`: "bytes=a-b", and `ifMatch`: a quoted ETag). Resolves with
   * the answer (status 200 or 206) whose body the caller reads or destroys; rejects with
   * an S3GetError for any other status, or the network error after the last attempt.
   */
  get(key: string, opts: { range?: string; ifMatch?: string } = {}): Promise<S3Response> {
    return this.send('GET', key, opts);
  }

  /** HEAD `key`: its headers (status 200); the same errors as get (a missing key: 404 NotFound). */
  async head(key: string): Promise<IncomingHttpHeaders> {
    const r = await this.send('HEAD', key, {});
    r.body.resume();
    return r.headers;
  }

  destroy(): void {
    void this.pool.destroy().catch(() => undefined);
  }

  private async send(method: 'GET' | 'HEAD', key: string, opts: { range?: string; ifMatch?: string }): Promise<S3Response> {
    const path = `${this.prefix}/${awsUriEncode(key, true)}`;
    for (let attempt = 1; ; attempt++) {
      let res: S3Response;
      try {
        res = await this.once(method, path, opts);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'UND_ERR_HEADERS_TIMEOUT') {
          throw new S3GetError('TimeoutError', `no answer from ${this.host} within ${this.timeoutMs} ms (s3a.socket.timeout)`, undefined, e);
        }
        if (attempt < this.o.maxAttempts && code !== undefined && TRANSIENT.has(code)) {
          await backoff(attempt, false);
          continue;
        }
        throw e;
      }
      const status = res.statusCode;
      if (status === 200 || status === 206) return res;
      const err = await errorOf(res, method);
      const throttled = status === 429 || THROTTLING.has(err.name);
      if (attempt < this.o.maxAttempts && (status >= 500 || throttled)) {
        await backoff(attempt, throttled);
        continue;
      }
      throw err;
    }
  }

  private async once(method: 'GET' | 'HEAD', path: string, opts: { range?: string; ifMatch?: string }): Promise<S3Response> {
    const c = typeof this.o.credentials === 'function' ? await this.o.credentials() : this.o.credentials;
    const extra: Record<string, string> = {};
    if (opts.range !== undefined) extra.range = opts.range;
    if (opts.ifMatch !== undefined) extra['if-match'] = opts.ifMatch;
    if (c.sessionToken) extra['x-amz-security-token'] = c.sessionToken;
    const headers = signV4({ method, rawPath: path, rawQuery: '', host: this.host, accessKey: c.accessKeyId, secret: c.secretAccessKey, region: this.o.region, service: 's3', headers: extra, now: Date.now() });
    headers.host = this.host;
    const res = await this.pool.request({ method, path, headers });
    // The first listener of the body's errors: it says what a stalled body means (undici
    // says "Body Timeout Error"), and undici's error when the body is destroyed before its
    // end (a reader that stops early) is not an uncaught exception. Readers that want a
    // body's errors listen for them themselves.
    res.body.on('error', this.explainBodyError);
    return res;
  }

  /** A body that stalled past the deadline: say so, in the error every reader gets. */
  private readonly explainBodyError = (e: Error & { code?: string }): void => {
    if (e.code !== 'UND_ERR_BODY_TIMEOUT') return;
    e.name = 'TimeoutError';
    e.message = `no body bytes from ${this.host} for ${this.timeoutMs} ms (s3a.socket.timeout)`;
  };
}

/** The S3 error of a non-2xx answer: its XML Code and Message (the body is small; a HEAD has none). */
async function errorOf(res: S3Response, method: string): Promise<S3GetError> {
  const status = res.statusCode;
  let text = '';
  try {
    for await (const c of res.body) {
      if (text.length < 64 * 1024) text += (c as Buffer).toString('utf8');
    }
  } catch {
    // the body is only for the message
  }
  const tag = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(text)?.[1];
  const fallback = status === 404 ? 'NotFound' : (STATUS_CODES[status] ?? `HTTP${status}`).replace(/\W/g, '');
  const name = tag('Code') ?? fallback;
  const message = unescapeXml(tag('Message') ?? `${method} answered HTTP ${status}`);
  return new S3GetError(name, message, status);
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}

/** The SDK's standard back-off: a random delay up to base x 2^attempt ms, at most 20 s. */
function backoff(attempt: number, throttled: boolean): Promise<void> {
  const cap = Math.min(20_000, (throttled ? 500 : 100) * 2 ** attempt);
  return new Promise((r) => setTimeout(r, Math.floor(Math.random() * cap)));
}
