import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../src/cli/base-command.js';
import type { ResolveResult } from '../src/cli/results.js';
import { formatTrace, loadSnapshot, requestFromCli, resolutionDoc } from '../src/control/resolve.js';
import { AlluxioError, isAlluxioError } from '../src/domain/errors.js';
import { DEFAULT_FUSE_ROOT, type Api } from '../src/domain/resolver.js';

export default class Resolve extends BaseCommand<typeof Resolve, ResolveResult> {
  static override summary = 'Explain how a path resolves: rule, mount and UFS URI, step by step.';
  static override description = 'Runs the same resolver the workers run (S3, FSSpec, FUSE) against the current mount table and rules of one etcd revision, and prints the trace: input, decoded path, normalised path, rules tried, rewrite, mount, UFS URI. A path that is not canonical exits 2 naming the step; a path in no mount exits 4.';
  static override examples = [
    '<%= config.bin %> resolve /model/latest/config.json',
    '<%= config.bin %> resolve --api s3 --bucket model --key latest/config.json',
    '<%= config.bin %> resolve --api fsspec s3://my-bucket/model/latest/config.json',
    '<%= config.bin %> resolve --api posix /mnt/alluxio/fuse/model/latest/config.json',
  ];
  static override args = {
    target: Args.string({ required: false, description: 'Alluxio path, local path (posix), URI (fsspec: raw text as fsspec sends it, "%" is part of a name and is not decoded), or bucket/key (s3).' }),
  };
  static override flags = {
    api: Flags.string({ options: ['alluxio', 'posix', 's3', 'fsspec'], default: 'alluxio', summary: 'Which front end the request comes through.' }),
    'fuse-root': Flags.string({ default: DEFAULT_FUSE_ROOT, summary: 'FUSE mount point (with --api posix).' }),
    bucket: Flags.string({ summary: 'S3 bucket (with --api s3).' }),
    key: Flags.string({ summary: 'S3 key, already decoded (with --api s3).' }),
  };

  async run(): Promise<ResolveResult> {
    const { flags, args } = await this.parseInput();
    const req = requestFromCli({ api: flags.api as Api, arg: args.target as string | undefined, fuseRoot: flags['fuse-root'], bucket: flags.bucket, key: flags.key });
    const snap = await loadSnapshot(this.etcd());
    let r;
    try {
      r = snap.resolve(req);
    } catch (e) {
      if (isAlluxioError(e) && e.step) {
        throw new AlluxioError(e.code, `${e.message} (step: ${e.step})`, { step: e.step, ...(e.details ? { details: e.details } : {}) });
      }
      throw e;
    }
    if (!this.jsonEnabled()) {
      this.say(`${r.ufsUri}`);
      this.say(formatTrace(r.trace).map((l) => '  ' + l).join('\n'));
    }
    return resolutionDoc(r);
  }
}
