/**
 * Where the informer reads from, injected: LIST the config prefix at one revision, and OPEN
 * a raw watch stream. `etcdSource` is the real one (an EtcdConnection); tests of the loop
 * pass their own (test/informer/loop.test.ts) and drive responses by hand.
 */
import type { EtcdConnection, EtcdWatchStream } from '../store/connection.js';
import type { Layout } from '../store/layout.js';

export interface ListResult {
  /** etcd's revision at the list (the watch resumes after it). */
  revision: number;
  /**
   * The revision of the last config change: the highest mod revision under config/ (the
   * generation key moves with every change, deletes included). Snapshots carry this one,
   * so a worker reports the same revision as `alluxio resolve` (resolution.md §6). Absent:
   * `revision`.
   */
  configRevision?: number;
  /** etcd's cluster id ('' when unknown) */
  clusterId: string;
  kvs: [key: string, value: string][];
}

/** The part of etcd3's watch duplex stream the session uses (src/store/connection.ts). */
export type WatchStream = EtcdWatchStream;

export interface InformerSource {
  layout: Layout;
  list(): Promise<ListResult>;
  openWatch(): Promise<WatchStream>;
}

export function etcdSource(conn: EtcdConnection): InformerSource {
  const { layout } = conn;
  return {
    layout,
    async list() {
      const res = await conn.call('list config', (c) => c.getAll().prefix(layout.configPrefix).exec());
      return {
        revision: Number(res.header.revision),
        configRevision: res.kvs.reduce((max, kv) => Math.max(max, Number(kv.mod_revision)), 0) || Number(res.header.revision),
        clusterId: String(res.header.cluster_id ?? ''),
        kvs: res.kvs.map((kv): [string, string] => [kv.key.toString('utf8'), kv.value.toString('utf8')]),
      };
    },
    openWatch: () => conn.openWatch(),
  };
}

export function isInformerSource(x: unknown): x is InformerSource {
  return typeof (x as InformerSource).openWatch === 'function' && typeof (x as InformerSource).list === 'function';
}
