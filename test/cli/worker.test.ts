/**
 * `alluxio worker start|list` and `--wait`, with real etcd and real worker processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor } from '../helpers/cli.js';
import { startWorker, startWorkers, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { RUN } from '../helpers/cli.js';
import { spawn } from 'node:child_process';
import { freePort } from '../../src/local/etcd-server.js';
import { until } from '../helpers/poll.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

describe('alluxio worker', () => {
  let etcd: TestEtcd;
  const workers: WorkerProcess[] = [];
  const cluster = 'wcli';
  let cli: ReturnType<typeof cliFor>;

  before(async () => {
    etcd = await startTestEtcd();
    cli = cliFor(etcd.endpoint, cluster);
  });
  after(async () => {
    await stopWorkers(workers);
    await etcd?.destroy();
  });

  it('with no live worker, --wait says so and returns', async () => {
    const r = await cli(['mount', 'add', '--path', '/early', '--ufs-uri', 'file:///tmp/early/', '--wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().wait.workers, 0);
    assert.match(r.stderr, /no worker or FUSE client is registered in etcd: nothing to wait for/);
  });

  it('workers register, apply changes, and --wait returns once all of them do', async () => {
    workers.push(...(await startWorkers(etcd.endpoint, 2, { cluster, idPrefix: 'wl' })));
    const add = await cli(['mount', 'add', '--path', '/data', '--ufs-uri', 'file:///tmp/data/', '--wait', '--wait-timeout', '20s', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const doc = add.json();
    assert.equal(doc.wait.workers, 2);
    // --wait returned only after both records say so; check each worker's own status too.
    for (const w of workers) {
      const st = await w.status();
      assert.ok(st.appliedRevision >= doc.revision, `${w.id} at ${st.appliedRevision} < ${doc.revision}`);
      assert.equal(st.informer.mounts, 2);
      assert.equal(st.informer.state, 'watching');
    }
    const list = await cli(['worker', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const l = list.json();
    assert.ok(l.revision >= doc.revision);
    assert.deepEqual(l.workers.map((w: any) => w.id), ['wl-1', 'wl-2']);
    assert.deepEqual(l.clients, [], 'no FUSE daemons: an empty clients array next to workers');
    assert.equal(doc.wait.clients, 0);
    for (const w of l.workers) {
      assert.equal(w.host, '127.0.0.1');
      assert.equal(typeof w.s3Port, 'number');
      assert.equal(typeof w.restPort, 'number');
      assert.ok(w.appliedRevision >= doc.revision);
      assert.equal(w.lag, 0);
      assert.ok(!Number.isNaN(Date.parse(w.startedAt)));
      assert.equal(w.watchState, 'watching');
    }
    const human = await cli(['worker', 'list']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^wl-1\t127\.0\.0\.1:\d+\t127\.0\.0\.1:\d+\t\d+\t0\t/m);
  });

  it('serves /healthz, /readyz, /metrics and /api/v1/status on the REST port', async () => {
    const w = workers[0]!;
    assert.equal((await fetch(`${w.restUrl}/healthz`)).status, 200);
    const ready = await fetch(`${w.restUrl}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${w.restUrl}/metrics`)).text();
    const applied = /^alluxio_worker_applied_revision (\d+)$/m.exec(metrics);
    assert.ok(applied, metrics.slice(0, 500));
    assert.ok(Number(applied[1]) > 0);
    assert.match(metrics, /^alluxio_worker_snapshot_age_seconds 0$/m);
    assert.match(metrics, /^alluxio_worker_snapshot_reloads \d+$/m);
    assert.match(metrics, /^# TYPE alluxio_worker_resolve_seconds histogram$/m);
    const st = await w.status();
    assert.equal(st.id, w.id);
    assert.equal(st.ready, true);
    assert.equal(st.pid, w.pid);
  });

  it('refuses a duplicate worker id with exit 3 while its holder is alive', async () => {
    const r = await cli(['worker', 'start', '--id', 'wl-1', '--host', '127.0.0.1', '--bind-host', '127.0.0.1', '--s3-port', String(await freePort()), '--rest-port', String(await freePort())]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /worker id "wl-1" is already registered/);
    // The holder is untouched.
    const l = (await cli(['worker', 'list', '--json'])).json();
    assert.equal(l.workers.find((w: any) => w.id === 'wl-1').pid, workers[0]!.pid);
  });

  it('SIGTERM deregisters at once (lease revoked), exit 0', async () => {
    const w = await startWorker(etcd.endpoint, { cluster, id: 'term-me', leaseTtl: '30s' });
    workers.push(w);
    let l = (await cli(['worker', 'list', '--json'])).json();
    assert.ok(l.workers.some((x: any) => x.id === 'term-me'));
    const code = await w.stop();
    assert.equal(code, 0, w.log());
    // Gone immediately, long before the 30 s TTL could expire it.
    l = (await cli(['worker', 'list', '--json'])).json();
    assert.ok(!l.workers.some((x: any) => x.id === 'term-me'), JSON.stringify(l));
    assert.match(w.log(), /worker stopped/);
  });

  it('a SIGKILLed worker disappears once its lease expires; then its id is free', async () => {
    // A 45 s lease: keep-alives go out every TTL/3, so after the kill at least ~30 s of it
    // remain, far more than the three CLI runs and the 2 s --wait below take on a loaded
    // machine before the last --wait (60 s) starts. Until it expires the dead worker is
    // registered, so the first --wait must time out, and the last one sees it leave.
    const w = await startWorker(etcd.endpoint, { cluster, id: 'kill-me', leaseTtl: '45s' });
    workers.push(w);
    await w.kill9();
    // Still listed right after the kill (nobody revoked the lease) ...
    const l = (await cli(['worker', 'list', '--json'])).json();
    assert.ok(l.workers.some((x: any) => x.id === 'kill-me'));
    // ... --wait counts it as a laggard for a change it can never apply, and names it.
    const add = await cli(['mount', 'add', '--path', '/after-kill', '--ufs-uri', 'file:///tmp/after-kill/', '--wait', '--wait-timeout', '2s', '--json']);
    assert.equal(add.code, 5, add.stdout + add.stderr);
    const err = add.json().error;
    assert.equal(err.code, 'WaitTimeout');
    assert.match(err.message, /kill-me/);
    // the change is committed all the same: said so, with its revision (a retry would apply it twice)
    assert.match(err.message, /^committed at revision \d+; waiting for the workers failed: timed out/);
    assert.equal(err.details.written, true);
    assert.equal(err.details.revision, (await cli(['mount', 'list', '--json'])).json().revision);
    // A wait long enough for the lease: the dead worker leaves without applying, and the
    // wait succeeds naming it (etcd cannot tell it from one cut off and serving on).
    const left = await cli(['mount', 'add', '--path', '/after-kill-2', '--ufs-uri', 'file:///tmp/after-kill-2/', '--wait', '--wait-timeout', '90s', '--json'], { timeoutMs: 120_000 });
    assert.equal(left.code, 0, left.stdout + left.stderr);
    assert.deepEqual(left.json().wait.dropped?.map((d: any) => d.id), ['kill-me']);
    assert.match(left.stderr, /kill-me left during the wait \(its lease expired\) at revision \d+, without applying/);
    await until(
      'the killed worker to drop out once its lease expires',
      async () => {
        const r = (await cli(['worker', 'list', '--json'])).json();
        return !r.workers.some((x: any) => x.id === 'kill-me');
      },
      60_000,
      250,
    );
    const again = await startWorker(etcd.endpoint, { cluster, id: 'kill-me' });
    workers.push(again);
    const l2 = (await cli(['worker', 'list', '--json'])).json();
    assert.equal(l2.workers.find((x: any) => x.id === 'kill-me').pid, again.pid);
  });

  it('--wait times out with exit 5 naming a paused worker, and succeeds once it resumes', async () => {
    const w = await startWorker(etcd.endpoint, { cluster, id: 'paused', leaseTtl: '20s' });
    workers.push(w);
    w.pause();
    try {
      const r = await cli(['mount', 'add', '--path', '/while-paused', '--ufs-uri', 'file:///tmp/while-paused/', '--wait', '--wait-timeout', '5s', '--json']);
      assert.equal(r.code, 5, r.stdout + r.stderr);
      const err = r.json().error;
      assert.equal(err.code, 'WaitTimeout');
      assert.match(err.message, /paused \(at revision \d+/);
      assert.doesNotMatch(err.message, /wl-1|wl-2|kill-me/, 'the live workers applied the change');
      const rev = (await cli(['mount', 'list', '--json'])).json().revision;
      w.resume();
      const ok = await cli(['mount', 'update', '--path', '/while-paused', '--readonly', '--wait', '--wait-timeout', '20s', '--json']);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.ok(ok.json().revision > rev);
      assert.equal(ok.json().wait.workers, workers.filter((x) => x.process.exitCode === null && x.process.signalCode === null).length);
    } finally {
      w.resume();
    }
  });

  it('etcd lost while --wait waits: the wait goes on to its timeout, and the error says the change is committed', async () => {
    // (r15-ha D1: the wait gave up at the first etcd error, which said nothing of the commit:
    // a script retrying on exit 5 added a rule twice)
    const w = await startWorker(etcd.endpoint, { cluster, id: 'slow-applier', leaseTtl: '60s' });
    workers.push(w);
    const proxy = await startTcpProxy(etcd.clientPort);
    w.pause(); // (the wait lasts: one member never applies)
    try {
      const run = cliFor(proxy.endpoint, cluster)(['mount', 'add', '--path', '/etcd-lost', '--ufs-uri', 'file:///tmp/etcd-lost/', '--wait', '--wait-timeout', '10s', '--etcd-timeout', '2s', '--json'], { timeoutMs: 60_000 });
      await until('the mount committed', async () => (await cli(['mount', 'list', '--json'])).json().mounts.some((m: any) => m.path === '/etcd-lost') || undefined);
      proxy.blackhole();
      const r = await run;
      assert.equal(r.code, 5, r.stdout + r.stderr);
      const err = r.json().error;
      assert.equal(err.code, 'WaitTimeout');
      assert.match(err.message, /^committed at revision \d+; waiting for the workers failed: gave up after \d+ ms \(--wait-timeout 10000 ms\) .*etcd stopped answering/);
      assert.equal(err.details.written, true);
    } finally {
      w.resume();
      await proxy.close();
    }
  });

  it('worker start with an unreachable etcd fails with one line and exit 5', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [RUN, 'worker', 'start', '--id', 'nope', '--s3-port', '0', '--rest-port', '0', '--bind-host', '127.0.0.1', '--etcd-timeout', '1s'], {
      env: { ...process.env, ALLUXIO_ETCD_ENDPOINTS: `http://127.0.0.1:${port}`, NO_COLOR: '1' },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 5, stderr);
    assert.match(stderr, /etcd is unreachable/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });
});
