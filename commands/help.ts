import { Args, Command, Flags, loadHelpClass } from '@oclif/core';

/** `alluxio help [COMMAND]`: the same help as `alluxio COMMAND --help`. */
export default class HelpCommand extends Command {
  static override description = 'Display help for alluxio or one of its commands.';
  static override examples = ['$ alluxio help mount add', '$ alluxio help --nested-commands'];
  static override strict = false;
  static override args = {
    command: Args.string({ description: 'Command to show help for.', required: false }),
  };
  static override flags = {
    'nested-commands': Flags.boolean({ char: 'n', description: 'Include all nested commands in the output.' }),
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(HelpCommand);
    const Help = await loadHelpClass(this.config);
    await new Help(this.config, { all: flags['nested-commands'] }).showHelp(argv as string[]);
  }
}
