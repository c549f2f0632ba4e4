import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { FuseUnmountResult } from '../../src/cli/results.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { DEFAULT_FUSE_ROOT } from '../../src/domain/resolver.js';
import { canonicalMountpoint, fuseMountAt, fusermountUnmount, probeMountpoint, waitUnmounted } from '../../src/frontends/fuse/mountpoint.js';

export default class FuseUnmount extends BaseCommand<typeof FuseUnmount, FuseUnmountResult> {
  static override summary = 'Unmount a FUSE mount made by `alluxio fuse mount` (its daemon then flushes and exits).';
  static override description =
    'Runs fusermount -u on DIR. A busy mount (open files, a shell inside it) is refused with exit 3 unless --lazy, which detaches it at once and lets it go when the last file closes. A stale mount of a crashed daemon is cleaned lazily. DIR that is not a FUSE mount exits 4.';
  static override examples = ['<%= config.bin %> fuse unmount /mnt/alluxio/fuse', '<%= config.bin %> fuse unmount /mnt/alluxio/fuse --lazy'];
  static override args = {
    dir: Args.string({ required: false, default: DEFAULT_FUSE_ROOT, description: `Mount point (default ${DEFAULT_FUSE_ROOT}).` }),
  };
  static override flags = {
    lazy: Flags.boolean({ char: 'z', default: false, summary: 'Detach even when busy (fusermount -uz).' }),
  };

  async run(): Promise<FuseUnmountResult> {
    const { flags, args } = await this.parseInput();
    const dir = canonicalMountpoint(String(args.dir));
    if (!fuseMountAt(dir)) throw new AlluxioError('NotFound', `${dir} is not a FUSE mount`);
    const state = await probeMountpoint(dir);
    const stale = state === 'stale';
    await fusermountUnmount(dir, { lazy: flags.lazy || stale });
    if (!(await waitUnmounted(dir, 5000))) throw new AlluxioError('InvalidState', `${dir} is still mounted after fusermount`);
    this.say(`Unmounted ${dir}${stale ? ' (stale mount of a crashed daemon)' : flags.lazy ? ' (lazily)' : ''}`);
    return { mountpoint: dir, unmounted: true, stale, lazy: flags.lazy || stale };
  }
}
