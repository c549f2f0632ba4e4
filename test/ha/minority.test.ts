/**
 * A worker whose etcd member has no leader (the majority is gone, or cut off from it): the
 * member ends the watch ("etcdserver: no leader") and refuses the linearizable list, so the
 * worker says it is stale (state, snapshot age, /readyz after --max-staleness) instead of
 * claiming to be current while a majority elsewhere may commit changes it does not see. It
 * serves the last config until --max-staleness, and is current again once a leader is back.
 * The snapshot ages from the last moment the member confirmed a quorum, never from a later
 * progress answer of a member without one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestEtcdCluster } from '../helpers/etcd.js';
import { startMountedCluster, type MountedCluster } from '../helpers/ha-fixture.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';

describe('etcd HA: the member a worker watches loses its leader', () => {
  let cluster: TestEtcdCluster;
  let fx: MountedCluster | undefined;
  let worker: WorkerProcess | undefined;

  before(async () => {
    fx = await startMountedCluster();
    cluster = fx.cluster;
  });

  after(async () => {
    await worker?.stop();
    await fx?.destroy();
  });

  it('the worker reports itself stale (not watching, /readyz 503 after --max-staleness) and recovers once a leader is back', async () => {
    const [only, ...others] = cluster.members;
    // The worker reaches one member (as behind a partition).
    worker = await startWorker(only!.endpoint, { id: 'minority-w0', maxStaleness: '5s' });
    const readyz = async (): Promise<number> => (await fetch(`${worker!.restUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
    await until('the worker watching', async () => (await worker!.status()).informer.state === 'watching');
    assert.equal(await readyz(), 200);
    for (const m of others) await cluster.stop(m, 'SIGKILL'); // its member has no leader now
    const lostBy = Date.now();
    await until('the worker to stop claiming it is current', async () => (await worker!.status()).informer.state !== 'watching', 60_000, 200);
    await until('/readyz to refuse after --max-staleness', async () => (await readyz()) === 503, 60_000, 200);
    assert.match(worker.log(), /no leader/);
    assert.equal((await worker.status()).ready, false, '/api/v1/status agrees with /readyz');
    // Its member kept answering progress requests for a while without a leader; only a
    // quorum confirmation vouches for the view, so the last moment it was in sync is before
    // the quorum was lost (before 2026-12-03 it was 3-4 s after, and the snapshot aged from
    // there: --max-staleness overshot by that much).
    const inSync = (await worker.status()).informer.inSyncAt;
    assert.ok(inSync !== null && Date.parse(inSync) <= lostBy, `in sync at ${inSync}, after the quorum was lost by ${new Date(lostBy).toISOString()}`);
    // a request past --max-staleness is refused, saying why the config is old
    const refused = await fetch(`${worker.s3Url}/files/hello.txt`);
    assert.equal(refused.status, 503);
    assert.match(await refused.text(), /more than --max-staleness 5000 ms \(last from etcd: [^<]*(no leader|no answer|timed out|deadline)/i);
    for (const m of others) await cluster.start(m);
    await until('the worker watching again', async () => (await worker!.status()).informer.state === 'watching', 60_000, 200);
    await until('/readyz 200 again', async () => (await readyz()) === 200, 60_000, 200);
  });
});
