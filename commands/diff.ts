import { Flags } from '@oclif/core';
import type { DiffResult } from '../src/cli/results.js';
import { BaseCommand } from '../src/cli/base-command.js';
import { formatChanges } from '../src/cli/changes-view.js';
import { revisionArg } from '../src/cli/revision.js';
import { diffRevisions } from '../src/control/history.js';

export default class Diff extends BaseCommand<typeof Diff, DiffResult> {
  static override summary = 'Show how the mount table and the rules differ between two revisions.';
  static override description = 'The config at an older revision is rebuilt from the recorded history (so it works after etcd compacted it), or read from etcd while it still holds that revision. Without --to, compares with the current config.';
  static override examples = ['<%= config.bin %> diff --from 40', '<%= config.bin %> diff --from 40 --to 45 --json'];
  static override flags = {
    from: Flags.string({ required: true, summary: 'The older revision.' }),
    to: Flags.string({ summary: 'The newer revision (default: now).' }),
    'show-secrets': Flags.boolean({ default: false, summary: 'Do not redact secret mount option values.' }),
  };

  async run(): Promise<DiffResult> {
    const { flags } = await this.parseInput();
    const from = revisionArg(flags.from, '--from');
    const to = flags.to === undefined ? undefined : revisionArg(flags.to, '--to');
    const doc = await diffRevisions(this.etcd(), from, to, flags['show-secrets']);
    this.say(`config at revision ${doc.from} -> revision ${doc.to}:`);
    this.say(formatChanges(this.render, doc.changes));
    return doc;
  }
}
