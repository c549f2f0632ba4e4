/**
 * A real 3-member etcd cluster (test/helpers/etcd.ts startTestEtcdCluster): endpoint
 * failover for the CLI (reads and writes) and workers, a member stopped and brought back,
 * and kill -9 of the leader during a stream of CLI writes, worker reads and a `--wait`.
 *
 * Counts and the election-to-first-successful-write time are printed (no timed assertion):
 * what is asserted is zero failed commands outside the election window, zero failed reads,
 * and every worker converging.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcdCluster, type ClusterMember, type TestEtcdCluster } from '../helpers/etcd.js';
import { ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { fuseSkipReason, run, startFuse } from '../helpers/fuse.js';
import { spawnSync } from 'node:child_process';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { transact } from '../../src/store/config-store.js';

interface Outcome {
  what: string;
  start: number;
  end: number;
  code: number | null;
  revision?: number;
  stderr: string;
}

describe('etcd HA: a 3-member cluster', () => {
  let cluster: TestEtcdCluster;
  let dataDir: string;
  const workers: WorkerProcess[] = [];
  const cli = (args: string[], endpoints = cluster.endpoints): Promise<CliResult> => runCli(args, { env: { ALLUXIO_ETCD_ENDPOINTS: endpoints }, timeoutMs: 60_000 });
  const ok = (r: CliResult, what: string): void => assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  /** `members` with `first` moved to the front of the list. */
  const firstThen = (first: ClusterMember): string => [first, ...cluster.members.filter((m) => m !== first)].map((m) => m.endpoint).join(',');

  before(async () => {
    cluster = await startTestEtcdCluster({ size: 3 });
    dataDir = mkdtempSync(join(tmpdir(), 'alluxio-ha-data-'));
    mkdirSync(join(dataDir, 'files'));
    writeFileSync(join(dataDir, 'files', 'hello.txt'), 'hello from the UFS\n');
    ok(await cli(['mount', 'add', '--path', '/files', '--ufs-uri', `file://${dataDir}/files/`]), 'mount add /files');
    for (let i = 0; i < 2; i++) workers.push(await startWorker(cluster.endpoints, { id: `ha-w${i}` }));
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await cluster?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  let stopped: ClusterMember;

  it('a dead member first in the endpoint list: CLI reads and writes succeed, and `worker start` starts and serves', async () => {
    const leader = await cluster.leader();
    stopped = cluster.members.find((m) => m !== leader)!;
    await cluster.stop(stopped, 'SIGKILL');
    const eps = firstThen(stopped);
    const commands: string[][] = [
      ['mount', 'add', '--path', '/dead-first', '--ufs-uri', `file://${dataDir}/dead-first/`, '--readonly', '--json'],
      ['mount', 'list', '--json'],
      ['path-mapping', 'add', '--from', '/alias', '--to', '/files', '--id', 'dead-first', '--json'],
      ['path-mapping', 'list', '--json'],
      ['mount', 'update', '--path', '/dead-first', '--ufs-uri', `file://${dataDir}/dead-first-2/`, '--json'],
      ['worker', 'list', '--json'],
      ['resolve', '/alias/hello.txt', '--json'],
    ];
    let passed = 0;
    let lastRevision = 0;
    for (const args of commands) {
      const r = await cli(args, eps);
      ok(r, `${args.join(' ')} with ${stopped.name} dead and first`);
      passed++;
      const j = r.json();
      if (typeof j.revision === 'number' && args[1] !== 'list') lastRevision = Math.max(lastRevision, j.revision);
    }
    const list = (await cli(['mount', 'list', '--json'], eps)).json();
    assert.deepEqual(list.mounts.map((m: { path: string }) => m.path).sort(), ['/dead-first', '/files']);

    // A worker whose first endpoint is the dead member starts, registers and serves.
    const w = await startWorker(eps, { id: 'ha-dead-first' });
    workers.push(w);
    await w.waitForRevision(lastRevision, 30_000);
    const res = await fetch(`${w.restUrl}/api/v1/file?uri=${encodeURIComponent('/alias/hello.txt')}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hello from the UFS\n');
    const listed = (await cli(['worker', 'list', '--json'], eps)).json();
    assert.ok(listed.workers.some((x: { id: string }) => x.id === 'ha-dead-first'), JSON.stringify(listed));

    // alluxiofs discovery (Python, etcd's JSON gateway) with the dead member first.
    const hostPorts = eps.split(',').map((e) => e.replace(/^http:\/\//, '')).join(',');
    const py = spawnSync('/usr/bin/python3', ['-c', `import json, sys; from alluxiofs.client import discover_workers_from_etcd as d; print(json.dumps(d(sys.argv[1], timeout=5.0)))`, hostPorts], {
      env: { ...process.env, PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(py.status, 0, py.stderr);
    const discovered = JSON.parse(py.stdout) as string[];
    assert.ok(discovered.includes(`127.0.0.1:${w.restPort}`), py.stdout);

    // A FUSE daemon with the dead member first mounts and serves (where FUSE can run here).
    let fuseNote = 'FUSE skipped: ' + (fuseSkipReason() ?? '');
    if (!fuseSkipReason()) {
      const fuse = await startFuse(eps);
      try {
        await fuse.waitForRevision(lastRevision, 30_000);
        const cat = await run('cat', [join(fuse.mountpoint, 'alias', 'hello.txt')], { timeoutMs: 30_000 });
        assert.equal(cat.stdout, 'hello from the UFS\n', cat.stderr);
        fuseNote = 'FUSE daemon mounted and served';
      } finally {
        await fuse.cleanup();
      }
    }
    console.log(`# dead member first: ${passed}/${commands.length} CLI commands succeeded, 0 failed; worker ha-dead-first started and served revision ${lastRevision}; alluxiofs discovered ${discovered.length} workers; ${fuseNote}`);
  });

  it('a member stopped for a while and brought back: writes go on meanwhile, and it catches up', async () => {
    assert.ok(stopped, 'the previous test stopped a member');
    const down = Date.now();
    let writes = 0;
    let failed = 0;
    let lastRevision = 0;
    // Writes with the full list (the stopped member included) while it is down.
    for (let i = 0; i < 4; i++) {
      const r = await cli(['path-mapping', 'add', '--from', `/while-down-${i}`, '--to', `/files/d${i}`, '--id', `while-down-${i}`, '--json']);
      if (r.code === 0) {
        writes++;
        lastRevision = r.json().revision;
      } else failed++;
    }
    await cluster.start(stopped);
    const downMs = Date.now() - down;
    // The member rejoined and serves everything written while it was away, alone.
    const alone = await until(
      `${stopped.name} to serve the writes it missed`,
      async () => {
        const r = await cli(['path-mapping', 'list', '--json'], stopped.endpoint);
        return r.code === 0 && r.json().rules.some((x: { id: string }) => x.id === 'while-down-3') ? r : undefined;
      },
      30_000,
      200,
    );
    assert.equal(alone.json().rules.filter((x: { id: string }) => x.id.startsWith('while-down-')).length, 4);
    // And writes through it (first in the list) go on.
    for (let i = 0; i < 2; i++) {
      const r = await cli(['path-mapping', 'add', '--from', `/back-${i}`, '--to', `/files/b${i}`, '--id', `back-${i}`, '--json'], firstThen(stopped));
      if (r.code === 0) {
        writes++;
        lastRevision = r.json().revision;
      } else failed++;
    }
    for (const w of workers) await w.waitForRevision(lastRevision, 30_000);
    console.log(`# member ${stopped.name} down ${downMs} ms and back: ${writes} writes succeeded, ${failed} failed; ${workers.length} workers converged on revision ${lastRevision}`);
    assert.equal(failed, 0);
    assert.equal(writes, 6);
  });

  it('kill -9 the leader during a stream of CLI writes, worker reads and a --wait: no failure outside the election window, every worker converges', async () => {
    const outcomes: Outcome[] = [];
    let reads = 0;
    let failedReads = 0;
    let running = true;
    let seq = 0;
    const writer = async (kind: 'mount' | 'rule') => {
      while (running) {
        const i = seq++;
        const args =
          kind === 'mount'
            ? ['mount', 'add', '--path', `/stream-${i}`, '--ufs-uri', `file://${dataDir}/stream-${i}/`, '--readonly', '--json']
            : ['path-mapping', 'add', '--from', `/stream-alias-${i}`, '--to', '/files', '--id', `stream-${i}`, '--json'];
        const start = Date.now();
        const r = await cli(args);
        const o: Outcome = { what: args.slice(0, 2).join(' '), start, end: Date.now(), code: r.code, stderr: (r.stderr + r.stdout).trim().replace(/\s+/g, ' ') };
        if (r.code === 0) o.revision = r.json().revision;
        outcomes.push(o);
      }
    };
    const reader = async () => {
      while (running) {
        for (const w of workers) {
          try {
            const res = await fetch(`${w.restUrl}/api/v1/file?uri=${encodeURIComponent('/files/hello.txt')}`, { signal: AbortSignal.timeout(10_000) });
            const body = await res.text();
            if (res.status === 200 && body === 'hello from the UFS\n') reads++;
            else failedReads++;
          } catch {
            failedReads++;
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // An in-process writer (no CLI start-up cost): how soon after the election a write commits.
    const conn = new EtcdConnection({ endpoints: cluster.endpoints.split(','), cluster: 'default' });
    const commits: { start: number; end: number; ok: boolean; revision?: number }[] = [];
    const direct = async () => {
      for (let i = 0; running; i++) {
        const start = Date.now();
        try {
          const c = await transact(conn, () => ({ ops: [{ type: 'put', key: conn.layout.ruleKey(`direct-${i}`), value: JSON.stringify({ id: `direct-${i}`, order: 100000 + i, kind: 'prefix', src: `/direct-${i}`, dst: '/files', enabled: true }) }], result: i }));
          commits.push({ start, end: Date.now(), ok: true, revision: c.revision });
        } catch {
          commits.push({ start, end: Date.now(), ok: false });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const loops = [writer('mount'), writer('rule'), reader(), direct()];
    const successes = () => outcomes.filter((o) => o.code === 0);
    await until('a few writes before the kill', () => successes().length >= 2, 60_000, 50);

    const leader = await cluster.leader();
    const killAt = Date.now();
    await cluster.stop(leader, 'SIGKILL');
    // A --wait started right at the kill.
    const waitStart = Date.now();
    const waiting = cli(['path-mapping', 'add', '--from', '/during-election', '--to', '/files', '--id', 'during-election', '--wait', '--wait-timeout', '60s', '--json']);
    const next = await cluster.leader(30_000);
    const electedAt = Date.now();
    await until('writes after the election', () => outcomes.filter((o) => o.code === 0 && o.start > electedAt).length >= 3, 90_000, 50);
    running = false;
    await Promise.all(loops);
    const waited = await waiting;
    const waitMs = Date.now() - waitStart;
    if (waited.code === 0) console.log(`# --wait: committed revision ${waited.json().revision}, ${JSON.stringify(waited.json().wait)}`);

    const failures = outcomes.filter((o) => o.code !== 0);
    const outside = failures.filter((o) => o.end < killAt || o.start > electedAt);
    const firstWrite = successes()
      .filter((o) => o.end > killAt)
      .sort((a, b) => a.end - b.end)[0];
    const lastRevision = Math.max(...successes().map((o) => o.revision ?? 0), ...commits.map((c) => c.revision ?? 0), waited.code === 0 ? waited.json().revision : 0);
    for (const w of workers) await w.waitForRevision(lastRevision, 30_000);

    conn.close();
    const firstCommit = commits.filter((c) => c.ok && c.end > killAt).sort((a, b) => a.end - b.end)[0];
    const directFailures = commits.filter((c) => !c.ok);
    console.log(
      `# in-process writer: ${commits.length} commits, ${directFailures.length} failed; first commit after the kill completed ${firstCommit ? firstCommit.end - electedAt : NaN} ms after the election was seen (${firstCommit ? firstCommit.end - killAt : NaN} ms after the kill)`,
    );
    console.log(
      `# leader ${leader.name} killed; ${next.name} elected after ${electedAt - killAt} ms (as seen by polling); ` +
        `first successful write completed ${firstWrite ? firstWrite.end - electedAt : NaN} ms after the election (${firstWrite ? firstWrite.end - killAt : NaN} ms after the kill)`,
    );
    console.log(
      `# stream: ${outcomes.length} CLI writes, ${successes().length} succeeded, ${failures.length} failed (${failures.length - outside.length} inside the election window, ${outside.length} outside); ` +
        `${reads} worker reads, ${failedReads} failed; --wait exit ${waited.code} after ${waitMs} ms; ${workers.length} workers converged on revision ${lastRevision}`,
    );
    for (const o of outcomes) console.log(`#   ${o.what} [${o.start - killAt}..${o.end - killAt}] exit ${o.code}`);
    for (const f of failures) console.log(`#   failed: ${f.what} [${f.start - killAt}..${f.end - killAt}] ms from the kill: ${f.stderr}`);

    assert.deepEqual(outside.map((o) => `${o.what}: ${o.stderr}`), []);
    assert.equal(failedReads, 0);
    assert.deepEqual(directFailures.filter((c) => c.end < killAt || c.start > electedAt), [], 'in-process writes failed outside the election window');
    assert.ok(firstWrite, 'a write succeeded after the kill');
    assert.equal(waited.code, 0, waited.stdout + waited.stderr);
    assert.equal(waited.json().wait.workers, workers.length);
  });

  it('quorum lost: commands fail at their deadline with EtcdNoLeader (not "unreachable"), saying nothing was written; a command still waiting when a majority is back succeeds', async () => {
    // After the leader kill, two members are up; stop one more: no majority, no leader.
    const up = cluster.members.filter((m) => m.server);
    assert.equal(up.length, 2);
    const [keep, drop] = up as [ClusterMember, ClusterMember];
    const before = await cli(['mount', 'list', '--json']);
    ok(before, 'mount list before');
    await cluster.stop(drop, 'SIGKILL');
    let named = 0;
    for (const args of [
      ['mount', 'add', '--path', '/no-quorum', '--ufs-uri', `file://${dataDir}/no-quorum/`, '--etcd-timeout', '3s', '--json'],
      ['mount', 'list', '--etcd-timeout', '3s', '--json'],
    ]) {
      let tookMs = 0;
      const r = await until(
        `${args[1]} to report no leader`,
        async () => {
          const t0 = Date.now();
          const x = await cli(args);
          tookMs = Date.now() - t0;
          return x.code === 5 && x.json().error.code === 'EtcdNoLeader' ? x : undefined;
        },
        60_000,
        200,
      );
      assert.match(r.json().error.message, /etcd has no leader: 1 of 3 members answer/);
      // The live member is asked until the deadline (it gave up after one attempt of 2 s).
      assert.ok(tookMs >= 3000, `${args[1]} gave up after ${tookMs} ms, before its --etcd-timeout of 3s`);
      if (args[1] === 'add') {
        // it failed reading the config, before sending anything: it says so
        assert.match(r.json().error.message, /Nothing was written$/);
        assert.equal(r.json().error.details?.written, false);
      }
      named++;
    }
    // A command that waits (its deadline is long) while the majority comes back succeeds:
    // the member without a leader does not answer in time, and is asked again until the deadline.
    const waiting = cli(['mount', 'add', '--path', '/quorum-back', '--ufs-uri', `file://${dataDir}/quorum-back/`, '--etcd-timeout', '45s', '--json']);
    const dead = cluster.members.filter((m) => !m.server);
    await Promise.all(dead.map((m) => cluster.start(m)));
    const back = await waiting;
    ok(back, 'mount add started while the quorum was lost, done once a majority is back');
    const list = (await cli(['mount', 'list', '--json'], keep.endpoint)).json();
    assert.ok(list.mounts.some((m: { path: string }) => m.path === '/quorum-back'));
    assert.ok(!list.mounts.some((m: { path: string }) => m.path === '/no-quorum'), 'the refused write did not land');
    for (const w of workers) await w.waitForRevision(back.json().revision, 30_000);
    console.log(`# quorum lost: ${named}/2 commands named EtcdNoLeader; writes resumed once ${dead.length} members were back; ${workers.length} workers converged`);
  });
});
