/**
 * The config informer against a real etcd, with real faults: etcd stopped and restarted,
 * a network partition (a real TCP proxy cut) during which the config changes and etcd is
 * compacted, a silently dead stream, etcd wiped (revision going backwards), malformed values
 * written by hand, and a multi-key transaction that must be seen whole.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { ConfigInformer, type SnapshotChange } from '../../src/informer/informer.js';
import { until as poll } from '../helpers/poll.js';
import { etcdctl } from '../helpers/etcdctl.js';

/** Informer changes arrive fast: poll more often, with a shorter default deadline. */
const until = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> => poll(what, fn, timeoutMs, 20);

function mountValue(path: string, uri: string): string {
  return JSON.stringify({ path, ufsUri: uri, readOnly: false, options: {} });
}
function ruleValue(id: string, from: string, to: string, order = 100): string {
  return JSON.stringify({ id, order, kind: 'prefix', src: from, dst: to, enabled: true });
}

describe('ConfigInformer', () => {
  let etcd: TestEtcd;
  let admin: EtcdConnection;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    admin?.close();
    await etcd?.destroy();
  });

  function connect(endpoint: string, cluster: string): EtcdConnection {
    const c = new EtcdConnection({ endpoints: [endpoint], cluster, timeoutMs: 2000 });
    cleanups.push(() => c.close());
    return c;
  }
  function informer(conn: EtcdConnection, opts: ConstructorParameters<typeof ConfigInformer>[1] = {}): ConfigInformer {
    const inf = new ConfigInformer(conn, { backoffInitialMs: 50, backoffMaxMs: 500, progressIntervalMs: 1000, deadStreamTimeoutMs: 3000, ...opts });
    cleanups.push(() => inf.stop());
    return inf;
  }

  it('lists then watches, and applies a multi-key transaction as one snapshot', async () => {
    admin = connect(etcd.endpoint, 'inf1');
    const L = admin.layout;
    await admin.client.put(L.mountKey('/a')).value(mountValue('/a', 'file:///tmp/a/'));
    const inf = informer(connect(etcd.endpoint, 'inf1')).start();
    const first = await inf.ready();
    assert.deepEqual(first.mounts.map((m) => m.path), ['/a']);
    const changes: SnapshotChange[] = [];
    inf.on('snapshot', (c: SnapshotChange) => changes.push(c));
    await until('watching', () => inf.status().state === 'watching');
    // One transaction: a mount and a rule pointing into it, plus deleting /a.
    const txn = await admin.client
      .if(L.generationKey, 'Version', '>', -1)
      .then(
        admin.client.put(L.mountKey('/model')).value(mountValue('/model', 'file:///tmp/model/')),
        admin.client.put(L.ruleKey('latest')).value(ruleValue('latest', '/model/latest', '/model/v3')),
        admin.client.delete().key(L.mountKey('/a')),
      )
      .commit();
    const rev = Number(txn.header.revision);
    await until('revision applied', () => inf.appliedRevision() >= rev);
    assert.equal(changes.length, 1, 'one snapshot for one transaction');
    const c = changes[0]!;
    assert.equal(c.reason, 'watch');
    assert.equal(c.revision, rev);
    assert.deepEqual(c.deleted, [L.mountKey('/a')]);
    assert.deepEqual([...c.put].sort(), [L.mountKey('/model'), L.ruleKey('latest')].sort());
    assert.deepEqual(c.snapshot.mounts.map((m) => m.path), ['/model']);
    assert.deepEqual(c.snapshot.rules.map((r) => r.id), ['latest']);
    assert.equal(c.previous, first);
    const res = c.snapshot.resolve({ api: 'alluxio', path: '/model/latest/w.bin' });
    assert.equal(res.ufsUri, 'file:///tmp/model/v3/w.bin');
    assert.equal(res.revision, rev);
    // The old snapshot is immutable: a request that took it before the swap still sees /a.
    assert.deepEqual(first.mounts.map((m) => m.path), ['/a']);
    const st = inf.status();
    assert.equal(st.revision, rev);
    assert.equal(st.snapshotAgeMs, 0);
    assert.equal(st.reloads, 2);
  });

  it('skips a malformed value written with etcdctl, keeps the rest, and recovers when it is fixed', async () => {
    const conn = connect(etcd.endpoint, 'inf2');
    const L = conn.layout;
    await conn.client.put(L.mountKey('/good')).value(mountValue('/good', 'file:///tmp/good/'));
    etcdctl(etcd.endpoint, 'put', L.mountKey('/bad'), '{not json');
    const logged: unknown[] = [];
    const log = { warn: (o: unknown) => logged.push(o), info() {}, debug() {}, error() {}, child() { return log; } } as never;
    const inf = informer(conn, { log }).start();
    const s = await inf.ready();
    assert.deepEqual(s.mounts.map((m) => m.path), ['/good']);
    assert.equal(inf.status().invalid.length, 1);
    assert.equal(inf.status().invalid[0]!.key, L.mountKey('/bad'));
    assert.ok(logged.some((o) => (o as { key?: string }).key === L.mountKey('/bad')));
    // Another bad one through the watch: a rule with a regex RE2 refuses, and a key/id mismatch.
    etcdctl(etcd.endpoint, 'put', L.ruleKey('evil'), JSON.stringify({ id: 'evil', order: 1, kind: 'regex', src: '(a+)+\\1', dst: '/x', enabled: true }));
    etcdctl(etcd.endpoint, 'put', L.ruleKey('mismatch'), ruleValue('other', '/p', '/q'));
    const r = Number(JSON.parse(etcdctl(etcd.endpoint, 'put', L.mountKey('/also'), mountValue('/also', 'file:///tmp/also/'), '-w', 'json')).header.revision);
    await until('the good change after the bad ones', () => inf.appliedRevision() >= r);
    const now = inf.current()!;
    assert.deepEqual(now.mounts.map((m) => m.path).sort(), ['/also', '/good']);
    assert.equal(now.rules.length, 0);
    assert.deepEqual(inf.status().invalid.map((i) => i.key).sort(), [L.mountKey('/bad'), L.ruleKey('evil'), L.ruleKey('mismatch')].sort());
    // Fixing the value by hand brings it in.
    const r2 = Number(JSON.parse(etcdctl(etcd.endpoint, 'put', L.mountKey('/bad'), mountValue('/bad', 'file:///tmp/bad/'), '-w', 'json')).header.revision);
    await until('the fix', () => inf.appliedRevision() >= r2);
    assert.deepEqual(inf.current()!.mounts.map((m) => m.path).sort(), ['/also', '/bad', '/good']);
    assert.equal(inf.status().state, 'watching');
  });

  it('partition + changes + compaction: relists, emits the deletes, converges', async () => {
    const proxy: TcpProxy = await startTcpProxy(etcd.clientPort);
    cleanups.push(() => proxy.close());
    const conn = connect(etcd.endpoint, 'inf3');
    const L = conn.layout;
    for (const p of ['/x', '/y', '/z']) await conn.client.put(L.mountKey(p)).value(mountValue(p, `file:///tmp${p}/`));
    const inf = informer(connect(proxy.endpoint, 'inf3')).start();
    await inf.ready();
    await until('watching', () => inf.status().state === 'watching');
    const before = inf.current()!;
    const changes: SnapshotChange[] = [];
    inf.on('snapshot', (c: SnapshotChange) => changes.push(c));
    proxy.cut();
    await until('the informer to notice the cut', () => inf.status().state !== 'watching');
    // While cut off: delete two mounts, add one, churn, then compact everything.
    await conn.client.delete().key(L.mountKey('/x'));
    await conn.client.delete().key(L.mountKey('/y'));
    await conn.client.put(L.mountKey('/w')).value(mountValue('/w', 'file:///tmp/w/'));
    for (let i = 0; i < 5; i++) await conn.client.put(L.mountKey('/z')).value(mountValue('/z', `file:///tmp/z${i}/`));
    const head = Number((await conn.client.get('nothing').exec()).header.revision);
    etcdctl(etcd.endpoint, 'compaction', String(head));
    // The last good snapshot is still served, and its age is reported.
    assert.equal(inf.current(), before);
    await until('a non-zero snapshot age', () => inf.status().snapshotAgeMs > 0);
    assert.ok(inf.status().lastError);
    proxy.heal();
    await until('convergence after the partition', () => inf.appliedRevision() >= head, 30_000);
    const after = inf.current()!;
    assert.deepEqual(after.mounts.map((m) => m.path).sort(), ['/w', '/z']);
    assert.equal(after.mount('/z')!.ufsUri, 'file:///tmp/z4/');
    const relist = changes.find((c) => c.reason === 'relist');
    assert.ok(relist, `expected a relist, got ${JSON.stringify(changes.map((c) => c.reason))}`);
    assert.deepEqual([...relist.deleted].sort(), [L.mountKey('/x'), L.mountKey('/y')]);
    assert.ok(relist.put.includes(L.mountKey('/w')));
    assert.ok(inf.status().relists >= 1);
    await until('watching again', () => inf.status().state === 'watching');
    // And the new watch works.
    const r = Number((await conn.client.put(L.mountKey('/v')).value(mountValue('/v', 'file:///tmp/v/')).exec()).header.revision);
    await until('a change after the relist', () => inf.appliedRevision() >= r);
    assert.ok(inf.current()!.mount('/v'));
  });

  it('detects a silently dead stream (blackhole) through progress requests or its quorum check, and reconnects', async () => {
    const proxy = await startTcpProxy(etcd.clientPort);
    cleanups.push(() => proxy.close());
    const conn = connect(etcd.endpoint, 'inf4');
    const L = conn.layout;
    const inf = informer(connect(proxy.endpoint, 'inf4')).start();
    await inf.ready();
    await until('watching', () => inf.status().state === 'watching');
    const reconnects = inf.status().reconnects;
    proxy.blackhole();
    const r = Number((await conn.client.put(L.mountKey('/dark')).value(mountValue('/dark', 'file:///tmp/dark/')).exec()).header.revision);
    // Nothing arrives; the informer must find out by itself (no socket error is ever raised).
    await until('dead stream detection', () => inf.status().state !== 'watching', 15_000);
    // (whichever finds it first: the unanswered progress request, or the quorum check's read)
    assert.match(inf.status().lastError ?? '', /silent for \d+ ms \(no answer to a progress request\)|did not answer a linearizable read within \d+ ms/);
    assert.equal(inf.current()!.mount('/dark'), undefined);
    proxy.heal();
    await until('the missed change', () => inf.appliedRevision() >= r, 30_000);
    assert.ok(inf.current()!.mount('/dark'));
    assert.ok(inf.status().reconnects > reconnects);
  });

  it('keeps serving through an etcd stop/restart, then applies changes made after it', async () => {
    const conn = connect(etcd.endpoint, 'inf5');
    const L = conn.layout;
    await conn.client.put(L.mountKey('/keep')).value(mountValue('/keep', 'file:///tmp/keep/'));
    const inf = informer(connect(etcd.endpoint, 'inf5')).start();
    await inf.ready();
    await until('watching', () => inf.status().state === 'watching');
    const held = inf.current()!;
    await etcd.process.kill('SIGTERM');
    await until('etcd down', () => etcd.process.exitCode !== null || etcd.process.signalCode !== null);
    await until('reconnecting', () => inf.status().state === 'reconnecting');
    assert.equal(inf.current(), held);
    assert.ok(held.mount('/keep'));
    await until('age grows', () => inf.status().snapshotAgeMs >= 200);
    etcd = await etcd.restart();
    const r = Number((await conn.client.put(L.mountKey('/new')).value(mountValue('/new', 'file:///tmp/new/')).exec()).header.revision);
    await until('change after restart', () => inf.appliedRevision() >= r, 30_000);
    assert.ok(inf.current()!.mount('/new'));
    assert.ok(inf.current()!.mount('/keep'));
    await until('watching', () => inf.status().state === 'watching');
    // (the new stream vouches once its member confirms a quorum, a linearizable read later)
    await until('current again', () => inf.status().snapshotAgeMs === 0);
  });

  it('its watch streams check their member for a quorum on their own channel: works on an etcd without the JSON gateway, no churn', async () => {
    const own = await startTestEtcd({ extraArgs: ['--enable-grpc-gateway=false'] });
    cleanups.push(() => own.destroy());
    const conn = connect(own.endpoint, 'inf8');
    const L = conn.layout;
    await conn.client.put(L.mountKey('/g')).value(mountValue('/g', 'file:///tmp/g/'));
    const watched = connect(own.endpoint, 'inf8');
    const inf = informer(watched).start();
    await inf.ready();
    await until('watching', () => inf.status().state === 'watching');
    // confirmed by its first check (a grpc range on the stream's channel)
    await until('current', () => inf.status().snapshotAgeMs === 0 && inf.status().inSyncAt !== null);
    const r = Number((await conn.client.put(L.mountKey('/h')).value(mountValue('/h', 'file:///tmp/h/')).exec()).header.revision);
    await until('a change through the same stream', () => inf.appliedRevision() >= r);
    assert.equal(inf.status().reconnects, 0, inf.status().lastError ?? '');
    assert.equal(inf.status().state, 'watching');
  });

  it('relists when etcd comes back wiped (revision went backwards)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-etcd-wiped-'));
    let own = await startTestEtcd({ dir });
    cleanups.push(() => own.destroy());
    const conn = connect(own.endpoint, 'inf6');
    const L = conn.layout;
    for (let i = 0; i < 30; i++) await conn.client.put(L.mountKey('/old')).value(mountValue('/old', `file:///tmp/old${i}/`));
    const inf = informer(connect(own.endpoint, 'inf6')).start();
    await inf.ready();
    await until('watching', () => inf.status().state === 'watching');
    const high = inf.appliedRevision();
    assert.ok(high > 30);
    // Wipe: a brand-new etcd (empty data dir) on the same ports.
    const { clientPort, peerPort } = own;
    await own.destroy();
    own = await startTestEtcd({ clientPort, peerPort, dir: mkdtempSync(join(tmpdir(), 'alluxio-test-etcd-wiped2-')) });
    const r = Number((await conn.client.put(L.mountKey('/fresh')).value(mountValue('/fresh', 'file:///tmp/fresh/')).exec()).header.revision);
    assert.ok(r < high);
    await until('the fresh content', () => inf.current()!.mount('/fresh'), 30_000);
    assert.equal(inf.current()!.mount('/old'), undefined, 'the wiped mount is gone');
    assert.equal(inf.appliedRevision(), r);
    assert.ok(inf.status().relists >= 1);
  });
});
