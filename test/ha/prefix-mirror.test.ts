/**
 * PrefixMirror (src/cluster/prefix-mirror.ts: the worker ring, declared ETags, a member's own
 * record) against a real 3-member etcd cluster: a watch whose revision was compacted while its
 * member was down reads the range again and follows on (etcd3's Watcher gave up for good, and
 * the mirror lived on its periodic re-read); start and stop do not wait on a hung member
 * (a worker's start hung for good, its stop for 10 s: the etcd review of 2026-12-02).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdConnection } from '../../src/store/connection.js';
import { PrefixMirror } from '../../src/cluster/prefix-mirror.js';
import { startTestEtcdCluster, type ClusterMember, type TestEtcdCluster } from '../helpers/etcd.js';
import { etcdctl } from '../helpers/etcdctl.js';
import { until } from '../helpers/poll.js';

/** `p` settled within `ms`, or a failure naming `what`. */
async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('PrefixMirror on a 3-member etcd cluster', () => {
  let cluster: TestEtcdCluster;
  const conns: EtcdConnection[] = [];
  const mirrors: PrefixMirror[] = [];
  let stopped: ClusterMember | undefined;

  before(async () => {
    cluster = await startTestEtcdCluster({ size: 3 });
  });
  after(async () => {
    if (stopped?.server) process.kill(stopped.server.process.pid!, 'SIGCONT');
    await Promise.all(mirrors.map((m) => m.stop()));
    for (const c of conns) c.close();
    await cluster?.destroy();
  });

  /** A connection to `members` only. */
  const connect = (members: ClusterMember[]): EtcdConnection => {
    const c = new EtcdConnection({ endpoints: members.map((m) => m.endpoint), cluster: 'mirror', timeoutMs: 3000 });
    conns.push(c);
    return c;
  };
  const follow = (conn: EtcdConnection, prefix: string): { mirror: PrefixMirror; seen: () => Record<string, string>; events: string[] } => {
    let latest: Record<string, string> = {};
    const events: string[] = [];
    // (no periodic re-read within the test: only the watch can bring a change)
    const mirror = new PrefixMirror(conn, prefix, {
      what: 'test range',
      resyncMs: 3_600_000,
      onRead: (kvs) => (latest = Object.fromEntries(kvs)),
      onEvent: (ev) => events.push(`${ev.type} ${ev.key.slice(prefix.length)}${ev.type === 'put' ? `=${ev.value}` : ''}`),
    });
    mirrors.push(mirror);
    return { mirror, seen: () => latest, events };
  };

  it('a revision compacted while its member was down: the range is read again, and the watch follows on', async () => {
    const leader = await cluster.leader();
    const [a, ...rest] = [...cluster.members.filter((m) => m !== leader), leader];
    const writer = connect(rest as ClusterMember[]);
    const p = '/mirror/compact/';
    await writer.client.put(`${p}a`).value('1');
    await writer.client.put(`${p}b`).value('1');
    const { mirror, seen, events } = follow(connect([a!]), p);
    await mirror.start();
    assert.deepEqual(seen(), { [`${p}a`]: '1', [`${p}b`]: '1' });
    assert.deepEqual(events.splice(0), ['put a=1', 'put b=1'], 'the first read, as events');

    await cluster.stop(a!);
    stopped = a;
    await writer.client.delete().key(`${p}a`);
    await writer.client.put(`${p}c`).value('2');
    const rev = String((await writer.client.get(`${p}c`).exec()).header.revision);
    etcdctl(rest[0]!.endpoint, 'compact', rev);
    await cluster.start(a!);
    stopped = undefined;

    await until('the mirror read the range again after the compaction', () => JSON.stringify(seen()) === JSON.stringify({ [`${p}b`]: '1', [`${p}c`]: '2' }), 60_000);
    // what the re-read changed reaches onEvent too (a member's record watch acts on them)
    assert.deepEqual(events.splice(0), ['put c=2', 'delete a']);
    // ...and watches again: a change now arrives as an event (the re-read is an hour away)
    await writer.client.put(`${p}d`).value('3');
    await until('a change after the compaction is followed', () => seen()[`${p}d`] === '3', 60_000);
    assert.deepEqual(events, ['put d=3']);
  });

  it('start and stop with the only member hung (SIGSTOP) return; the mirror follows once it answers again', async () => {
    const m = cluster.members[0]!;
    const w = connect(cluster.members.filter((x) => x !== m));
    const p = '/mirror/hung/';
    await w.client.put(`${p}x`).value('1');
    process.kill(m.server!.process.pid!, 'SIGSTOP');
    stopped = m;
    const { mirror, seen } = follow(connect([m]), p);
    // The first read fails at its deadline; the start does not wait for a watch stream.
    await within('start with a hung member', 30_000, mirror.start());
    assert.deepEqual(seen(), {});
    process.kill(m.server!.process.pid!, 'SIGCONT');
    stopped = undefined;
    await until('the mirror caught up once the member answered', () => seen()[`${p}x`] === '1', 60_000);
    await w.client.put(`${p}y`).value('2');
    await until('and follows changes', () => seen()[`${p}y`] === '2', 60_000);

    // Its member hangs again: stop does not wait for the member to answer the cancel.
    process.kill(m.server!.process.pid!, 'SIGSTOP');
    stopped = m;
    await within('stop with a hung member', 5000, mirror.stop());
    process.kill(m.server!.process.pid!, 'SIGCONT');
    stopped = undefined;
  });
});
