import { Flags } from '@oclif/core';
import pino from 'pino';
import { BaseCommand } from '../../src/cli/base-command.js';
import { parseDuration } from '../../src/cli/duration.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { Worker } from '../../src/host/worker.js';
import { cacheFlags, openCacheFromFlags } from '../../src/cache/flags.js';

export default class WorkerStart extends BaseCommand<typeof WorkerStart> {
  static override summary = 'Run a worker in the foreground: hot-reloads mounts and rules from etcd and serves S3 and REST.';
  static override description =
    'Lists and watches the cluster config in etcd, swapping its whole view per etcd transaction; registers itself under a lease (removed on SIGTERM, or after the TTL if killed); serves S3 on --s3-port and /healthz, /readyz, /metrics, /api/v1/status on --rest-port. Logs are JSON lines (pino) on stdout. A duplicate --id is refused (exit 3) while its holder is alive.';
  static override examples = [
    '<%= config.bin %> worker start --id w1 --host 10.0.0.5 --s3-port 29998 --rest-port 28080',
    '<%= config.bin %> worker start --id w2 --max-staleness 2m',
  ];
  static override enableJsonFlag = false;
  static override flags = {
    id: Flags.string({ summary: 'Worker id (default: <host>-<rest-port>).' }),
    host: Flags.string({ summary: 'Address other processes reach this worker at (default: the host name).' }),
    'bind-host': Flags.string({ default: '0.0.0.0', summary: 'Address to listen on.' }),
    's3-port': Flags.integer({ default: 29998, min: 0, max: 65535, summary: 'S3 API port.' }),
    'rest-port': Flags.integer({ default: 28080, min: 0, max: 65535, summary: 'REST port (health, metrics, status, FSSpec).' }),
    'lease-ttl': Flags.string({ default: '10s', summary: 'TTL of the membership lease (a killed worker disappears after it).' }),
    'max-staleness': Flags.string({ summary: 'Refuse requests (503) when the config is older than this because etcd is unreachable (e.g. 2m). Default: serve the last good config indefinitely.' }),
    ...cacheFlags,
    'log-level': Flags.string({ default: 'info', options: ['trace', 'debug', 'info', 'warn', 'error'], summary: 'Log level.' }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parseInput();
    const ttlMs = parseDuration(flags['lease-ttl'], '--lease-ttl');
    if (ttlMs < 1000) throw new AlluxioError('InvalidArgument', '--lease-ttl must be at least 1s');
    const maxStalenessMs = flags['max-staleness'] ? parseDuration(flags['max-staleness'], '--max-staleness') : undefined;
    const log = pino({ name: 'alluxio-worker', level: flags['log-level'] });
    // A long-running server: a stray rejection from a client library is logged, not fatal.
    process.on('unhandledRejection', (e) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'unhandled rejection'));
    const cache = await openCacheFromFlags(flags, log);
    const worker = new Worker(this.etcd(), {
      ...(cache ? { cache } : {}),
      ...(flags.id ? { id: flags.id } : {}),
      ...(flags.host ? { host: flags.host } : {}),
      bindHost: flags['bind-host'],
      s3Port: flags['s3-port'],
      restPort: flags['rest-port'],
      leaseTtlSeconds: Math.max(1, Math.round(ttlMs / 1000)),
      ...(maxStalenessMs !== undefined ? { maxStalenessMs } : {}),
      log,
    });
    await worker.start();
    await new Promise<void>((resolve) => {
      let signalled = false;
      const onSignal = (sig: NodeJS.Signals): void => {
        if (signalled) {
          log.warn({ signal: sig }, 'second signal: exiting now');
          process.exit(1);
        }
        signalled = true;
        log.info({ signal: sig }, 'stopping: deregistering and closing');
        const hard = setTimeout(() => process.exit(1), 10_000);
        hard.unref();
        void worker.stop().then(resolve, resolve);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    });
    // Leave no handles behind (grpc channels): the command is done.
    setTimeout(() => process.exit(0), 200).unref();
    return { stopped: worker.id };
  }
}
