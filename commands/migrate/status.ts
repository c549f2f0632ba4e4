import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { MigrateStatusResult } from '../../src/cli/results.js';
import { migrationStatus } from '../../src/control/migrations.js';
import { formatBytes } from '../../src/domain/bytes.js';
import { formatDuration, parseMigrationId, progressLine, statusDoc, type StatusDoc } from '../../src/migrate/record.js';
import { followMigration } from '../../src/migrate/watch.js';

export default class MigrateStatus extends BaseCommand<typeof MigrateStatus, MigrateStatusResult> {
  static override summary = 'Show migrations: state, files and bytes copied, rate, ETA.';
  static override description =
    'With --id, one migration (--json: {"id","state","path","from","to","files":{"done","total"},"bytes":{"done","total"},"rate","eta","error"?,...}); without, all of them. --watch draws a progress bar until the copy is verified or fails.';
  static override examples = ['<%= config.bin %> migrate status', '<%= config.bin %> migrate status --id m-1 --watch', '<%= config.bin %> migrate status --id m-1 --json'];
  static override flags = {
    id: Flags.string({ summary: 'The migration (m-1, ...).' }),
    watch: Flags.boolean({ default: false, summary: 'Follow progress until the migration stops copying/verifying (needs --id).' }),
    'show-secrets': Flags.boolean({ default: false, summary: 'Do not redact secret option values.' }),
  };

  async run(): Promise<MigrateStatusResult> {
    const { flags } = await this.parseInput();
    const conn = this.etcd();
    const id = flags.id === undefined ? undefined : parseMigrationId(flags.id);
    if (flags.watch && id === undefined) {
      const { AlluxioError } = await import('../../src/domain/errors.js');
      throw new AlluxioError('InvalidArgument', '--watch needs --id');
    }
    if (flags.watch && id !== undefined) {
      await followMigration(conn, id, { tty: Boolean(process.stderr.isTTY), write: (s) => process.stderr.write(s) });
    }
    const { revision, migrations, invalid } = await migrationStatus(conn, id);
    for (const bad of invalid) this.warnLine(`skipping malformed migration record ${bad.key}: ${bad.error}`);
    const docs = migrations.map((m) => statusDoc(m.record, m.running, flags['show-secrets']));
    if (id !== undefined) {
      const d = docs[0]!;
      if (!this.jsonEnabled()) this.say(describe(d, migrations[0]!.record));
      return d;
    }
    if (!this.jsonEnabled()) {
      if (docs.length === 0) this.say('No migrations. Start one with: alluxio migrate start --path /data --to s3://new-bucket/data/');
      else
        this.say(
          this.render.table(
            ['ID', 'PATH', 'STATE', 'FROM', 'TO', 'FILES', 'BYTES'],
            docs.map((d) => [d.id, d.path, d.state, d.from, d.to, `${d.files.done}/${d.files.total}`, `${formatBytes(d.bytes.done)}/${formatBytes(d.bytes.total)}`]),
          ),
        );
    }
    return { revision, migrations: docs };
  }
}

function describe(d: StatusDoc, r: Parameters<typeof progressLine>[0]): string {
  const lines = [
    `${d.id}  ${d.path}  ${d.state}`,
    `  from    ${d.from}`,
    `  to      ${d.to}`,
    `  files   ${d.files.done}/${d.files.total}   bytes ${formatBytes(d.bytes.done)}/${formatBytes(d.bytes.total)}   verify ${d.verify} (${d.verified.files} files checked)`,
  ];
  if (d.state === 'copying' && d.copier.running) lines.push(`  rate    ${formatBytes(d.rate)}/s   ETA ${d.eta === null ? '?' : formatDuration(d.eta)}`);
  if (d.state === 'copying' || d.state === 'verifying') {
    lines.push(`  ${progressLine(r)}`);
    lines.push(
      d.copier.running
        ? `  copier  running (pid ${d.copier.pid ?? '?'} on ${d.copier.host ?? '?'}${d.copier.log ? `, log ${d.copier.log}` : ''})`
        : `  copier  NOT running (interrupted); continue with: alluxio migrate resume --id ${d.id}`,
    );
  }
  if (d.error) lines.push(`  error   ${d.error.code}: ${d.error.message}`);
  const next: Record<string, string> = {
    ready: `alluxio migrate cutover --id ${d.id} --wait`,
    failed: `alluxio migrate resume --id ${d.id}  (or: alluxio migrate abort --id ${d.id})`,
    'cut-over': `alluxio migrate rollback --id ${d.id} --wait  (to go back)`,
  };
  if (next[d.state]) lines.push(`  next    ${next[d.state]}`);
  return lines.join('\n');
}
