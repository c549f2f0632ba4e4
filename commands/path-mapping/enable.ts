import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import { RuleToggleCommand } from '../../src/cli/rule-toggle.js';

export default class PathMappingEnable extends RuleToggleCommand {
  static override summary = 'Enable a rule (it takes part in resolution again).';
  static override examples = ['<%= config.bin %> path-mapping enable --id model-latest'];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The rule to enable.' }),
  };

  protected readonly enable = true;
}
