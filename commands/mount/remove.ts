import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { MountRemoveResult } from '../../src/cli/results.js';
import { getMount, removeMount } from '../../src/control/mounts.js';
import { redactOptions } from '../../src/domain/mounts.js';
import { isAlluxioError } from '../../src/domain/errors.js';

export default class MountRemove extends BaseCommand<typeof MountRemove, MountRemoveResult> {
  static override summary = 'Remove a mount (asks first; --yes skips the question).';
  static override description = 'Data in the UFS is not touched; the path simply stops resolving. Without a terminal and without --yes the command refuses (exit 2) instead of waiting for an answer. A malformed value stored under the path (written by hand) is refused with exit 3; --force removes it.';
  static override examples = ['<%= config.bin %> mount remove --path /data', '<%= config.bin %> mount remove --path /data --yes --json'];
  static override aliases = ['unmount'];
  static override flags = {
    ...BaseCommand.waitFlags,
    path: Flags.string({ required: true, summary: 'The mount to remove, e.g. /data.' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask for confirmation.' }),
    force: Flags.boolean({ default: false, summary: 'Also remove a malformed value stored under this path.' }),
  };

  async run(): Promise<MountRemoveResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    let existing: Awaited<ReturnType<typeof getMount>> | undefined;
    try {
      existing = await getMount(conn, flags.path);
    } catch (e) {
      if (!(flags.force && isAlluxioError(e) && e.code === 'InvalidState')) throw e;
    }
    await this.confirm(existing ? `Remove mount ${existing.path} -> ${existing.ufsUri}?` : `Remove the malformed value stored for mount ${flags.path}?`, flags.yes);
    const { revision, result } = await removeMount(conn, flags.path, existing ? { ufsUri: existing.ufsUri } : 'malformed', flags.force);
    this.say(result ? `Removed ${result.path} (was ${result.ufsUri}) at revision ${revision}` : `Removed the malformed value of mount ${flags.path} at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, mount: result ? { ...result, options: redactOptions(result.options, false) } : null, ...waited };
  }
}
