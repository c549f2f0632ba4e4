/**
 * A hung etcd member (SIGSTOP: its sockets stay open, nothing answers) in a healthy 3-member
 * cluster: workers keep their membership. Their lease renewals fail over to the live members
 * (src/host/membership.ts); etcd3's own keep-alive stream stayed on the hung member and the
 * worker dropped out of `worker list` and the hash ring until it re-registered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterMember, TestEtcdCluster } from '../helpers/etcd.js';
import { startMountedCluster, type MountedCluster } from '../helpers/ha-fixture.js';
import { runCli } from '../helpers/cli.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';

describe('etcd HA: a hung member', () => {
  let cluster: TestEtcdCluster;
  let fx: MountedCluster | undefined;
  let worker: WorkerProcess | undefined;
  let hung: ClusterMember | undefined;

  before(async () => {
    fx = await startMountedCluster();
    cluster = fx.cluster;
  });

  after(async () => {
    if (hung?.server) process.kill(hung.server.process.pid!, 'SIGCONT');
    await worker?.stop();
    await fx?.destroy();
  });

  it('each member in turn hangs for two lease TTLs (the leader too): the worker keeps its one lease and stays registered throughout', async () => {
    const TTL_S = 6;
    worker = await startWorker(cluster.endpoints, { id: 'hung-w0', leaseTtl: `${TTL_S}s` });
    /** The lease of the worker's key, through a member that is not `skip` ('absent': no key). */
    const leaseOf = async (skip: ClusterMember | undefined): Promise<string> => {
      const via = cluster.members.find((m) => m !== skip)!;
      const res = await fetch(`${via.endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/alluxio/default/workers/hung-w0').toString('base64') }), signal: AbortSignal.timeout(5000) });
      const doc = (await res.json()) as { header?: unknown; kvs?: { lease?: string }[]; error?: string };
      if (!doc.header) throw new Error(`no answer: ${doc.error ?? res.status}`); // e.g. no leader yet
      return doc.kvs?.[0]?.lease ?? 'absent';
    };
    const lease = await until('the worker registered', async () => ((await leaseOf(undefined)) === 'absent' ? undefined : leaseOf(undefined)));
    let looks = 0;
    // Whichever member holds the worker's requests (etcd3 picks one at random for its streams), it hangs once.
    for (const m of cluster.members) {
      hung = m;
      process.kill(m.server!.process.pid!, 'SIGSTOP');
      try {
        const end = Date.now() + 2 * TTL_S * 1000;
        while (Date.now() < end) {
          const now = await until('a live member to answer', () => leaseOf(m), 20_000, 200);
          assert.equal(now, lease, `with ${m.name} hung, the worker's key ${now === 'absent' ? 'disappeared' : 'moved to a new lease'} (look ${looks}):\n${worker.log().split('\n').slice(-15).join('\n')}`);
          looks++;
          await new Promise((res) => setTimeout(res, 250)); // the next look (the hold is the fault, not a synchronisation)
        }
      } finally {
        process.kill(m.server!.process.pid!, 'SIGCONT');
        hung = undefined;
      }
      await cluster.leader(); // the cluster whole again before the next member hangs
    }
    const list = await runCli(['worker', 'list', '--json'], { env: { ALLUXIO_ETCD_ENDPOINTS: cluster.endpoints } });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json().workers.map((w: { id: string }) => w.id), ['hung-w0']);
    assert.doesNotMatch(worker.log(), /lease lost/);
    console.log(`# each of 3 members hung for ${2 * TTL_S} s in turn: the worker's key was on its first lease at all ${looks} looks`);
  });
});
