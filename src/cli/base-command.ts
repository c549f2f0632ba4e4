/**
 * The one base command: connection flags, --json, exit codes (cli.md's table, kept under
 * --json), rendering, and confirmation prompts. Commands stay thin: parse, call the
 * library in src/, render. Like sf-plugins-core's SfCommand<T>, a command names the type
 * of the JSON document it returns (src/cli/results.ts): BaseCommand<typeof Cmd, CmdResult>.
 */
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { AlluxioError, ExitCode, isAlluxioError } from '../domain/errors.js';
import { EtcdConnection, parseEndpoints, DEFAULT_CLUSTER, DEFAULT_ENDPOINTS, type ConnectionOptions } from '../store/connection.js';
import { Renderer } from './output.js';
import { formatChanges } from './changes-view.js';
import { parseTimerDuration } from './duration.js';
import { waitForConvergence } from '../cluster/convergence.js';
import { dryRunReport, readSamples, type DryRunReport } from '../control/impact.js';
import { enableDryRun, isDryRunStop, type DryRun } from '../store/dry-run.js';
import { isTransientEtcdError } from '../store/etcd-errors.js';
import type { ErrorDoc, Waited } from './results.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;

export abstract class BaseCommand<T extends typeof Command, R extends object> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    'etcd-endpoints': Flags.string({ env: 'ALLUXIO_ETCD_ENDPOINTS', default: DEFAULT_ENDPOINTS, summary: 'Comma-separated etcd endpoints (every member: any member that answers serves).', helpGroup: 'CONNECTION' }),
    cluster: Flags.string({ env: 'ALLUXIO_CLUSTER', default: DEFAULT_CLUSTER, summary: 'Cluster name; all keys live under /alluxio/<cluster>/.', helpGroup: 'CONNECTION' }),
    'etcd-user': Flags.string({ env: 'ALLUXIO_ETCD_USER', summary: 'etcd user name.', helpGroup: 'CONNECTION' }),
    'etcd-password': Flags.string({ env: 'ALLUXIO_ETCD_PASSWORD', summary: 'etcd password.', helpGroup: 'CONNECTION' }),
    'etcd-ca': Flags.string({ env: 'ALLUXIO_ETCD_CA', summary: 'CA certificate (PEM) for TLS to etcd.', helpGroup: 'CONNECTION' }),
    'etcd-cert': Flags.string({ env: 'ALLUXIO_ETCD_CERT', summary: 'Client certificate (PEM) for TLS to etcd.', helpGroup: 'CONNECTION' }),
    'etcd-key': Flags.string({ env: 'ALLUXIO_ETCD_KEY', summary: 'Client key (PEM) for TLS to etcd.', helpGroup: 'CONNECTION' }),
    'etcd-timeout': Flags.string({ env: 'ALLUXIO_ETCD_TIMEOUT', default: '5s', summary: 'Deadline for each etcd call, retries on other members included (a dead member costs one attempt of at most half of it, min 1s). Raise it when etcd is reachable but overloaded (EtcdTimeout).', helpGroup: 'CONNECTION' }),
  };

  /** Flags every mutating command takes (cli.md: --wait, --wait-timeout, --dry-run, --sample). */
  static waitFlags = {
    wait: Flags.boolean({ default: false, summary: 'Return once every live worker applies the committed revision.' }),
    'wait-timeout': Flags.string({ default: '30s', summary: 'How long --wait waits (500ms, 20s, 2m); exit 5 naming the laggards after it.' }),
    'dry-run': Flags.boolean({ default: false, summary: 'Validate and show what would change and which paths would resolve differently; write nothing.' }),
    sample: Flags.string({ summary: 'With --dry-run: a file of Alluxio paths (one per line) to check for a changed resolution.', dependsOn: ['dry-run'] }),
  };

  protected flags!: BaseFlags<T>;
  protected render!: Renderer;
  private conn: EtcdConnection | undefined;

  /** The command's work; what it returns is the document --json prints. */
  public abstract override run(): Promise<R>;

  public override async init(): Promise<void> {
    await super.init();
    this.render = new Renderer(Boolean(process.stdout.isTTY));
  }

  /** Parse argv (flags and args) for the concrete command. */
  protected async parseInput(): Promise<{ flags: BaseFlags<T>; args: Record<string, unknown> }> {
    const { flags, args, raw } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as BaseFlags<T>;
    // Durations are checked before anything is read or written: a bad --wait-timeout must
    // not surface only after the change was committed.
    const f = flags as Record<string, unknown>;
    if (typeof f['wait-timeout'] === 'string' && parseTimerDuration(f['wait-timeout'], '--wait-timeout') <= 0) {
      throw new AlluxioError('InvalidArgument', `--wait-timeout must be more than 0 (got ${f['wait-timeout']}): it is how long --wait waits for the workers`);
    }
    if (raw.some((t) => t.type === 'flag' && t.flag === 'wait-timeout') && f.wait !== true) {
      throw new AlluxioError('InvalidArgument', '--wait-timeout bounds --wait: add --wait (without it the command does not wait for the workers)');
    }
    if (typeof f['etcd-timeout'] === 'string' && parseTimerDuration(f['etcd-timeout'], '--etcd-timeout') <= 0) {
      throw new AlluxioError('InvalidArgument', `--etcd-timeout must be more than 0 (got ${f['etcd-timeout']}): it is how long a call may take`);
    }
    // A flag and its --no- form together (oclif lets the last one win): say, as for other
    // conflicting flags, instead of doing one of the two.
    // (from the parser's flag tokens: not a value or what follows --)
    for (const [name, flag] of Object.entries(this.ctor.flags ?? {})) {
      if (!(flag as { allowNo?: boolean }).allowNo) continue;
      const forms = new Set(raw.filter((t) => t.type === 'flag' && t.flag === name).map((t) => ((t as { input: string }).input.startsWith('--no-') ? 'no' : 'yes')));
      if (forms.size === 2) throw new AlluxioError('InvalidArgument', `--${name} and --no-${name} cannot be given together`);
    }
    if (typeof f.sample === 'string') {
      // (oclif's dependsOn counts --dry-run's default false as given)
      if (f['dry-run'] !== true) throw new AlluxioError('InvalidArgument', '--sample checks a dry run: add --dry-run (without it the change would be written and the sample ignored)');
      readSamples(f.sample);
    }
    return { flags: this.flags, args };
  }

  /** How the connection sends etcd's JSON gateway requests: node:http unless a command says otherwise. */
  protected etcdTransport(): Pick<ConnectionOptions, 'gatewayTransport'> {
    return {};
  }

  /** The etcd connection, opened on first use and closed when the command ends. */
  protected etcd(): EtcdConnection {
    if (!this.conn) {
      const f = this.flags as Record<string, unknown>;
      this.conn = new EtcdConnection({
        endpoints: parseEndpoints(String(f['etcd-endpoints'] ?? DEFAULT_ENDPOINTS)),
        cluster: String(f.cluster ?? DEFAULT_CLUSTER),
        user: f['etcd-user'] as string | undefined,
        password: f['etcd-password'] as string | undefined,
        ca: f['etcd-ca'] as string | undefined,
        cert: f['etcd-cert'] as string | undefined,
        key: f['etcd-key'] as string | undefined,
        timeoutMs: parseTimerDuration(String(f['etcd-timeout'] ?? '5s'), '--etcd-timeout'),
        ...this.etcdTransport(),
      });
      if (f['dry-run'] === true) enableDryRun(this.conn);
    }
    return this.conn;
  }

  /**
   * After a mutating command commits: with --wait, wait for convergence (progress on
   * stderr, k/n workers). Returns what to merge into the JSON document.
   */
  protected async afterCommit(revision: number): Promise<Waited> {
    const f = this.flags as Record<string, unknown>;
    if (!f.wait) return {};
    const timeoutMs = parseTimerDuration(String(f['wait-timeout'] ?? '30s'), '--wait-timeout');
    let progress = false;
    const outcome = await waitForConvergence(this.etcd(), revision, {
      timeoutMs,
      onProgress: (p) => {
        if (!process.stderr.isTTY) return;
        process.stderr.write(`\rwaiting for revision ${revision}: ${p.applied}/${p.total} workers`);
        progress = true;
      },
    })
      .catch((e: unknown) => {
        // The change is committed whatever the wait met: say so, with its revision, so that a
        // script retrying on exit 5 does not apply it twice (a rule added with no --id).
        const err = isAlluxioError(e) ? e : new AlluxioError('Internal', (e as Error).message, { cause: e });
        throw new AlluxioError(err.code, `committed at revision ${revision}; waiting for the workers failed: ${err.message}`, {
          cause: err,
          details: { ...(err.details ?? {}), revision, written: true },
        });
      })
      .finally(() => {
        // the progress line ends before what follows (the result, or the error)
        if (progress) process.stderr.write('\n');
      });
    const who = [`${outcome.workers} worker${outcome.workers === 1 ? '' : 's'}`, ...(outcome.clients ? [`${outcome.clients} FUSE client${outcome.clients === 1 ? '' : 's'}`] : [])].join(' and ');
    if (outcome.workers + outcome.clients === 0) {
      // (those that lost etcd lost their records with their leases, and may still be serving)
      this.note('no worker or FUSE client is registered in etcd: nothing to wait for (one cut off from etcd is not registered, and serves its old config until it reconnects, bounded only by its --max-staleness)');
    }
    else this.note(`all ${who} apply revision ${revision} (${outcome.elapsedMs} ms)`);
    for (const d of outcome.dropped ?? []) {
      this.warnLine(
        `${d.kind === 'fuse' ? 'FUSE client ' : ''}${d.id} left during the wait (its lease expired) at revision ${d.appliedRevision}, without applying ${revision}: dead, or running cut off from etcd and serving its old config (bounded only by its --max-staleness)`,
      );
    }
    return { wait: outcome };
  }

  /**
   * --json output: one plain JSON document. Replaces oclif's logJson, which tokenises the
   * whole document to colour it (about 20 ms for 1,000 mounts) and would put colour codes
   * into what scripts parse.
   */
  public override logJson(json: R | ErrorDoc): void {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  }

  /** Human output to stdout (never used under --json). */
  protected say(text: string): void {
    if (!this.jsonEnabled()) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** Progress and warnings: stderr, so stdout stays one JSON document. */
  protected note(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }

  protected warnLine(text: string): void {
    this.note(this.render.color.yellow('warning: ') + text);
  }

  /**
   * `p`, or Cancelled (exit 130, rendered as every error: one JSON document under --json)
   * when the user interrupts (SIGINT) while it runs; `why` says what goes on without us.
   * Without it a Ctrl-C killed the process with nothing said (cache load --wait --json).
   */
  protected interruptible<T>(p: Promise<T>, why: string): Promise<T> {
    let onSignal!: () => void;
    const interrupted = new Promise<never>((_, reject) => {
      onSignal = () => reject(new AlluxioError('Cancelled', `interrupted: ${why}`));
      process.once('SIGINT', onSignal);
    });
    return Promise.race([p, interrupted]).finally(() => process.off('SIGINT', onSignal));
  }

  /** Whether the command may ask questions: a terminal on stdin and stderr, and no --json. */
  protected interactive(): boolean {
    return Boolean(process.stdin.isTTY && process.stderr.isTTY) && !this.jsonEnabledSafe();
  }

  /**
   * A flag the user left out: on a terminal, ask for it (inquirer), checking each answer
   * with `validate` as it is typed (an error message keeps the question open); otherwise
   * the usage error oclif gives for a missing required flag (exit 2), so scripts see
   * exactly the flags they always did.
   */
  protected async askFor(flag: string, message: string, validate: (value: string) => string | true | Promise<string | true>): Promise<string> {
    if (!this.interactive()) throw new Errors.CLIError(`Missing required flag ${flag}`, { exit: 2 });
    const { input } = await import('@inquirer/prompts');
    try {
      return (await input({ message, validate: async (v) => validate(v.trim()) }, { output: process.stderr })).trim();
    } catch (e) {
      if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) throw new AlluxioError('Cancelled', 'cancelled; nothing changed');
      throw e;
    }
  }

  /**
   * Ask before a destructive change: --yes skips, Ctrl-C is 130; no TTY refuses (exit 2), or
   * goes ahead for a command whose scripted form takes no --yes (`withoutTerminal: 'proceed'`).
   */
  protected async confirm(message: string, yes: boolean, withoutTerminal: 'refuse' | 'proceed' = 'refuse'): Promise<void> {
    // A dry run writes nothing, so there is nothing to confirm.
    if (yes || (this.flags as Record<string, unknown>)['dry-run'] === true) return;
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      if (withoutTerminal === 'proceed') return;
      throw new AlluxioError('ConfirmationRequired', `${message} Refusing without a terminal to ask on; pass --yes to confirm.`);
    }
    const { confirm } = await import('@inquirer/prompts');
    let ok: boolean;
    try {
      ok = await confirm({ message, default: false }, { output: process.stderr });
    } catch (e) {
      if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) {
        throw new AlluxioError('Cancelled', 'cancelled');
      }
      throw e;
    }
    if (!ok) throw new AlluxioError('Cancelled', 'cancelled; nothing changed');
  }

  protected override async catch(err: Error): Promise<never> {
    if (err instanceof Errors.ExitError) throw err;
    if (isDryRunStop(err) && this.conn) {
      // --dry-run stopped where the command would commit: the report is the result (exit 0).
      this.renderDryRun(err, this.conn);
      this.exit(0);
    }
    let doc: ErrorDoc['error'];
    if (isTransientEtcdError(err) && this.flags && 'dry-run' in this.flags && err.details === undefined && (this.conn?.commitsSent ?? 0) === 0) {
      // A write that failed before it sent anything (reading the config, or what it checks
      // first): certainly nothing was written, and the user is told so (docs/etcd-layout.md).
      err = new AlluxioError(err.code, `${err.message}. Nothing was written`, { cause: err, details: { written: false } });
    }
    if (isAlluxioError(err)) {
      doc = { ...err.toJSON(), code: err.code, message: err.message, exitCode: err.exitCode };
    } else if (isUsageError(err)) {
      doc = { code: 'UsageError', message: err.message.split('\n').filter((l) => !/^See more help/.test(l)).join('\n').trim(), exitCode: ExitCode.usage };
    } else {
      doc = { code: 'Internal', message: err.message, exitCode: ExitCode.unexpected };
      if (process.env.ALLUXIO_DEBUG) process.stderr.write((err.stack ?? '') + '\n');
    }
    const { code, message, exitCode } = doc;
    if (this.jsonEnabledSafe()) {
      const out: ErrorDoc = { error: doc };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      const color = this.render?.color;
      process.stderr.write(`${color ? color.red('Error:') : 'Error:'} ${message}\n`);
      if (code === 'UsageError') process.stderr.write(`See: alluxio ${this.id?.replace(/:/g, ' ') ?? ''} --help\n`);
    }
    throw new Errors.ExitError(exitCode);
  }

  /** --dry-run stopped the command where it would have committed: report, exit 0. */
  private renderDryRun(stop: DryRun, conn: EtcdConnection): DryRunReport {
    const f = this.flags as Record<string, unknown>;
    const report = dryRunReport(conn.layout, stop, readSamples(f.sample as string | undefined), f['show-secrets'] === true);
    if (this.jsonEnabledSafe()) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return report;
    }
    const lines = [`Dry run against revision ${report.revision}: nothing written.`];
    lines.push(formatChanges(this.render, report.changes));
    lines.push(`Impact: ${report.impact.length} of ${report.checked} checked paths would resolve differently`);
    for (const i of report.impact) lines.push(`  ${i.path}: ${i.before} -> ${i.after}`);
    for (const x of report.conflicts) lines.push(`${this.render.color.yellow('conflict:')} ${x}`);
    process.stdout.write(lines.join('\n') + '\n');
    return report;
  }

  private jsonEnabledSafe(): boolean {
    try {
      return this.jsonEnabled();
    } catch {
      return this.argv.includes('--json');
    }
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    this.conn?.close();
    this.conn = undefined;
    return super.finally(err);
  }
}

/**
 * A usage error from oclif itself: every Errors.CLIError it throws while parsing argv (its
 * CLIParseError family: unknown, missing, exclusive or invalid flags and args; and the
 * built-in flag parsers, e.g. Flags.integer's range check). @oclif/core 4 exports only
 * CLIError, ExitError and ModuleLoadError (the parser's error classes are internal), so the
 * check is on those: ExitError is an exit, not an error; ModuleLoadError a broken install.
 * None of our code throws CLIError (it throws AlluxioError), so no other case reaches here.
 */
function isUsageError(err: Error): err is Errors.CLIError {
  return err instanceof Errors.CLIError && !(err instanceof Errors.ExitError) && !(err instanceof Errors.ModuleLoadError);
}

/** Repeated `--option k=v` and friends arrive as arrays (or undefined). */
export function many(v: string[] | undefined): string[] {
  return v ?? [];
}
