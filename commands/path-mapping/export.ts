import { BaseCommand } from '../../src/cli/base-command.js';
import type { RuleExportResult } from '../../src/cli/results.js';
import { exportRules, listRules } from '../../src/control/rules.js';

export default class PathMappingExport extends BaseCommand<typeof PathMappingExport, RuleExportResult> {
  static override summary = "Print the rules as Alluxio's path_mapping.json.";
  static override description = 'Prefix rules are written as their equivalent regex rules (^/a/b(/.*)?$ -> /c{{ var1 }}); disabled rules are left out; virtualDirectories lists the directories the rule sources make appear. With --json the document also carries the revision it was read at.';
  static override examples = ['<%= config.bin %> path-mapping export > path_mapping.json'];

  async run(): Promise<RuleExportResult> {
    await this.parseInput();
    const { revision, rules } = await listRules(this.etcd());
    const { skipped, ...file } = exportRules(rules);
    for (const s of skipped) this.note(`note: ${s}`);
    this.say(JSON.stringify(file, null, 2));
    return { revision, ...file };
  }
}
