/**
 * One worker process: the config feed (./config-feed.ts: informer for hot reload, the
 * staleness check, the leased membership record with the applied revision, UFS adapters),
 * and its listeners (./listen.ts), each one plain HTTP or HTTPS (./tls.ts):
 *   - the S3 port (front end from the registry in ./frontends.ts),
 *   - the REST port: /healthz, /readyz, /metrics, /api/v1/status, plus the REST/FSSpec
 *     front end from the registry.
 * With TLS the same two handlers also listen on the HTTPS ports (S3 default 29996, REST
 * 28443), alongside the plain ones or, with `tlsOnly`, instead of them.
 * Every request reads the current snapshot ONCE through FrontendContext.snapshot().
 * (Over 300 lines: the listeners, the record they are advertised in and the worker's own
 * REST endpoints share one lifecycle; socket and certificate details live in ./listen.ts
 * and ./tls.ts.)
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { Snapshot } from '../domain/snapshot.js';
import type { FrontendContext } from '../frontends/context.js';
import { HTTP_STATUS } from '../frontends/rest/errors.js';
import { sendJson } from '../frontends/rest/json.js';
import { MEMBER_VERSION, type WorkerEndpoints } from '../cluster/record.js';
import type { ConfigInformer, InformerOptions, InformerStatus, SnapshotChange } from '../informer/informer.js';
import type { EtcdConnection } from '../store/connection.js';
import { missingHostFlags } from './cli-entry.js';
import { ConfigFeed } from './config-feed.js';
import { frontends as defaultFrontends, type FrontendRegistry } from './frontends.js';
import { closeServer, listen, portOf } from './listen.js';
import { loadTls, type TlsFiles, type TlsMaterial } from './tls.js';
import { peerAuth, peerTls } from './peers.js';
import { registerConnectionMetrics, WorkerMetrics } from './worker-metrics.js';
import type { WorkerCache } from '../cache/cache.js';
import { cacheAdminHandler, type CacheAdmin } from '../cache/admin-http.js';
import { registerCacheMetrics, registerPeerMetrics } from '../cache/metrics.js';
import { PeerClient } from '../cache/peer-client.js';
import { WorkerRing, type Ring } from '../cluster/ring.js';
import { ObjectEtags } from '../cluster/object-etags.js';
import { placementName } from '../cluster/record.js';
import { ConnectionBudget, defaultMaxConnections, refusalLog } from './connection-budget.js';

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
  /** Serve HTTPS too (or only, with `only`). */
  tls?: WorkerTlsOptions;
  /**
   * Read files another worker owns through it (docs/cluster-cache.md; default true). With a
   * cache, this worker is also a member of the ring and owns its share.
   */
  cluster?: boolean;
  /** S3 GET/HEAD of an object another worker owns: 307 to it instead of proxying. */
  s3Redirect?: boolean;
  /** Client connections open at once, all ports together (default: 1/4 of the open-file limit, at most 16,384; connection-budget.ts). */
  maxConnections?: number;
  /** Client connections open at once from one client, an IPv4 address or an IPv6 /64 (default: half of maxConnections; 0: no such limit). */
  maxConnectionsPerClient?: number;
}

export interface WorkerTlsOptions extends TlsFiles {
  /** HTTPS port of the S3 API (default 29996, as Alluxio's). */
  s3Port?: number;
  /** HTTPS port of the REST API (default 28443). */
  restPort?: number;
  /** Serve HTTPS only: the plain s3Port/restPort are not opened. */
  only?: boolean;
  /** PEM CA bundle that signs the other workers' HTTPS certificates (peer reads to HTTPS-only workers). */
  peerCaFile?: string;
}

export const DEFAULT_S3_TLS_PORT = 29996;
export const DEFAULT_REST_TLS_PORT = 28443;

export interface WorkerStatus extends WorkerEndpoints {
  id: string;
  pid: number;
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  ready: boolean;
  appliedRevision: number;
  maxStalenessMs: number | null;
  informer: InformerStatus;
  membership: { key: string; ttlSeconds: number };
  /**
   * The ownership ring as this worker sees it (docs/cluster-cache.md): its members' names,
   * this worker's name when it is one, and each member's share of the key space.
   */
  ring: { self: string | null; members: { id: string; name: string; share: number }[] } | null;
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
  /** Every listener, plain and HTTPS. */
  private readonly servers: Server[] = [];
  private readonly httpsServers: Server[] = [];
  /** Plain ports (unused with tlsOnly) and HTTPS ports (unused without tls). */
  private s3Port: number;
  private restPort: number;
  private s3TlsPort: number;
  private restTlsPort: number;
  private tlsMaterial: TlsMaterial | undefined;
  private readonly registry: FrontendRegistry;
  private stopping: Promise<void> | undefined;
  private restApi: ((req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>) | undefined;
  readonly context: FrontendContext;
  /** /api/v1/cache/* (src/cache/admin-http.ts). */
  private readonly cacheAdmin: CacheAdmin;
  /** The ownership ring (started after registration), and the client for peer reads. */
  private ring: WorkerRing | undefined;
  /** ETags declared for object versions (multipart uploads), mirrored from etcd. */
  private readonly etags: ObjectEtags;
  private readonly peers: PeerClient;
  /** Client connections, all listeners together (connection-budget.ts). */
  readonly connections: ConnectionBudget;
  /** What front ends asked to run at stop (FrontendContext.atStop). */
  private readonly atStop: (() => Promise<void>)[] = [];

  constructor(private readonly conn: EtcdConnection, private readonly opts: WorkerOptions = {}) {
    this.host = opts.host ?? hostname();
    this.s3Port = opts.s3Port ?? 29998;
    this.restPort = opts.restPort ?? 28080;
    this.s3TlsPort = opts.tls?.s3Port ?? DEFAULT_S3_TLS_PORT;
    this.restTlsPort = opts.tls?.restPort ?? DEFAULT_REST_TLS_PORT;
    this.id = opts.id ?? defaultWorkerId(this.host, opts.tls?.only ? this.restTlsPort : this.restPort);
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
    const maxConnections = opts.maxConnections ?? defaultMaxConnections();
    this.connections = new ConnectionBudget(
      // (by default one address may hold half: a single client cannot take them all)
      { max: maxConnections, perClient: opts.maxConnectionsPerClient ?? Math.max(1, Math.floor(maxConnections / 2)) },
      refusalLog(this.log),
    );
    registerConnectionMetrics(this.metrics.registry, this.connections);
    const self = this;
    this.etags = new ObjectEtags(conn, this.log.child({ component: 'etags' }));
    // Bad certificate files fail here (AlluxioError naming the flag, exit 2), before the peer
    // client is built on them; start() reads them again before listening.
    const tlsForPeers = opts.tls ? loadTls(opts.tls) : undefined;
    this.peers = new PeerClient({ ...peerAuth(), ...(tlsForPeers ? { tls: peerTls(tlsForPeers, opts.tls?.peerCaFile) } : {}) });
    // The ring is built in start() (it needs our advertised port); until then it is empty.
    const ring: Ring = {
      order: (key) => self.ring?.order(key) ?? [],
      current: () => self.ring?.current() ?? [],
      get selfName() {
        return self.ring?.selfName;
      },
      selfShare: () => self.ring?.selfShare(),
    };
    this.context = {
      instance: `${conn.layout.cluster}/${this.id}`,
      atStop: (fn) => void self.atStop.push(fn),
      snapshot: () => self.snapshotForRequest(),
      ufs: (m) => self.feed.adapterFor(m),
      log: this.log,
      observeResolve: (api, seconds) => self.metrics.resolveSeconds.observe(api, seconds),
      ...(opts.cache ? { cache: opts.cache } : {}),
      etags: this.etags,
      ...(opts.cluster !== false ? { cluster: { ring, peers: this.peers, redirect: opts.s3Redirect === true } } : {}),
    };
    this.cacheAdmin = cacheAdminHandler(this.context);
    if (opts.cache) registerCacheMetrics(this.metrics.registry, opts.cache, this.cacheAdmin.loader);
    if (opts.cluster !== false) registerPeerMetrics(this.metrics.registry, this.peers.counters);
  }

  get informer(): ConfigInformer {
    return this.feed.informer;
  }

  /** The snapshot for one request (read once), or EtcdUnavailable (front ends answer 503). */
  snapshotForRequest(): Snapshot {
    return this.feed.snapshot();
  }

  /**
   * The ports as advertised in the membership record: s3Port/restPort are the ports whose
   * scheme is `scheme` (the HTTPS ones with tlsOnly); s3TlsPort/restTlsPort are set
   * whenever HTTPS is served.
   */
  ports(): { s3Port: number; restPort: number; scheme: 'http' | 'https'; s3TlsPort?: number; restTlsPort?: number; tlsClientAuth?: boolean } {
    const tls = this.opts.tls;
    if (!tls) return { s3Port: this.s3Port, restPort: this.restPort, scheme: 'http' };
    const secure = { s3TlsPort: this.s3TlsPort, restTlsPort: this.restTlsPort, tlsClientAuth: Boolean(tls.clientCaFile) };
    return tls.only
      ? { s3Port: this.s3TlsPort, restPort: this.restTlsPort, scheme: 'https', ...secure }
      : { s3Port: this.s3Port, restPort: this.restPort, scheme: 'http', ...secure };
  }

  /** What /readyz says: a snapshot is loaded and not older than --max-staleness. */
  ready(): boolean {
    return this.feed.serving();
  }

  status(): WorkerStatus {
    const now = Date.now();
    const p = this.ports();
    return {
      id: this.id,
      host: this.host,
      s3Port: p.s3Port,
      restPort: p.restPort,
      scheme: p.scheme,
      s3TlsPort: p.s3TlsPort ?? null,
      restTlsPort: p.restTlsPort ?? null,
      tlsClientAuth: p.tlsClientAuth ?? false,
      pid: process.pid,
      version: WORKER_VERSION,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((now - this.startedAt.getTime()) / 1000),
      ready: this.ready(),
      appliedRevision: this.informer.appliedRevision(),
      maxStalenessMs: this.opts.maxStalenessMs ?? null,
      informer: this.informer.status(now),
      membership: { key: this.conn.layout.workerKey(this.id), ttlSeconds: this.feed.membership?.ttlSeconds ?? this.opts.leaseTtlSeconds ?? 10 },
      ring: this.ringStatus(),
    };
  }

  private ringStatus(): WorkerStatus['ring'] {
    const ring = this.ring;
    if (!ring) return null;
    const share = ring.shares();
    return { self: ring.selfName ?? null, members: ring.current().map((m) => ({ id: m.id, name: m.name, share: share.get(m.name) ?? 0 })) };
  }

  /** Register (fails fast on a duplicate id), listen, start the informer. */
  async start(): Promise<void> {
    const bind = this.opts.bindHost ?? '0.0.0.0';
    const tls = this.opts.tls;
    // Bad certificate files fail here, before anything listens or registers.
    this.tlsMaterial = tls ? loadTls(tls) : undefined;
    this.restApi = this.registry.rest(this.context);
    const restHandler = (req: IncomingMessage, res: ServerResponse): void => void this.handleRest(req, res);
    const s3Handler = this.registry.s3(this.context);
    const requests = this.metrics.requests;
    // One listener function for every response (no closure per request).
    const countS3 = function (this: ServerResponse): void {
      requests.count('s3', this.statusCode);
    };
    const s3Counted = (req: IncomingMessage, res: ServerResponse): void => {
      res.on('finish', countS3);
      s3Handler(req, res);
    };
    const budget = this.connections;
    // Listen first so that port 0 resolves to real ports before we advertise them.
    try {
      if (!tls?.only) {
        this.servers.push(await listen(restHandler, { what: 'REST', flag: '--rest-port', host: bind, port: this.restPort, budget }));
        this.restPort = portOf(this.servers.at(-1)!);
        this.servers.push(await listen(s3Counted, { what: 'S3', flag: '--s3-port', host: bind, port: this.s3Port, answersContinue: true, budget }));
        this.s3Port = portOf(this.servers.at(-1)!);
      }
      if (this.tlsMaterial) {
        const secure = { host: bind, tls: this.tlsMaterial, budget };
        this.httpsServers.push(await listen(restHandler, { what: 'REST', flag: '--rest-tls-port', port: this.restTlsPort, ...secure }));
        this.restTlsPort = portOf(this.httpsServers.at(-1)!);
        this.httpsServers.push(await listen(s3Counted, { what: 'S3', flag: '--s3-tls-port', port: this.s3TlsPort, ...secure, answersContinue: true }));
        this.s3TlsPort = portOf(this.httpsServers.at(-1)!);
        this.servers.push(...this.httpsServers);
      }
    } catch (e) {
      await Promise.all([...this.servers, ...this.httpsServers].map(closeServer));
      throw e;
    }
    // Registered before the informer starts: the record says revision 0, "starting".
    try {
      const p = this.ports();
      await this.feed.join(
        {
          id: this.id,
          kind: 'worker',
          host: this.host,
          s3Port: p.s3Port,
          restPort: p.restPort,
          // Only TLS workers write the new fields: plain records stay exactly as before.
          ...(p.scheme === 'https' ? { scheme: p.scheme } : {}),
          ...(p.s3TlsPort !== undefined ? { s3TlsPort: p.s3TlsPort, restTlsPort: p.restTlsPort, tlsClientAuth: p.tlsClientAuth } : {}),
          startedAt: this.startedAt.toISOString(),
          version: WORKER_VERSION,
          pid: process.pid,
          // Only caching workers own files (and write the field: others' records are as before).
          ...(this.opts.cache && this.opts.cluster !== false ? { cache: true } : {}),
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
      await Promise.all(this.servers.map(closeServer));
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
    await this.etags.start();
    if (this.opts.cluster !== false) {
      this.ring = new WorkerRing(this.conn, {
        ...(this.opts.cache ? { selfName: placementName(this.host, this.ports().restPort) } : {}),
        log: this.log.child({ component: 'ring' }),
      });
      await this.ring.start();
    }
    // Loads that were running when this worker last stopped continue once the config is here.
    const loader = this.cacheAdmin.loader;
    if (loader) {
      void this.informer.ready().then(
        () => {
          const resumed = loader.resume();
          if (resumed.length > 0) this.log.info({ paths: resumed.map((j) => j.path) }, 'resumed cache loads');
        },
        () => undefined, // stopped before the first snapshot
      );
    }
    const p = this.ports();
    const m = this.tlsMaterial;
    this.log.info(
      { ...p, host: this.host, bind, ...(m ? { tlsSubject: m.subject, tlsNames: m.names, tlsValidTo: m.validTo } : {}) },
      'worker listening',
    );
    const missing = missingHostFlags();
    if (missing.length > 0) {
      this.log.warn({ missing }, 'worker: node was started without these flags (bin/run.js sets them: start `alluxio worker start`, or pass them to node): garbage collection costs cold reads of large files more CPU');
    }
  }

  /**
   * Re-read the certificate files and use them for new HTTPS connections (open ones keep
   * theirs). Bad files: AlluxioError, and the listeners keep the material they had.
   */
  reloadTls(): TlsMaterial | undefined {
    if (!this.opts.tls) return undefined;
    const m = loadTls(this.opts.tls);
    if (m.clientAuth !== this.tlsMaterial?.clientAuth) throw new AlluxioError('InvalidArgument', 'a reload cannot switch client certificate verification on or off');
    for (const s of this.httpsServers) (s as unknown as { setSecureContext(o: object): void }).setSecureContext(m.context);
    this.tlsMaterial = m;
    this.log.info({ tlsSubject: m.subject, tlsNames: m.names, tlsValidTo: m.validTo }, 'reloaded TLS certificate');
    return m;
  }

  /** Deregister (revoke the lease), stop watching, close the servers. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        await this.feed.leave();
        await this.ring?.stop();
        await this.etags.stop();
        await Promise.all(this.servers.map(closeServer));
        await Promise.all(this.atStop.map((fn) => fn().catch((e: Error) => this.log.warn({ err: e.message }, 'tidying at stop failed'))));
        this.peers.close();
        await this.opts.cache?.close();
        await this.feed.closeAdapters();
        this.log.info('worker stopped');
      })();
    }
    return this.stopping;
  }

  private async handleRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://worker');
    res.on('finish', () => this.metrics.requests.count('rest', res.statusCode));
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
          res.writeHead(200, ['content-type', this.metrics.registry.contentType]);
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
        return sendJson(res, HTTP_STATUS[e.code], { error: e.toJSON() });
      }
      this.log.error({ err: (e as Error).message }, 'REST request failed');
      sendJson(res, 500, { error: { code: 'Internal', message: (e as Error).message } });
    }
  }
}

