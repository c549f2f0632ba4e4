import { Args } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { ResolveResult } from '../../src/cli/results.js';
import { formatTrace, loadSnapshot, resolutionDoc } from '../../src/control/resolve.js';

export default class PathMappingTest extends BaseCommand<typeof PathMappingTest, ResolveResult> {
  static override summary = 'Show which rule an Alluxio path hits and what it becomes.';
  static override description = 'Resolves the path against the current rules and mount table (one etcd revision) and prints the trace. A result that lands in no mount is not an error here: mount and ufsUri are null and the exit code is 0. `--json` prints the same document as `alluxio resolve --json`.';
  static override examples = ['<%= config.bin %> path-mapping test /model/latest/config.json', '<%= config.bin %> path-mapping test /team-ml/data.csv --json'];
  static override args = {
    path: Args.string({ required: true, description: 'An Alluxio path, e.g. /model/latest/config.json.' }),
  };

  async run(): Promise<ResolveResult> {
    const { args } = await this.parseInput();
    const snap = await loadSnapshot(this.etcd());
    const r = snap.resolve({ api: 'alluxio', path: String(args.path) }, { allowUnmounted: true });
    if (!this.jsonEnabled()) {
      const head = r.rule ? `${r.alluxioPath} -> ${r.rewrittenPath} (rule ${r.rule.id})` : `${r.alluxioPath}: no rule matches`;
      this.say(head);
      this.say(r.ufsUri ? `UFS URI: ${r.ufsUri}` : `${r.rewrittenPath} is in no mount`);
      this.say(formatTrace(r.trace).map((l) => '  ' + l).join('\n'));
    }
    return resolutionDoc(r);
  }
}
