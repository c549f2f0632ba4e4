import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { ReboundResult } from '../../src/cli/results.js';
import { cutover } from '../../src/control/migrations.js';
import { reboundDoc, reboundLine } from '../../src/cli/migration-view.js';
import { parseMigrationId } from '../../src/migrate/record.js';

export default class MigrateCutover extends BaseCommand<typeof MigrateCutover, ReboundResult> {
  static override summary = 'Switch the mount to the new UFS in one etcd transaction.';
  static override description =
    'Only a verified (ready) migration can be cut over. One transaction points the mount at the new URI with the new options and its previous mode, and records the old binding for rollback, so S3, FSSpec and FUSE all switch at the same revision; requests in flight finish on the old UFS. --wait returns once every live worker applies it.';
  static override examples = ['<%= config.bin %> migrate cutover --id m-1 --wait'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The migration (m-1, ...).' }),
  };

  async run(): Promise<ReboundResult> {
    const { flags } = await this.parseInput();
    const { revision, result } = await cutover(this.etcd(), parseMigrationId(flags.id));
    this.say(reboundLine('Cut over', revision, result));
    const waited = await this.afterCommit(revision);
    return { ...reboundDoc(revision, result), ...waited };
  }
}
