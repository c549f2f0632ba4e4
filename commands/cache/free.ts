import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { CacheFreeResult } from '../../src/cli/results.js';
import { freeCache } from '../../src/control/cache.js';

export default class CacheFree extends BaseCommand<typeof CacheFree, CacheFreeResult> {
  static override summary = 'Drop everything at or below a path from the workers\' caches (asks first; --yes skips).';
  static override description =
    'Each worker drops the pages and cached metadata of every object at or below the UFS location the path resolves to (/: of every mount). The UFS is not touched; the next read fetches again. Without a terminal and without --yes the command refuses (exit 2).';
  static override examples = ['<%= config.bin %> cache free --path /data/train', '<%= config.bin %> cache free --path /data/train --yes --json', '<%= config.bin %> cache free --path / --yes'];
  static override flags = {
    path: Flags.string({ required: true, summary: 'Alluxio path to drop from the caches, e.g. /data/train.' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask for confirmation.' }),
  };

  async run(): Promise<CacheFreeResult> {
    const { flags } = await this.parseInput();
    await this.confirm(`Drop ${flags.path} from every worker's cache?`, flags.yes);
    const answers = await freeCache(this.etcd(), flags.path);
    for (const a of answers) if (a.error) this.warnLine(`worker ${a.worker}: ${a.error.message}`);
    const pages = answers.reduce((n, a) => n + (a.result?.pages ?? 0), 0);
    const objects = answers.reduce((n, a) => n + (a.result?.objects ?? 0), 0);
    this.say(`Freed ${pages} pages of ${objects} objects under ${flags.path} on ${answers.filter((a) => a.result).length} workers`);
    return { path: flags.path, pages, objects, workers: answers };
  }
}
