import { Flags } from '@oclif/core';
import pino from 'pino';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { WorkerStartResult } from '../../src/cli/results.js';
import { parseTimerDuration } from '../../src/cli/duration.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { DEFAULT_REST_TLS_PORT, DEFAULT_S3_TLS_PORT, Worker } from '../../src/host/worker.js';
import { cacheFlags, openCacheFromFlags } from '../../src/cache/flags.js';
import { checkMaxStaleness } from '../../src/host/config-feed.js';
import type { ConnectionOptions } from '../../src/store/connection.js';
import { undiciGatewayTransport } from '../../src/store/gateway-undici.js';

export default class WorkerStart extends BaseCommand<typeof WorkerStart, WorkerStartResult> {
  static override summary = 'Run a worker in the foreground: hot-reloads mounts and rules from etcd and serves S3 and REST.';
  static override description =
    'Lists and watches the cluster config in etcd, swapping its whole view per etcd transaction; registers itself under a lease (removed on SIGTERM, or after the TTL if killed); serves S3 on --s3-port and /healthz, /readyz, /metrics, /api/v1/status on --rest-port. Logs are JSON lines (pino) on stdout. A duplicate --id is refused (exit 3) while its holder is alive. With --tls-cert and --tls-key it also serves HTTPS: S3 on --s3-tls-port (29996) and REST on --rest-tls-port (28443), alongside plain HTTP or, with --tls-only, instead of it; --tls-client-ca requires client certificates signed by that CA (mutual TLS). SIGHUP re-reads the certificate files. A missing, unreadable or mismatched certificate or key is refused at start (exit 2).';
  static override examples = [
    '<%= config.bin %> worker start --id w1 --host 10.0.0.5 --s3-port 29998 --rest-port 28080',
    '<%= config.bin %> worker start --id w2 --max-staleness 2m',
    '<%= config.bin %> worker start --tls-cert /etc/alluxio/tls/server.crt --tls-key /etc/alluxio/tls/server.key',
    '<%= config.bin %> worker start --tls-cert server.crt --tls-key server.key --tls-client-ca clients-ca.crt --tls-only',
  ];
  static override enableJsonFlag = false;
  static override flags = {
    id: Flags.string({ summary: 'Worker id (default: <host>-<rest-port>).' }),
    host: Flags.string({ summary: 'Address other processes reach this worker at (default: the host name).' }),
    'bind-host': Flags.string({ default: '0.0.0.0', summary: 'Address to listen on.' }),
    's3-port': Flags.integer({ default: 29998, min: 0, max: 65535, summary: 'S3 API port.' }),
    'rest-port': Flags.integer({ default: 28080, min: 0, max: 65535, summary: 'REST port (health, metrics, status, FSSpec).' }),
    'lease-ttl': Flags.string({ default: '10s', summary: 'TTL of the membership lease (a killed worker disappears after it).' }),
    'max-staleness': Flags.string({ summary: 'Refuse requests (503) when the config is older than this because etcd is unreachable (e.g. 2m; at least 1s). Default: serve the last good config indefinitely.' }),
    ...cacheFlags,
    's3-redirect': Flags.boolean({
      summary: 'S3 GET/HEAD of an object another worker owns: answer 307 to the owner instead of reading it through the owner (docs/cluster-cache.md).',
    }),
    'tls-cert': Flags.string({ summary: 'PEM certificate (chain) for the HTTPS ports; with --tls-key turns HTTPS on.', dependsOn: ['tls-key'], helpGroup: 'TLS' }),
    'tls-key': Flags.string({ summary: 'PEM private key of --tls-cert (unencrypted).', dependsOn: ['tls-cert'], helpGroup: 'TLS' }),
    'tls-client-ca': Flags.string({ summary: 'PEM CA bundle: require client certificates signed by it on the HTTPS ports (mutual TLS).', dependsOn: ['tls-cert'], helpGroup: 'TLS' }),
    's3-tls-port': Flags.integer({ default: DEFAULT_S3_TLS_PORT, min: 0, max: 65535, summary: 'HTTPS port of the S3 API.', helpGroup: 'TLS' }),
    'rest-tls-port': Flags.integer({ default: DEFAULT_REST_TLS_PORT, min: 0, max: 65535, summary: 'HTTPS port of the REST API (health, metrics, status, FSSpec).', helpGroup: 'TLS' }),
    'tls-peer-ca': Flags.string({ summary: "PEM CA bundle of the other workers' HTTPS certificates, for reads through workers that serve HTTPS only (default: the system CAs and NODE_EXTRA_CA_CERTS).", helpGroup: 'TLS' }),
    'tls-only': Flags.boolean({ summary: 'Serve HTTPS only: --s3-port and --rest-port are not opened.', dependsOn: ['tls-cert'], helpGroup: 'TLS' }),
    'max-connections': Flags.integer({ min: 1, max: 1_000_000, summary: 'Client connections open at once, all ports together; more are closed as they are accepted (default: 1/4 of the open-file limit, at most 16384).' }),
    'max-connections-per-client': Flags.integer({ min: 0, max: 1_000_000, summary: 'Client connections open at once from one client, an IPv4 address or IPv6 /64 (default: half of --max-connections; 0: no limit).' }),
    'log-level': Flags.string({ default: 'info', options: ['trace', 'debug', 'info', 'warn', 'error'], summary: 'Log level.' }),
  };

  /** The worker's etcd calls (lease renewals, journals) through undici: node:http's client stays out of a process that serves with node:http (gateway-undici.ts says why). */
  protected override etcdTransport(): Pick<ConnectionOptions, 'gatewayTransport'> {
    return { gatewayTransport: undiciGatewayTransport };
  }

  async run(): Promise<WorkerStartResult> {
    const { flags } = await this.parseInput();
    const ttlMs = parseTimerDuration(flags['lease-ttl'], '--lease-ttl');
    if (ttlMs < 1000) throw new AlluxioError('InvalidArgument', '--lease-ttl must be at least 1s');
    const maxStalenessMs = flags['max-staleness'] ? parseTimerDuration(flags['max-staleness'], '--max-staleness') : undefined;
    checkMaxStaleness(maxStalenessMs, 'worker'); // (before the cache directory is opened and locked)
    const log = pino({ name: 'alluxio-worker', level: flags['log-level'] });
    // A long-running server: a stray rejection from a client library is logged, not fatal.
    process.on('unhandledRejection', (e) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'unhandled rejection'));
    const cache = await openCacheFromFlags(flags, log);
    const worker = new Worker(this.etcd(), {
      ...(cache ? { cache } : {}),
      ...(flags['s3-redirect'] ? { s3Redirect: true } : {}),
      ...(flags.id ? { id: flags.id } : {}),
      ...(flags.host ? { host: flags.host } : {}),
      bindHost: flags['bind-host'],
      s3Port: flags['s3-port'],
      restPort: flags['rest-port'],
      leaseTtlSeconds: Math.max(1, Math.round(ttlMs / 1000)),
      ...(flags['max-connections'] !== undefined ? { maxConnections: flags['max-connections'] } : {}),
      ...(flags['max-connections-per-client'] !== undefined ? { maxConnectionsPerClient: flags['max-connections-per-client'] } : {}),
      ...(maxStalenessMs !== undefined ? { maxStalenessMs } : {}),
      ...(flags['tls-cert'] && flags['tls-key']
        ? {
            tls: {
              certFile: flags['tls-cert'],
              keyFile: flags['tls-key'],
              ...(flags['tls-client-ca'] ? { clientCaFile: flags['tls-client-ca'] } : {}),
              ...(flags['tls-peer-ca'] ? { peerCaFile: flags['tls-peer-ca'] } : {}),
              s3Port: flags['s3-tls-port'],
              restPort: flags['rest-tls-port'],
              only: flags['tls-only'] ?? false,
            },
          }
        : {}),
      log,
    });
    await worker.start();
    // SIGHUP: re-read the certificate files (e.g. after a renewal); bad files keep the old ones.
    process.on('SIGHUP', () => {
      try {
        worker.reloadTls();
      } catch (e) {
        log.error({ err: (e as Error).message }, 'TLS reload refused; still serving the previous certificate');
      }
    });
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
