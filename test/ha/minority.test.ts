/**
 * A worker whose etcd member has no leader (the majority is gone, or cut off from it): the
 * member ends the watch ("etcdserver: no leader") and refuses the linearizable list, so the
 * worker says it is stale (state, snapshot age, /readyz after --max-staleness) instead of
 * claiming to be current while a majority elsewhere may commit changes it does not see. It
 * serves the last config until --max-staleness, and is current again once a leader is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcdCluster, type TestEtcdCluster } from '../helpers/etcd.js';
import { runCli } from '../helpers/cli.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';

describe('etcd HA: the member a worker watches loses its leader', () => {
  let cluster: TestEtcdCluster;
  let dataDir: string;
  let worker: WorkerProcess | undefined;

  before(async () => {
    cluster = await startTestEtcdCluster({ size: 3 });
    dataDir = mkdtempSync(join(tmpdir(), 'alluxio-ha-minority-'));
    mkdirSync(join(dataDir, 'files'));
    writeFileSync(join(dataDir, 'files', 'hello.txt'), 'hello\n');
  });

  after(async () => {
    await worker?.stop();
    await cluster?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('the worker reports itself stale (not watching, /readyz 503 after --max-staleness) and recovers once a leader is back', async () => {
    const r = await runCli(['mount', 'add', '--path', '/files', '--ufs-uri', `file://${dataDir}/files/`], { env: { ALLUXIO_ETCD_ENDPOINTS: cluster.endpoints } });
    assert.equal(r.code, 0, r.stderr);
    const [only, ...others] = cluster.members;
    // The worker reaches one member (as behind a partition).
    worker = await startWorker(only!.endpoint, { id: 'minority-w0', maxStaleness: '5s' });
    const readyz = async (): Promise<number> => (await fetch(`${worker!.restUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
    await until('the worker watching', async () => (await worker!.status()).informer.state === 'watching');
    assert.equal(await readyz(), 200);
    for (const m of others) await cluster.stop(m, 'SIGKILL'); // its member has no leader now
    await until('the worker to stop claiming it is current', async () => (await worker!.status()).informer.state !== 'watching', 60_000, 200);
    await until('/readyz to refuse after --max-staleness', async () => (await readyz()) === 503, 60_000, 200);
    assert.match(worker.log(), /no leader/);
    // the last config still served meanwhile? past --max-staleness the worker refuses (documented)
    for (const m of others) await cluster.start(m);
    await until('the worker watching again', async () => (await worker!.status()).informer.state === 'watching', 60_000, 200);
    await until('/readyz 200 again', async () => (await readyz()) === 200, 60_000, 200);
  });
});
