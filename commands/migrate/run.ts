import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { MigrateRunResult } from '../../src/cli/results.js';
import { runCopier } from '../../src/migrate/copier.js';
import { parseMigrationId } from '../../src/migrate/record.js';

export default class MigrateRun extends BaseCommand<typeof MigrateRun, MigrateRunResult> {
  static override summary = 'Internal: the copier process of a migration (started by migrate start / resume).';
  static override hidden = true;
  static override enableJsonFlag = false;
  static override flags = {
    id: Flags.string({ required: true, summary: 'The migration (m-1, ...).' }),
    'log-file': Flags.string({ summary: 'Where this process logs (recorded for status).' }),
  };

  async run(): Promise<MigrateRunResult> {
    const { flags } = await this.parseInput();
    const log = (msg: string, extra?: Record<string, unknown>) =>
      process.stdout.write(`${new Date().toISOString()} ${flags.id} ${msg}${extra ? ' ' + JSON.stringify(extra) : ''}\n`);
    log(`copier started (pid ${process.pid})`);
    const state = await runCopier(this.etcd(), parseMigrationId(flags.id), { log, ...(flags['log-file'] ? { logFile: flags['log-file'] } : {}) });
    log(`copier exiting; migration is ${state}`);
    return { id: flags.id, state };
  }
}
