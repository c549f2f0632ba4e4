/**
 * The set-up of the member fault tests (test/ha): a real 3-member etcd cluster with a
 * file:// mount /files holding hello.txt, written through the CLI.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcdCluster, type TestEtcdCluster } from './etcd.js';
import { runCli } from './cli.js';

export interface MountedCluster {
  cluster: TestEtcdCluster;
  destroy(): Promise<void>;
}

export async function startMountedCluster(): Promise<MountedCluster> {
  const cluster = await startTestEtcdCluster({ size: 3 });
  const dataDir = mkdtempSync(join(tmpdir(), 'alluxio-ha-'));
  const destroy = async (): Promise<void> => {
    await cluster.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    mkdirSync(join(dataDir, 'files'));
    writeFileSync(join(dataDir, 'files', 'hello.txt'), 'hello\n');
    const r = await runCli(['mount', 'add', '--path', '/files', '--ufs-uri', `file://${dataDir}/files/`], { env: { ALLUXIO_ETCD_ENDPOINTS: cluster.endpoints } });
    assert.equal(r.code, 0, r.stderr);
  } catch (e) {
    await destroy();
    throw e;
  }
  return { cluster, destroy };
}
