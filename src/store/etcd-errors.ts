/**
 * Naming an etcd failure for what it is. etcd and grpc report an outage, an overload, an
 * election and a refused login in overlapping ways (UNAVAILABLE covers "connection refused"
 * and "etcdserver: no leader"; DEADLINE_EXCEEDED covers a dead host and a slow one), so a
 * transient failure is classified by asking the members themselves, in parallel and
 * briefly, through the JSON gateway (`POST /v3/maintenance/status`, which answers without
 * a leader and reports the leader it knows):
 *
 *   no member answers          -> EtcdUnavailable  (exit 5: which endpoints, what to check;
 *                                 "not answering" when one took the connection and said
 *                                 nothing until the deadline, "unreachable" otherwise)
 *   members answer, no leader  -> EtcdNoLeader     (exit 5: election running or quorum lost)
 *   members answer, a leader   -> EtcdTimeout      (exit 5: overloaded; --etcd-timeout raises it)
 *
 * Refused logins (EtcdAuthFailed), missing permissions (EtcdPermissionDenied), requests etcd
 * received and refused (EtcdRejected, TooManyChanges) need no probe.
 */
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { EtcdConnection } from './connection.js';
import { GatewayNoAnswer, gatewayPost, type NoAnswerKind } from './gateway.js';

type Etcd3Module = typeof import('etcd3');

export interface MemberProbe {
  endpoint: string;
  answered: boolean;
  /** Member id of the leader this member knows ("0" or absent: none). */
  leader?: string;
  /**
   * Why it did not answer (no HTTP answer at all), as gateway.ts names it. Only 'silent' (it
   * said nothing until the deadline) makes the error "not answering": through undici a
   * member refusing the client certificate (TLS 1.3) is a connection closed before an answer,
   * and "unreachable" names the TLS flags to check.
   */
  kind?: NoAnswerKind;
  error?: string;
}

/** Codes meaning "etcd did not serve the request now; it may later" (the probe ran). */
export const TRANSIENT_CODES = new Set(['EtcdUnavailable', 'EtcdTimeout', 'EtcdNoLeader']);

export function isTransientEtcdError(e: unknown): e is AlluxioError {
  return isAlluxioError(e) && TRANSIENT_CODES.has(e.code);
}

/** Ask every endpoint for its status at once, each for at most `budgetMs`. */
export async function probeMembers(conn: EtcdConnection, budgetMs: number): Promise<MemberProbe[]> {
  return Promise.all(
    conn.options.endpoints.map(async (endpoint): Promise<MemberProbe> => {
      const signal = AbortSignal.timeout(budgetMs);
      try {
        const doc = (await gatewayPost(conn, endpoint, '/v3/maintenance/status', {}, signal)) as { leader?: string };
        return { endpoint, answered: true, leader: String(doc.leader ?? '0') };
      } catch (e) {
        // No answer at all (refused, reset, TLS refused, the budget spent) does not prove the
        // member up, nor one that is not etcd's JSON (a proxy's error page, another server);
        // an HTTP answer that is an etcd error (auth required, ...) does.
        if (e instanceof GatewayNoAnswer) return { endpoint, answered: false, kind: e.kind, error: e.reason };
        const msg = e instanceof Error ? e.message : String(e);
        return { endpoint, answered: !/not etcd's JSON|, not JSON/i.test(msg), error: firstLine(msg) };
      }
    }),
  );
}

export function firstLine(s: string): string {
  // grpc-js appends "Resolution note: ..." (often empty) to connection errors; it helps nobody.
  return (s.split('\n')[0] ?? s).replace(/\.?\s*Resolution note:.*$/, '').trim().slice(0, 200);
}

/**
 * gRPC statuses meaning "etcd received the request and refused it" (not an outage):
 * INVALID_ARGUMENT (3), NOT_FOUND (5), ALREADY_EXISTS (6), RESOURCE_EXHAUSTED (8),
 * FAILED_PRECONDITION (9), OUT_OF_RANGE (11), UNIMPLEMENTED (12). etcd3 turns grpc errors
 * into its own classes and drops the numeric code, so match both the class and the status
 * name grpc-js puts in the message ("3 INVALID_ARGUMENT: etcdserver: ..."). UNAVAILABLE,
 * DEADLINE_EXCEEDED, CANCELLED, UNKNOWN, INTERNAL and connection errors are transient.
 */
const REJECTION_STATUS = /\b(INVALID_ARGUMENT|NOT_FOUND|ALREADY_EXISTS|RESOURCE_EXHAUSTED|FAILED_PRECONDITION|OUT_OF_RANGE|UNIMPLEMENTED):/;
function isRejection(m: Etcd3Module | undefined, e: unknown, msg: string): boolean {
  if (m) {
    const classes = [m.GRPCInvalidArgumentError, m.GRPCNotFoundError, m.GRPCAlreadyExistsError, m.GRPCResourceExhastedError, m.GRPCFailedPreconditionError, m.GRPCOutOfRangeError, m.GRPCNotImplementedError];
    if (classes.some((C) => C && e instanceof C)) return true;
  }
  return REJECTION_STATUS.test(msg);
}

const NO_LEADER = /no leader|leader changed|timed out due to previous leader failure|not capable|raft: stopped/i;

/**
 * The AlluxioError for an etcd failure. Definitive refusals are mapped from the error alone;
 * anything transient is classified by probing the members (unless `elapsedMs` says the
 * failure came from the deadline: then "unreachable" needs the probe too).
 */
export async function classifyEtcdError(conn: EtcdConnection, m: Etcd3Module | undefined, e: unknown, what: string, timedOut: boolean): Promise<AlluxioError> {
  if (isAlluxioError(e)) return e;
  const endpoints = conn.options.endpoints.join(',');
  const msg = e instanceof Error ? e.message : String(e);
  if ((m && (e instanceof m.EtcdAuthenticationFailedError || e instanceof m.EtcdInvalidAuthTokenError)) || /authentication failed, invalid user ID or password/i.test(msg)) {
    return new AlluxioError('EtcdAuthFailed', `etcd at ${endpoints} refused authentication for user "${conn.options.user ?? ''}"; check --etcd-user/--etcd-password (ALLUXIO_ETCD_USER/ALLUXIO_ETCD_PASSWORD)`, { cause: e });
  }
  if ((m && e instanceof m.EtcdPermissionDeniedError) || /etcdserver: permission denied/.test(msg)) {
    const who = conn.options.user ? `user "${conn.options.user}"` : 'an anonymous client (etcd has auth enabled; pass --etcd-user/--etcd-password)';
    return new AlluxioError(
      'EtcdPermissionDenied',
      `etcd authentication: permission denied to ${who} for ${what} on ${conn.layout.root}; nothing was written. That user's etcd roles do not allow this (see docs/etcd-layout.md, "Roles"; \`alluxio etcd setup-auth\` creates them)`,
      { cause: e },
    );
  }
  if (/user name is empty/i.test(msg)) {
    return new AlluxioError('EtcdAuthFailed', `etcd at ${endpoints} requires authentication (auth is enabled) and no user was given; pass --etcd-user/--etcd-password (ALLUXIO_ETCD_USER/ALLUXIO_ETCD_PASSWORD)`, { cause: e });
  }
  if (/invalid auth token|auth token is not provided|authentication is not enabled/i.test(msg)) {
    return new AlluxioError('EtcdAuthFailed', `etcd at ${endpoints} refused authentication for user "${conn.options.user ?? ''}": ${firstLine(msg)}`, { cause: e });
  }
  if (/too many operations in txn request/i.test(msg)) {
    return new AlluxioError(
      'TooManyChanges',
      `etcd refused ${what}: the transaction has more operations than etcd's --max-txn-ops allows (default 128); raise --max-txn-ops on every etcd member and ALLUXIO_ETCD_MAX_TXN_OPS to match, or make the change in smaller parts`,
      { cause: e },
    );
  }
  // (etcd's own refusal up to --max-request-bytes + 512 KiB; its gRPC server's beyond that.
  // Not grpc-js's "Received message larger than max" of a large ANSWER: not a change's size.)
  if (/request is too large|grpc: received message larger than max/.test(msg)) {
    return new AlluxioError(
      'TooManyChanges',
      `etcd refused ${what}: the request is larger than etcd's --max-request-bytes allows (default 1.5 MiB); make the change in smaller parts, or raise --max-request-bytes on every etcd member`,
      { cause: e },
    );
  }
  if (/database space exceeded/.test(msg)) {
    return new AlluxioError(
      'EtcdNoSpace',
      `etcd at ${endpoints} refused ${what}: its database is full (the NOSPACE alarm is raised: the backend reached --quota-backend-bytes), and it refuses every write until an operator frees space and disarms the alarm (\`etcdctl compact\` to an old revision, \`etcdctl defrag\` on each member, \`etcdctl alarm disarm\`; docs/etcd-layout.md). Reads still work; nothing was written`,
      { cause: e },
    );
  }
  if (isRejection(m, e, msg)) {
    // etcd answered: the request itself was refused. Retrying or checking connectivity won't help.
    return new AlluxioError('EtcdRejected', `etcd at ${endpoints} rejected ${what}: ${firstLine(msg)}`, { cause: e });
  }
  const why = timedOut ? `no answer within ${conn.timeoutMs} ms` : firstLine(msg);
  if (conn.gatewayRefusal !== undefined) {
    // The endpoint answered HTTP, but not as etcd's gateway, and grpc got nowhere either:
    // most likely not etcd at all.
    return new AlluxioError(
      'EtcdUnavailable',
      `${endpoints} does not answer as etcd: its HTTP answer was not etcd's (${conn.gatewayRefusal}) and grpc failed too (${why}). Check that --etcd-endpoints / ALLUXIO_ETCD_ENDPOINTS names etcd's client port (2379 by default), not a worker's or another service's`,
      { cause: e },
    );
  }
  const probes = await conn.probe();
  const up = probes.filter((p) => p.answered);
  const seconds = `${conn.timeoutMs / 1000}s`;
  if (up.length === 0) {
    const each = probes.map((p) => `${p.endpoint}: ${p.error ?? 'no answer'}`).join('; ');
    if (probes.some((p) => p.kind === 'silent')) {
      // A member took the connection (or the network dropped it) and said nothing: hung,
      // stopped, overloaded or black-holed; not refused.
      return new AlluxioError(
        'EtcdUnavailable',
        `etcd is not answering at ${endpoints} (${why}; no member answered: ${each}); a member that takes connections and never answers is stopped, overloaded or behind a network fault. Check etcd's health (\`etcdctl endpoint status\`) and --etcd-endpoints / ALLUXIO_ETCD_ENDPOINTS, or raise --etcd-timeout (ALLUXIO_ETCD_TIMEOUT, now ${seconds})`,
        { cause: e },
      );
    }
    return new AlluxioError(
      'EtcdUnavailable',
      `etcd is unreachable at ${endpoints} (${why}; no member answered: ${each}); check that etcd is running and --etcd-endpoints / ALLUXIO_ETCD_ENDPOINTS (and for https, --etcd-ca/--etcd-cert/--etcd-key)`,
      { cause: e },
    );
  }
  const answered = up.map((p) => p.endpoint);
  const leaderless = NO_LEADER.test(msg) || up.every((p) => p.leader === '0');
  if (leaderless) {
    return new AlluxioError(
      'EtcdNoLeader',
      `etcd has no leader: ${up.length} of ${probes.length} members answer (${answered.join(',')}) but ${what} could not be served (${why}); an election is under way or a majority of the cluster is down. Retry once a leader is elected; \`etcdctl endpoint status\` shows each member`,
      { cause: e },
    );
  }
  // Name the members that did not answer (a hung one costs an attempt of the deadline); when
  // all answer by now, the outage may have been short (an election, a quorum lost and back).
  // A hung member (silent) costs each call an attempt; one that refuses costs nothing, but its
  // loss may have started a leader election that the call ran into.
  const named = (ps: MemberProbe[]) => ps.map((p) => `${p.endpoint}: ${p.error ?? 'no answer'}`).join('; ');
  const silent = probes.filter((p) => !p.answered && p.kind === 'silent');
  const lost = probes.filter((p) => !p.answered && (p.kind === 'refused' || p.kind === 'reset'));
  const other = probes.filter((p) => !p.answered && p.kind !== 'silent' && !lost.includes(p));
  let seen = '';
  if (silent.length > 0) seen += `; not answering: ${named(silent)} (each hung member costs an attempt of up to ${conn.attemptTimeoutMs / 1000}s)`;
  if (lost.length > 0) seen += `; unreachable: ${named(lost)} (a member lost: the leader election that follows may have been under way)`;
  if (other.length > 0) seen += `; unreachable: ${named(other)}`;
  if (seen === '') seen = '; every member answers now, so a short outage (a leader election, a quorum lost and back) may have passed meanwhile';
  return new AlluxioError(
    'EtcdTimeout',
    `etcd is reachable (${up.length} of ${probes.length} members answer: ${answered.join(',')}) but ${what} did not complete within --etcd-timeout ${seconds} (${why})${seen}. If etcd or this machine is overloaded, raise --etcd-timeout (ALLUXIO_ETCD_TIMEOUT)`,
    { cause: e },
  );
}
