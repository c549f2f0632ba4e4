import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { MountListResult } from '../../src/cli/results.js';
import { listMounts } from '../../src/control/mounts.js';
import { redactOptions } from '../../src/domain/mounts.js';

export default class MountList extends BaseCommand<typeof MountList, MountListResult> {
  static override summary = 'List the mount table.';
  static override description = 'A table on a terminal, one tab-separated line per mount in a pipe (path, UFS URI, mode, options), or one JSON document with --json. Secret-looking option values are shown as *** unless --show-secrets.';
  static override examples = ['<%= config.bin %> mount list', '<%= config.bin %> mount list --json | jq ".mounts[].path"', '<%= config.bin %> mount list --show-secrets'];
  static override flags = {
    'show-secrets': Flags.boolean({ default: false, summary: 'Show secret option values instead of ***.' }),
  };

  async run(): Promise<MountListResult> {
    const { flags } = await this.parseInput();
    const { revision, mounts, invalid } = await listMounts(this.etcd());
    const shown = mounts.map((m) => ({ ...m, options: redactOptions(m.options, flags['show-secrets']) }));
    for (const bad of invalid) this.warnLine(`skipping malformed entry ${bad.key}: ${bad.error}`);
    if (!this.jsonEnabled()) {
      if (shown.length === 0) {
        if (this.render.isTTY) this.say('No mounts. Add one with: alluxio mount add --path /data --ufs-uri s3://bucket/data/');
      } else {
        const rows = shown.map((m) => [
          m.path,
          m.ufsUri,
          m.readOnly ? 'ro' : 'rw',
          Object.entries(m.options).map(([k, v]) => `${k}=${v}`).join(',') || '-',
        ]);
        this.say(this.render.table(['PATH', 'UFS URI', 'MODE', 'OPTIONS'], rows));
      }
    }
    return { revision, mounts: shown };
  }
}
