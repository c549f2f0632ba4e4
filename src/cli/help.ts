/**
 * Help class: oclif's own, plus an EXAMPLES section on `alluxio --help` built from the first
 * example of every command of this CLI (so new commands show up without editing this file).
 */
import { Help } from '@oclif/core';

export default class AlluxioHelp extends Help {
  protected override formatRoot(): string {
    const lines: string[] = [];
    const commands = [...this.config.commands]
      .filter((c) => !c.hidden && c.pluginName === this.config.name && !(c.aliases ?? []).includes(c.id) && c.examples && c.examples.length > 0)
      .sort((a, b) => a.id.localeCompare(b.id));
    for (const c of commands) {
      const first = c.examples![0]!;
      const text = typeof first === 'string' ? first : first.command;
      const line = `$ ${this.render(text).replace(/^\$\s*/, '')}`;
      if (!lines.includes(line)) lines.push(line);
    }
    const root = super.formatRoot();
    if (lines.length === 0) return root;
    return `${root}\n\n${this.section('EXAMPLES', lines.join('\n'))}`;
  }
}
