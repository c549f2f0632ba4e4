import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { LocalStatusResult } from '../../src/cli/results.js';
import { defaultLocalDir, localClusterStatus } from '../../src/local/cluster.js';

export default class LocalStatus extends BaseCommand<typeof LocalStatus, LocalStatusResult> {
  static override summary = 'Health of the local cluster started by `alluxio local start`.';
  static override description = 'Checks that each recorded process is still the one started (pid and start time), that etcd answers /health and each worker /readyz. Exit 0 when all are healthy, 5 when something is down, 4 when there is no local cluster in --dir.';
  static override examples = ['<%= config.bin %> local status', '<%= config.bin %> local status --json'];
  static override flags = {
    dir: Flags.string({ summary: 'Directory given to local start (default $ALLUXIO_LOCAL_DIR or ~/.alluxio/local).' }),
  };

  async run(): Promise<LocalStatusResult> {
    const { flags } = await this.parseInput();
    const st = await localClusterStatus(flags.dir ?? defaultLocalDir());
    if (!this.jsonEnabled()) {
      const rows = [st.etcd, ...st.workers].map((p) => [
        p.name,
        String(p.pid),
        p.healthy ? 'healthy' : p.running ? 'unhealthy' : 'down',
        p.endpoint,
        p.appliedRevision === undefined ? '-' : String(p.appliedRevision),
        p.detail,
      ]);
      this.say(this.render.table(['PROCESS', 'PID', 'STATE', 'ENDPOINT', 'APPLIED', 'DETAIL'], rows));
      if (this.render.isTTY) this.say(`export ALLUXIO_ETCD_ENDPOINTS=${st.env.ALLUXIO_ETCD_ENDPOINTS} ALLUXIO_CLUSTER=${st.env.ALLUXIO_CLUSTER}`);
    }
    if (!st.healthy) process.exitCode = 5;
    return st;
  }
}
