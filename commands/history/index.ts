import { Flags } from '@oclif/core';
import type { HistoryResult } from '../../src/cli/results.js';
import { BaseCommand } from '../../src/cli/base-command.js';
import { listHistory } from '../../src/control/history.js';

export default class History extends BaseCommand<typeof History, HistoryResult> {
  static override summary = 'Show who changed the mount table and the rules, when, and how.';
  static override description = 'Every config change is recorded in etcd (under /alluxio/<cluster>/history/) in the same transaction as the change itself, newest first: revision, time, etcd user, OS user@host, command and a summary. `alluxio history show REV` prints one change in full; `alluxio revert --to REV` puts an older config back. The last ALLUXIO_HISTORY_KEEP changes (default 1000) are kept.';
  static override examples = ['<%= config.bin %> history', '<%= config.bin %> history --path /model --limit 5', '<%= config.bin %> history --json | jq ".entries[0]"'];
  static override flags = {
    path: Flags.string({ summary: 'Only changes to mounts or rules that concern this Alluxio path.' }),
    limit: Flags.integer({ default: 20, min: 1, summary: 'How many changes to show (newest first).' }),
  };

  async run(): Promise<HistoryResult> {
    const { flags } = await this.parseInput();
    const doc = await listHistory(this.etcd(), { ...(flags.path !== undefined ? { path: flags.path } : {}), limit: flags.limit });
    for (const bad of doc.invalid) this.warnLine(`${bad.error}; skipped`);
    if (!this.jsonEnabled()) {
      if (doc.entries.length === 0) this.say('No recorded changes.');
      else {
        const rows = doc.entries.map((e) => [e.revision, e.at, e.who.etcdUser ?? '-', e.who.os, e.command, e.summary]);
        this.say(this.render.table(['REVISION', 'TIME', 'ETCD USER', 'WHO', 'COMMAND', 'SUMMARY'], rows));
      }
    }
    return doc;
  }
}
