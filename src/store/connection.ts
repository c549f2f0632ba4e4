/**
 * Connecting to etcd, with deadlines and error mapping: an unreachable etcd or a refused
 * login becomes one AlluxioError (exit 5) within a few seconds, never a hang or a stack.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Etcd3, IOptions } from 'etcd3';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import { Layout } from './layout.js';

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
  readonly timeoutMs: number;
  private closed = false;
  private etcdClient: Etcd3 | undefined;
  private readonly etcdOptions: IOptions;
  /** PEM material for TLS, read once (also used by the gateway reads). */
  readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};

  constructor(readonly options: ConnectionOptions) {
    this.layout = new Layout(options.cluster);
    this.timeoutMs = options.timeoutMs ?? 5000;
    const timeoutMs = this.timeoutMs;
    const opts: IOptions = {
      hosts: options.endpoints,
      dialTimeout: timeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      // faultHandling (cockatiel no-op policies: we fail fast and map errors ourselves) is
      // added when the client is created, so cockatiel is not loaded before that either.
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
  }

  /** The etcd3 client (grpc), created on first use. */
  get client(): Etcd3 {
    if (!this.etcdClient) {
      const mod = etcd3();
      const { noop } = requireCjs('cockatiel') as typeof import('cockatiel');
      this.etcdClient = new mod.Etcd3({ ...this.etcdOptions, faultHandling: { host: () => noop, global: noop } });
    }
    return this.etcdClient;
  }

  /** Run one etcd operation under a hard deadline, mapping failures to AlluxioErrors. */
  async call<T>(what: string, fn: (client: Etcd3) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    return this.withDeadline(what, () => fn(this.client), timeoutMs);
  }

  /** Run any etcd operation (grpc or gateway) under a hard deadline, mapping failures. */
  async withDeadline<T>(what: string, fn: () => Promise<T>, timeoutMs = this.timeoutMs, onTimeout?: () => void): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new AlluxioError('EtcdUnavailable', this.unreachableMessage(`no answer within ${timeoutMs} ms`)));
      }, timeoutMs);
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (e) {
      throw this.mapError(e, what);
    } finally {
      clearTimeout(timer);
    }
  }

  mapError(e: unknown, what: string): AlluxioError {
    if (isAlluxioError(e)) return e;
    const { EtcdAuthenticationFailedError, EtcdInvalidAuthTokenError, EtcdPermissionDeniedError } = etcd3Module ?? ({} as Partial<Etcd3Module>);
    if ((EtcdAuthenticationFailedError && e instanceof EtcdAuthenticationFailedError) || (EtcdInvalidAuthTokenError && e instanceof EtcdInvalidAuthTokenError)) {
      return new AlluxioError(
        'EtcdAuthFailed',
        `etcd at ${this.options.endpoints.join(',')} refused authentication for user "${this.options.user ?? ''}"; check --etcd-user/--etcd-password (ALLUXIO_ETCD_USER/ALLUXIO_ETCD_PASSWORD)`,
        { cause: e },
      );
    }
    const msg = e instanceof Error ? e.message : String(e);
    if ((EtcdPermissionDeniedError && e instanceof EtcdPermissionDeniedError) || /etcdserver: permission denied/.test(msg)) {
      const who = this.options.user ? `user "${this.options.user}"` : 'an anonymous client (etcd has auth enabled; pass --etcd-user/--etcd-password)';
      return new AlluxioError('EtcdAuthFailed', `etcd authentication: permission denied to ${who} for ${what} on ${this.layout.root}; grant the user read/write on that prefix`, { cause: e });
    }
    if (/user name is empty/i.test(msg)) {
      // etcd has auth enabled and we sent no credentials.
      return new AlluxioError(
        'EtcdAuthFailed',
        `etcd at ${this.options.endpoints.join(',')} requires authentication (auth is enabled) and no user was given; pass --etcd-user/--etcd-password (ALLUXIO_ETCD_USER/ALLUXIO_ETCD_PASSWORD)`,
        { cause: e },
      );
    }
    if (/authentication failed|invalid auth token|auth token is not provided|permission denied|authentication is not enabled/i.test(msg)) {
      return new AlluxioError('EtcdAuthFailed', `etcd at ${this.options.endpoints.join(',')} refused authentication for user "${this.options.user ?? ''}": ${firstLine(msg)}`, { cause: e });
    }
    if (/too many operations in txn request/i.test(msg)) {
      return new AlluxioError(
        'TooManyChanges',
        `etcd refused ${what}: the transaction has more operations than etcd's --max-txn-ops allows (default 128); raise --max-txn-ops on every etcd member and ALLUXIO_ETCD_MAX_TXN_OPS to match, or make the change in smaller parts`,
        { cause: e },
      );
    }
    if (isRejection(e, msg)) {
      // etcd answered: the request itself was refused. Retrying or checking connectivity won't help.
      return new AlluxioError('EtcdRejected', `etcd at ${this.options.endpoints.join(',')} rejected ${what}: ${firstLine(msg)}`, { cause: e });
    }
    return new AlluxioError('EtcdUnavailable', this.unreachableMessage(firstLine(msg)), { cause: e });
  }

  private unreachableMessage(why: string): string {
    return `etcd is unreachable at ${this.options.endpoints.join(',')} (${why}); check that etcd is running and --etcd-endpoints / ALLUXIO_ETCD_ENDPOINTS`;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.etcdClient?.close();
  }
}

/**
 * gRPC statuses meaning "etcd received the request and refused it" (not an outage):
 * INVALID_ARGUMENT (3), NOT_FOUND (5), ALREADY_EXISTS (6), RESOURCE_EXHAUSTED (8),
 * FAILED_PRECONDITION (9), OUT_OF_RANGE (11), UNIMPLEMENTED (12). etcd3 turns grpc errors
 * into its own classes and drops the numeric code, so match both the class and the status
 * name grpc-js puts in the message ("3 INVALID_ARGUMENT: etcdserver: ..."). UNAVAILABLE,
 * DEADLINE_EXCEEDED, CANCELLED, UNKNOWN, INTERNAL and connection errors stay "unreachable".
 */
const REJECTION_STATUS = /\b(INVALID_ARGUMENT|NOT_FOUND|ALREADY_EXISTS|RESOURCE_EXHAUSTED|FAILED_PRECONDITION|OUT_OF_RANGE|UNIMPLEMENTED):/;
function isRejection(e: unknown, msg: string): boolean {
  const m = etcd3Module;
  if (m) {
    const classes = [m.GRPCInvalidArgumentError, m.GRPCNotFoundError, m.GRPCAlreadyExistsError, m.GRPCResourceExhastedError, m.GRPCFailedPreconditionError, m.GRPCOutOfRangeError, m.GRPCNotImplementedError];
    if (classes.some((C) => C && e instanceof C)) return true;
  }
  return REJECTION_STATUS.test(msg);
}

function firstLine(s: string): string {
  // grpc-js appends "Resolution note: ..." (often empty) to connection errors; it helps nobody.
  return (s.split('\n')[0] ?? s).replace(/\.?\s*Resolution note:.*$/, '').trim().slice(0, 200);
}

function readPem(file: string | undefined, what: string): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new AlluxioError('InvalidArgument', `cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}
