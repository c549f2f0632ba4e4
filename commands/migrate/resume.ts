import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { MigrateResumeResult } from '../../src/cli/results.js';
import { resume } from '../../src/control/migrations.js';
import { parseBytes, parseMigrationId } from '../../src/migrate/record.js';
import { stateDir } from '../../src/migrate/spawn.js';

export default class MigrateResume extends BaseCommand<typeof MigrateResume, MigrateResumeResult> {
  static override summary = 'Continue an interrupted or failed migration where it stopped.';
  static override description =
    'Starts a new copier for a migration whose copier died (killed, machine restarted) or that failed: it skips every file the checkpoint in etcd records as copied, copies files that failed verification again, then verifies. Refused (exit 3) while a copier is alive.';
  static override examples = ['<%= config.bin %> migrate resume --id m-1', '<%= config.bin %> migrate resume --id m-1 --bandwidth 0 --concurrency 8'];
  static override flags = {
    id: Flags.string({ required: true, summary: 'The migration (m-1, ...).' }),
    concurrency: Flags.integer({ min: 1, max: 64, summary: 'Change the number of files copied at the same time.' }),
    bandwidth: Flags.string({ summary: 'Change the bandwidth limit (bytes per second, e.g. 50MiB; 0 for none).' }),
    'state-dir': Flags.string({ env: 'ALLUXIO_STATE_DIR', summary: 'Where the copier keeps its log and pid file (default ~/.alluxio).' }),
  };

  async run(): Promise<MigrateResumeResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    const { record, copier } = await resume(conn, parseMigrationId(flags.id), stateDir(conn.options.cluster, flags['state-dir']), {
      concurrency: flags.concurrency,
      bandwidth: flags.bandwidth === undefined ? undefined : parseBytes(flags.bandwidth, '--bandwidth'),
    });
    this.say(`Resumed ${record.id} (${record.files.done}/${record.files.total} files already copied); copier pid ${copier.pid}, log ${copier.log}`);
    return { id: record.id, state: record.state, copier: { pid: copier.pid, log: copier.log } };
  }
}
