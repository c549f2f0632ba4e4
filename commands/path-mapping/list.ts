import { BaseCommand } from '../../src/cli/base-command.js';
import type { RuleListResult } from '../../src/cli/results.js';
import { listRules } from '../../src/control/rules.js';

export default class PathMappingList extends BaseCommand<typeof PathMappingList, RuleListResult> {
  static override summary = 'List the virtual path mapping rules in evaluation order.';
  static override description = 'Rules are tried in this order (order, then id); the first match wins. A table on a terminal, one tab-separated line per rule in a pipe (order, id, kind, src, dst, exclude, state), or one JSON document with --json.';
  static override examples = ['<%= config.bin %> path-mapping list', '<%= config.bin %> path-mapping list --json | jq ".rules[].id"'];

  async run(): Promise<RuleListResult> {
    await this.parseInput();
    const { revision, rules, invalid } = await listRules(this.etcd());
    for (const bad of invalid) this.warnLine(`skipping malformed rule ${bad.key}: ${bad.error}`);
    if (!this.jsonEnabled()) {
      if (rules.length === 0) {
        if (this.render.isTTY) this.say('No rules. Add one with: alluxio path-mapping add --from /model/latest --to /model/v3');
      } else {
        const rows = rules.map((r) => [r.order, r.id, r.kind, r.src, r.dst, r.exclude ?? '-', r.enabled ? 'enabled' : 'disabled']);
        this.say(this.render.table(['ORDER', 'ID', 'KIND', 'SRC', 'DST', 'EXCLUDE', 'STATE'], rows));
      }
    }
    return { revision, rules };
  }
}
