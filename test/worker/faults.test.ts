/**
 * Real faults against real worker processes and a real etcd: etcd stopped and restarted
 * while workers serve; a worker cut off (SIGSTOP) while the config changes and etcd is
 * compacted; malformed values written by hand with etcdctl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { startWorker, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';
import { etcdctl } from '../helpers/etcdctl.js';

async function readyz(w: WorkerProcess): Promise<number> {
  return (await fetch(`${w.restUrl}/readyz`, { signal: AbortSignal.timeout(3000) })).status;
}

/** The lease of `key` ('absent': no key), from etcdctl's text: a lease id has more digits than JSON.parse keeps. */
function leaseOfKey(endpoint: string, key: string): string {
  return /"lease":(\d+)/.exec(etcdctl(endpoint, 'get', key, '-w', 'json'))?.[1] ?? 'absent';
}

describe('worker faults', () => {
  let etcd: TestEtcd;
  const workers: WorkerProcess[] = [];
  const cluster = 'faults';
  let cli: ReturnType<typeof cliFor>;

  before(async () => {
    etcd = await startTestEtcd();
    cli = cliFor(etcd.endpoint, cluster);
  });
  /** Listed across several TTLs (1 s), checked at every poll (not slept through); a change reaches it. */
  const listedAcrossTtls = async (w: WorkerProcess): Promise<void> => {
    const t0 = Date.now();
    for (let polls = 0; polls < 3 || Date.now() - t0 < 3000; polls++) {
      const l = (await cli(['worker', 'list', '--json'])).json();
      assert.ok(l.workers.some((x: any) => x.id === w.id), `dropped from the listing after ${Date.now() - t0} ms`);
    }
    const add = await cli(['mount', 'add', '--path', `/${w.id}`, '--ufs-uri', `file:///tmp/${w.id}/`, '--wait', '--json']);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const me = (await cli(['worker', 'list', '--json'])).json().workers.find((x: any) => x.id === w.id);
    assert.ok(me);
    assert.equal(me.pid, w.pid);
    assert.ok(me.appliedRevision >= add.json().revision);
  };

  after(async () => {
    for (const w of workers) {
      try {
        w.resume();
      } catch {
        /* gone */
      }
    }
    await stopWorkers(workers);
    await etcd?.destroy();
  });

  it('etcd stopped and restarted while workers serve: last good config kept, --max-staleness refuses, then both converge', async () => {
    const m = await cli(['mount', 'add', '--path', '/base', '--ufs-uri', 'file:///tmp/base/', '--json']);
    assert.equal(m.code, 0, m.stderr);
    const plain = await startWorker(etcd.endpoint, { cluster, id: 'plain' });
    const strict = await startWorker(etcd.endpoint, { cluster, id: 'strict', maxStaleness: '1s' });
    workers.push(plain, strict);
    await plain.waitForRevision(m.json().revision);
    await strict.waitForRevision(m.json().revision);

    await etcd.stop();
    // Both keep answering; the plain one keeps serving its last snapshot and reports its age.
    const st = await until('plain worker to notice', async () => {
      const s = await plain.status();
      return s.informer.state === 'reconnecting' && s.informer.snapshotAgeMs > 1200 ? s : false;
    });
    assert.equal(st.informer.mounts, 1);
    assert.ok(st.informer.lastError);
    assert.equal(await readyz(plain), 200);
    // The strict one refuses once its config is older than 1 s.
    await until('strict worker to refuse', async () => (await readyz(strict)) === 503);
    assert.ok((await strict.status()).informer.snapshotAgeMs > 1000);
    // Its front ends refuse too (S3: 503 ServiceUnavailable); the plain worker still answers.
    const s3Strict = await fetch(`${strict.s3Url}/base/some-key`);
    assert.equal(s3Strict.status, 503, await s3Strict.text());
    const s3Plain = await fetch(`${plain.s3Url}/base/some-key`);
    assert.notEqual(s3Plain.status, 503);
    await s3Plain.arrayBuffer();
    const metrics = await (await fetch(`${plain.restUrl}/metrics`)).text();
    const age = Number(/^alluxio_worker_snapshot_age_seconds (\S+)$/m.exec(metrics)?.[1]);
    assert.ok(age > 1, `age ${age}`);
    assert.match(metrics, /^alluxio_worker_watch_connected 0$/m);

    etcd = await etcd.restart();
    const add = await cli(['mount', 'add', '--path', '/after', '--ufs-uri', 'file:///tmp/after/', '--wait', '--wait-timeout', '30s', '--json']);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    assert.equal(add.json().wait.workers, 2);
    for (const w of [plain, strict]) {
      const s = await w.waitForRevision(add.json().revision);
      assert.equal(s.informer.mounts, 2);
    }
    await until('strict ready again', async () => (await readyz(strict)) === 200);
    const s3Again = await fetch(`${strict.s3Url}/base/some-key`);
    assert.notEqual(s3Again.status, 503);
    await s3Again.arrayBuffer();
    // Memberships survived the restart (leases are persisted and kept alive again).
    const list = (await cli(['worker', 'list', '--json'])).json();
    assert.deepEqual(list.workers.map((w: any) => w.id).sort(), ['plain', 'strict']);
    await stopWorkers([plain, strict]);
  });

  it('a worker cut off while the config changes and etcd compacts converges, deletes included', async () => {
    for (const p of ['/k1', '/k2', '/k3']) {
      const r = await cli(['mount', 'add', '--path', p, '--ufs-uri', `file:///tmp${p}/`]);
      assert.equal(r.code, 0, r.stderr);
    }
    const rule = await cli(['path-mapping', 'add', '--from', '/k1/latest', '--to', '/k1/v1', '--id', 'latest', '--json']);
    assert.equal(rule.code, 0, rule.stdout + rule.stderr);
    const w = await startWorker(etcd.endpoint, { cluster, id: 'cutoff', leaseTtl: '20s' });
    workers.push(w);
    const s0 = await w.waitForRevision(rule.json().revision);
    assert.equal(s0.informer.rules, 1);
    const relists0 = s0.informer.relists;

    w.pause(); // SIGSTOP: the process is frozen with its connections open
    try {
      // Restarting etcd drops the frozen worker's watch stream under it.
      etcd = await etcd.restart();
      const changes = [
        ['mount', 'remove', '--path', '/k2', '--yes'],
        ['path-mapping', 'remove', '--id', 'latest', '--yes'],
        ['mount', 'update', '--path', '/k3', '--ufs-uri', 'file:///tmp/k3-new/'],
        ['mount', 'add', '--path', '/k4', '--ufs-uri', 'file:///tmp/k4/'],
      ];
      for (const c of changes) {
        const r = await cli(c);
        assert.equal(r.code, 0, `${c.join(' ')}: ${r.stderr}`);
      }
      const head = Number(JSON.parse(etcdctl(etcd.endpoint, 'get', 'x', '-w', 'json')).header.revision);
      etcdctl(etcd.endpoint, 'compaction', String(head));
      w.resume();
      let lastStatus: unknown;
      const st = await until('the cut-off worker to converge', async () => {
        const x = await w.status();
        lastStatus = x;
        return x.informer.state === 'watching' && x.informer.mounts === s0.informer.mounts && x.informer.rules === 0 ? x : false;
      }).catch((e: Error) => {
        throw new Error(`${e.message}\nlast status: ${JSON.stringify(lastStatus)}\nlog:\n${w.log().split('\n').slice(-25).join('\n')}`);
      });
      assert.ok(st.informer.relists > relists0, `expected a relist after compaction: ${JSON.stringify(st.informer)}`);
      assert.match(w.log(), /compact/);
      assert.match(w.log(), /"deleted":2/); // /k2 and the rule, reported by the relist diff
      // The membership record (rate-limited writes) follows the informer moments later.
      await until('worker list shows it caught up (lag 0)', async () => {
        const list = (await cli(['worker', 'list', '--json'])).json();
        return list.workers.find((x: any) => x.id === 'cutoff')?.lag === 0;
      });
    } finally {
      w.resume();
    }
  });

  it('an etcd outage longer than the lease TTL: the worker keeps its lease (etcd expires nothing while down) and stays listed', async () => {
    const w = await startWorker(etcd.endpoint, { cluster, id: 'outlast', leaseTtl: '1s' });
    workers.push(w);
    const before = (await cli(['worker', 'list', '--json'])).json();
    assert.ok(before.workers.some((x: any) => x.id === 'outlast'));
    const leaseOf = (): string => leaseOfKey(etcd.endpoint, `/alluxio/${cluster}/workers/outlast`);
    const lease = leaseOf();
    await etcd.stop();
    // Well past the TTL: renewals fail, and the worker keeps trying (it does not give the lease up itself).
    await until('renewals failing', () => /lease not renewed; retrying/.test(w.log()), 20_000);
    etcd = await etcd.restart();
    await until('renewals back', () => /lease renewed again/.test(w.log()), 60_000);
    assert.equal(leaseOf(), lease, 'the same lease: a restarted etcd extends the leases it holds');
    assert.doesNotMatch(w.log(), /lease lost/);
    await listedAcrossTtls(w);
    await w.stop();
  });

  it('a worker cut off for longer than its lease TTL (SIGSTOP): etcd expires its lease, and it registers again when it wakes', async () => {
    const w = await startWorker(etcd.endpoint, { cluster, id: 'sleeper', leaseTtl: '1s' });
    workers.push(w);
    const key = `/alluxio/${cluster}/workers/sleeper`;
    w.pause();
    try {
      await until('etcd expired the lease (the key is gone)', () => etcdctl(etcd.endpoint, 'get', key, '--print-value-only').trim() === '', 30_000);
    } finally {
      w.resume();
    }
    await until('re-registration', () => /registered worker/.test(w.log().split('lease lost')[1] ?? ''), 60_000);
    assert.match(w.log(), /etcd says lease \d+ expired/);
    await listedAcrossTtls(w);
    await w.stop();
  });

  it('its record deleted by hand, or its lease revoked (as a resumed old leader of etcd < 3.4.31 does), a worker is listed again long before its next renewal', async () => {
    // A 60 s lease is renewed every 20 s: coming back within 15 s is the worker's watch of
    // its own record noticing (Membership.recordMissing), not the periodic renewal.
    const w = await startWorker(etcd.endpoint, { cluster, id: 'revoked', leaseTtl: '60s' });
    workers.push(w);
    const key = `/alluxio/${cluster}/workers/revoked`;
    const leaseOf = (): string => leaseOfKey(etcd.endpoint, key);
    const first = await until('registered', () => (leaseOf() === 'absent' ? undefined : leaseOf()));
    // Deleted while its lease lives: written again under the same lease.
    etcdctl(etcd.endpoint, 'del', key);
    await until('the record written again', () => leaseOf() === first, 15_000);
    await until('the worker saying so', () => /worker record was deleted while its lease lived; written again/.test(w.log()));
    // The lease revoked (its key goes with it): a new lease and record at once.
    etcdctl(etcd.endpoint, 'lease', 'revoke', BigInt(first).toString(16));
    const second = await until('registered on a new lease', () => {
      const l = leaseOf();
      return l !== 'absent' && l !== first ? l : undefined;
    }, 15_000);
    assert.notEqual(second, first);
    await until('the worker saying why', () => new RegExp(`etcd says lease ${first} expired`).test(w.log()));
    await listedAcrossTtls(w);
    await w.stop();
  });

  it('a malformed value written with etcdctl is logged and skipped; the rest keeps working', async () => {
    const w = await startWorker(etcd.endpoint, { cluster, id: 'badvalues' });
    workers.push(w);
    const key = `/alluxio/${cluster}/config/mounts/broken`;
    etcdctl(etcd.endpoint, 'put', key, '{"path": "/broken", "ufsUri": 42');
    etcdctl(etcd.endpoint, 'put', `/alluxio/${cluster}/config/rules/bad`, '[]');
    const add = await cli(['mount', 'add', '--path', '/fine', '--ufs-uri', 'file:///tmp/fine/', '--wait', '--json']);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const st = await w.waitForRevision(add.json().revision);
    assert.equal(st.informer.state, 'watching');
    assert.deepEqual(st.informer.invalid.map((i: any) => i.key).sort(), [key, `/alluxio/${cluster}/config/rules/bad`].sort());
    assert.ok(st.informer.mounts >= 2);
    assert.match(w.log(), /skipping malformed config entry/);
    assert.equal(await readyz(w), 200);
    const metrics = await (await fetch(`${w.restUrl}/metrics`)).text();
    assert.match(metrics, /^alluxio_worker_invalid_config_entries 2$/m);
    // A fresh worker starting with the bad values present loads fine too.
    const w2 = await startWorker(etcd.endpoint, { cluster, id: 'badvalues2' });
    workers.push(w2);
    const st2 = await w2.status();
    assert.equal(st2.informer.invalid.length, 2);
    assert.equal(st2.informer.mounts, st.informer.mounts);
  });
});

