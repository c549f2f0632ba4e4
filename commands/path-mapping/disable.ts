import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import { RuleToggleCommand } from '../../src/cli/rule-toggle.js';

export default class PathMappingDisable extends RuleToggleCommand {
  static override summary = 'Disable a rule (it stays stored but is skipped).';
  static override examples = ['<%= config.bin %> path-mapping disable --id model-latest'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The rule to disable.' }),
  };

  protected readonly enable = false;
}
