import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { RuleRemoveResult } from '../../src/cli/results.js';
import { getRule, removeRule, describeRule } from '../../src/control/rules.js';
import type { RuleSpec } from '../../src/domain/rules.js';
import { isAlluxioError } from '../../src/domain/errors.js';

export default class PathMappingRemove extends BaseCommand<typeof PathMappingRemove, RuleRemoveResult> {
  static override summary = 'Remove a rule (asks first; --yes skips the question).';
  static override description = 'Paths the rule redirected resolve as written again. An unknown id exits 4. --force also removes a malformed value stored under the id.';
  static override examples = ['<%= config.bin %> path-mapping remove --id model-latest', '<%= config.bin %> path-mapping remove --id model-latest --yes --json'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The rule to remove.' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask for confirmation.' }),
    force: Flags.boolean({ default: false, summary: 'Also remove a malformed value stored under this id.' }),
  };

  async run(): Promise<RuleRemoveResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    let shown: RuleSpec | 'malformed' | undefined;
    try {
      shown = await getRule(conn, flags.id);
    } catch (e) {
      if (!(flags.force && isAlluxioError(e) && e.code === 'InvalidState')) throw e;
      shown = 'malformed';
    }
    await this.confirm(`Remove ${shown === 'malformed' ? `the malformed value of rule ${flags.id}` : `rule ${describeRule(shown)}`}?`, flags.yes);
    // (the rule as confirmed: one changed meanwhile is not removed, as mount remove)
    const { revision, result } = await removeRule(conn, flags.id, flags.force, shown);
    this.say(`Removed ${result ? `rule ${describeRule(result)}` : `malformed value of rule ${flags.id}`} at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, rule: result, ...waited };
  }
}
