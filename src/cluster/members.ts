/**
 * Reading membership (`alluxio worker list`, `--wait`): the leased records under
 * /alluxio/<cluster>/workers/ (workers) and /alluxio/<cluster>/clients/ (FUSE daemons),
 * read at one etcd revision, and how far each one is behind the config.
 *
 * Lag is measured against the config, not the raw etcd revision: worker status writes and
 * migration records bump etcd's revision without changing anything a worker applies, so
 * `lag` = the latest config revision (the highest mod revision under config/) minus the
 * worker's applied revision, floored at 0.
 */
import type { EtcdConnection } from '../store/connection.js';
import { kvRange } from '../store/kv.js';
import { endpointsOf, placementName, type MemberRecord, type WorkerEndpoints, type WorkerRecord } from './record.js';
import { shares } from '../domain/placement.js';

/** The status fields every member record reports (workers and FUSE clients alike). */
export interface MemberStatus {
  appliedRevision: number;
  lag: number;
  startedAt: string;
  uptimeSeconds: number | null;
  watchState: string | null;
  pid: number | null;
  version: string | null;
  updatedAt: string | null;
}

export interface WorkerInfo extends MemberStatus, WorkerEndpoints {
  id: string;
  /** Holds a page cache, so owns a share of the files (docs/cluster-cache.md). */
  caching: boolean;
  /** Its share of the files on the ring of the caching workers listed; null when not caching. */
  share: number | null;
}

/** A FUSE daemon's record (no S3/REST ports). */
export interface ClientInfo extends MemberStatus {
  id: string;
  kind: 'fuse';
  host: string;
  mountpoint: string | null;
}

export interface WorkerListing {
  /** etcd revision the listing was read at. */
  revision: number;
  /** Latest revision that changed the config (what an up-to-date worker applies). */
  configRevision: number;
  workers: WorkerInfo[];
  /** Live FUSE daemons (they apply the config too, so --wait counts them). */
  clients: ClientInfo[];
  invalid: { key: string; error: string }[];
}

/** The highest mod revision under config/ (at `atRevision` if given). 0 when empty. */
export async function configRevision(conn: EtcdConnection, atRevision?: number): Promise<number> {
  const res = await kvRange(conn, 'read config revision', { key: conn.layout.configPrefix, prefix: true, newestFirst: true, limit: 1, ...(atRevision !== undefined ? { revision: atRevision } : {}) });
  return res.kvs[0]?.modRevision ?? 0;
}

export async function listWorkers(conn: EtcdConnection): Promise<WorkerListing> {
  const { layout } = conn;
  const res = await kvRange(conn, 'list workers', { key: layout.workersPrefix, prefix: true });
  const revision = res.revision;
  // FUSE clients at the same revision (one consistent view of membership).
  const cres = await kvRange(conn, 'list FUSE clients', { key: layout.clientsPrefix, prefix: true, revision }).catch(() => kvRange(conn, 'list FUSE clients', { key: layout.clientsPrefix, prefix: true }));
  const cfgRev = await configRevision(conn, revision).catch(() => configRevision(conn));
  const now = Date.now();
  const workers: WorkerInfo[] = [];
  const clients: ClientInfo[] = [];
  const invalid: { key: string; error: string }[] = [];
  const parse = (kv: { key: string; value: string }): Partial<MemberRecord> & { id: string; host: string } => {
    const r = JSON.parse(kv.value) as Partial<MemberRecord>;
    if (typeof r.id !== 'string' || typeof r.host !== 'string') throw new Error('missing id or host');
    return r as Partial<MemberRecord> & { id: string; host: string };
  };
  const uptime = (r: Partial<MemberRecord>): number | null => {
    const started = r.startedAt ? Date.parse(r.startedAt) : NaN;
    return Number.isFinite(started) ? Math.max(0, Math.round((now - started) / 1000)) : null;
  };
  // The fields workers and FUSE clients report alike (in output order, after each kind's own).
  const status = (r: Partial<MemberRecord>): MemberStatus => {
    const applied = Number(r.appliedRevision ?? 0);
    return {
      appliedRevision: applied,
      lag: Math.max(0, cfgRev - applied),
      startedAt: r.startedAt ?? '',
      uptimeSeconds: uptime(r),
      watchState: r.watchState ?? null,
      pid: typeof r.pid === 'number' ? r.pid : null,
      version: r.version ?? null,
      updatedAt: r.updatedAt ?? null,
    };
  };
  // Parse each record; an unreadable one goes to `invalid` instead of failing the listing.
  const collect = <T>(
    kvs: { key: string; value: string }[],
    into: T[],
    build: (r: ReturnType<typeof parse>) => T,
  ): void => {
    for (const kv of kvs) {
      try {
        into.push(build(parse(kv)));
      } catch (e) {
        invalid.push({ key: kv.key, error: (e as Error).message });
      }
    }
  };
  collect(res.kvs, workers, (r) => ({ id: r.id, ...endpointsOf(r), caching: (r as Partial<WorkerRecord>).cache === true, share: null, ...status(r) }));
  // The same ring the workers build from these records (src/cluster/ring.ts).
  const ring = shares(workers.filter((w) => w.caching).map((w) => placementName(w.host, w.restPort)));
  for (const w of workers) if (w.caching) w.share = ring.get(placementName(w.host, w.restPort)) ?? null;
  collect(cres.kvs, clients, (r) => ({
    id: r.id,
    kind: 'fuse',
    host: r.host,
    mountpoint: r.mountpoint ?? null,
    ...status(r),
  }));
  const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  workers.sort(byId);
  clients.sort(byId);
  return { revision, configRevision: cfgRev, workers, clients, invalid };
}
