import { Flags } from '@oclif/core';
import { BaseCommand, many } from '../../src/cli/base-command.js';
import type { MigrateStartResult } from '../../src/cli/results.js';
import { launchMigration } from '../../src/control/migrations.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { parseOptions, redactOptions } from '../../src/domain/mounts.js';
import { parseBytes, statusDoc } from '../../src/migrate/record.js';
import { stateDir } from '../../src/migrate/spawn.js';
import { followMigration } from '../../src/migrate/watch.js';

export default class MigrateStart extends BaseCommand<typeof MigrateStart, MigrateStartResult> {
  static override summary = 'Start copying a mount to a new UFS (in the background); readers keep reading.';
  static override description =
    'In ONE etcd transaction: records migration m-N and makes the mount read-only (writes are refused, never lost; the previous mode comes back at cutover, rollback or abort). Then a detached copier process copies every file through the UFS adapters, checkpointing progress in etcd, and verifies by size or sha256. Returns once the migration is recorded; follow it with `migrate status --id m-N --watch`, or pass --follow. The target must be empty. One migration per mount at a time (a second is refused, exit 3).';
  static override examples = [
    '<%= config.bin %> migrate start --path /data --to s3://new-bucket/data/ --option s3a.endpoint=http://127.0.0.1:9000 --verify checksum',
    '<%= config.bin %> migrate start --path /data --to file:///mnt/new/data --follow',
  ];
  static override flags = {
    ...BaseCommand.waitFlags,
    path: Flags.string({ required: true, summary: 'The mount to migrate, e.g. /data.' }),
    to: Flags.string({ required: true, summary: 'The new UFS URI (an empty location).' }),
    option: Flags.string({ multiple: true, summary: 'Option key=value of the NEW UFS (repeatable); the mount gets exactly these at cutover.' }),
    verify: Flags.string({ options: ['size', 'checksum'], default: 'size', summary: 'Verify each file by size, or by sha256 streamed from both sides.' }),
    concurrency: Flags.integer({ default: 4, min: 1, max: 64, summary: 'Files copied at the same time.' }),
    bandwidth: Flags.string({ summary: 'Copy at most this many bytes per second (e.g. 50MiB, 512k).' }),
    follow: Flags.boolean({ default: false, summary: 'Show progress until the copy is verified (ready) or fails.' }),
    'state-dir': Flags.string({ env: 'ALLUXIO_STATE_DIR', summary: 'Where the copier keeps its log and pid file (default ~/.alluxio).' }),
  };

  async run(): Promise<MigrateStartResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    const bandwidth = flags.bandwidth ? parseBytes(flags.bandwidth, '--bandwidth') : 0;
    const { revision, result, copier } = await launchMigration(conn, {
      path: flags.path,
      to: flags.to,
      options: parseOptions(many(flags.option)),
      verify: flags.verify as 'size' | 'checksum',
      concurrency: flags.concurrency,
      bandwidth,
    }, stateDir(conn.options.cluster, flags['state-dir']));
    this.say(`Started ${result.id}: ${result.path} ${result.from.ufsUri} -> ${result.to.ufsUri} at revision ${revision}; ${result.path} is read-only until cutover`);
    this.say(`Copier pid ${copier.pid}, log ${copier.log}. Follow with: alluxio migrate status --id ${result.id} --watch`);
    const waited = await this.afterCommit(revision);
    let doc: MigrateStartResult = {
      id: result.id,
      state: result.state,
      revision,
      path: result.path,
      from: result.from.ufsUri,
      to: result.to.ufsUri,
      options: redactOptions(result.to.options, false),
      copier: { pid: copier.pid, log: copier.log },
      ...waited,
    };
    if (flags.follow) {
      const final = await followMigration(conn, result.id, { tty: Boolean(process.stderr.isTTY), write: (s) => process.stderr.write(s) });
      doc = { ...statusDoc(final, false), revision, copier: { pid: copier.pid, log: copier.log }, ...waited };
      if (final.state === 'failed') {
        throw new AlluxioError('Conflict', `migration ${final.id} failed: ${final.error?.message ?? 'unknown reason'}`, { details: { id: final.id, state: final.state, error: final.error } });
      }
      this.say(`${final.id} is ${final.state}${final.state === 'ready' ? `; cut over with: alluxio migrate cutover --id ${final.id} --wait` : ''}`);
    }
    return doc;
  }
}
