/**
 * Membership records of real worker processes: rate-limited status writes, status keys that
 * never trigger reloads, and the record's shape.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers/poll.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startWorkers, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { waitForConvergence } from '../../src/cluster/convergence.js';
import { listWorkers } from '../../src/cluster/members.js';
import { AlluxioError } from '../../src/domain/errors.js';

describe('worker membership', () => {
  let etcd: TestEtcd;
  let conn: EtcdConnection;
  let workers: WorkerProcess[] = [];
  const cluster = 'member';

  before(async () => {
    etcd = await startTestEtcd();
    conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster });
    workers = await startWorkers(etcd.endpoint, 2, { cluster, idPrefix: 'm' });
  });
  after(async () => {
    await stopWorkers(workers);
    conn?.close();
    await etcd?.destroy();
  });

  it('a stale value landing on the record (a write abandoned at its deadline, applied late) is written over with the current state', async () => {
    // (r15-ha D3: such a record said "applied 670, reconnecting" until the next config change)
    const key = conn.layout.workerKey('m-2');
    const now = await until('the record is current', async () => {
      const kv = (await conn.client.get(key).exec()).kvs[0];
      const r = kv && JSON.parse(kv.value.toString('utf8'));
      return r && r.watchState === 'watching' && r.appliedRevision > 0 ? { kv, r } : undefined;
    });
    const stale = { ...now.r, appliedRevision: 1, watchState: 'reconnecting' };
    await conn.client.put(key).value(JSON.stringify(stale)).lease(now.kv.lease).exec();
    const back = await until('the worker writes its state over the stale value', async () => {
      const r = JSON.parse((await conn.client.get(key).string())!);
      return r.appliedRevision === now.r.appliedRevision && r.watchState === 'watching' ? r : undefined;
    }, 20_000);
    assert.equal(back.appliedRevision, now.r.appliedRevision);
  });

  it('a burst of config changes becomes a few rate-limited record writes, and the last one carries the final revision', async () => {
    const L = conn.layout;
    const key = L.workerKey('m-1');
    const puts: number[] = [];
    const watcher = await conn.client.watch().key(key).create();
    watcher.on('put', (kv) => puts.push(Date.parse(JSON.parse(kv.value.toString('utf8')).updatedAt)));
    try {
      const started = Date.now();
      let last = 0;
      for (let i = 0; i < 60; i++) {
        const r = await conn.client.put(L.ruleKey('burst')).value(JSON.stringify({ id: 'burst', order: 1, kind: 'prefix', src: '/a', dst: `/b${i}`, enabled: true })).exec();
        last = Number(r.header.revision);
      }
      const burstMs = Date.now() - started;
      const st = await workers[0]!.waitForRevision(last);
      assert.ok(st.appliedRevision >= last);
      // The record catches up with the final revision ...
      const rec = await until('the record catches up', async () => {
        const r = JSON.parse((await conn.client.get(key).string())!);
        return r.appliedRevision >= last ? r : undefined;
      }, 10_000, 20);
      assert.ok(rec.appliedRevision >= last, JSON.stringify(rec));
      // ... with at most one write per 200 ms interval (+2 for the edges), not one per change.
      const settle = Date.now() - started;
      assert.ok(puts.length <= Math.ceil(settle / 200) + 2, `${puts.length} writes for 60 changes over ${burstMs} ms (settled after ${settle} ms)`);
      assert.ok(puts.length < 60);
      for (let i = 1; i < puts.length; i++) assert.ok(puts[i]! - puts[i - 1]! >= 190, `writes at ${puts[i - 1]} and ${puts[i]} (updatedAt) are too close`);
    } finally {
      await watcher.cancel();
    }
  });

  it("status writes (their own and other workers') never trigger a reload", async () => {
    const a = await workers[0]!.status();
    // Force membership writes: the other worker's state changes, and etcd's revision moves
    // on outside config/.
    for (let i = 0; i < 10; i++) await conn.client.put(`${conn.layout.root}migrations/noise-${i}`).value('{}');
    // Then one config change: the informer handles events in order, so once it applied this
    // change, the noise before it has been seen; exactly one reload may have happened.
    const marker = { id: 'noise-marker', order: 999_999, kind: 'prefix', src: '/noise-marker', dst: '/noise-target', enabled: true };
    const put = await conn.client.put(conn.layout.ruleKey(marker.id)).value(JSON.stringify(marker)).exec();
    await workers[0]!.waitForRevision(Number(put.header.revision));
    const b = await workers[0]!.status();
    assert.equal(b.informer.reloads, a.informer.reloads + 1, 'one reload, for the config change only');
    const del = await conn.client.delete().key(conn.layout.ruleKey(marker.id)).exec();
    await Promise.all(workers.map((w) => w.waitForRevision(Number(del.header.revision))));
  });

  it('records have the documented shape; convergence ignores non-config commits', async () => {
    // The records follow the applied revision (rate-limited writes): wait until both show it.
    const listing = await until('both records at lag 0', async () => {
      const l = await listWorkers(conn);
      return l.workers.length === 2 && l.workers.every((w) => w.lag === 0) ? l : undefined;
    });
    assert.deepEqual(listing.workers.map((w) => w.id), ['m-1', 'm-2']);
    for (const w of listing.workers) {
      assert.equal(w.host, '127.0.0.1');
      assert.ok(w.s3Port > 0 && w.restPort > 0);
      assert.equal(w.lag, 0);
      assert.equal(w.watchState, 'watching');
      assert.equal(typeof w.pid, 'number');
    }
    // A commit outside config/ (e.g. a migration record) is "applied" by everyone already.
    const r = await conn.client.put(`${conn.layout.root}migrations/x`).value('{}').exec();
    const out = await waitForConvergence(conn, Number(r.header.revision), { timeoutMs: 5000 });
    assert.equal(out.workers, 2);
    // A revision nobody can have applied yet times out, naming both workers.
    const cfg = listing.configRevision;
    const bumped = await conn.client.put(conn.layout.ruleKey('future')).value(JSON.stringify({ id: 'future', order: 2, kind: 'prefix', src: '/f', dst: '/g', enabled: true })).exec();
    await assert.rejects(waitForConvergence(conn, Number(bumped.header.revision) + 1000, { timeoutMs: 300 }), (e: unknown) => {
      assert.ok(e instanceof AlluxioError);
      assert.equal(e.code, 'WaitTimeout');
      assert.equal(e.exitCode, 5);
      assert.match(e.message, /m-1 \(at revision \d+\).*m-2 \(at revision \d+\)/);
      return true;
    });
    assert.ok(cfg > 0);
  });

  it('with etcd hung (SIGSTOP) during --wait, the wait ends near its own timeout, not after several --etcd-timeouts', async () => {
    const c = new EtcdConnection({ endpoints: [etcd.endpoint], cluster, timeoutMs: 5000 });
    const pid = etcd.process.pid!;
    try {
      await listWorkers(c); // connected
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      await assert.rejects(waitForConvergence(c, 1_000_000, { timeoutMs: 2000 }), (e: unknown) => {
        assert.ok(e instanceof AlluxioError);
        assert.equal(e.code, 'WaitTimeout');
        assert.match(e.message, /etcd stopped answering meanwhile .*no answer within the \d+ ms left of --wait-timeout/);
        return true;
      });
      // (each read up to the 5 s --etcd-timeout, and a probe: about 13 s before)
      const took = Date.now() - started;
      assert.ok(took < 9000, `took ${took} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
      c.close();
    }
  });
});
