/**
 * One worker process: the config feed (./config-feed.ts: informer for hot reload, the
 * staleness check, the leased membership record with the applied revision, UFS adapters),
 * and two HTTP servers:
 *   - the S3 port (front end from the registry in ./frontends.ts),
 *   - the REST port: /healthz, /readyz, /metrics, /api/v1/status, plus the REST/FSSpec
 *     front end from the registry.
 * Every request reads the current snapshot ONCE through FrontendContext.snapshot().
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { Snapshot } from '../domain/snapshot.js';
import type { FrontendContext } from '../frontends/context.js';
import { statusOf as restStatusOf } from '../frontends/rest/errors.js';
import { MEMBER_VERSION } from '../cluster/record.js';
import type { ConfigInformer, InformerOptions, InformerStatus, SnapshotChange } from '../informer/informer.js';
import type { EtcdConnection } from '../store/connection.js';
import { ConfigFeed } from './config-feed.js';
import { frontends as defaultFrontends, type FrontendRegistry } from './frontends.js';
import { WorkerMetrics } from './worker-metrics.js';
import type { WorkerCache } from '../cache/cache.js';
import { cacheAdminHandler, type CacheAdmin } from '../cache/admin-http.js';
import { registerCacheMetrics } from '../cache/metrics.js';

export const WORKER_VERSION = MEMBER_VERSION;

export interface WorkerOptions {
  id?: string;
  /** Advertised address (default: the machine's host name). */
  host?: string;
  /** Address to listen on (default 0.0.0.0). */
  bindHost?: string;
  s3Port?: number;
  restPort?: number;
  leaseTtlSeconds?: number;
  /** Refuse requests (503) when the snapshot is older than this (ms). */
  maxStalenessMs?: number;
  statusIntervalMs?: number;
  /** How long an adapter whose mount changed stays open for requests still using it, ms (default 60 s). */
  ufsGraceMs?: number;
  informer?: InformerOptions;
  log?: Logger;
  frontends?: FrontendRegistry;
  /** The page cache (--cache-dir), opened by the caller; none = read the UFS directly. */
  cache?: WorkerCache;
}

export interface WorkerStatus {
  id: string;
  host: string;
  s3Port: number;
  restPort: number;
  pid: number;
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  ready: boolean;
  appliedRevision: number;
  maxStalenessMs: number | null;
  informer: InformerStatus;
  membership: { key: string; ttlSeconds: number };
}

export function defaultWorkerId(host: string, restPort: number): string {
  return `${host}-${restPort}`.replace(/[^A-Za-z0-9._-]/g, '-');
}

export class Worker {
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  readonly id: string;
  readonly host: string;
  readonly startedAt = new Date();
  /** Informer -> snapshot -> membership, and the UFS adapters of the snapshot's mounts. */
  private readonly feed: ConfigFeed;
  private s3Server: Server | undefined;
  private restServer: Server | undefined;
  private s3Port: number;
  private restPort: number;
  private readonly registry: FrontendRegistry;
  private stopping: Promise<void> | undefined;
  private restApi: ((req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>) | undefined;
  readonly context: FrontendContext;
  /** /api/v1/cache/* (src/cache/admin-http.ts). */
  private readonly cacheAdmin: CacheAdmin;

  constructor(private readonly conn: EtcdConnection, private readonly opts: WorkerOptions = {}) {
    this.host = opts.host ?? hostname();
    this.s3Port = opts.s3Port ?? 29998;
    this.restPort = opts.restPort ?? 28080;
    this.id = opts.id ?? defaultWorkerId(this.host, this.restPort);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(this.id)) {
      throw new AlluxioError('InvalidArgument', `worker id "${this.id}" is not allowed (letters, digits, ".", "_", "-"; at most 128)`);
    }
    this.log = opts.log ?? pino({ name: 'alluxio-worker' });
    this.log = this.log.child({ worker: this.id });
    this.registry = opts.frontends ?? defaultFrontends;
    const registry = this.registry;
    this.feed = new ConfigFeed(conn, {
      what: 'worker',
      log: this.log,
      informer: { ...opts.informer, log: this.log.child({ component: 'informer' }) },
      ...(opts.maxStalenessMs !== undefined ? { maxStalenessMs: opts.maxStalenessMs } : {}),
      // The registry's factory makes adapters without read-only enforcement (front ends check
      // the mode per request), so the read-only flag is not part of the cache key.
      ufs: {
        create: (m) => registry.ufs(m),
        readOnlyInKey: false,
        ...(opts.ufsGraceMs !== undefined ? { graceMs: opts.ufsGraceMs } : {}),
      },
    });
    this.metrics = new WorkerMetrics(this.informer);
    const self = this;
    this.context = {
      snapshot: () => self.snapshotForRequest(),
      ufs: (m) => self.feed.adapterFor(m),
      log: this.log,
      observeResolve: (api, seconds) => self.metrics.resolveSeconds.observe({ api }, seconds),
      ...(opts.cache ? { cache: opts.cache } : {}),
    };
    this.cacheAdmin = cacheAdminHandler(this.context);
    if (opts.cache) registerCacheMetrics(this.metrics.registry, opts.cache, this.cacheAdmin.loader);
  }

  get informer(): ConfigInformer {
    return this.feed.informer;
  }

  /** The snapshot for one request (read once), or EtcdUnavailable (front ends answer 503). */
  snapshotForRequest(): Snapshot {
    return this.feed.snapshot();
  }

  ports(): { s3Port: number; restPort: number } {
    return { s3Port: this.s3Port, restPort: this.restPort };
  }

  ready(): boolean {
    return this.informer.current() !== undefined;
  }

  status(): WorkerStatus {
    const now = Date.now();
    return {
      id: this.id,
      host: this.host,
      s3Port: this.s3Port,
      restPort: this.restPort,
      pid: process.pid,
      version: WORKER_VERSION,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((now - this.startedAt.getTime()) / 1000),
      ready: this.ready(),
      appliedRevision: this.informer.appliedRevision(),
      maxStalenessMs: this.opts.maxStalenessMs ?? null,
      informer: this.informer.status(now),
      membership: { key: this.conn.layout.workerKey(this.id), ttlSeconds: this.feed.membership?.ttlSeconds ?? this.opts.leaseTtlSeconds ?? 10 },
    };
  }

  /** Register (fails fast on a duplicate id), listen, start the informer. */
  async start(): Promise<void> {
    const bind = this.opts.bindHost ?? '0.0.0.0';
    this.restApi = this.registry.rest(this.context);
    // Listen first so that port 0 resolves to real ports before we advertise them.
    this.restServer = await listen((req, res) => void this.handleRest(req, res), bind, this.restPort, 'REST');
    this.restPort = (this.restServer.address() as AddressInfo).port;
    const s3Handler = this.registry.s3(this.context);
    this.s3Server = await listen((req, res) => {
      res.on('finish', () => this.metrics.requests.inc({ frontend: 's3', code: String(res.statusCode) }));
      s3Handler(req, res);
    }, bind, this.s3Port, 'S3').catch(async (e) => {
      await closeServer(this.restServer);
      throw e;
    });
    this.s3Port = (this.s3Server.address() as AddressInfo).port;
    // Registered before the informer starts: the record says revision 0, "starting".
    try {
      await this.feed.join(
        {
          id: this.id,
          kind: 'worker',
          host: this.host,
          s3Port: this.s3Port,
          restPort: this.restPort,
          startedAt: this.startedAt.toISOString(),
          version: WORKER_VERSION,
          pid: process.pid,
        },
        {
          ...(this.opts.leaseTtlSeconds !== undefined ? { ttlSeconds: this.opts.leaseTtlSeconds } : {}),
          ...(this.opts.statusIntervalMs !== undefined ? { minUpdateIntervalMs: this.opts.statusIntervalMs } : {}),
          onIdLost: (e) => {
            this.log.error({ err: e.message }, 'stopping: our worker id was taken');
            void this.stop().then(() => process.exit(e.exitCode));
          },
        },
      );
    } catch (e) {
      await closeServer(this.s3Server);
      await closeServer(this.restServer);
      throw e;
    }
    // The feed reports the applied revision and retires adapters of changed mounts (after a
    // grace period, so reads streaming through them across a cutover finish); we log.
    this.informer.on('snapshot', (change: SnapshotChange) => {
      this.log.info(
        { revision: change.revision, reason: change.reason, put: change.put.length, deleted: change.deleted.length, mounts: change.snapshot.mounts.length, rules: change.snapshot.rules.length },
        'applied config snapshot',
      );
    });
    this.informer.on('state', (s: string, from: string) => this.log.info({ state: s, from }, 'watch state'));
    this.feed.start();
    this.log.info({ s3Port: this.s3Port, restPort: this.restPort, host: this.host, bind }, 'worker listening');
  }

  /** Deregister (revoke the lease), stop watching, close the servers. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        await this.feed.leave();
        await Promise.all([closeServer(this.s3Server), closeServer(this.restServer)]);
        await this.feed.closeAdapters();
        this.log.info('worker stopped');
      })();
    }
    return this.stopping;
  }

  private async handleRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://worker');
    res.on('finish', () => this.metrics.requests.inc({ frontend: 'rest', code: String(res.statusCode) }));
    try {
      switch (url.pathname) {
        case '/healthz':
          return sendJson(res, 200, { ok: true });
        case '/readyz': {
          // Ready = snapshot() would serve: loaded, and not older than --max-staleness.
          const ready = this.feed.serving();
          const st = this.informer.status();
          return sendJson(res, ready ? 200 : 503, { ready, revision: st.revision, state: st.state, snapshotAgeMs: st.snapshotAgeMs });
        }
        case '/metrics': {
          const body = await this.metrics.registry.metrics();
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(body);
          return;
        }
        case '/api/v1/status':
          return sendJson(res, 200, this.status());
        default: {
          const handled = (await this.cacheAdmin(req, res)) || (this.restApi ? await this.restApi(req, res) : false);
          if (!handled && !res.headersSent) sendJson(res, 404, { error: { code: 'NotFound', message: `no such endpoint ${url.pathname}` } });
        }
      }
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (isAlluxioError(e)) {
        // THE REST port's error table (src/frontends/rest/errors.ts): the worker's own
        // endpoints answer the same status for a code as the REST/FSSpec API does.
        return sendJson(res, restStatusOf(e.code), { error: e.toJSON() });
      }
      this.log.error({ err: (e as Error).message }, 'REST request failed');
      sendJson(res, 500, { error: { code: 'Internal', message: (e as Error).message } });
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number, what: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer(handler);
    srv.keepAliveTimeout = 5000;
    srv.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE'
          ? new AlluxioError('Conflict', `the ${what} port ${port} on ${host} is already in use; pass another --${what === 'S3' ? 's3' : 'rest'}-port`)
          : new AlluxioError('Internal', `cannot listen on ${host}:${port} for ${what}: ${e.message}`),
      );
    });
    srv.listen(port, host, () => resolve(srv));
  });
}

function closeServer(srv: Server | undefined): Promise<void> {
  if (!srv || !srv.listening) return Promise.resolve();
  return new Promise((resolve) => {
    srv.close(() => resolve());
    srv.closeAllConnections?.();
  });
}
