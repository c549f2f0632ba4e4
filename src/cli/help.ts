/**
 * Help class: oclif's own, plus an EXAMPLES section on `alluxio --help` built from the first
 * example of every command of this CLI (so new commands show up without editing this file).
 * A topic named with --json and no subcommand (`alluxio mount --json`) is a usage error, not
 * help text on stdout where a script expects one JSON document (src/cli/main.ts renders it).
 */
import { Errors, Help, type Interfaces } from '@oclif/core';
import { ExitCode } from '../domain/errors.js';

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

  protected override async showTopicHelp(topic: Interfaces.Topic): Promise<void> {
    const argv = process.argv.slice(2);
    const own = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
    if (own.includes('--json') && !own.includes('--help') && !own.includes('-h')) {
      const depth = topic.name.split(':').length + 1;
      const subs = this.config.commands
        .filter((c) => !c.hidden && c.id.startsWith(topic.name + ':') && c.id.split(':').length === depth)
        .map((c) => c.id.split(':').pop()!)
        .sort();
      const name = `${this.config.bin} ${topic.name.replace(/:/g, ' ')}`;
      throw new Errors.CLIError(`${name} needs a subcommand: ${subs.join(', ')} (see ${name} --help)`, { exit: ExitCode.usage });
    }
    await super.showTopicHelp(topic);
  }
}
