import { Args, Flags } from '@oclif/core';
import type { HistoryShowResult } from '../../src/cli/results.js';
import { BaseCommand } from '../../src/cli/base-command.js';
import { formatChanges } from '../../src/cli/changes-view.js';
import { showHistory } from '../../src/control/history.js';
import { revisionArg } from '../../src/cli/revision.js';

export default class HistoryShowCmd extends BaseCommand<typeof HistoryShowCmd, HistoryShowResult> {
  static override summary = 'Show one recorded config change as a diff of mounts and rules.';
  static override examples = ['<%= config.bin %> history show 42', '<%= config.bin %> history show 42 --json'];
  static override args = {
    revision: Args.string({ required: true, description: 'The revision the change was committed at (alluxio history lists them).' }),
  };
  static override flags = {
    'show-secrets': Flags.boolean({ default: false, summary: 'Do not redact secret mount option values.' }),
  };

  async run(): Promise<HistoryShowResult> {
    const { args, flags } = await this.parseInput();
    const doc = await showHistory(this.etcd(), revisionArg(String(args.revision), 'REV'), flags['show-secrets']);
    this.say(`revision ${doc.revision}  ${doc.at}  ${doc.who.os}${doc.who.etcdUser ? ` (etcd user ${doc.who.etcdUser})` : ''}  ${doc.command}`);
    this.say(formatChanges(this.render, doc.changes));
    return doc;
  }
}
