import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { CacheLoadResult } from '../../src/cli/results.js';
import { formatBytes } from '../../src/domain/bytes.js';
import { loadFit, loadTotals, startLoad, waitForLoad } from '../../src/control/cache.js';
import { AlluxioError, isAlluxioError, isErrorCode } from '../../src/domain/errors.js';

export default class CacheLoad extends BaseCommand<typeof CacheLoad, CacheLoadResult> {
  static override summary = 'Load every file under a path into the workers\' caches (runs in the workers).';
  static override description =
    'Each worker with a cache reads every file below --path through its cache, a few files at a time. The load runs inside the workers: interrupting this command does not stop it; running it again joins a load still running, or resumes one that stopped (pages already cached are not fetched again). --wait follows the progress (a progress line on a terminal) and exits 5 when files failed, or when etcd cannot be reached while following (the load goes on).';
  static override examples = ['<%= config.bin %> cache load --path /data/train', '<%= config.bin %> cache load --path /data/train --wait'];
  static override flags = {
    path: Flags.string({ required: true, summary: 'Alluxio path to load (a file or a directory), e.g. /data/train.' }),
    wait: Flags.boolean({ default: false, summary: 'Follow the load until every worker has finished it.' }),
  };

  async run(): Promise<CacheLoadResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    // (with --wait, Ctrl-C is answered from here on: while the workers are asked too)
    const starting = startLoad(conn, flags.path);
    const started = flags.wait
      ? await this.interruptible(starting, `before every worker answered: the load of ${flags.path} may have started in some of them; see \`alluxio cache status --path ${flags.path}\``)
      : await starting;
    for (const a of started) if (a.error) this.warnLine(`worker ${a.worker}: ${a.error.message}`);
    const loading = started.filter((a) => a.result);
    this.say(`Loading ${flags.path} on ${loading.length} worker${loading.length === 1 ? '' : 's'}${started.some((a) => a.disabled) ? ` (${started.filter((a) => a.disabled).length} without a cache skipped)` : ''}`);
    if (!flags.wait) return { path: flags.path, workers: started };
    const tty = Boolean(process.stderr.isTTY) && !this.jsonEnabled();
    const following = waitForLoad(conn, flags.path, (answers) => {
      if (!tty) return;
      const t = loadTotals(answers);
      const pct = t.bytesTotal > 0 ? Math.floor((100 * t.bytesLoaded) / t.bytesTotal) : 0;
      process.stderr.write(`\r${pct}%  ${t.filesDone}/${t.filesTotal}${t.listed ? '' : '+'} files  ${formatBytes(t.bytesLoaded)}/${formatBytes(t.bytesTotal)}   `);
    }, { started }).catch((e: unknown) => {
      // etcd lost while following (the workers are listed there): the load itself goes on
      if (isAlluxioError(e) && (e.code === 'EtcdUnavailable' || e.code === 'EtcdTimeout' || e.code === 'EtcdNoLeader')) {
        throw new AlluxioError(e.code, `${e.message}; stopped following the load of ${flags.path}, which goes on in the workers: follow it again with \`alluxio cache load --path ${flags.path} --wait\` (it joins the running load) or \`alluxio cache status --path ${flags.path}\` once etcd answers`, { cause: e });
      }
      throw e;
    });
    const outcome = await this.interruptible(
      following,
      `stopped following the load of ${flags.path}, which goes on in the workers: follow it again with \`alluxio cache load --path ${flags.path} --wait\` (it joins the running load) or \`alluxio cache status --path ${flags.path}\``,
    );
    if (tty) process.stderr.write('\n');
    const finished = outcome.answers;
    const t = loadTotals(finished);
    if (outcome.left.length || outcome.joined.length) {
      this.warnLine(
        `the ring changed during the load (${[...outcome.left.map((w) => `${w} left`), ...outcome.joined.map((w) => `${w} joined`)].join(', ')}): started again on the workers there are now, which loaded the files they own now (${outcome.rounds} rounds)`,
      );
    }
    this.say(`Loaded ${t.filesDone} files, ${formatBytes(t.bytesLoaded)} on ${finished.filter((a) => a.result).length} workers`);
    const fit = await loadFit(conn, finished);
    if (fit && fit.tight.length > 0) {
      // (loaded is not held: a share larger than its worker's cache evicts its own first files)
      this.warnLine(
        `${flags.path} does not fit in the caches (${fit.tight.map((w) => `${w.worker}'s share is ${formatBytes(w.shareBytes)}, its cache ${formatBytes(w.capacityBytes)}`).join('; ')}): at most ${Math.floor((100 * fit.cacheableBytes) / fit.bytes)}% of it stays cached (${formatBytes(fit.cacheableBytes)} of ${formatBytes(fit.bytes)})`,
      );
    }
    const errors = finished.flatMap((a) => (a.result?.errors ?? []).map((e) => `${a.worker}: ${e.path}: ${e.message}`));
    for (const e of errors.slice(0, 10)) this.warnLine(e);
    const extra = { rounds: outcome.rounds, left: outcome.left, joined: outcome.joined };
    if (outcome.unreachable.length > 0) {
      throw new AlluxioError(
        'WorkerUnavailable',
        `cache load of ${flags.path} is not complete: worker(s) ${outcome.unreachable.join(', ')} stopped answering during it and are still in the ring; their share may not be loaded. Run the load again once they answer or have left`,
        { details: { workers: finished, ...extra, unreachable: outcome.unreachable } },
      );
    }
    if (outcome.refused.length > 0) {
      const first = outcome.refused[0]!;
      throw new AlluxioError(
        isErrorCode(first.code) ? first.code : 'Internal',
        `cache load of ${flags.path} is not complete: ${outcome.refused.map((r) => `worker ${r.worker} refused it (${r.code}: ${r.message})`).join('; ')}; ${outcome.refused.length === 1 ? 'its' : 'their'} share is not loaded. Run the load again once that is resolved`,
        { details: { workers: finished, ...extra, refused: outcome.refused } },
      );
    }
    if (t.failed > 0) {
      throw new AlluxioError('UfsUnavailable', `cache load of ${flags.path} failed for some files on ${t.failed} worker(s): ${errors[0] ?? 'see the worker logs'}`, { details: { workers: finished, ...extra } });
    }
    return { path: flags.path, workers: finished, totals: t, ...extra, ...(fit ? { fits: { bytes: fit.bytes, cacheableBytes: fit.cacheableBytes } } : {}) };
  }
}

