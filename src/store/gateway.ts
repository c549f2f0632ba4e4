/**
 * Ranges and transactions through etcd's JSON gateway (`POST /v3/kv/range`, `/v3/kv/txn`
 * on the client port, served by every etcd 3.4+ unless started with
 * --enable-grpc-gateway=false). Callers go through src/store/kv.ts.
 *
 * Why: loading the grpc client (etcd3: grpc-js, protobufjs and etcd's .proto files) costs
 * about 200 ms of CPU, more than the rest of a CLI command; node:http costs nothing to
 * load. Same etcd, same linearizable range, same guarded transaction, same auth (a token
 * from /v3/auth/authenticate) and TLS (CA, client certificate) as the grpc client; errors
 * are mapped by EtcdConnection.mapError into the same AlluxioErrors (exit 5).
 *
 * `GatewayUnsupported` means the endpoint answered but is not an etcd JSON gateway (404,
 * not JSON): the caller falls back to the grpc client.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { AlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from './connection.js';
import type { RangeKv, RangeRequest, RangeResult, TxnRequest, TxnResult } from './kv.js';

// node:https (and tls, crypto under it) is loaded only for https:// endpoints.
const requireBuiltin = createRequire(import.meta.url);
const httpsRequest = (url: URL, options: import('node:https').RequestOptions, onResponse: (res: IncomingMessage) => void) =>
  (requireBuiltin('node:https') as typeof import('node:https')).request(url, options, onResponse);

export class GatewayUnsupported extends Error {
  override name = 'GatewayUnsupported';
}

/**
 * Why a request got no HTTP answer, named alike whichever transport sent it (node:http and
 * undici word the same socket failure differently: a 503 cut off mid-body is "aborted"
 * through one and "other side closed" through the other).
 *   silent      the attempt's deadline passed (a hung member, a handshake never answered)
 *   refused     nothing listens there
 *   reset       the member took the connection and closed it before a whole answer
 *   tls         the TLS handshake failed (a certificate refused, by either side)
 *   unresolved  the host name does not resolve
 *   unroutable  no route to the host
 *   other       anything else (the transport's message says what)
 */
export type NoAnswerKind = 'silent' | 'refused' | 'reset' | 'tls' | 'unresolved' | 'unroutable' | 'other';

const NO_ANSWER_TEXT: Record<Exclude<NoAnswerKind, 'other'>, string> = {
  silent: 'no answer',
  refused: 'connection refused',
  reset: 'connection closed before a whole answer',
  tls: 'TLS handshake failed',
  unresolved: 'host name not resolved',
  unroutable: 'no route to host',
};

type ErrorLike = { name?: unknown; message?: unknown; code?: unknown; errors?: unknown; cause?: unknown } | undefined;

/** The error, what it wraps (`cause`, an AggregateError's `errors`), a few levels down. */
function errorChain(e: unknown, depth = 0): ErrorLike[] {
  if (depth > 3 || e === null || typeof e !== 'object') return [];
  const x = e as NonNullable<ErrorLike>;
  const inner = Array.isArray(x.errors) ? x.errors : [];
  return [x, ...errorChain(x.cause, depth + 1), ...inner.flatMap((i: unknown) => errorChain(i, depth + 1))];
}

/** The kind of a transport's failure (exported for its unit test). */
export function noAnswerKind(cause: unknown): NoAnswerKind {
  const chain = errorChain(cause);
  const codes = chain.map((x) => (typeof x?.code === 'string' ? x.code : ''));
  const names = chain.map((x) => (typeof x?.name === 'string' ? x.name : ''));
  const messages = chain.map((x) => (typeof x?.message === 'string' ? x.message : '')).join('\n');
  const has = (re: RegExp) => codes.some((c) => re.test(c));
  // The deadline first: whatever the socket was doing when it was given up.
  if (names.some((n) => n === 'AbortError' || n === 'TimeoutError') || has(/^(ABORT_ERR|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|UND_ERR_ABORTED)$/)) return 'silent';
  // Then the codes, and only without one the words (a host name such as etcd-tls-0 that
  // does not resolve is not a TLS failure).
  if (has(/^(ERR_SSL_|ERR_TLS_|EPROTO$)|CERT|SELF_SIGNED|^UNABLE_TO_/)) return 'tls';
  if (has(/^ECONNREFUSED$/)) return 'refused';
  if (has(/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME)$/)) return 'unresolved';
  if (has(/^(EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN)$/)) return 'unroutable';
  // (Node's "Client network socket disconnected before secure TLS connection was
  // established" comes with ECONNRESET: a TLS failure, named so)
  if (/\bSSL\b|\bTLS\b|certificate/i.test(messages)) return 'tls';
  if (has(/^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/)) return 'reset';
  if (/socket hang up|^aborted$|other side closed/im.test(messages)) return 'reset';
  return 'other';
}

/**
 * No HTTP answer came from the member: the transport failed before one (refused, reset, a
 * TLS handshake refused, the attempt's deadline). `kind` says which, for either transport;
 * the message is the transport's own (and its cause's, where undici keeps the socket's
 * error). The member probe (etcd-errors.ts) counts the member as not answering.
 */
export class GatewayNoAnswer extends Error {
  override name = 'GatewayNoAnswer';
  readonly kind: NoAnswerKind;
  constructor(cause: unknown) {
    const e = cause as { message?: unknown; code?: unknown; errors?: unknown; cause?: { message?: unknown } } | undefined;
    let message = typeof e?.message === 'string' ? e.message : '';
    // (a host name with several addresses, all refused: an AggregateError without a message)
    if (message === '' && Array.isArray(e?.errors)) message = [...new Set(e.errors.map((x: { message?: unknown }) => (typeof x?.message === 'string' ? x.message : '')).filter(Boolean))].join('; ');
    if (message === '' && typeof e?.code === 'string') message = e.code;
    if (message === '') message = String(cause);
    // undici puts the socket's own error (a TLS alert, a reset) under `cause`
    if (typeof e?.cause?.message === 'string' && !message.includes(e.cause.message)) message = `${message} (${e.cause.message})`;
    super(message, { cause });
    this.kind = noAnswerKind(cause);
  }

  /** A few words for a list of members: the kind, and for TLS or an unnamed kind the transport's words. */
  get reason(): string {
    const first = (this.message.split('\n')[0] ?? '').slice(0, 160);
    if (this.kind === 'other') return first;
    if (this.kind === 'tls') return `${NO_ANSWER_TEXT.tls}: ${first}`;
    return NO_ANSWER_TEXT[this.kind];
  }
}

/** An error the gateway reported in its JSON body (grpc status code + etcd message). */
class GatewayError extends Error {
  constructor(
    message: string,
    readonly grpcCode: number,
  ) {
    // Worded as grpc-js words it ("3 INVALID_ARGUMENT: etcdserver: ..."), so that one
    // classification (etcd-errors.ts) serves both clients.
    super(`${grpcCode} ${GRPC_STATUS[grpcCode] ?? 'UNKNOWN'}: ${message}`);
  }
}

const GRPC_STATUS: Record<number, string> = {
  1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

/** The smallest key greater than every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i]! += 1;
      return out;
    }
  }
  return Buffer.from([0]);
}

/** One POST to an etcd member, as a transport sends it. */
export interface GatewayRequest {
  url: URL;
  /** content-type, and authorization when logged in (a transport adds what its client needs). */
  headers: Record<string, string>;
  payload: string;
  signal: AbortSignal;
}

/** The member's answer: its status and its whole body. */
export interface GatewayAnswer {
  status: number;
  body: string;
}

/** The connection's TLS material (PEM), for https:// endpoints. */
export type GatewayTls = EtcdConnection['tls'];

/** What sends one connection's gateway POSTs; closed with the connection. */
export interface GatewayTransport {
  /** The answer, or a rejection when none came (refused, reset, TLS refused, `signal` aborted). */
  send(req: GatewayRequest): Promise<GatewayAnswer>;
  close(): void;
}

/**
 * Makes a connection's transport (ConnectionOptions.gatewayTransport) from its TLS material
 * and its per-member attempt deadline (ms): a connect that takes longer is given up.
 */
export type GatewayTransportFactory = (tls: GatewayTls, attemptTimeoutMs: number) => GatewayTransport;

/**
 * The default transport: node:http(s), one connection per request (`connection: close`: a
 * kept-alive socket that the member closed between two calls would fail the next one), the
 * socket destroyed when the signal aborts, whatever stage it is in. A process that serves
 * HTTP with node:http uses gateway-undici.ts instead (see there).
 */
export const nodeHttpTransport: GatewayTransportFactory = (tls) => ({
  send: (req) =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, 'content-length': String(Buffer.byteLength(req.payload)), connection: 'close' };
      const common = { method: 'POST', headers, signal: req.signal, agent: false as const };
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      };
      const r =
        req.url.protocol === 'https:'
          ? httpsRequest(req.url, { ...common, ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) }, onResponse)
          : httpRequest(req.url, common, onResponse);
      r.on('error', reject);
      r.end(req.payload);
    }),
  close() {
    // nothing kept: every request has its own socket
  },
});

async function post(conn: EtcdConnection, endpoint: string, path: string, body: unknown, token: string | undefined, signal: AbortSignal): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = token;
  let answer: GatewayAnswer;
  try {
    answer = await conn.gateway.send({ url: new URL(path, endpoint), headers, payload: JSON.stringify(body), signal });
  } catch (e) {
    throw new GatewayNoAnswer(e);
  }
  const { status, body: text } = answer;
  let doc: { error?: string; message?: string; code?: number } & Record<string, unknown>;
  try {
    doc = JSON.parse(text);
  } catch {
    // A proxy's 500/502/503/504 page is a failure of this endpoint (the next member is
    // asked), not proof that etcd has no gateway; a 501 or 505 is (an HTTP server that
    // does not take the method or version: not etcd, which was waited for until the
    // deadline and then named "reachable but overloaded").
    if (status >= 500 && status !== 501 && status !== 505) throw new Error(`${endpoint}${path}: HTTP ${status} with a body that is not etcd's JSON`);
    throw new GatewayUnsupported(`${endpoint}${path}: HTTP ${status}, not JSON`);
  }
  if (status === 404 || status === 405) throw new GatewayUnsupported(`${endpoint}${path}: HTTP ${status}`);
  if (status >= 400 || typeof doc.error === 'string') throw new GatewayError(String(doc.message ?? doc.error ?? `HTTP ${status}`), Number(doc.code ?? 2));
  // A streaming call's error (lease keepalive) comes with 200 as
  // {"error": {"grpc_code": 14, "message": "etcdserver: no leader", ...}}.
  if (typeof doc.error === 'object' && doc.error !== null) {
    const err = doc.error as { message?: string; grpc_code?: number; code?: number };
    throw new GatewayError(String(err.message ?? 'error'), Number(err.grpc_code ?? err.code ?? 2));
  }
  return doc;
}

/** One JSON request to one endpoint (also used by the member probe in etcd-errors.ts). */
export function gatewayPost(conn: EtcdConnection, endpoint: string, path: string, body: unknown, signal: AbortSignal, token?: string): Promise<unknown> {
  return post(conn, endpoint, path, body, token, signal);
}

/** grpc UNAVAILABLE in a gateway answer: "etcdserver: no leader", "request timed out", ... */
const GRPC_UNAVAILABLE = 14;
/** grpc UNAUTHENTICATED: the token expired or the member restarted (simple tokens live in memory). */
const GRPC_UNAUTHENTICATED = 16;

/** An auth token per connection and endpoint (one login shared by concurrent requests). */
const tokens = new WeakMap<EtcdConnection, Map<string, Promise<string | undefined>>>();

function tokenFor(conn: EtcdConnection, endpoint: string, signal: AbortSignal): Promise<string | undefined> {
  if (conn.options.user === undefined) return Promise.resolve(undefined);
  let map = tokens.get(conn);
  if (!map) tokens.set(conn, (map = new Map()));
  let token = map.get(endpoint);
  if (!token) {
    token = post(conn, endpoint, '/v3/auth/authenticate', { name: conn.options.user, password: conn.options.password ?? '' }, undefined, signal).then((a) => (a as { token?: string }).token);
    map.set(endpoint, token);
    // A failed login is not remembered.
    token.catch(() => {
      if (map!.get(endpoint) === token) map!.delete(endpoint);
    });
  }
  return token;
}

/** etcd refusing a token that was valid: expired, the member restarted, or users/roles changed since it was issued. */
function staleToken(e: GatewayError): boolean {
  return e.grpcCode === GRPC_UNAUTHENTICATED || /revision of auth store is old|invalid auth token/i.test(e.message);
}

/**
 * One request (`/v3/kv/range`, `/v3/kv/txn`, ...) with endpoint failover: a member that does
 * not answer within the connection's attempt timeout (or refuses, or has no leader) costs
 * that one attempt, and the next member is asked. Rounds repeat with a short back-off while
 * members answer without a leader or stay silent, until the deadline; a round in which every
 * member refused the connection ends the request. All sockets are closed when it expires.
 *
 * A transaction sent again to another member after its answer was lost may land twice only
 * if its compares allow it: every write here is guarded (transact() and findLanded).
 */
async function gatewayCall(conn: EtcdConnection, what: string, path: string, body: Record<string, unknown>, attemptMs = conn.attemptTimeoutMs): Promise<Record<string, unknown>> {
  const ac = new AbortController();
  const started = Date.now();
  // Errors etcd itself reported come back as values, so that withDeadline's generic mapping
  // does not turn "not a gateway" into "unreachable".
  const outcome = await conn.withDeadline(
    what,
    async (): Promise<Record<string, unknown> | GatewayError | GatewayUnsupported> => {
      let lastError: unknown;
      let reauthenticated = false;
      for (let round = 0; ; round++) {
        // A member that answered (without a leader) or took the connection and did not
        // answer in time may serve on a later round; one that refused it will not.
        let anyAlive = false;
        for (const endpoint of conn.preferredEndpoints()) {
          if (ac.signal.aborted) throw lastError ?? new Error('deadline passed');
          const attempt = new AbortController();
          const onAbort = () => attempt.abort();
          ac.signal.addEventListener('abort', onAbort);
          const timer = setTimeout(() => attempt.abort(), attemptMs);
          try {
            const token = await tokenFor(conn, endpoint, attempt.signal);
            const doc = (await post(conn, endpoint, path, body, token, attempt.signal)) as Record<string, unknown>;
            conn.noteAnswer(endpoint);
            return doc;
          } catch (e) {
            if (e instanceof GatewayUnsupported) return e;
            if (e instanceof GatewayError && staleToken(e) && !reauthenticated && conn.options.user !== undefined) {
              // A stale token: log in again, once.
              reauthenticated = true;
              tokens.get(conn)?.delete(endpoint);
              anyAlive = true;
              lastError = e;
              continue;
            }
            if (e instanceof GatewayError && e.grpcCode !== GRPC_UNAVAILABLE) return e; // etcd answered and refused: asking another member won't help
            const silent = attempt.signal.aborted && !ac.signal.aborted;
            if (e instanceof GatewayError || silent) anyAlive = true;
            if (!(e instanceof GatewayError)) conn.noteFailure(endpoint);
            // The most telling failure: a member that answered or stayed silent, over one that refused.
            if (silent) lastError = new Error(`no answer from ${endpoint} within ${attemptMs} ms`);
            else if (e instanceof GatewayError || !anyAlive) lastError = e;
          } finally {
            clearTimeout(timer);
            ac.signal.removeEventListener('abort', onAbort);
          }
        }
        // Every member refused the connection: the cluster is down (or the endpoints are
        // wrong); fail now, as the grpc client does. Members that answered without a leader,
        // or did not answer in time: try again shortly, until the deadline.
        if (!anyAlive) throw lastError;
        const pause = Math.min(250, 25 * 2 ** round);
        if (Date.now() - started + pause >= conn.timeoutMs) throw lastError;
        await new Promise((r) => setTimeout(r, pause));
      }
    },
    conn.timeoutMs,
    () => ac.abort(),
  );
  if (outcome instanceof GatewayUnsupported) throw outcome;
  if (outcome instanceof GatewayError) {
    if (/authentication failed|invalid user ID or password/i.test(outcome.message)) {
      throw new AlluxioError(
        'EtcdAuthFailed',
        `etcd at ${conn.options.endpoints.join(',')} refused authentication for user "${conn.options.user ?? ''}"; check --etcd-user/--etcd-password (ALLUXIO_ETCD_USER/ALLUXIO_ETCD_PASSWORD)`,
        { cause: outcome },
      );
    }
    throw await conn.mapError(outcome, what);
  }
  return outcome;
}

type KvJson = { key?: string; value?: string; mod_revision?: string; create_revision?: string };

/** Range over the key, the prefix or [key, rangeEnd), at `revision` (0: latest). */
export async function gatewayRange(conn: EtcdConnection, what: string, req: RangeRequest): Promise<RangeResult> {
  const body: Record<string, unknown> = { key: b64(req.key) };
  if (req.prefix) body.range_end = prefixEnd(req.key).toString('base64');
  else if (req.rangeEnd !== undefined) body.range_end = b64(req.rangeEnd);
  if (req.revision) body.revision = String(req.revision);
  if (req.limit) body.limit = String(req.limit);
  if (req.newestFirst) Object.assign(body, { sort_order: 'DESCEND', sort_target: 'MOD' });
  const doc = (await gatewayCall(conn, what, '/v3/kv/range', body)) as { header?: { revision?: string }; kvs?: KvJson[] };
  return { revision: Number(doc.header?.revision ?? 0), kvs: (doc.kvs ?? []).map(kvOf) };
}

function kvOf(kv: KvJson): RangeKv {
  return { key: unb64(kv.key), value: unb64(kv.value), modRevision: Number(kv.mod_revision ?? 0), createRevision: Number(kv.create_revision ?? 0) };
}

/** One transaction: every compare must hold for `success` to be applied (else nothing is). */
export async function gatewayTxn(conn: EtcdConnection, what: string, txn: TxnRequest): Promise<TxnResult> {
  const compare = txn.compare.map((c) =>
    'modRevision' in c
      ? { target: 'MOD', result: 'EQUAL', key: b64(c.key), mod_revision: String(c.modRevision) }
      : { target: 'VALUE', result: 'EQUAL', key: b64(c.key), value: b64(c.value) },
  );
  const success = txn.success.map((op) => {
    switch (op.type) {
      case 'put':
        return { request_put: { key: b64(op.key), value: b64(op.value) } };
      case 'delete':
        return { request_delete_range: { key: b64(op.key) } };
      case 'deleteRange':
        return { request_delete_range: { key: b64(op.start), range_end: b64(op.end) } };
    }
  });
  const doc = (await gatewayCall(conn, what, '/v3/kv/txn', { compare, success })) as { header?: { revision?: string }; succeeded?: boolean };
  // proto3 JSON leaves out false: no "succeeded" means a compare failed.
  return { succeeded: doc.succeeded === true, revision: Number(doc.header?.revision ?? 0) };
}

/**
 * Renew lease `id` once (`POST /v3/lease/keepalive`, one request on etcd's keepalive stream):
 * its remaining TTL in seconds, 0 when it expired or was revoked. With the same failover as
 * every gateway call: a hung member costs one attempt (of `attemptMs`), then the next member
 * is asked.
 */
export async function gatewayLeaseKeepAlive(conn: EtcdConnection, what: string, id: string, attemptMs: number): Promise<number> {
  const doc = (await gatewayCall(conn, what, '/v3/lease/keepalive', { ID: id }, attemptMs)) as { result?: { TTL?: string } };
  if (!doc.result) throw new Error(`${what}: etcd's answer has no result: ${JSON.stringify(doc).slice(0, 200)}`);
  // proto3 JSON leaves out a TTL of 0: expired
  return Number(doc.result.TTL ?? 0);
}
