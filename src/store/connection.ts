/**
 * Connecting to etcd, with endpoint failover, deadlines and error mapping.
 *
 * Failover (etcd3's cockatiel fault handling, configured in `client`): every unary call runs
 * under a global retry policy that picks another member on each retry, and each member sits
 * behind a circuit breaker that opens after ONE transport failure (refused, reset, no answer
 * within the attempt timeout): a dead member costs at most one short attempt, then calls skip
 * it until it is tried again (half-open) a second later; when every member refuses the
 * connection the call fails at once (exit 5) rather than at the deadline. Answers from a live member that
 * cannot serve now ("etcdserver: no leader", "request timed out", "leader changed") are retried
 * with a short back-off but do not count against that member, so writes resume as soon as
 * etcd elects a new leader. Retries stop at the call's deadline (--etcd-timeout).
 *
 * Failures are named for what they are (src/store/etcd-errors.ts): no member reachable,
 * members reachable but the deadline passed, no leader, authentication refused, permission
 * denied: each an AlluxioError (exit 5), never a hang or a stack.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Etcd3, IOptions, IWatchRequest, IWatchResponse } from 'etcd3';
import { AlluxioError } from '../domain/errors.js';
import { Layout } from './layout.js';
import { classifyEtcdError, probeMembers, type MemberProbe } from './etcd-errors.js';
import { nodeHttpTransport, prefixEnd, type GatewayTransport, type GatewayTransportFactory } from './gateway.js';

// etcd3 (grpc-js + protobufjs, parsing etcd's .proto files at load) costs about 200 ms of
// CPU to load. It is CommonJS, so it is required on first use of `client`: a read-only
// command served through the gateway (src/store/gateway.ts) never pays for it.
const requireCjs = createRequire(import.meta.url);
type Etcd3Module = typeof import('etcd3');
let etcd3Module: Etcd3Module | undefined;
function etcd3(): Etcd3Module {
  return (etcd3Module ??= requireCjs('etcd3') as Etcd3Module);
}

export interface ConnectionOptions {
  endpoints: string[];
  cluster: string;
  user?: string | undefined;
  password?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  /** Deadline for one unary call, ms. */
  timeoutMs?: number;
  /** How the JSON gateway's requests are sent (default: node:http, nothing to load). */
  gatewayTransport?: GatewayTransportFactory;
}

export const DEFAULT_ENDPOINTS = 'http://127.0.0.1:2379';
export const DEFAULT_CLUSTER = 'default';

export function parseEndpoints(raw: string): string[] {
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new AlluxioError('InvalidArgument', 'no etcd endpoints given');
  return list.map((e) => {
    const withScheme = /^[a-z]+:\/\//i.test(e) ? e : `http://${e}`;
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      throw new AlluxioError('InvalidArgument', `etcd endpoint "${e}" is not host:port or http(s)://host:port`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new AlluxioError('InvalidArgument', `etcd endpoint "${e}" must use http:// or https://`);
    }
    return `${u.protocol}//${u.host}`;
  });
}

export class EtcdConnection {
  readonly layout: Layout;
  /** Deadline for one call, retries across members included (--etcd-timeout). */
  readonly timeoutMs: number;
  /** Deadline for one attempt on one member: a dead or black-holed member costs at most this. */
  readonly attemptTimeoutMs: number;
  private closed = false;
  /**
   * Writing transactions sent through this connection (kvTxn): while 0, a failed command
   * wrote nothing, whatever the failure (the CLI says so).
   */
  commitsSent = 0;
  /** Why the endpoints' answers were not etcd's JSON gateway (kv.ts then used grpc), if they were not. */
  gatewayRefusal: string | undefined;
  /**
   * What sends the JSON gateway's requests (kv.ts, the member probe): node:http unless the
   * options name another (a worker's is undici: src/store/gateway-undici.ts).
   */
  readonly gateway: GatewayTransport;
  private etcdClient: Etcd3 | undefined;
  private readonly etcdOptions: IOptions;
  /** PEM material for TLS, read once (also used by the gateway reads). */
  readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  /** When each endpoint last failed at the transport level, if it has not answered since. */
  private readonly failedAt = new Map<string, number>();
  /** When each endpoint last answered. */
  private readonly answeredAt = new Map<string, number>();
  /** Endpoints a watch stream is being opened on (openWatch). */
  private readonly streamsOpening = new Set<string>();
  private lastProbe: { at: number; result: Promise<MemberProbe[]> } | undefined;
  /** When each endpoint last refused a grpc connection, and the calls waiting to hear of it. */
  private readonly refusedAt = new Map<string, number>();
  private readonly refusalListeners = new Set<() => void>();

  constructor(readonly options: ConnectionOptions) {
    this.layout = new Layout(options.cluster);
    this.timeoutMs = options.timeoutMs ?? 5000;
    // Half the deadline per member, at least 1 s: a hung first member leaves time for the
    // others even at --etcd-timeout 2s (it took all of it with a 2 s floor).
    this.attemptTimeoutMs = Math.min(this.timeoutMs, Math.max(1000, Math.round(this.timeoutMs / 2)));
    const attemptMs = this.attemptTimeoutMs;
    const opts: IOptions = {
      hosts: options.endpoints,
      // Evaluated per attempt (each retry on another member gets a fresh deadline).
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + attemptMs }),
      // grpc's own reconnect backoff grows to 120 s by default: after a long etcd outage a
      // member that is back would be retried only minutes later. Cap it at 2 s.
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 2000 },
      // faultHandling (cockatiel) is added when the client is created, so cockatiel is not
      // loaded before that either.
    };
    if (options.user !== undefined) opts.auth = { username: options.user, password: options.password ?? '' };
    if (options.ca || options.cert || options.key) {
      const ca = readPem(options.ca, 'CA certificate');
      const key = readPem(options.key, 'client key');
      const cert = readPem(options.cert, 'client certificate');
      if (ca) this.tls.ca = ca;
      if (key) this.tls.key = key;
      if (cert) this.tls.cert = cert;
      opts.credentials = {
        rootCertificate: ca ?? Buffer.alloc(0),
        ...(key ? { privateKey: key } : {}),
        ...(cert ? { certChain: cert } : {}),
      };
    }
    if (options.endpoints.some((e) => e.startsWith('https:'))) {
      // grpc-js passes the host as TLS server name, and Node prints a DEP0123 warning for IP
      // addresses (https://127.0.0.1:2379) on stderr; the CLI's stderr must stay one clear line.
      (process as NodeJS.Process & { noDeprecation?: boolean }).noDeprecation = true;
    }
    this.etcdOptions = opts;
    this.gateway = (options.gatewayTransport ?? nodeHttpTransport)(this.tls, attemptMs);
  }

  /** The etcd3 client (grpc), created on first use, with endpoint failover. */
  get client(): Etcd3 {
    if (!this.etcdClient) {
      const mod = etcd3();
      const c = requireCjs('cockatiel') as typeof import('cockatiel');
      // A member that did not answer at all (connection refused/reset, TLS failure, attempt
      // deadline): etcd's own "etcdserver: ..." answers prove the member is alive, and a
      // cancelled stream (CANCELLED, e.g. a watch we closed) says nothing about it.
      const memberDown = (e: Error) => (e instanceof mod.GRPCUnavailableError || e instanceof mod.GRPCDeadlineExceededError) && !/etcdserver:/.test(e.message);
      // Retried on another member, also while every circuit is open (a member is tried again
      // after at most 1 s); a call whose every member refused the connection fails at once
      // in withDeadline (allRefusedSince) instead of at the deadline.
      // (etcd3 counts every RESOURCE_EXHAUSTED as recoverable; a full database, the NOSPACE
      // alarm, refuses every write until an operator acts, and an answer larger than grpc
      // takes is as large the next time: retrying them ran to the deadline and was reported
      // as an overloaded etcd)
      const transient = (e: Error) => (mod.isRecoverableError(e) && !/database space exceeded|larger than max/i.test(e.message)) || c.isBrokenCircuitError(e);
      const retry = c.retry(c.handleWhen(transient), { maxAttempts: 10_000, backoff: new c.ExponentialBackoff({ initialDelay: 25, maxDelay: 250 }) });
      this.etcdClient = new mod.Etcd3({
        ...this.etcdOptions,
        faultHandling: {
          host: (host) => {
            const breaker = c.circuitBreaker(c.handleWhen(memberDown), { halfOpenAfter: 1000, breaker: new c.ConsecutiveBreaker(1) });
            breaker.onFailure(({ reason }) => {
              if ('error' in reason && memberDown(reason.error)) this.noteTransportFailure(host, reason.error);
            });
            breaker.onSuccess(() => {
              if (!this.streamsOpening.has(host)) this.noteAnswer(host);
            });
            return breaker;
          },
          // Retries stop at the call's deadline: the cooperative timeout aborts the retry loop.
          global: c.wrap(c.timeout(this.timeoutMs, c.TimeoutStrategy.Cooperative), retry),
        },
      });
    }
    return this.etcdClient;
  }

  /**
   * A raw etcd watch stream, opened as etcd3's WatchClient.watch does, through its connection
   * pool (etcd3 has no option for a stream's metadata, nor another way to reach the member
   * behind it), with two additions:
   * - it requires a leader (`hasleader`, as Go's clientv3.WithRequireLeader): a member that
   *   loses its leader (the majority gone, or this member cut off from it) ends the stream
   *   ("etcdserver: no leader") and refuses new ones, so the informer moves to a member that
   *   has one, or reports itself stale. Without it, whether a leaderless member ends the
   *   stream is up to etcd (a fault-injection probe saw workers stay "watching", snapshot
   *   age 0, with the majority gone; test/ha/minority.test.ts failed 3 of 3 runs without it);
   * - `fail(why)`: the informer found the stream silent (the member hung or cut off), so the
   *   member's circuit opens for a second and its channel is closed, and the next stream goes
   *   to another member. Before, a re-watch picked a member at random and could wait on the
   *   same hung one again (one-off: each of 3 members stopped in turn, 3 rounds, a change
   *   applied after up to 6.9 s; at most 3.8 s with this).
   * If etcd3's pool is not the shape this expects (another etcd3 version), the plain
   * WatchClient.watch serves, without the two additions (test/store/watch-stream.test.ts
   * checks the shape of the pinned version).
   */
  async openWatch(): Promise<EtcdWatchStream> {
    const pool = (this.client as unknown as { pool?: Partial<WatchPool> }).pool;
    if (typeof pool?.withConnection !== 'function' || typeof pool.markFailed !== 'function') return this.client.watchClient.watch() as Promise<EtcdWatchStream>;
    const p = pool as WatchPool;
    // The members in preferredEndpoints' order (etcd3 shuffles them): a stream to a dead member
    // is created without error and fails only later, a reconnect's back-off each time.
    const hosts = p.hosts ?? [];
    const endpointOf = new Map(hosts.map((h) => [h as unknown, this.options.endpoints.find((e) => e.replace(/^https?:\/\//, '') === h.host)]));
    const order = this.preferredEndpoints().map((e) => hosts.find((h) => endpointOf.get(h) === e));
    // (etcd3's own shuffle if its hosts are not the endpoints one to one)
    const preferred = hosts.length > 0 && order.length === hosts.length && order.every((h) => h) ? (function* () { for (;;) yield* order; })() : undefined;
    let opened: string | undefined;
    try {
      return await p.withConnection(
        'Watch',
        ({ resource, client, metadata }) => {
          const md = metadata.clone();
          md.set('hasleader', 'true');
          const stream = (client as unknown as { watch(md: unknown, opts: object): EtcdWatchStream & { writable: boolean } }).watch(md, {});
          stream.on('error', (err) => {
            if (stream.writable) p.markFailed(resource, err);
          });
          // A deadline (grpc code 4) opens the member's circuit (see `client`) and closes its channel.
          stream.fail = (why) => p.markFailed(resource, Object.assign(new Error(why), { code: 4 }));
          // Opening a stream is not an answer from the member (its circuit breaker counts it as
          // one): its first message is.
          opened = endpointOf.get(resource);
          if (opened) {
            this.streamsOpening.add(opened);
            const ep = opened;
            stream.on('data', () => this.noteAnswer(ep));
          }
          // The quorum check: a linearizable read through the stream's member (its host's KV
          // client, looked up at each check: etcd3 replaces a host's clients when a call to
          // it fails, and a kept one answered "Channel has been shut down" from then on; a
          // review), with the pool's auth token, and not through the pool's fault handling,
          // which would count a slow check against the member and reset its streams.
          const host = resource as { getServiceClient?(name: string): unknown };
          const auth = (p as { authenticator?: PoolAuthenticator }).authenticator;
          if (typeof host.getServiceClient === 'function' && typeof auth?.getMetadata === 'function' && typeof auth.invalidateMetadata === 'function') {
            stream.quorum = (timeoutMs, afterRevision) => quorumRead(() => host.getServiceClient!('KV') as KvServiceClient, auth, this.layout.configPrefix, afterRevision, timeoutMs);
          }
          return Promise.resolve(stream);
        },
        preferred,
      );
    } finally {
      if (opened) this.streamsOpening.delete(opened);
    }
  }

  /** Run one etcd operation under a hard deadline, mapping failures to AlluxioErrors. */
  async call<T>(what: string, fn: (client: Etcd3) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    const client = this.client; // loading grpc is not the call's time
    return this.withDeadline(what, () => fn(client), timeoutMs);
  }

  /** Run any etcd operation (grpc or gateway) under a hard deadline, mapping failures. */
  async withDeadline<T>(what: string, fn: () => Promise<T>, timeoutMs = this.timeoutMs, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const DEADLINE = Symbol('deadline');
    const deadline = new Promise<typeof DEADLINE>((resolve) => {
      timer = setTimeout(() => {
        onTimeout?.();
        resolve(DEADLINE);
      }, timeoutMs);
    });
    // Every member refused the connection during this call: the cluster is down (or the
    // endpoints are wrong); say so now rather than at the deadline.
    const started = Date.now();
    const ALL_REFUSED = Symbol('all refused');
    let onRefused: (() => void) | undefined;
    const allRefused = new Promise<typeof ALL_REFUSED>((resolve) => {
      onRefused = () => {
        if (this.options.endpoints.every((ep) => (this.refusedAt.get(ep) ?? 0) >= started)) resolve(ALL_REFUSED);
      };
      this.refusalListeners.add(onRefused);
    });
    let outcome: T | typeof DEADLINE | typeof ALL_REFUSED;
    try {
      outcome = await Promise.race([fn(), deadline, allRefused]);
    } catch (e) {
      throw await this.mapError(e, what);
    } finally {
      clearTimeout(timer);
      if (onRefused) this.refusalListeners.delete(onRefused);
    }
    if (outcome === DEADLINE) throw await classifyEtcdError(this, etcd3Module, new Error(`no answer within ${timeoutMs} ms`), what, true);
    if (outcome === ALL_REFUSED) throw await classifyEtcdError(this, etcd3Module, new Error('every member refused the connection'), what, false);
    return outcome;
  }

  /** The AlluxioError for an etcd failure (probes the members when the failure is transient). */
  mapError(e: unknown, what: string): Promise<AlluxioError> {
    return classifyEtcdError(this, etcd3Module, e, what, false);
  }

  /**
   * Each endpoint's status, asked in parallel for --etcd-timeout but at least 0.5 s and at
   * most 1.5 s (a tiny timeout must not make live members look dead); shared for a second.
   */
  probe(): Promise<MemberProbe[]> {
    const now = Date.now();
    if (!this.lastProbe || now - this.lastProbe.at > 1000) {
      this.lastProbe = { at: now, result: probeMembers(this, Math.max(500, Math.min(1500, this.timeoutMs))) };
    }
    return this.lastProbe.result;
  }

  /**
   * Endpoints in the order to try them (gateway reads, new watch streams): those that answered
   * since they last failed, the latest answer first; then those not heard from; then those that
   * failed, the longest ago first (so while none answers, each is tried in turn). A dead member
   * stays last until it answers again (until 2026-12-02 after 3 s it was back in list order,
   * and a watch took a member at random: with dead members in the list, workers took up to
   * ~20 s to watch again after an outage while their leases renewed within 1 s).
   */
  preferredEndpoints(): string[] {
    const answered = (e: string) => this.answeredAt.get(e) ?? 0;
    const failed = (e: string) => this.failedAt.get(e) ?? 0;
    const good = this.options.endpoints.filter((e) => !this.failedAt.has(e)).sort((a, b) => answered(b) - answered(a));
    const bad = this.options.endpoints.filter((e) => this.failedAt.has(e)).sort((a, b) => failed(a) - failed(b));
    return [...good, ...bad];
  }

  noteFailure(endpoint: string): void {
    this.failedAt.set(endpoint, Date.now());
  }

  /** A grpc attempt on `endpoint` failed without an answer (from its circuit breaker). */
  private noteTransportFailure(endpoint: string, e: Error): void {
    this.noteFailure(endpoint);
    if (/ECONNREFUSED/.test(e.message)) {
      this.refusedAt.set(endpoint, Date.now());
      for (const l of [...this.refusalListeners]) l();
    }
  }

  noteAnswer(endpoint: string): void {
    this.failedAt.delete(endpoint);
    this.refusedAt.delete(endpoint);
    this.answeredAt.set(endpoint, Date.now());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.etcdClient?.close();
    this.gateway.close();
  }
}

/** A raw etcd watch stream: the part of etcd3's duplex the informer uses, and `fail` (openWatch). */
export interface EtcdWatchStream {
  on(event: 'data', fn: (res: IWatchResponse) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  write(req: IWatchRequest): unknown;
  cancel(): void;
  /** The member behind this stream stopped answering: avoid it for the next stream (optional). */
  fail?(why: string): void;
  /**
   * How many keys of the watched config changed after `afterRevision`, read linearizably
   * through the member behind this stream (so it resolves only while that member is part of
   * a quorum), within `timeoutMs`; rejects otherwise. 0: a view at `afterRevision` is current.
   * Optional: set by openWatch where etcd3's pool has the expected shape.
   */
  quorum?(timeoutMs: number, afterRevision: number): Promise<number>;
}

/** The parts of etcd3's per-host KV client and pool authenticator the quorum check uses. */
interface KvServiceClient {
  range(
    req: { key: Buffer; range_end: Buffer; keys_only: boolean; min_mod_revision: string },
    metadata: unknown,
    options: { deadline: number },
    cb: (err: Error | null, res?: { kvs?: unknown[] }) => void,
  ): unknown;
}
interface PoolAuthenticator {
  getMetadata(): Promise<unknown>;
  invalidateMetadata(): void;
}

/**
 * A linearizable range of `prefix` (the keys modified after `afterRevision`, counted)
 * through one member's KV client: etcd answers it only once that member's leader has
 * confirmed it is part of a quorum (ReadIndex). Every config change bumps a key under the
 * prefix (the generation key, in the same transaction), deletes too. A token that expired
 * since the stream opened (simple tokens live minutes) is renewed once.
 */
async function quorumRead(kvClient: () => KvServiceClient, auth: PoolAuthenticator, prefix: string, afterRevision: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  // (keys only, not count_only: etcd applies min_mod_revision to the keys it returns, and
  // count_only returns the count of the whole range)
  const req = { key: Buffer.from(prefix, 'utf8'), range_end: prefixEnd(prefix), keys_only: true, min_mod_revision: String(afterRevision + 1) };
  for (let attempt = 0; ; attempt++) {
    const metadata = await auth.getMetadata();
    const kv = kvClient();
    try {
      return await new Promise<number>((resolve, reject) => kv.range(req, metadata, { deadline }, (err, res) => (err ? reject(err) : resolve(res?.kvs?.length ?? 0))));
    } catch (e) {
      if (attempt > 0 || !/invalid auth token|auth token is not provided|revision of auth store is old/i.test((e as Error).message ?? '')) throw e;
      auth.invalidateMetadata();
    }
  }
}

/** The part of etcd3's connection pool openWatch uses. */
interface WatchPool {
  withConnection<T>(
    service: 'Watch',
    fn: (args: { resource: unknown; client: unknown; metadata: { clone(): { set(key: string, value: string): void } } }) => Promise<T>,
    hostOrder?: Iterator<unknown>,
  ): Promise<T>;
  /** The members (etcd3's Host: `host` is the endpoint without its scheme). */
  hosts?: { host: string }[];
  markFailed(resource: unknown, error: Error): void;
}

function readPem(file: string | undefined, what: string): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new AlluxioError('InvalidArgument', `cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}
