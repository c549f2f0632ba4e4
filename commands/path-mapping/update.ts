import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { RuleUpdateResult } from '../../src/cli/results.js';
import { describeRule, updateRule } from '../../src/control/rules.js';
import { AlluxioError } from '../../src/domain/errors.js';

export default class PathMappingUpdate extends BaseCommand<typeof PathMappingUpdate, RuleUpdateResult> {
  static override summary = 'Change a rule in place: its target, source, order, exclude pattern or state.';
  static override description = [
    'The everyday move of an alias is one command: `path-mapping update --id model-latest --to /model/v4`.',
    'The rule keeps its id and order; the change is one etcd transaction, so every worker switches from the old',
    'target to the new one at one revision, never seeing both or neither.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> path-mapping update --id model-latest --to /model/v4',
    "<%= config.bin %> path-mapping update --id team --dst '/shared/{{ var1 }}/current/{{ var2 }}'",
    '<%= config.bin %> path-mapping update --id model-latest --order 5 --no-exclude',
  ];
  static override flags = {
    ...BaseCommand.waitFlags,
    id: Flags.string({ required: true, summary: 'The rule to change.' }),
    from: Flags.string({ summary: 'New prefix source (makes it a prefix rule).', exclusive: ['src', 'dst'] }),
    to: Flags.string({ summary: 'New prefix target.', exclusive: ['src', 'dst'] }),
    src: Flags.string({ summary: 'New regex source (makes it a regex rule).', exclusive: ['from', 'to'] }),
    dst: Flags.string({ summary: 'New regex target template.', exclusive: ['from', 'to'] }),
    order: Flags.integer({ summary: 'New evaluation order.' }),
    exclude: Flags.string({ summary: 'New exclude pattern.', exclusive: ['no-exclude'] }),
    'no-exclude': Flags.boolean({ default: false, summary: 'Drop the exclude pattern.' }),
    enabled: Flags.boolean({ allowNo: true, summary: 'Enable (--enabled) or disable (--no-enabled) the rule.' }),
  };

  async run(): Promise<RuleUpdateResult> {
    const { flags } = await this.parseInput();
    const prefixGiven = flags.from !== undefined || flags.to !== undefined;
    const regexGiven = flags.src !== undefined || flags.dst !== undefined;
    const nothing = !prefixGiven && !regexGiven && flags.order === undefined && flags.exclude === undefined && !flags['no-exclude'] && flags.enabled === undefined;
    if (nothing) throw new AlluxioError('InvalidArgument', 'nothing to update: give --to/--from, --src/--dst, --order, --exclude/--no-exclude or --[no-]enabled');
    const { revision, result, unchanged } = await updateRule(this.etcd(), {
      id: flags.id,
      kind: prefixGiven ? 'prefix' : regexGiven ? 'regex' : undefined,
      src: flags.from ?? flags.src,
      dst: flags.to ?? flags.dst,
      order: flags.order,
      exclude: flags.exclude,
      removeExclude: flags['no-exclude'],
      enabled: flags.enabled,
    });
    for (const w of result.warnings) this.warnLine(w);
    this.say(unchanged ? `Rule ${describeRule(result.rule)} already: nothing changed, nothing written (config revision ${revision})` : `Updated rule ${describeRule(result.rule)} at revision ${revision} (was ${result.previous.src} -> ${result.previous.dst})`);
    const waited = await this.afterCommit(revision);
    return { revision, rule: result.rule, previous: result.previous, warnings: result.warnings, changed: !unchanged, ...waited };
  }
}
