import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { MigrateAbortResult } from '../../src/cli/results.js';
import { abort } from '../../src/control/migrations.js';
import { redactOptions } from '../../src/domain/mounts.js';
import { parseMigrationId } from '../../src/migrate/record.js';
import { getRecord } from '../../src/migrate/store.js';
import { transition } from '../../src/migrate/record.js';

export default class MigrateAbort extends BaseCommand<typeof MigrateAbort, MigrateAbortResult> {
  static override summary = 'Stop a migration and leave the mount exactly as it was (asks first; --yes skips).';
  static override description =
    'For a migration that is copying, verifying, ready or failed: one transaction restores the mount (old URI, options and mode) and marks the migration aborted; the copier stops at its next checkpoint. Files already copied to the new UFS are left there.';
  static override examples = ['<%= config.bin %> migrate abort --id m-1', '<%= config.bin %> migrate abort --id m-1 --yes --json'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The migration (m-1, ...).' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask for confirmation.' }),
  };

  async run(): Promise<MigrateAbortResult> {
    const { flags } = await this.parseInput();
    const id = parseMigrationId(flags.id);
    const conn = this.etcd();
    const { record } = await getRecord(conn, id);
    transition(record, 'aborted', new Date()); // a migration that cannot be aborted is refused (exit 3) before asking
    await this.confirm(`Abort ${id} (${record.path}: ${record.from.ufsUri} -> ${record.to.ufsUri}, ${record.state})?`, flags.yes);
    const { revision, result } = await abort(conn, id);
    this.say(`Aborted ${id}; ${result.mount.path} -> ${result.mount.ufsUri}${result.mount.readOnly ? ' (read-only)' : ''} as before, at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, id, state: result.record.state, mount: { ...result.mount, options: redactOptions(result.mount.options, false) }, ...waited };
  }
}
