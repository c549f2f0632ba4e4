import { Flags } from '@oclif/core';
import { BaseCommand, many } from '../../src/cli/base-command.js';
import type { MountAddResult } from '../../src/cli/results.js';
import { addMount, listMounts, mountAddQuestions } from '../../src/control/mounts.js';
import { parseOptions, redactOptions } from '../../src/domain/mounts.js';

export default class MountAdd extends BaseCommand<typeof MountAdd, MountAddResult> {
  static override summary = 'Mount a UFS URI at a top-level Alluxio path.';
  static override description = 'Validates the path (exactly one segment) and the URI (known scheme, bucket, no query, no dot segments), refuses duplicates and nesting against the current table, and commits in one etcd transaction. Prints the committed revision.';
  static override examples = [
    '<%= config.bin %> mount add --path /data --ufs-uri s3://my-bucket/data/ --option s3a.accessKeyId=AKIA... --option s3a.secretKey=...',
    '<%= config.bin %> mount add --path /local --ufs-uri file:///srv/datasets/ --readonly',
    '<%= config.bin %> mount add --path /data --ufs-uri s3://my-bucket/data/ --wait --json',
  ];
  static override flags = {
    ...BaseCommand.waitFlags,
    path: Flags.string({ summary: 'Top-level Alluxio path, e.g. /data (asked for on a terminal when missing).' }),
    'ufs-uri': Flags.string({ summary: 'UFS URI, e.g. s3://bucket/prefix/ or file:///dir/ (asked for on a terminal when missing).' }),
    option: Flags.string({ multiple: true, summary: 'Mount option key=value (repeatable), e.g. s3a.endpoint=http://host:9000.' }),
    readonly: Flags.boolean({ default: false, summary: 'Mount read-only: writes through any API are refused.' }),
    'show-secrets': Flags.boolean({ default: false, summary: 'Do not redact secret option values in the output.' }),
  };

  async run(): Promise<MountAddResult> {
    const { flags } = await this.parseInput();
    const options = parseOptions(many(flags.option));
    const guide = flags.path === undefined || flags['ufs-uri'] === undefined ? mountAddQuestions(this.interactive() ? await listMounts(this.etcd()) : { mounts: [] }) : undefined;
    const path = flags.path ?? (await this.askFor('path', 'Alluxio path to mount at (e.g. /data):', guide!.path));
    const ufsUri = flags['ufs-uri'] ?? (await this.askFor('ufs-uri', `UFS URI for ${path} (e.g. s3://bucket/prefix/, file:///dir/):`, guide!.ufsUri(path)));
    const { revision, result } = await addMount(this.etcd(), { path, ufsUri, readOnly: flags.readonly, options });
    const mount = { ...result, options: redactOptions(result.options, flags['show-secrets']) };
    this.say(`Mounted ${result.path} -> ${result.ufsUri}${result.readOnly ? ' (read-only)' : ''} at revision ${revision}`);
    const waited = await this.afterCommit(revision);
    return { revision, mount, ...waited };
  }
}
