import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { ReboundResult } from '../../src/cli/results.js';
import { rollback } from '../../src/control/migrations.js';
import { reboundDoc, reboundLine } from '../../src/cli/migration-view.js';
import { parseMigrationId } from '../../src/migrate/record.js';

export default class MigrateRollback extends BaseCommand<typeof MigrateRollback, ReboundResult> {
  static override summary = 'Point a cut-over mount back at its old UFS, in one etcd transaction.';
  static override description =
    'The reverse of cutover: the mount gets its recorded old URI and options back (keeping its current mode). Refused (exit 3) when the new UFS changed since verification, because writes made after cutover would disappear from view; --force rolls back anyway.';
  static override examples = ['<%= config.bin %> migrate rollback --id m-1 --wait'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The migration (m-1, ...).' }),
    force: Flags.boolean({ default: false, summary: 'Roll back even if the new UFS changed after cutover.' }),
  };

  async run(): Promise<ReboundResult> {
    const { flags } = await this.parseInput();
    const { revision, result } = await rollback(this.etcd(), parseMigrationId(flags.id), { force: flags.force });
    this.say(reboundLine('Rolled back', revision, result));
    const waited = await this.afterCommit(revision);
    return { ...reboundDoc(revision, result), ...waited };
  }
}
