/**
 * EtcdConnection.openWatch reaches into etcd3's connection pool (src/store/connection.ts):
 * the pinned etcd3 must have the shape it expects, or workers would silently fall back to a
 * watch without the leader requirement. And against a real etcd: the stream works, carries
 * `fail`, and answers a watch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdConnection } from '../../src/store/connection.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { until } from '../helpers/poll.js';

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

  it("etcd3's pool has the withConnection/markFailed this relies on", () => {
    const pool = (conn.client as unknown as { pool?: Record<string, unknown> }).pool;
    assert.equal(typeof pool?.withConnection, 'function');
    assert.equal(typeof pool?.markFailed, 'function');
  });

  it('opens a leader-requiring stream that delivers events, with fail()', async () => {
    const stream = await conn.openWatch();
    assert.equal(typeof stream.fail, 'function');
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
