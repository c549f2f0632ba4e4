/**
 * `alluxio local start|status|stop`: a real etcd and real worker processes in the
 * background, driven through the CLI as users do.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { until } from '../helpers/poll.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

describe('alluxio local', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-local-'));
  const cluster = 'localtest';
  const env = { ALLUXIO_CLUSTER: cluster, ALLUXIO_ETCD_ENDPOINTS: undefined };
  let outsider: WorkerProcess | undefined;
  const pids: number[] = [];

  after(async () => {
    await outsider?.stop();
    await runCli(['local', 'stop', '--dir', dir], { env });
    for (const p of pids) {
      if (alive(p)) process.kill(p, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts etcd + 2 workers in the background, reports health, converges, stops exactly what it started', async () => {
    const start = await runCli(['local', 'start', '--workers', '2', '--dir', dir, '--etcd-port', '0', '--s3-port', '0', '--rest-port', '0', '--s3-redirect', '--json'], { env });
    assert.equal(start.code, 0, start.stdout + start.stderr);
    const s = start.json();
    pids.push(s.etcd.pid, ...s.workers.map((w: any) => w.pid));
    assert.equal(s.workers.length, 2);
    assert.match(s.env.ALLUXIO_ETCD_ENDPOINTS, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s.env.ALLUXIO_CLUSTER, cluster);
    for (const p of pids) assert.ok(alive(p), `pid ${p} should run`);
    assert.equal(readFileSync(join(dir, 'etcd.pid'), 'utf8').trim(), String(s.etcd.pid));
    assert.equal(readFileSync(join(dir, 'worker-1.pid'), 'utf8').trim(), String(s.workers[0].pid));
    assert.ok(existsSync(join(dir, 'logs', 'worker-2.log')));
    // The workers are ready (start waited for /readyz).
    for (const w of s.workers) assert.equal((await fetch(`${w.restEndpoint}/readyz`)).status, 200);

    // The printed environment is enough to use the cluster.
    const cenv = { ...s.env };
    const add = await runCli(['mount', 'add', '--path', '/demo', '--ufs-uri', `file://${dir}/`, '--wait', '--json'], { env: cenv });
    assert.equal(add.code, 0, add.stderr);
    assert.equal(add.json().wait.workers, 2);
    const list = (await runCli(['worker', 'list', '--json'], { env: cenv })).json();
    assert.deepEqual(list.workers.map((w: any) => w.id), ['worker-1', 'worker-2']);
    assert.ok(list.workers.every((w: any) => w.appliedRevision >= add.json().revision));
    // --s3-redirect reached the workers: a GET of a file the other worker owns is a 307 to it.
    mkdirSync(join(dir, 'r'), { recursive: true });
    for (let i = 0; i < 16; i++) writeFileSync(join(dir, 'r', `f${i}`), `file ${i}`);
    const redirected = await until('worker-1 redirects a GET of a file worker-2 owns', async () => {
      for (let i = 0; i < 16; i++) {
        const r = await fetch(`${s.workers[0].s3Endpoint}/demo/r/f${i}`, { redirect: 'manual' });
        await r.arrayBuffer();
        if (r.status === 307) return r.headers.get('location');
      }
      return undefined;
    });
    assert.ok(redirected!.startsWith(`${s.workers[1].s3Endpoint}/demo/r/f`), redirected!);

    // Human output carries the export lines.
    const st = await runCli(['local', 'status', '--dir', dir, '--json'], { env });
    assert.equal(st.code, 0, st.stdout + st.stderr);
    const stj = st.json();
    assert.equal(stj.healthy, true);
    assert.equal(stj.etcd.healthy, true);
    assert.deepEqual(stj.workers.map((w: any) => [w.name, w.healthy]), [['worker-1', true], ['worker-2', true]]);

    // A second start in the same dir is refused.
    const again = await runCli(['local', 'start', '--workers', '1', '--dir', dir, '--etcd-port', '0', '--s3-port', '0', '--rest-port', '0'], { env });
    assert.equal(again.code, 3, again.stderr);
    assert.match(again.stderr, /already running/);

    // A worker that local start did not start, on the same etcd: local stop must leave it alone.
    outsider = await startWorker(s.env.ALLUXIO_ETCD_ENDPOINTS, { cluster, id: 'outsider' });

    // Kill one worker: status says so (exit 5).
    process.kill(s.workers[1].pid, 'SIGKILL');
    await until('worker-2 gone', () => !alive(s.workers[1].pid));
    const st2 = await runCli(['local', 'status', '--dir', dir, '--json'], { env });
    assert.equal(st2.code, 5, st2.stdout);
    const w2 = st2.json().workers.find((w: any) => w.name === 'worker-2');
    assert.equal(w2.running, false);
    const human = await runCli(['local', 'status', '--dir', dir], { env });
    assert.match(human.stdout, /^worker-2\t\d+\tdown\t/m);
    assert.match(human.stdout, /^etcd\t\d+\thealthy\t/m);

    const stop = await runCli(['local', 'stop', '--dir', dir, '--json'], { env });
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = stop.json().stopped;
    assert.deepEqual(stopped.map((x: any) => [x.name, x.result]), [['worker-1', 'stopped'], ['worker-2', 'not running'], ['etcd', 'stopped']]);
    for (const p of pids) assert.ok(!alive(p), `pid ${p} should be stopped`);
    // The outsider is still running (only recorded pids are signalled).
    assert.ok(alive(outsider.pid));
    assert.ok(!existsSync(join(dir, 'etcd.pid')));
    const st3 = await runCli(['local', 'status', '--dir', dir], { env });
    assert.equal(st3.code, 4);
    assert.match(st3.stderr, /no local cluster/);
  });

  it('without etcd on PATH: one line naming the Debian package, nothing started', async () => {
    const other = mkdtempSync(join(tmpdir(), 'alluxio-test-local-noetcd-'));
    try {
      const r = await runCli(['local', 'start', '--dir', other, '--etcd-port', '0'], { env: { ...env, PATH: '/nonexistent', ALLUXIO_ETCD_BIN: undefined } });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /etcd-server/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!existsSync(join(other, 'cluster.json')));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('keeps the etcd data across stop and start', async () => {
    const start = await runCli(['local', 'start', '--workers', '1', '--dir', dir, '--etcd-port', '0', '--s3-port', '0', '--rest-port', '0', '--json'], { env });
    assert.equal(start.code, 0, start.stderr);
    const s = start.json();
    pids.push(s.etcd.pid, ...s.workers.map((w: any) => w.pid));
    const mounts = (await runCli(['mount', 'list', '--json'], { env: s.env })).json();
    assert.deepEqual(mounts.mounts.map((m: any) => m.path), ['/demo']);
    const stop = await runCli(['local', 'stop', '--dir', dir, '--purge'], { env });
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!existsSync(dir));
  });
});
