import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { MountRemoveResult } from '../../src/cli/results.js';
import { getMount, removeMount } from '../../src/control/mounts.js';
import { redactOptions } from '../../src/domain/mounts.js';

export default class MountRemove extends BaseCommand<typeof MountRemove, MountRemoveResult> {
  static override summary = 'Remove a mount (asks first; --yes skips the question).';
  static override description = 'Data in the UFS is not touched; the path simply stops resolving. Without a terminal and without --yes the command refuses (exit 2) instead of waiting for an answer.';
  static override examples = ['<%= config.bin %> mount remove --path /data', '<%= config.bin %> mount remove --path /data --yes --json'];
  static override aliases = ['unmount'];
  static override flags = {
    ...BaseCommand.waitFlags,
    path: Flags.string({ required: true, summary: 'The mount to remove, e.g. /data.' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask for confirmation.' }),
  };

  async run(): Promise<MountRemoveResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    const existing = await getMount(conn, flags.path);
    await this.confirm(`Remove mount ${existing.path} -> ${existing.ufsUri}?`, flags.yes);
    const { revision, result } = await removeMount(conn, flags.path, { ufsUri: existing.ufsUri });
    this.say(`Removed ${result.path} (was ${result.ufsUri}) at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, mount: { ...result, options: redactOptions(result.options, false) }, ...waited };
  }
}
