import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import { setRuleEnabled } from '../../src/control/rules.js';

export default class PathMappingDisable extends BaseCommand<typeof PathMappingDisable> {
  static override summary = 'Disable a rule (it stays stored but is skipped).';
  static override examples = ['<%= config.bin %> path-mapping disable --id model-latest'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The rule to disable.' }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parseInput();
    const { revision, result } = await setRuleEnabled(this.etcd(), flags.id, false);
    this.say(result.changed ? `Rule ${result.rule.id} disabled at revision ${revision}` : `Rule ${result.rule.id} was already disabled (revision ${revision})`);
    const waited = await this.afterCommit(revision);
    return { revision, rule: result.rule, changed: result.changed, ...waited };
  }
}
