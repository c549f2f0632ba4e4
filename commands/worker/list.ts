import { BaseCommand } from '../../src/cli/base-command.js';
import type { WorkerListResult } from '../../src/cli/results.js';
import { formatDuration } from '../../src/cli/duration.js';
import { listWorkers } from '../../src/cluster/members.js';
import { cacheUseOf } from '../../src/control/cache.js';
import { formatBytes } from '../../src/domain/bytes.js';

export default class WorkerList extends BaseCommand<typeof WorkerList, WorkerListResult> {
  static override summary = 'List live workers: address, applied revision, lag behind the config, uptime, watch state.';
  static override description =
    'Reads the leased worker records from etcd, and those of FUSE daemons (`alluxio fuse mount`; listed separately, under "clients" in --json: they apply the config too, so --wait counts them). A killed worker disappears once its lease expires. `lag` is how many revisions the worker is behind the latest config change (0 = up to date); scripts read `appliedRevision` from --json. SHARE is the part of the files a caching worker owns in the cluster cache (docs/cluster-cache.md).';
  static override examples = ['<%= config.bin %> worker list', '<%= config.bin %> worker list --json | jq ".workers[] | {id, appliedRevision}"'];

  async run(): Promise<WorkerListResult> {
    await this.parseInput();
    const listing = await listWorkers(this.etcd());
    // Cache use comes from each worker's REST (/api/v1/cache/status); '?' when it does not answer.
    const caches = await cacheUseOf(listing.workers);
    const cacheOf = (id: string) => caches.get(id);
    for (const bad of listing.invalid) this.warnLine(`skipping malformed worker record ${bad.key}: ${bad.error}`);
    if (!this.jsonEnabled()) {
      if (listing.workers.length === 0) {
        if (this.render.isTTY) this.say('No live workers. Start one with: alluxio worker start (or alluxio local start)');
      } else {
        // HTTPS ports: "https://host:port" with --tls-only, else "host:port (+https :port)".
        const addr = (port: number, tlsPort: number | null, w: (typeof listing.workers)[number]): string =>
          w.scheme === 'https' ? `https://${w.host}:${port}` : `${w.host}:${port}${tlsPort !== null ? ` (+https :${tlsPort})` : ''}`;
        const rows = listing.workers.map((w) => [
          w.id,
          addr(w.s3Port, w.s3TlsPort, w),
          addr(w.restPort, w.restTlsPort, w),
          w.appliedRevision,
          w.lag,
          w.uptimeSeconds === null ? '-' : formatDuration(w.uptimeSeconds * 1000),
          w.watchState ?? '-',
          cacheCell(cacheOf(w.id)),
          w.share === null ? '-' : `${(w.share * 100).toFixed(1)}%`,
        ]);
        this.say(this.render.table(['ID', 'S3', 'REST', 'APPLIED', 'LAG', 'UPTIME', 'WATCH', 'CACHE', 'SHARE'], rows));
      }
      if (listing.clients.length > 0) {
        const rows = listing.clients.map((c) => [
          c.id,
          c.host,
          c.mountpoint ?? '-',
          c.appliedRevision,
          c.lag,
          c.uptimeSeconds === null ? '-' : formatDuration(c.uptimeSeconds * 1000),
          c.watchState ?? '-',
        ]);
        this.say('FUSE clients:');
        this.say(this.render.table(['ID', 'HOST', 'MOUNTPOINT', 'APPLIED', 'LAG', 'UPTIME', 'WATCH'], rows));
      }
    }
    const workers = listing.workers.map((w) => {
      const c = cacheOf(w.id);
      return { ...w, cache: c === undefined ? null : c === null ? { enabled: false } : { enabled: true, capacityBytes: c.capacityBytes, effectiveCapacityBytes: c.effectiveCapacityBytes, usedBytes: c.usedBytes, pages: c.pages, hitRatio: c.hitRatio } };
    });
    // (revision: the config revision, as every --json; appliedRevision and lag compare to it)
    return { revision: listing.configRevision, configRevision: listing.configRevision, workers, clients: listing.clients };
  }
}

function cacheCell(c: { usedBytes?: number; capacityBytes?: number; effectiveCapacityBytes?: number; hitRatio?: number } | null | undefined): string {
  if (c === undefined) return '?';
  if (c === null) return 'off';
  // (the quota the cache keeps to: less than --cache-size when its disk holds less, as cache status says)
  return `${formatBytes(c.usedBytes ?? 0)}/${formatBytes(c.effectiveCapacityBytes ?? c.capacityBytes ?? 0)} hit ${((c.hitRatio ?? 0) * 100).toFixed(0)}%`;
}
