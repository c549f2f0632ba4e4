import { Flags } from '@oclif/core';
import { BaseCommand, many } from '../../src/cli/base-command.js';
import type { MountUpdateResult } from '../../src/cli/results.js';
import { updateMount } from '../../src/control/mounts.js';
import { parseOptions, redactOptions } from '../../src/domain/mounts.js';
import { AlluxioError } from '../../src/domain/errors.js';

export default class MountUpdate extends BaseCommand<typeof MountUpdate, MountUpdateResult> {
  static override summary = 'Change the UFS URI, options or mode of an existing mount.';
  static override description = 'The new entry is validated against the rest of the table (no nesting) and committed in one etcd transaction against the revision it read.';
  static override examples = [
    '<%= config.bin %> mount update --path /data --ufs-uri s3://other-bucket/data/',
    '<%= config.bin %> mount update --path /data --option s3a.region=eu-west-1',
    '<%= config.bin %> mount update --path /data --remove-option s3a.region',
    '<%= config.bin %> mount update --path /data --readonly',
  ];
  static override flags = {
    ...BaseCommand.waitFlags,
    path: Flags.string({ required: true, summary: 'The mount to change, e.g. /data.' }),
    'ufs-uri': Flags.string({ summary: 'New UFS URI.' }),
    option: Flags.string({ multiple: true, summary: 'Set option key=value (repeatable).' }),
    'remove-option': Flags.string({ multiple: true, summary: 'Remove option key (repeatable).' }),
    readonly: Flags.boolean({ allowNo: true, summary: 'Make the mount read-only (--no-readonly: writable).' }),
    'show-secrets': Flags.boolean({ default: false, summary: 'Do not redact secret option values in the output.' }),
  };

  async run(): Promise<MountUpdateResult> {
    const { flags } = await this.parseInput();
    const setOptions = parseOptions(many(flags.option));
    const removeOptions = many(flags['remove-option']);
    if (flags['ufs-uri'] === undefined && flags.readonly === undefined && Object.keys(setOptions).length === 0 && removeOptions.length === 0) {
      throw new AlluxioError('InvalidArgument', 'nothing to update: give --ufs-uri, --option, --remove-option or --[no-]readonly');
    }
    const both = removeOptions.filter((k) => Object.hasOwn(setOptions, k));
    if (both.length > 0) throw new AlluxioError('InvalidArgument', `--option and --remove-option both name ${both.join(', ')}: give one of them`);
    const { revision, result, unchanged } = await updateMount(this.etcd(), { path: flags.path, ufsUri: flags['ufs-uri'], readOnly: flags.readonly, setOptions, removeOptions });
    const show = flags['show-secrets'];
    const after = { ...result.after, options: redactOptions(result.after.options, show) };
    const before = { ...result.before, options: redactOptions(result.before.options, show) };
    const what = `${after.path} -> ${after.ufsUri}${after.readOnly ? ' (read-only)' : ''}`;
    this.say(unchanged ? `${what} already: nothing changed, nothing written (config revision ${revision})` : `Updated ${what} at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, mount: after, previous: before, changed: !unchanged, ...waited };
  }
}
