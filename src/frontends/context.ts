/**
 * What every front end (S3, REST/FSSpec, FUSE) gets from the process hosting it: the
 * current snapshot (read ONCE per request), UFS adapters per mount, a logger.
 */
import type { Logger } from 'pino';
import type { ParsedMount } from '../domain/mounts.js';
import type { Snapshot } from '../domain/snapshot.js';
import type { UfsAdapter } from '../ufs/types.js';
import type { WorkerCache } from '../cache/cache.js';
import type { PeerClient } from '../cache/peer-client.js';
import type { Ring } from '../cluster/ring.js';
import type { DeclaredEtags } from '../cluster/object-etags.js';

export interface FrontendContext {
  /**
   * The current snapshot. Throws AlluxioError('EtcdUnavailable') when none is loaded yet
   * or it is older than the configured max staleness (front ends answer 503 / EAGAIN).
   */
  snapshot(): Snapshot;
  /** The adapter for a mount (cached per URI + options; replaced when they change). */
  ufs(mount: ParsedMount): UfsAdapter;
  log: Logger;
  /** Record one resolution's latency for /metrics. */
  observeResolve?(api: string, seconds: number): void;
  /**
   * The worker's page cache (`worker start --cache-dir`), used by DataPath only; absent on a
   * worker without one and in processes that host no cache (FUSE daemon).
   */
  cache?: WorkerCache;
  /**
   * The cluster cache (docs/cluster-cache.md): who owns a UFS URI, and the client that reads
   * from the owner. DataPath.open sends reads of files another worker owns there. Absent:
   * every read is served here.
   */
  cluster?: { ring: Ring; peers: PeerClient; /** S3: answer 307 to the owner instead of proxying. */ redirect?: boolean };
  /** ETags declared for object versions (multipart uploads), cluster-wide; absent: none. */
  etags?: DeclaredEtags;
  /**
   * This process's name among the processes of its host (a worker: `<cluster>/<id>`): front
   * ends keep their state on a shared disk apart by it (the S3 API's multipart staging).
   */
  instance?: string;
  /** Run `fn` when the hosting process stops, after its servers closed (tidying what a front end made). */
  atStop?(fn: () => Promise<void>): void;
}
