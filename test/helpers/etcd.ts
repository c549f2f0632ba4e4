/**
 * A real etcd per test file, on free loopback ports, with a temporary data dir that is
 * removed afterwards. Always stopped, also when the test fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcdServer, type EtcdServer } from '../../src/local/etcd-server.js';

export interface TestEtcd extends EtcdServer {
  dir: string;
  /** Stop and delete everything. */
  destroy(): Promise<void>;
  /** Restart on the same ports and data (for outage tests). */
  restart(): Promise<TestEtcd>;
}

export async function startTestEtcd(opts: { clientPort?: number; peerPort?: number; dir?: string; extraArgs?: string[]; maxTxnOps?: number } = {}): Promise<TestEtcd> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'alluxio-test-etcd-'));
  const srv = await startEtcdServer({
    dataDir: join(dir, 'data'),
    logFile: join(dir, 'etcd.log'),
    ...(opts.clientPort ? { clientPort: opts.clientPort } : {}),
    ...(opts.peerPort ? { peerPort: opts.peerPort } : {}),
    ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
    // --max-txn-ops: 10000 unless a test asks for another value (e.g. etcd's default 128).
    ...(opts.maxTxnOps ? { maxTxnOps: opts.maxTxnOps } : {}),
  });
  const self: TestEtcd = {
    ...srv,
    dir,
    async destroy() {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await srv.stop();
      return startTestEtcd({ clientPort: srv.clientPort, peerPort: srv.peerPort, dir, ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}), ...(opts.maxTxnOps ? { maxTxnOps: opts.maxTxnOps } : {}) });
    },
  };
  return self;
}
