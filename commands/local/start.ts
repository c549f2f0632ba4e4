import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import { defaultLocalDir, startLocalCluster } from '../../src/local/cluster.js';

export default class LocalStart extends BaseCommand<typeof LocalStart> {
  static override summary = 'Start etcd and N workers on this machine, in the background.';
  static override description =
    'Runs the `etcd` binary from PATH (Debian: apt-get install etcd-server) and N `alluxio worker start` processes, detached, with logs and pid files under --dir; waits until every worker is ready, then prints the endpoints and the environment to export. Preferred ports are 2379 (etcd), 29998+i (S3) and 28080+i (REST); a busy one is replaced by a free port. etcd data is kept across stop/start.';
  static override examples = ['<%= config.bin %> local start', '<%= config.bin %> local start --workers 3 --dir /tmp/alluxio-local', 'eval "$(<%= config.bin %> local start --workers 2 | grep ^export)"'];
  static override flags = {
    workers: Flags.integer({ default: 1, min: 0, max: 64, summary: 'Number of workers.' }),
    dir: Flags.string({ summary: 'Directory for pid files, logs and etcd data (default $ALLUXIO_LOCAL_DIR or ~/.alluxio/local).' }),
    'etcd-port': Flags.integer({ default: 2379, min: 0, max: 65535, summary: 'Preferred etcd client port.' }),
    's3-port': Flags.integer({ default: 29998, min: 0, max: 65535, summary: 'Preferred S3 port of the first worker (next ones +1).' }),
    'rest-port': Flags.integer({ default: 28080, min: 0, max: 65535, summary: 'Preferred REST port of the first worker (next ones +1).' }),
    'cache-size': Flags.string({ default: '1GiB', summary: 'Cache quota of each worker (pages under --dir/cache/<worker id>); 0 = no cache.' }),
    'lease-ttl': Flags.string({ default: '10s', summary: 'Membership lease TTL of the workers.' }),
  };

  async run(): Promise<unknown> {
    const { flags } = await this.parseInput();
    const dir = flags.dir ?? defaultLocalDir();
    const state = await startLocalCluster({
      dir,
      workers: flags.workers,
      cluster: flags.cluster,
      etcdPort: flags['etcd-port'],
      s3PortBase: flags['s3-port'],
      restPortBase: flags['rest-port'],
      leaseTtl: flags['lease-ttl'],
      cacheSize: flags['cache-size'],
      onProgress: (l) => this.note(l),
    });
    const env = { ALLUXIO_ETCD_ENDPOINTS: state.etcd.endpoint, ALLUXIO_CLUSTER: state.cluster };
    this.say(`Local cluster "${state.cluster}" is up (${state.workers.length} workers), files in ${state.dir}`);
    this.say(`  etcd      ${state.etcd.endpoint}  (pid ${state.etcd.pid})`);
    for (const w of state.workers) this.say(`  ${w.id}  S3 http://127.0.0.1:${w.s3Port}  REST http://127.0.0.1:${w.restPort}  (pid ${w.pid})`);
    this.say('Use it from this shell with:');
    for (const [k, v] of Object.entries(env)) this.say(`export ${k}=${v}`);
    this.say(`Stop it with: alluxio local stop --dir ${state.dir}`);
    return {
      dir: state.dir,
      cluster: state.cluster,
      etcd: { endpoint: state.etcd.endpoint, pid: state.etcd.pid, log: state.etcd.log },
      workers: state.workers.map((w) => ({ id: w.id, pid: w.pid, s3Endpoint: `http://127.0.0.1:${w.s3Port}`, restEndpoint: `http://127.0.0.1:${w.restPort}`, log: w.log })),
      env,
    };
  }
}
