import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import { setRuleEnabled } from '../../src/control/rules.js';

export default class PathMappingEnable extends BaseCommand<typeof PathMappingEnable> {
  static override summary = 'Enable a rule (it takes part in resolution again).';
  static override examples = ['<%= config.bin %> path-mapping enable --id model-latest'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The rule to enable.' }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parseInput();
    const { revision, result } = await setRuleEnabled(this.etcd(), flags.id, true);
    this.say(result.changed ? `Rule ${result.rule.id} enabled at revision ${revision}` : `Rule ${result.rule.id} was already enabled (revision ${revision})`);
    const waited = await this.afterCommit(revision);
    return { revision, rule: result.rule, changed: result.changed, ...waited };
  }
}
