import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { RuleAddResult } from '../../src/cli/results.js';
import { addRule, describeRule } from '../../src/control/rules.js';
import { AlluxioError } from '../../src/domain/errors.js';

export default class PathMappingAdd extends BaseCommand<typeof PathMappingAdd, RuleAddResult> {
  static override summary = 'Add a virtual path mapping rule (prefix: --from/--to; regex: --src/--dst).';
  static override description = [
    'A prefix rule is segment-aware: --from /model/latest matches /model/latest and /model/latest/a, never /model/latest2.',
    'A regex rule matches the WHOLE path (implicitly anchored), runs on RE2 (linear time), and fills --dst from {{ var1 }}.. or {{ name }} (named groups).',
    'Rules are tried by --order (then id); the first match wins; the result is not fed back into the rules.',
    'An existing id is a conflict (exit 3): change a rule with `path-mapping update --id ID`.',
    'A rule whose target lands in no mount is accepted with a warning (the mount may come next).',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> path-mapping add --from /model/latest --to /model/v3 --id model-latest',
    "<%= config.bin %> path-mapping add --src '^/team-(\\w+)/(.*)$' --dst '/shared/{{ var1 }}/{{ var2 }}' --order 10 --id team",
    "<%= config.bin %> path-mapping add --from /data/raw --to /archive/raw --exclude '/data/raw/tmp(/.*)?'",
  ];
  static override flags = {
    ...BaseCommand.waitFlags,
    from: Flags.string({ summary: 'Prefix rule: the canonical Alluxio path to redirect.', exclusive: ['src', 'dst'], dependsOn: ['to'] }),
    to: Flags.string({ summary: 'Prefix rule: the canonical Alluxio path it maps to.', exclusive: ['src', 'dst'], dependsOn: ['from'] }),
    src: Flags.string({ summary: 'Regex rule: RE2 pattern matched against the whole path.', exclusive: ['from', 'to'], dependsOn: ['dst'] }),
    dst: Flags.string({ summary: 'Regex rule: target template with {{ varN }} / {{ name }}.', exclusive: ['from', 'to'], dependsOn: ['src'] }),
    id: Flags.string({ summary: 'Rule id (default: generated, r-xxxxxx).' }),
    order: Flags.integer({ summary: 'Evaluation order, lower first (default: 10 after the last rule).' }),
    exclude: Flags.string({ summary: 'RE2 pattern (whole path) of paths this rule leaves alone.' }),
    disabled: Flags.boolean({ default: false, summary: 'Store the rule disabled.' }),
  };

  async run(): Promise<RuleAddResult> {
    const { flags } = await this.parseInput();
    let kind: 'prefix' | 'regex';
    let src: string;
    let dst: string;
    if (flags.from !== undefined && flags.to !== undefined) {
      kind = 'prefix';
      src = flags.from;
      dst = flags.to;
    } else if (flags.src !== undefined && flags.dst !== undefined) {
      kind = 'regex';
      src = flags.src;
      dst = flags.dst;
    } else {
      throw new AlluxioError('InvalidArgument', 'give either --from and --to (prefix rule) or --src and --dst (regex rule)');
    }
    const { revision, result } = await addRule(this.etcd(), { id: flags.id, order: flags.order, kind, src, dst, exclude: flags.exclude, enabled: !flags.disabled });
    for (const w of result.warnings) this.warnLine(w);
    this.say(`Added rule ${describeRule(result.rule)} at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, rule: result.rule, warnings: result.warnings, ...waited };
  }
}
