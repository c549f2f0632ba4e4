/**
 * Reading worker membership (`alluxio worker list`, `--wait`): the leased records under
 * /alluxio/<cluster>/workers/, and how far each one is behind the config.
 *
 * Lag is measured against the config, not the raw etcd revision: worker status writes and
 * migration records bump etcd's revision without changing anything a worker applies, so
 * `lag` = the latest config revision (the highest mod revision under config/) minus the
 * worker's applied revision, floored at 0.
 */
import type { EtcdConnection } from '../store/connection.js';
import type { WorkerRecord } from '../worker/membership.js';

export interface WorkerInfo {
  id: string;
  host: string;
  s3Port: number;
  restPort: number;
  appliedRevision: number;
  lag: number;
  startedAt: string;
  uptimeSeconds: number | null;
  watchState: string | null;
  pid: number | null;
  version: string | null;
  updatedAt: string | null;
}

export interface WorkerListing {
  /** etcd revision the listing was read at. */
  revision: number;
  /** Latest revision that changed the config (what an up-to-date worker applies). */
  configRevision: number;
  workers: WorkerInfo[];
  invalid: { key: string; error: string }[];
}

/** The highest mod revision under config/ (at `atRevision` if given). 0 when empty. */
export async function configRevision(conn: EtcdConnection, atRevision?: number): Promise<number> {
  const res = await conn.call('read config revision', (c) => {
    let b = c.getAll().prefix(conn.layout.configPrefix).sort('Mod', 'Descend').limit(1);
    if (atRevision !== undefined) b = b.revision(String(atRevision));
    return b.exec();
  });
  const kv = res.kvs[0];
  return kv ? Number(kv.mod_revision) : 0;
}

export async function listWorkers(conn: EtcdConnection): Promise<WorkerListing> {
  const { layout } = conn;
  const res = await conn.call('list workers', (c) => c.getAll().prefix(layout.workersPrefix).exec());
  const revision = Number(res.header.revision);
  const cfgRev = await configRevision(conn, revision).catch(() => configRevision(conn));
  const now = Date.now();
  const workers: WorkerInfo[] = [];
  const invalid: { key: string; error: string }[] = [];
  for (const kv of res.kvs) {
    const key = kv.key.toString('utf8');
    try {
      const r = JSON.parse(kv.value.toString('utf8')) as Partial<WorkerRecord>;
      if (typeof r.id !== 'string' || typeof r.host !== 'string') throw new Error('missing id or host');
      const applied = Number(r.appliedRevision ?? 0);
      const started = r.startedAt ? Date.parse(r.startedAt) : NaN;
      workers.push({
        id: r.id,
        host: r.host,
        s3Port: Number(r.s3Port ?? 0),
        restPort: Number(r.restPort ?? 0),
        appliedRevision: applied,
        lag: Math.max(0, cfgRev - applied),
        startedAt: r.startedAt ?? '',
        uptimeSeconds: Number.isFinite(started) ? Math.max(0, Math.round((now - started) / 1000)) : null,
        watchState: r.watchState ?? null,
        pid: typeof r.pid === 'number' ? r.pid : null,
        version: r.version ?? null,
        updatedAt: r.updatedAt ?? null,
      });
    } catch (e) {
      invalid.push({ key, error: (e as Error).message });
    }
  }
  workers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { revision, configRevision: cfgRev, workers, invalid };
}
