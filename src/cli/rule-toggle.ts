/**
 * `path-mapping enable` and `path-mapping disable`: one implementation, the subclasses
 * only say which way they switch the rule.
 */
import { Flags } from '@oclif/core';
import { BaseCommand } from './base-command.js';
import { setRuleEnabled } from '../control/rules.js';
import type { RuleToggleResult } from './results.js';

export abstract class RuleToggleCommand extends BaseCommand<typeof RuleToggleCommand, RuleToggleResult> {
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The rule to switch.' }),
  };

  /** true: enable, false: disable. */
  protected abstract readonly enable: boolean;

  async run(): Promise<RuleToggleResult> {
    const { flags } = await this.parseInput();
    const { revision, result } = await setRuleEnabled(this.etcd(), flags.id, this.enable);
    const done = this.enable ? 'enabled' : 'disabled';
    this.say(result.changed ? `Rule ${result.rule.id} ${done} at revision ${revision}` : `Rule ${result.rule.id} was already ${done} (revision ${revision})`);
    const waited = await this.afterCommit(revision);
    return { revision, rule: result.rule, changed: result.changed, ...waited };
  }
}
