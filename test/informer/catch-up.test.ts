/**
 * The informer catching up from more than 1000 revisions behind, against a real etcd.
 *
 * etcd catches a lagging watcher up in responses of at most 1000 revisions, and every one of
 * them carries the store's CURRENT revision in its header. The informer must take its applied
 * revision from the events (mod_revision), or it would claim the latest revision after the
 * first batch and drop the rest as replays: a torn config served under a revision it does
 * not have. Here the informer's watch is cut off (a real TCP proxy), >1500 config revisions
 * are written, the proxy heals and the watch resumes from far behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { ConfigInformer, type SnapshotChange } from '../../src/informer/informer.js';
import { until } from '../helpers/poll.js';

function ruleValue(id: string, i: number, gen = 0): string {
  return JSON.stringify({ id, order: 100, kind: 'prefix', src: `/m/alias${i}`, dst: `/m/v${i}-${gen}`, enabled: true });
}

interface Op {
  rev: number;
  kind: 'put' | 'del';
  id: string;
  dst?: string;
}

/** The rule set (id -> dst) at revision `rev`, replayed from what the test itself wrote. */
function expectedAt(ops: Op[], rev: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const op of [...ops].sort((a, b) => a.rev - b.rev)) {
    if (op.rev > rev) break;
    if (op.kind === 'put') m.set(op.id, op.dst!);
    else m.delete(op.id);
  }
  return m;
}

function rulesOf(c: SnapshotChange): Map<string, string> {
  return new Map(c.snapshot.rules.map((r) => [r.id, (r as { dst: string }).dst]));
}

describe('ConfigInformer catch-up from > 1000 revisions behind', () => {
  let etcd: TestEtcd;
  let proxy: TcpProxy | undefined;
  const conns: EtcdConnection[] = [];
  let inf: ConfigInformer | undefined;

  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    await inf?.stop();
    for (const c of conns) c.close();
    await proxy?.close();
    await etcd?.destroy();
  });

  it('applies every batch, never claims a revision whose events are still to come, ends at the latest config revision', async () => {
    const admin = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'catchup', timeoutMs: 5000 });
    conns.push(admin);
    const L = admin.layout;
    const ops: Op[] = [];
    const mount = await admin.client.put(L.mountKey('/m')).value(JSON.stringify({ path: '/m', ufsUri: 'file:///tmp/m/', readOnly: false, options: {} })).exec();
    // A few rules before the informer starts, so it lists something.
    for (let i = 0; i < 3; i++) {
      const dst = `/m/v${i}-0`;
      const r = await admin.client.put(L.ruleKey(`r${i}`)).value(ruleValue(`r${i}`, i)).exec();
      ops.push({ rev: Number(r.header.revision), kind: 'put', id: `r${i}`, dst });
    }
    assert.ok(Number(mount.header.revision) > 0);

    proxy = await startTcpProxy(etcd.clientPort);
    const conn = new EtcdConnection({ endpoints: [proxy.endpoint], cluster: 'catchup', timeoutMs: 2000 });
    conns.push(conn);
    inf = new ConfigInformer(conn, { backoffInitialMs: 50, backoffMaxMs: 500, progressIntervalMs: 1000, deadStreamTimeoutMs: 3000 }).start();
    await inf.ready();
    await until('watching', () => inf!.status().state === 'watching', 20_000, 20);
    const listed = inf.appliedRevision();
    const changes: SnapshotChange[] = [];
    inf.on('snapshot', (c: SnapshotChange) => changes.push(c));

    proxy.cut();
    await until('the informer to notice the cut', () => inf!.status().state !== 'watching', 20_000, 20);

    // While cut off: 1500 new rules (one revision each), then overwrite 50 and delete 100 of
    // them, then a 2-key transaction; > 1600 config revisions behind in all.
    const put = async (i: number, gen: number): Promise<void> => {
      const id = `r${i}`;
      const r = await admin.client.put(L.ruleKey(id)).value(ruleValue(id, i, gen)).exec();
      ops.push({ rev: Number(r.header.revision), kind: 'put', id, dst: `/m/v${i}-${gen}` });
    };
    const N = 1500;
    for (let start = 3; start < N + 3; start += 50) {
      await Promise.all(Array.from({ length: Math.min(50, N + 3 - start) }, (_, k) => put(start + k, 0)));
    }
    await Promise.all(Array.from({ length: 50 }, (_, k) => put(1000 + k, 1)));
    for (let start = 200; start < 300; start += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, k) => {
          const id = `r${start + k}`;
          const r = await admin.client.delete().key(L.ruleKey(id)).exec();
          ops.push({ rev: Number(r.header.revision), kind: 'del', id });
        }),
      );
    }
    const txn = await admin.client
      .if(L.ruleKey('r0'), 'Version', '>', 0)
      .then(admin.client.put(L.ruleKey('t1')).value(ruleValue('t1', 9001)), admin.client.delete().key(L.ruleKey('r1')))
      .commit();
    const txnRev = Number(txn.header.revision);
    ops.push({ rev: txnRev, kind: 'put', id: 't1', dst: '/m/v9001-0' }, { rev: txnRev, kind: 'del', id: 'r1' });
    const lastConfigRev = Math.max(...ops.map((o) => o.rev));
    assert.equal(lastConfigRev, txnRev);
    assert.ok(lastConfigRev - listed > 1600, `the watch resumes ${lastConfigRev - listed} revisions behind`);
    // A write outside config/ after the last config change: the store's revision moves past
    // the config revision, and the catch-up headers carry that store revision.
    const other = await admin.client.put(`/catchup-test/unrelated`).value('x').exec();
    const head = Number(other.header.revision);
    assert.ok(head > lastConfigRev);
    assert.equal(inf.appliedRevision(), listed, 'nothing applied while cut off');

    proxy.heal();
    await until('catch-up to the last config revision', () => inf!.appliedRevision() >= lastConfigRev, 60_000, 20);
    // Let any further response arrive (there must be none that changes the content).
    await until('watching again', () => inf!.status().state === 'watching', 20_000, 20);

    const want = expectedAt(ops, lastConfigRev);
    assert.equal(want.size, 3 + N - 100 - 1 + 1);
    const snap = inf.current()!;
    assert.equal(snap.rules.length, want.size, `all ${want.size} rules in the snapshot`);
    assert.deepEqual(new Map(snap.rules.map((r) => [r.id, (r as { dst: string }).dst])), want);
    assert.deepEqual(snap.mounts.map((m) => m.path), ['/m']);
    // The applied revision is the last config revision (a server progress notification for
    // our watch may later move it to the store head, which has no other config change).
    const applied = inf.appliedRevision();
    assert.ok(applied === lastConfigRev || applied === head, `applied ${applied}, last config revision ${lastConfigRev}, head ${head}`);
    assert.equal(snap.revision, lastConfigRev);
    assert.equal(inf.status().relists, 0, 'caught up through the watch, not a relist');

    // Every snapshot published on the way was whole at its revision: never more revision
    // than content (the torn config this test is about), and revisions only go up.
    const watchChanges = changes.filter((c) => c.reason === 'watch');
    assert.ok(watchChanges.length >= 2, `the catch-up came in several responses (${watchChanges.length})`);
    let prev = listed;
    for (const c of changes) {
      assert.equal(c.reason, 'watch');
      assert.ok(c.revision > prev, `revision ${c.revision} after ${prev}`);
      prev = c.revision;
      assert.equal(c.snapshot.revision, c.revision);
      assert.ok(c.revision <= lastConfigRev, `published revision ${c.revision} beyond the last config revision ${lastConfigRev}`);
      assert.deepEqual(rulesOf(c), expectedAt(ops, c.revision), `snapshot at revision ${c.revision} is whole`);
    }
    assert.equal(changes.at(-1)!.revision, lastConfigRev);

    // And the watch is live afterwards.
    const r = await admin.client.put(L.ruleKey('after')).value(ruleValue('after', 9002)).exec();
    const afterRev = Number(r.header.revision);
    await until('a change after the catch-up', () => inf!.appliedRevision() >= afterRev, 20_000, 20);
    assert.equal(inf.appliedRevision(), afterRev);
    assert.ok(inf.current()!.rules.some((x) => x.id === 'after'));
  });
});
