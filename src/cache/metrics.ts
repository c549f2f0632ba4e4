/** Prometheus metrics of the worker cache, registered on the worker's /metrics registry. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WorkerCache } from './cache.js';
import type { CacheCounters } from './page-store.js';
import type { CacheLoader } from './load.js';
import type { PeerCounters } from './peer-client.js';

/** A counter on `r` whose value is read at scrape time from a plain number we keep. */
function counterOn(r: Registry): (name: string, help: string, read: () => number) => void {
  return (name, help, read) => {
    new Counter({
      name,
      help,
      registers: [r],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
}

/** Reads through other workers of the cluster cache (docs/cluster-cache.md). */
export function registerPeerMetrics(r: Registry, c: PeerCounters): void {
  const counter = counterOn(r);
  counter('alluxio_peer_read_requests_total', 'Peer reads sent to the owning worker of a file.', () => c.requests);
  counter('alluxio_peer_read_bytes_total', 'Bytes received from owning workers.', () => c.bytes);
  counter('alluxio_peer_read_colocated_bytes_total', 'Of those, bytes read from the page files of an owner on this host.', () => c.colocatedBytes);
  counter('alluxio_peer_read_failures_total', 'Peer reads that failed (the read went on with the next owner).', () => c.failures);
  counter('alluxio_peer_invalidations_total', 'Changes through this process announced to another worker (one per worker told).', () => c.invalidations);
  counter('alluxio_peer_invalidation_failures_total', 'Announced changes a worker did not confirm (it may serve the old version for up to its metadata TTL).', () => c.invalidationFailures);
}

export function registerCacheMetrics(r: Registry, cache: WorkerCache, loader?: CacheLoader): void {
  const c = cache.counters;
  const plain = counterOn(r);
  const counter = (name: string, help: string, read: (c: CacheCounters) => number): void => plain(name, help, () => read(c));
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [r],
      collect() {
        this.set(read());
      },
    });
  };
  counter('alluxio_cache_bytes_read_total', 'Bytes answered from the worker cache (memory or disk).', (x) => x.cacheReadBytes);
  counter('alluxio_ufs_read_bytes_total', 'Bytes the worker cache read from the UFS (fetches and fall-backs).', (x) => x.ufsReadBytes);
  counter('alluxio_ufs_read_requests_total', 'UFS read requests made by the worker cache (a run of pages is one request).', (x) => x.ufsRequests);
  counter('alluxio_cache_hits_total', 'Pages answered from the cache.', (x) => x.hits);
  counter('alluxio_cache_misses_total', 'Pages not in the cache (fetched, or joined while another reader fetched them).', (x) => x.misses);
  counter('alluxio_cache_pages_fetched_total', 'Pages fetched from the UFS (one per missing page, whatever the number of readers).', (x) => x.pagesFetched);
  counter('alluxio_cache_evictions_total', 'Pages evicted to keep the quota.', (x) => x.evictions);
  counter('alluxio_cache_memory_hits_total', 'Pages answered from the memory tier.', (x) => x.memoryHits);
  counter('alluxio_cache_corrupt_pages_total', 'Pages found with a wrong length or checksum, dropped and fetched again.', (x) => x.corruptPages);
  counter('alluxio_cache_write_errors_total', 'Page writes that failed (disk full, I/O error); the page stayed uncached.', (x) => x.writeErrors);
  counter('alluxio_cache_writes_skipped_total', 'Page writes not made because 64 MiB of pages were already waiting for the disk; the page stayed uncached.', (x) => x.writesSkipped);
  counter('alluxio_cache_read_errors_total', 'Page reads that failed with an I/O error; served from the UFS.', (x) => x.readErrors);
  counter('alluxio_cache_colocated_bytes_total', 'Bytes of page files listed to readers on this host (a FUSE daemon beside the worker), who read the files themselves.', (x) => x.colocatedBytes);
  counter('alluxio_cache_page_remove_errors_total', 'Failed attempts to remove a dropped page file (evicted, freed, of an old version) or a failed write\'s file from the cache disk; each file is tried again every 5 s until it goes.', (x) => x.removeErrors);
  counter('alluxio_cache_fallbacks_total', 'Pages served from the UFS because the cached copy was unreadable or corrupt.', (x) => x.fallbacks);
  gauge('alluxio_cache_hit_ratio', 'hits / (hits + misses) since start (0 before any read).', () => (c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : 0));
  gauge('alluxio_cache_pages', 'Pages on the cache disk.', () => cache.store.stats().pages);
  gauge('alluxio_cache_used_bytes', 'Bytes charged against the cache quota.', () => cache.store.stats().usedBytes);
  gauge('alluxio_cache_capacity_bytes', 'The cache quota (--cache-size).', () => cache.store.capacityBytes);
  gauge('alluxio_cache_effective_capacity_bytes', 'The quota the cache keeps to: --cache-size, or less when its file system holds less (found at start, or when a write found the disk full).', () => cache.store.effectiveCapacityBytes);
  gauge('alluxio_cache_memory_used_bytes', 'Bytes in the memory tier.', () => cache.store.stats().memoryUsedBytes);
  if (loader) {
    gauge('alluxio_cache_load_jobs_running', 'cache load jobs running on this worker.', () => loader.list().filter((j) => j.state === 'running').length);
    // (a counter since this process started: the journal's jobs go back past restarts and
    // keep the last run of each path only, so their sum could go down)
    counter('alluxio_cache_load_bytes_total', 'Bytes read by cache load jobs since this worker started.', () => loader.bytesReadTotal);
  }
}
