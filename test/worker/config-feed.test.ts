/**
 * The config feed both host processes share (src/host/config-feed.ts), in this process
 * against a real etcd: THE staleness check (before the first snapshot, past
 * --max-staleness), and the membership record following the informer (counted by
 * `--wait`, gone on leave).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { readlinkSync } from 'node:fs';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { until } from '../helpers/poll.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { ConfigFeed } from '../../src/host/config-feed.js';
import { addMount } from '../../src/control/mounts.js';
import { waitForConvergence } from '../../src/cluster/convergence.js';
import { listWorkers } from '../../src/cluster/members.js';
import { MEMBER_VERSION } from '../../src/cluster/record.js';
import { isAlluxioError } from '../../src/domain/errors.js';

const log = pino({ level: 'silent' });

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => isAlluxioError(e) && e.code === 'EtcdUnavailable' && message.test(e.message));
}

describe('config feed', () => {
  let etcd: TestEtcd;
  let conn: EtcdConnection;
  const cluster = 'feed';
  const feeds: ConfigFeed[] = [];

  before(async () => {
    etcd = await startTestEtcd();
    conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster });
  });
  after(async () => {
    for (const f of feeds) await f.leave().catch(() => undefined);
    conn?.close();
    await etcd?.destroy();
  });

  const feed = (what: string, maxStalenessMs?: number): ConfigFeed => {
    const f = new ConfigFeed(conn, { what, log, informer: { log }, ...(maxStalenessMs !== undefined ? { maxStalenessMs } : {}) });
    feeds.push(f);
    return f;
  };

  it('serves nothing before the first snapshot; its membership record follows what it applies and goes away on leave', async () => {
    const f = feed('test host');
    refused(() => f.snapshot(), /the test host has not loaded its configuration from etcd yet/);
    assert.equal(f.serving(), false);
    f.start();
    await f.ready(30_000);
    assert.equal(f.serving(), true);
    assert.equal(f.snapshot().mounts.length, 0);

    const identity = { id: 'feed-1', kind: 'fuse' as const, host: 'h1', mountpoint: '/mnt/feed', startedAt: new Date().toISOString(), version: MEMBER_VERSION, pid: process.pid };
    await f.join(identity, { onIdLost: () => assert.fail('id lost') });
    const first = (await listWorkers(conn)).clients;
    assert.equal(first.length, 1);
    assert.equal(first[0]!.id, 'feed-1');
    assert.equal(first[0]!.appliedRevision, f.informer.appliedRevision());

    const added = await addMount(conn, { path: '/data', ufsUri: 'file:///tmp/feed-data/' });
    await until('the record to carry the new revision', async () => {
      const c = (await listWorkers(conn)).clients[0];
      return c && c.appliedRevision >= added.revision && c.watchState === 'watching';
    });
    assert.equal(f.snapshot().mounts.length, 1);
    const waited = await waitForConvergence(conn, added.revision, { timeoutMs: 30_000 });
    assert.deepEqual({ workers: waited.workers, clients: waited.clients }, { workers: 0, clients: 1 });

    // The id is held while the record lives.
    const other = feed('other host');
    await assert.rejects(other.join({ ...identity, pid: process.pid + 1 }, { onIdLost: () => undefined }), (e: unknown) => isAlluxioError(e) && e.code === 'WorkerIdTaken');

    await f.leave();
    assert.equal((await listWorkers(conn)).clients.length, 0);
  });

  it('an id held by a process of this machine that is gone (stopped while etcd had no quorum: its lease outlived it) is taken over; not from another advertised host or PID namespace', async () => {
    // a record as such a process left it: this machine, its advertised host, a pid that exited, a lease still alive
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    const lease = conn.client.lease(600, { autoKeepAlive: false });
    const leaseId = await lease.grant();
    const key = conn.layout.clientKey('feed-gone');
    const stale = { id: 'feed-gone', kind: 'fuse', host: 'h2', mountpoint: '/mnt/gone', startedAt: '2026-01-01T00:00:00.000Z', version: MEMBER_VERSION, pid: gone, machine: `${hostname()} ${readlinkSync('/proc/self/ns/pid')}`, appliedRevision: 0 };
    await conn.client.put(key).value(JSON.stringify(stale)).lease(leaseId);
    try {
      const identity = { id: 'feed-gone', kind: 'fuse' as const, host: 'h2', mountpoint: '/mnt/gone', startedAt: new Date().toISOString(), version: MEMBER_VERSION, pid: process.pid };
      // another advertised host: not the same member's restart, so not taken
      const elsewhere = feed('elsewhere');
      await assert.rejects(elsewhere.join({ ...identity, host: 'h3' }, { onIdLost: () => undefined }), (e: unknown) => isAlluxioError(e) && e.code === 'WorkerIdTaken');
      // another PID namespace (a container sharing the host name): its pid says nothing here
      await conn.client.put(key).value(JSON.stringify({ ...stale, machine: `${hostname()} pid:[1]` })).lease(leaseId);
      const container = feed('container');
      await assert.rejects(container.join(identity, { onIdLost: () => undefined }), (e: unknown) => isAlluxioError(e) && e.code === 'WorkerIdTaken');
      await conn.client.put(key).value(JSON.stringify(stale)).lease(leaseId);
      const f = feed('restarted');
      await f.join(identity, { onIdLost: () => assert.fail('id lost') });
      const rec = (await listWorkers(conn)).clients.find((c) => c.id === 'feed-gone');
      assert.equal(rec?.pid, process.pid, 'the record is the new process\'s');
      await f.leave();
    } finally {
      await lease.revoke().catch(() => undefined);
    }
  });

  it('past --max-staleness the snapshot is refused (and serving() says so); without a limit the last good one is served', async () => {
    const strict = feed('strict host', 1500);
    const lenient = feed('lenient host');
    for (const f of [strict, lenient]) {
      f.start();
      await f.ready(30_000);
    }
    assert.equal(strict.snapshot().mounts.length, 1);

    await etcd.stop();
    await until('the strict feed to refuse', () => !strict.serving(), 60_000);
    refused(() => strict.snapshot(), /the strict host's configuration is \d+ ms old, more than --max-staleness 1500 ms \(last from etcd: .+\)/);
    assert.equal(lenient.serving(), true);
    assert.equal(lenient.snapshot().mounts.length, 1);
    assert.ok(lenient.informer.snapshotAgeMs() > 0, 'the lenient feed knows its snapshot is not live');

    etcd = await etcd.restart();
    await until('the strict feed to serve again', () => strict.serving(), 60_000);
    assert.equal(strict.snapshot().mounts.length, 1);
  });

  it('a limit below the watch\'s own 5 s is kept when etcd goes silent (SIGSTOP); one below 1 s is refused at start', async () => {
    // The HA probe of 2026-12-02: a worker cut off silently reported age 0 for 5 s (a live
    // stream vouches for its snapshot until a progress request, every 2 s, goes 3 s
    // unanswered), so --max-staleness 1s or 4s served the old config for about 5 s.
    assert.throws(() => feed('too strict host', 500), (e: unknown) => isAlluxioError(e) && e.code === 'InvalidArgument' && /--max-staleness 500 ms is below 1000 ms/.test(e.message));
    const quick = feed('quick host', 2000);
    quick.start();
    await quick.ready(30_000);
    await until('the quick feed watching', () => quick.serving() && quick.informer.status().state === 'watching', 30_000);
    process.kill(etcd.pid, 'SIGSTOP'); // its sockets stay open: nothing fails, nothing answers
    try {
      const silentFor = await until('the quick feed to refuse', () => (quick.serving() ? undefined : (quick.informer.status().lastContactAgoMs ?? -1)), 60_000);
      assert.ok(silentFor >= 0 && silentFor < 5000, `refused ${silentFor} ms after etcd's last answer`);
      refused(() => quick.snapshot(), /more than --max-staleness 2000 ms/);
    } finally {
      process.kill(etcd.pid, 'SIGCONT');
    }
    await until('the quick feed to serve again', () => quick.serving(), 60_000);
  });
});
