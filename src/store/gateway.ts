/**
 * Read-only range requests through etcd's JSON gateway (`POST /v3/kv/range` on the client
 * port, served by every etcd 3.4+ unless started with --enable-grpc-gateway=false).
 *
 * Why: `alluxio mount list` only reads, and loading the grpc client (etcd3: grpc-js,
 * protobufjs and etcd's .proto files) costs about 200 ms of CPU, a third of the command.
 * node:http costs nothing to load. Same etcd, same linearizable range, same auth (a token
 * from /v3/auth/authenticate) and TLS (CA, client certificate) as the grpc client; errors
 * are mapped by EtcdConnection.mapError into the same AlluxioErrors (exit 5).
 * Writes never come here: they stay one grpc transaction (config-store.ts).
 *
 * `GatewayUnsupported` means the endpoint answered but is not an etcd JSON gateway (404,
 * not JSON): the caller falls back to the grpc client.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from './connection.js';

export class GatewayUnsupported extends Error {
  override name = 'GatewayUnsupported';
}

/** An error the gateway reported in its JSON body (grpc status code + etcd message). */
class GatewayError extends Error {
  constructor(
    message: string,
    readonly grpcCode: number,
  ) {
    super(message);
  }
}

export interface RangeKv {
  key: string;
  value: string;
  modRevision: number;
}

export interface RangeResult {
  revision: number;
  kvs: RangeKv[];
}

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

function post(conn: EtcdConnection, endpoint: string, path: string, body: unknown, token: string | undefined, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, endpoint);
    const payload = JSON.stringify(body);
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), connection: 'close' };
    if (token) headers.authorization = token;
    const common = { method: 'POST', headers, signal, agent: false as const };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let doc: { error?: string; message?: string; code?: number } & Record<string, unknown>;
        try {
          doc = JSON.parse(text);
        } catch {
          reject(new GatewayUnsupported(`${endpoint}${path}: HTTP ${res.statusCode}, not JSON`));
          return;
        }
        if (res.statusCode === 404 || res.statusCode === 405) {
          reject(new GatewayUnsupported(`${endpoint}${path}: HTTP ${res.statusCode}`));
          return;
        }
        if ((res.statusCode ?? 500) >= 400 || typeof doc.error === 'string') {
          reject(new GatewayError(String(doc.message ?? doc.error ?? `HTTP ${res.statusCode}`), Number(doc.code ?? 2)));
          return;
        }
        resolve(doc);
      });
    };
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { ...common, ...(conn.tls.ca ? { ca: conn.tls.ca } : {}), ...(conn.tls.cert ? { cert: conn.tls.cert } : {}), ...(conn.tls.key ? { key: conn.tls.key } : {}) }, onResponse)
        : httpRequest(url, common, onResponse);
    req.on('error', reject);
    req.end(payload);
  });
}

/** One JSON request to one endpoint (also used by the member probe in etcd-errors.ts). */
export function gatewayPost(conn: EtcdConnection, endpoint: string, path: string, body: unknown, signal: AbortSignal, token?: string): Promise<unknown> {
  return post(conn, endpoint, path, body, token, signal);
}

/** grpc UNAVAILABLE in a gateway answer: "etcdserver: no leader", "request timed out", ... */
const GRPC_UNAVAILABLE = 14;

/**
 * Range over `[key, rangeEnd)` (or the single key) at `revision` (0: latest). Endpoint
 * failover: a member that does not answer within the connection's attempt timeout (or
 * refuses, or has no leader) costs that one attempt, and the next member is asked. Rounds
 * repeat with a short back-off while members answer without a leader, until the deadline;
 * a round in which no member answered at all ends the request. All
 * sockets are closed when it expires.
 */
export async function gatewayRange(conn: EtcdConnection, what: string, req: { key: string; prefix?: boolean; revision?: number }): Promise<RangeResult> {
  const ac = new AbortController();
  const started = Date.now();
  // Errors etcd itself reported come back as values, so that withDeadline's generic mapping
  // does not turn "not a gateway" into "unreachable".
  const outcome = await conn.withDeadline(
    what,
    async (): Promise<RangeResult | GatewayError | GatewayUnsupported> => {
      let lastError: unknown;
      for (let round = 0; ; round++) {
        let anyAnswered = false;
        for (const endpoint of conn.preferredEndpoints()) {
          if (ac.signal.aborted) throw lastError ?? new Error('deadline passed');
          const attempt = new AbortController();
          const onAbort = () => attempt.abort();
          ac.signal.addEventListener('abort', onAbort);
          const timer = setTimeout(() => attempt.abort(), conn.attemptTimeoutMs);
          try {
            let token: string | undefined;
            if (conn.options.user !== undefined) {
              const auth = (await post(conn, endpoint, '/v3/auth/authenticate', { name: conn.options.user, password: conn.options.password ?? '' }, undefined, attempt.signal)) as { token?: string };
              token = auth.token;
            }
            const body: Record<string, unknown> = { key: b64(req.key) };
            if (req.prefix) body.range_end = prefixEnd(req.key).toString('base64');
            if (req.revision) body.revision = String(req.revision);
            const doc = (await post(conn, endpoint, '/v3/kv/range', body, token, attempt.signal)) as {
              header?: { revision?: string };
              kvs?: { key?: string; value?: string; mod_revision?: string }[];
            };
            conn.noteAnswer(endpoint);
            return {
              revision: Number(doc.header?.revision ?? 0),
              kvs: (doc.kvs ?? []).map((kv) => ({ key: unb64(kv.key), value: unb64(kv.value), modRevision: Number(kv.mod_revision ?? 0) })),
            };
          } catch (e) {
            if (e instanceof GatewayUnsupported) return e;
            if (e instanceof GatewayError && e.grpcCode !== GRPC_UNAVAILABLE) return e; // etcd answered and refused: asking another member won't help
            if (e instanceof GatewayError) anyAnswered = true;
            else conn.noteFailure(endpoint);
            lastError = attempt.signal.aborted && !ac.signal.aborted ? new Error(`no answer from ${endpoint} within ${conn.attemptTimeoutMs} ms`) : e;
          } finally {
            clearTimeout(timer);
            ac.signal.removeEventListener('abort', onAbort);
          }
        }
        // Every member failed at the transport level: the cluster is down (or the endpoints
        // are wrong); fail now, as the grpc client does. Members that answered without a
        // leader: try again shortly, within the deadline.
        if (!anyAnswered) throw lastError;
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
