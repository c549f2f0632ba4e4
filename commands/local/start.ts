import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { LocalStartResult } from '../../src/cli/results.js';
import { defaultLocalDir, localEnv, startLocalCluster } from '../../src/local/cluster.js';
import { parseTimerDuration } from '../../src/cli/duration.js';

export default class LocalStart extends BaseCommand<typeof LocalStart, LocalStartResult> {
  static override summary = 'Start etcd and N workers on this machine, in the background.';
  static override description =
    'Runs the `etcd` binary from PATH (Debian: apt-get install etcd-server) and N `alluxio worker start` processes, detached, with logs and pid files under --dir; waits until every worker is ready, then prints the endpoints and the environment to export. Preferred ports are 2379 (etcd), 29998+i (S3) and 28080+i (REST); a busy one is replaced by a free port. etcd data is kept across stop/start. --tls makes a throwaway CA and a certificate for 127.0.0.1/localhost with `openssl` (in DIR/tls/, reused while valid) and serves HTTPS too: S3 on 29996-i, REST on 28443+i (--tls-only: HTTPS only); trust DIR/tls/ca.crt (AWS_CA_BUNDLE is printed).';
  static override examples = ['<%= config.bin %> local start', '<%= config.bin %> local start --workers 3 --dir /tmp/alluxio-local', 'eval "$(<%= config.bin %> local start --workers 2 | grep ^export)"', '<%= config.bin %> local start --tls'];
  static override flags = {
    workers: Flags.integer({ default: 1, min: 0, max: 64, summary: 'Number of workers.' }),
    dir: Flags.string({ summary: 'Directory for pid files, logs and etcd data (default $ALLUXIO_LOCAL_DIR or ~/.alluxio/local).' }),
    'etcd-port': Flags.integer({ default: 2379, min: 0, max: 65535, summary: 'Preferred etcd client port.' }),
    's3-port': Flags.integer({ default: 29998, min: 0, max: 65535, summary: 'Preferred S3 port of the first worker (next ones +1).' }),
    'rest-port': Flags.integer({ default: 28080, min: 0, max: 65535, summary: 'Preferred REST port of the first worker (next ones +1).' }),
    'cache-size': Flags.string({ default: '1GiB', summary: 'Cache quota of each worker (pages under --dir/cache/<worker id>); 0 = no cache.' }),
    'lease-ttl': Flags.string({ default: '10s', summary: 'Membership lease TTL of the workers.' }),
    's3-redirect': Flags.boolean({ default: false, summary: 'Workers answer an S3 GET/HEAD of a file another worker owns with a 307 redirect to it (worker start --s3-redirect; docs/cluster-cache.md).' }),
    tls: Flags.boolean({ default: false, summary: 'Also serve HTTPS, with a throwaway CA made by openssl in DIR/tls/.' }),
    'tls-only': Flags.boolean({ default: false, summary: 'Serve HTTPS only (implies --tls).' }),
    's3-tls-port': Flags.integer({ default: 29996, min: 0, max: 65535, summary: 'Preferred HTTPS S3 port of the first worker (next ones -1).' }),
    'rest-tls-port': Flags.integer({ default: 28443, min: 0, max: 65535, summary: 'Preferred HTTPS REST port of the first worker (next ones +1).' }),
  };

  async run(): Promise<LocalStartResult> {
    const { flags } = await this.parseInput();
    const dir = flags.dir ?? defaultLocalDir();
    parseTimerDuration(flags['lease-ttl'], '--lease-ttl'); // (bad input refused before anything starts, as `worker start` refuses it)
    const state = await startLocalCluster({
      dir,
      workers: flags.workers,
      cluster: flags.cluster,
      etcdPort: flags['etcd-port'],
      s3PortBase: flags['s3-port'],
      restPortBase: flags['rest-port'],
      leaseTtl: flags['lease-ttl'],
      tls: flags.tls,
      tlsOnly: flags['tls-only'],
      s3TlsPortBase: flags['s3-tls-port'],
      restTlsPortBase: flags['rest-tls-port'],
      cacheSize: flags['cache-size'],
      s3Redirect: flags['s3-redirect'],
      onProgress: (l) => this.note(l),
    });
    const env = localEnv(state);
    const tls = state.tls;
    const endpoints = state.workers.map((w) => ({
      ...(tls?.only ? {} : { s3Endpoint: `http://127.0.0.1:${w.s3Port}`, restEndpoint: `http://127.0.0.1:${w.restPort}` }),
      ...(tls ? { s3HttpsEndpoint: `https://127.0.0.1:${w.s3TlsPort}`, restHttpsEndpoint: `https://127.0.0.1:${w.restTlsPort}` } : {}),
    }));
    this.say(`Local cluster "${state.cluster}" is up (${state.workers.length} workers), files in ${state.dir}`);
    this.say(`  etcd      ${state.etcd.endpoint}  (pid ${state.etcd.pid})`);
    state.workers.forEach((w, i) => {
      const e = endpoints[i]!;
      const plain = e.s3Endpoint ? `S3 ${e.s3Endpoint}  REST ${e.restEndpoint}  ` : '';
      const secure = e.s3HttpsEndpoint ? `S3 ${e.s3HttpsEndpoint}  REST ${e.restHttpsEndpoint}  ` : '';
      this.say(`  ${w.id}  ${plain}${secure}(pid ${w.pid})`);
    });
    if (tls) {
      this.say(`TLS: trust the throwaway CA ${tls.caCert}`);
      this.say(`  aws --ca-bundle ${tls.caCert} ...   curl --cacert ${tls.caCert} ...   boto3: verify="${tls.caCert}"   Node: NODE_EXTRA_CA_CERTS=${tls.caCert}`);
    }
    this.say('Use it from this shell with:');
    for (const [k, v] of Object.entries(env)) this.say(`export ${k}=${v}`);
    this.say(`Stop it with: alluxio local stop --dir ${state.dir}`);
    return {
      dir: state.dir,
      cluster: state.cluster,
      etcd: { endpoint: state.etcd.endpoint, pid: state.etcd.pid, log: state.etcd.log },
      workers: state.workers.map((w, i) => ({ id: w.id, pid: w.pid, ...endpoints[i], log: w.log })),
      ...(tls ? { tls: { caCert: tls.caCert, cert: tls.cert, key: tls.key, only: tls.only } } : {}),
      env,
    };
  }
}
