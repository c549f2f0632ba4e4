/**
 * EtcdConnection.openWatch reaches into etcd3's connection pool (src/store/connection.ts):
 * the pinned etcd3 must have the shape it expects, or workers would silently fall back to a
 * watch without the leader requirement (or without the quorum check). And against a real
 * etcd: the stream works, carries `fail` and `quorum` (which a member with a leader answers),
 * and answers a watch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdConnection } from '../../src/store/connection.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { until } from '../helpers/poll.js';
import { freePort } from '../../src/local/etcd-server.js';

describe('EtcdConnection.openWatch', () => {
  let etcd: TestEtcd;
  let conn: EtcdConnection;
  before(async () => {
    etcd = await startTestEtcd();
    conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'watch-stream' });
  });
  after(async () => {
    conn?.close();
    await etcd?.destroy();
  });

  it("etcd3's pool has the withConnection/markFailed and the authenticator this relies on", () => {
    const pool = (conn.client as unknown as { pool?: Record<string, unknown> }).pool;
    assert.equal(typeof pool?.withConnection, 'function');
    assert.equal(typeof pool?.markFailed, 'function');
    const auth = pool?.authenticator as Record<string, unknown> | undefined;
    assert.equal(typeof auth?.getMetadata, 'function');
    assert.equal(typeof auth?.invalidateMetadata, 'function');
  });

  it('opens a leader-requiring stream that delivers events, with fail()', async () => {
    const stream = await conn.openWatch();
    assert.equal(typeof stream.fail, 'function');
    // the quorum check: a linearizable read on the stream's channel (a host's KV client)
    assert.equal(typeof stream.quorum, 'function', 'etcd3 hosts have getServiceClient');
    // the config keys changed after a revision, counted by etcd (min_mod_revision applies to
    // the keys returned; a count_only range counted them all)
    assert.equal(await stream.quorum!(10_000, 0), 0, 'no config yet');
    const first = Number((await conn.client.put(conn.layout.mountKey('/q1')).value('{}').exec()).header.revision);
    const second = Number((await conn.client.put(conn.layout.mountKey('/q2')).value('{}').exec()).header.revision);
    assert.equal(await stream.quorum!(10_000, 0), 2);
    assert.equal(await stream.quorum!(10_000, first), 1, 'changed after the first');
    assert.equal(await stream.quorum!(10_000, second), 0, 'a view at the second is current');
    // etcd3 replaces a host's clients when a call to it fails (resetAllServices); the check
    // looks its client up each time (a kept one failed "Channel has been shut down" forever)
    const hosts = (conn.client as unknown as { pool: { hosts: { resetAllServices(): void }[] } }).pool.hosts;
    for (const h of hosts) h.resetAllServices();
    assert.equal(typeof (await stream.quorum!(10_000, 0)), 'number');
    const events: string[] = [];
    stream.on('data', (res) => {
      for (const e of res.events ?? []) events.push(Buffer.from(e.kv!.key as Uint8Array).toString());
    });
    stream.on('error', () => {});
    const key = '/alluxio/watch-stream/x';
    stream.write({ create_request: { key: Buffer.from(key), range_end: Buffer.from('/alluxio/watch-stream/y') } });
    await until('the watch created and an event delivered', async () => {
      await conn.client.put(key).value(String(Date.now()));
      return events.includes(key);
    }, 20_000, 200);
    stream.cancel();
  });
});

describe('EtcdConnection: which member a new watch stream goes to', () => {
  let etcd: TestEtcd;
  before(async () => {
    etcd = await startTestEtcd();
  });
  after(async () => {
    await etcd?.destroy();
  });

  it('with dead members in the list, every new stream goes to the member that answered (it took one at random)', async () => {
    // Two endpoints where nothing listens (members that died) beside the live one.
    const dead = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    const conn = new EtcdConnection({ endpoints: [dead[0]!, etcd.endpoint, dead[1]!], cluster: 'watch-order' });
    try {
      await conn.call('read', (c) => c.get('/alluxio/watch-order/x').string()); // the live member answers
      assert.equal(conn.preferredEndpoints()[0], etcd.endpoint);
      let failed = 0;
      for (let i = 0; i < 12; i++) {
        const stream = await conn.openWatch();
        const outcome = await new Promise<'created' | 'error'>((resolve) => {
          stream.on('data', (res) => res.created && resolve('created'));
          stream.on('error', () => resolve('error'));
          stream.write({ create_request: { key: Buffer.from('/alluxio/watch-order/x') } });
        });
        if (outcome === 'error') failed++;
        stream.cancel();
      }
      assert.equal(failed, 0, 'streams opened on a dead member');
    } finally {
      conn.close();
    }
  });

  it('preferredEndpoints: answered (latest first), then not heard from, then failed (longest ago first)', async () => {
    const conn = new EtcdConnection({ endpoints: ['http://a:1', 'http://b:1', 'http://c:1', 'http://d:1'], cluster: 'order' });
    const tick = async () => {
      const t = Date.now();
      await until('the clock moves on', () => Date.now() > t || undefined, 5000, 1);
    };
    assert.deepEqual(conn.preferredEndpoints(), ['http://a:1', 'http://b:1', 'http://c:1', 'http://d:1']);
    conn.noteFailure('http://c:1');
    await tick();
    conn.noteFailure('http://a:1');
    await tick();
    conn.noteAnswer('http://d:1');
    assert.deepEqual(conn.preferredEndpoints(), ['http://d:1', 'http://b:1', 'http://c:1', 'http://a:1']);
    await tick();
    conn.noteAnswer('http://a:1'); // answered again: first
    assert.deepEqual(conn.preferredEndpoints(), ['http://a:1', 'http://d:1', 'http://b:1', 'http://c:1']);
    await tick();
    conn.noteFailure('http://a:1'); // and failed again: after c, which failed before
    assert.deepEqual(conn.preferredEndpoints(), ['http://d:1', 'http://b:1', 'http://c:1', 'http://a:1']);
  });
});
