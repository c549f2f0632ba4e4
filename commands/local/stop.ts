import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base-command.js';
import type { LocalStopResult } from '../../src/cli/results.js';
import { defaultLocalDir, stopLocalCluster } from '../../src/local/cluster.js';

export default class LocalStop extends BaseCommand<typeof LocalStop, LocalStopResult> {
  static override summary = 'Stop exactly the processes `alluxio local start` started.';
  static override description = 'Workers first (they deregister), then etcd: SIGTERM, SIGKILL after 10 s, and only for recorded pids that still belong to the process started (same kernel start time). Logs and etcd data stay in --dir unless --purge.';
  static override examples = ['<%= config.bin %> local stop', '<%= config.bin %> local stop --purge'];
  static override flags = {
    dir: Flags.string({ summary: 'Directory given to local start (default $ALLUXIO_LOCAL_DIR or ~/.alluxio/local).' }),
    purge: Flags.boolean({ default: false, summary: 'Also delete the directory (logs and etcd data).' }),
  };

  async run(): Promise<LocalStopResult> {
    const { flags } = await this.parseInput();
    const res = await stopLocalCluster(flags.dir ?? defaultLocalDir(), { purge: flags.purge });
    for (const s of res.stopped) this.say(`${s.name} (pid ${s.pid}): ${s.result}`);
    if (res.purged) this.say(`removed ${res.dir}`);
    return res;
  }
}
