import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { CacheStatusResult } from '../../src/cli/results.js';
import { formatBytes } from '../../src/domain/bytes.js';
import { cacheStatus } from '../../src/control/cache.js';

export default class CacheStatus extends BaseCommand<typeof CacheStatus, CacheStatusResult> {
  static override summary = 'Cache use per worker: capacity, used, pages, hit ratio; with --path, how much of it is cached.';
  static override description =
    'Asks every live worker for its cache figures. SHARE is the part of the files the worker owns in the cluster cache (docs/cluster-cache.md). With --path, each worker also lists the files below the path and says how many bytes of the files it owns it holds (the listing reads the UFS, so a large tree takes a while). Workers without a cache show "off".';
  static override examples = ['<%= config.bin %> cache status', '<%= config.bin %> cache status --path /data/train --json'];
  static override flags = {
    path: Flags.string({ summary: 'Also report how much of the files below this Alluxio path each worker holds.' }),
  };

  async run(): Promise<CacheStatusResult> {
    const { flags } = await this.parseInput();
    const answers = await cacheStatus(this.etcd(), flags.path);
    if (!this.jsonEnabled()) {
      const rows = answers.map((a) => {
        const s = a.result;
        if (a.error) return [a.worker, 'error', a.error.message, '', '', '', ...(flags.path ? [''] : [])];
        if (!s) return [a.worker, 'off', '-', '-', '-', '-', ...(flags.path ? ['-'] : [])];
        return [
          a.worker,
          s.share === undefined || s.share === null ? '-' : `${(s.share * 100).toFixed(1)}%`,
          s.effectiveCapacityBytes !== undefined && s.capacityBytes !== undefined && s.effectiveCapacityBytes < s.capacityBytes
            ? `${formatBytes(s.capacityBytes)} (disk: ${formatBytes(s.effectiveCapacityBytes)})`
            : formatBytes(s.capacityBytes ?? 0),
          `${formatBytes(s.usedBytes ?? 0)} (${s.capacityBytes ? Math.round((100 * (s.usedBytes ?? 0)) / s.capacityBytes) : 0}%)`,
          s.pages ?? 0,
          `${((s.hitRatio ?? 0) * 100).toFixed(1)}%`,
          ...(flags.path ? [s.path ? `${s.path.percent.toFixed(1)}% of ${formatBytes(s.path.bytes)} (${s.path.files} files)` : '-'] : []),
        ];
      });
      this.say(this.render.table(['WORKER', 'SHARE', 'CAPACITY', 'USED', 'PAGES', 'HIT RATIO', ...(flags.path ? [`CACHED ${flags.path}`] : [])], rows));
    }
    return { path: flags.path ?? null, workers: answers };
  }
}
