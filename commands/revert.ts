import { Flags } from '@oclif/core';
import type { RevertResult } from '../src/cli/results.js';
import { BaseCommand } from '../src/cli/base-command.js';
import { formatChanges } from '../src/cli/changes-view.js';
import { revisionArg } from '../src/cli/revision.js';
import { revertTo } from '../src/control/history.js';

export default class Revert extends BaseCommand<typeof Revert, RevertResult> {
  static override summary = 'Put the mount table and the rules back to what they were at a revision.';
  static override description = 'One guarded etcd transaction against the config this command read: if another change lands in between, nothing is reverted (exit 3). Refused while a migration holds a mount it would change. On a terminal it lists the changes and asks first (--yes skips); without one it goes ahead, as scripts run it. The revert is itself recorded in history, so it can be reverted too.';
  static override examples = ['<%= config.bin %> revert --to 40', '<%= config.bin %> revert --to 40 --dry-run', '<%= config.bin %> revert --to 40 --wait --json'];
  static override flags = {
    ...BaseCommand.waitFlags,
    to: Flags.string({ required: true, summary: 'The revision whose config to restore (alluxio history lists them).' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask on a terminal.' }),
  };

  async run(): Promise<RevertResult> {
    const { flags } = await this.parseInput();
    const to = revisionArg(flags.to, '--to');
    const { revision, result, unchanged } = await revertTo(this.etcd(), to, async (changes) => {
      const removed = changes.filter((c) => c.action === 'removed').length;
      const message = `Revert to the config of revision ${to}: ${changes.length} change(s)${removed ? `, ${removed} removal(s)` : ''}?`;
      if (process.stdin.isTTY && process.stderr.isTTY && !flags.yes && !flags['dry-run']) process.stderr.write(`${formatChanges(this.render, changes)}\n`);
      await this.confirm(message, flags.yes, 'proceed');
    });
    if (unchanged) {
      this.say(`The config is already that of revision ${result.revertedTo}: nothing to revert, nothing written (config revision ${revision})`);
    } else {
      this.say(`Reverted to the config of revision ${result.revertedTo} at revision ${revision}:`);
      this.say(formatChanges(this.render, result.changes));
    }
    const waited = await this.afterCommit(revision);
    return { revision, ...result, ...waited };
  }
}
