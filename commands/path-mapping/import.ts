import { readFileSync } from 'node:fs';
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { RuleImportResult } from '../../src/cli/results.js';
import { importRules, parseRuleFile } from '../../src/control/rules.js';
import { AlluxioError } from '../../src/domain/errors.js';

export default class PathMappingImport extends BaseCommand<typeof PathMappingImport, RuleImportResult> {
  static override summary = "Import Alluxio's path_mapping.json as ordered regex rules (all or nothing).";
  static override description = [
    'The file is {"rules": [{"src": REGEX, "dst": TEMPLATE}, ...], "virtualDirectories": [...]}. Rules become regex rules',
    '<prefix>-1, <prefix>-2, ... in file order, after the existing rules (or instead of them with --replace), in ONE',
    'etcd transaction: a file that is not JSON, not this shape, or holds one invalid rule imports nothing (exit 2).',
    'virtualDirectories need no import: the directories a rule source names appear in listings by themselves.',
  ].join('\n');
  static override examples = ['<%= config.bin %> path-mapping import path_mapping.json', '<%= config.bin %> path-mapping import path_mapping.json --replace --yes', 'cat path_mapping.json | <%= config.bin %> path-mapping import -'];
  static override args = {
    file: Args.string({ required: true, description: 'The rule file ("-" reads stdin).' }),
  };
  static override flags = {
    ...BaseCommand.waitFlags,
    replace: Flags.boolean({ default: false, summary: 'Remove every existing rule in the same transaction (asks first).' }),
    'id-prefix': Flags.string({ default: 'import', summary: 'Ids of the imported rules: <prefix>-1, <prefix>-2, ...' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask before --replace.' }),
  };

  async run(): Promise<RuleImportResult> {
    const { flags, args } = await this.parseInput();
    const name = String(args.file);
    let text: string;
    try {
      text = readFileSync(name === '-' ? 0 : name, 'utf8');
    } catch (e) {
      throw new AlluxioError('InvalidArgument', `cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const file = parseRuleFile(text, name === '-' ? 'stdin' : name);
    if (flags.replace) await this.confirm(`Replace ALL existing rules with the ${file.rules.length} rule(s) of ${name}?`, flags.yes);
    const { revision, result } = await importRules(this.etcd(), { file, idPrefix: flags['id-prefix'], replace: flags.replace });
    for (const w of result.warnings) this.warnLine(w);
    if (file.virtualDirectories?.length) this.note(`note: ${file.virtualDirectories.length} virtualDirectories entries: the directories rule sources name are listed automatically`);
    this.say(`Imported ${result.rules.length} rule(s)${result.removed.length ? `, removed ${result.removed.length}` : ''} at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, rules: result.rules, removed: result.removed, warnings: result.warnings, ...waited };
  }
}
