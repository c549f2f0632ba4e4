/**
 * The s3:// adapter's object reads (GetObject) as plain HTTP GETs signed by our own SigV4
 * signer (src/domain/sigv4.ts) over keep-alive agents, instead of the SDK's GetObject: on a
 * cold read of a small object the SDK's middleware stack (endpoint rules, schema
 * serialisation, retry bookkeeping, its signer) was the largest CPU item of the worker, ~4x
 * the cost of this request. Everything else (HEAD, listings, writes) stays on the SDK
 * (src/ufs/s3.ts).
 *
 * It addresses objects as the SDK does with the adapter's options: the endpoint (with its
 * path prefix), path-style or virtual-hosted buckets (virtual-hosted only for DNS-compatible
 * names without dots, else path-style, as the SDK's rules do over https), AWS's regional
 * endpoint when none is set; http and https. Credentials: the mount's keys (and session
 * token), else the SDK client's own provider chain (environment, profile, instance role).
 * Retries as the SDK's standard mode: up to `maxAttempts` for network errors before an
 * answer, 5xx and 429/throttling answers, with capped exponential back-off and jitter.
 * Errors carry the S3 error code as `name` and the HTTP status as `$metadata.httpStatusCode`,
 * like the SDK's, so the adapter maps them to ErrorCodes with its one table (S3Ufs.fail).
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
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
}

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
const TRANSIENT = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);
const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException', 'RequestLimitExceeded', 'BandwidthLimitExceeded']);
const DNS_BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export class S3ObjectGetter {
  private readonly secure: boolean;
  private readonly hostname: string;
  private readonly port: number | undefined;
  /** The Host header (and what is signed): host[:port], the port only when not the default. */
  private readonly host: string;
  /** Path prefix of every object: endpoint path + '/bucket' for path style. */
  private readonly prefix: string;
  private readonly agent: http.Agent;

  constructor(private readonly o: S3GetOptions) {
    const virtual = !o.pathStyle && DNS_BUCKET.test(o.bucket) && !/^\d+\.\d+\.\d+\.\d+$/.test(o.bucket);
    const u = new URL(o.endpoint ?? `https://s3.${o.region}.amazonaws.com`);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the S3 endpoint ${o.endpoint} is not http(s)`);
    this.secure = u.protocol === 'https:';
    this.hostname = virtual ? `${o.bucket}.${u.hostname}` : u.hostname;
    this.port = u.port ? Number(u.port) : undefined;
    this.host = u.port ? `${this.hostname}:${u.port}` : this.hostname;
    const base = u.pathname.replace(/\/+$/, '');
    this.prefix = virtual ? base : `${base}/${awsUriEncode(o.bucket, false)}`;
    // As the SDK's default handler: keep-alive, at most 50 sockets per host.
    this.agent = this.secure ? new https.Agent({ keepAlive: true, maxSockets: 50 }) : new http.Agent({ keepAlive: true, maxSockets: 50 });
  }

  /**
   * GET `key` (optionally `range`: "bytes=a-b", and `ifMatch`: a quoted ETag). Resolves with
   * the response (status 200 or 206) whose body the caller reads or destroys; rejects with
   * an S3GetError for any other status, or the network error after the last attempt.
   */
  async get(key: string, opts: { range?: string; ifMatch?: string } = {}): Promise<IncomingMessage> {
    const path = `${this.prefix}/${awsUriEncode(key, true)}`;
    for (let attempt = 1; ; attempt++) {
      let res: IncomingMessage;
      try {
        res = await this.once(path, opts);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (attempt < this.o.maxAttempts && code !== undefined && TRANSIENT.has(code)) {
          await backoff(attempt, false);
          continue;
        }
        throw e;
      }
      const status = res.statusCode ?? 0;
      if (status === 200 || status === 206) return res;
      const err = await errorOf(res);
      const throttled = status === 429 || THROTTLING.has(err.name);
      if (attempt < this.o.maxAttempts && (status >= 500 || throttled)) {
        await backoff(attempt, throttled);
        continue;
      }
      throw err;
    }
  }

  destroy(): void {
    this.agent.destroy();
  }

  private async once(path: string, opts: { range?: string; ifMatch?: string }): Promise<IncomingMessage> {
    const c = typeof this.o.credentials === 'function' ? await this.o.credentials() : this.o.credentials;
    const extra: Record<string, string> = {};
    if (opts.range !== undefined) extra.range = opts.range;
    if (opts.ifMatch !== undefined) extra['if-match'] = opts.ifMatch;
    if (c.sessionToken) extra['x-amz-security-token'] = c.sessionToken;
    const headers = signV4({ method: 'GET', rawPath: path, rawQuery: '', host: this.host, accessKey: c.accessKeyId, secret: c.secretAccessKey, region: this.o.region, service: 's3', headers: extra });
    headers.host = this.host;
    return new Promise((resolve, reject) => {
      const req = (this.secure ? https : http).request({ hostname: this.hostname, port: this.port, method: 'GET', path, headers, agent: this.agent }, resolve);
      req.on('error', reject);
      req.end();
    });
  }
}

/** The S3 error of a non-2xx answer: its XML Code and Message (the body is small). */
async function errorOf(res: IncomingMessage): Promise<S3GetError> {
  const status = res.statusCode ?? 0;
  let text = '';
  try {
    for await (const c of res) {
      if (text.length < 64 * 1024) text += (c as Buffer).toString('utf8');
    }
  } catch {
    // the body is only for the message
  }
  const tag = (t: string) => new RegExp(`<${t}>([^<]*)</${t}>`).exec(text)?.[1];
  const fallback = status === 404 ? 'NotFound' : (http.STATUS_CODES[status] ?? `HTTP${status}`).replace(/\W/g, '');
  const name = tag('Code') ?? fallback;
  const message = unescapeXml(tag('Message') ?? `HTTP ${status}`);
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
