/**
 * The cache in real worker processes, driven through the real CLI: `worker start
 * --cache-dir`, `cache load|status|free`, `worker list`, /metrics, and a restart reusing the
 * pages. A second worker runs without a cache (today's behaviour: "off").
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { cliFor, RUN } from '../helpers/cli.js';
import { spawn } from 'node:child_process';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';
import { metric, pattern } from './harness.js';

const PAGE = 64 * 1024;

describe('cache commands against real workers', () => {
  let etcd: TestEtcd;
  let dir: string;
  let cached: WorkerProcess | undefined;
  let plain: WorkerProcess | undefined;
  let cli: ReturnType<typeof cliFor>;
  const cluster = `c${process.pid}`;
  const sizes = [0, 1, PAGE - 1, PAGE, PAGE + 1, 3 * PAGE + 17, 70_000];
  const total = sizes.reduce((a, b) => a + b, 0);
  const cacheArgs = () => ['--cache-dir', join(dir, 'cache'), '--cache-size', '64MiB', '--page-size', '64KiB'];

  before(async () => {
    etcd = await startTestEtcd();
    cli = cliFor(etcd.endpoint, cluster);
    dir = mkdtempSync(join(tmpdir(), 'cache-cli-'));
    mkdirSync(join(dir, 'ufs', 'sub'), { recursive: true });
    sizes.forEach((s, i) => writeFileSync(join(dir, 'ufs', i % 2 ? 'sub' : '', `f${i}`), pattern(s, i)));
    const r = await cli(['mount', 'add', '--path', '/d', '--ufs-uri', `file://${join(dir, 'ufs')}`]);
    assert.equal(r.code, 0, r.stderr);
    cached = await startWorker(etcd.endpoint, { cluster, id: 'cached', extraArgs: cacheArgs() });
    plain = await startWorker(etcd.endpoint, { cluster, id: 'plain' });
  });
  after(async () => {
    await cached?.stop();
    await plain?.stop();
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('status: capacity on the worker with a cache, "off" on the other', async () => {
    const r = await cli(['cache', 'status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const byId = new Map(r.json().workers.map((w: any) => [w.worker, w]));
    assert.equal((byId.get('cached') as any).result.capacityBytes, 64 << 20);
    assert.equal((byId.get('cached') as any).result.pageSize, PAGE);
    assert.equal((byId.get('plain') as any).disabled, true);
    const human = await cli(['cache', 'status']);
    assert.match(human.stdout, /^plain\toff/m);
    assert.match(human.stdout, /^cached\t100\.0%\t64 MiB\t/m);
  });

  test('load --wait fills the cache; a second load reads nothing from the UFS', async () => {
    const r = await cli(['cache', 'load', '--path', '/d', '--wait', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const j = r.json();
    assert.equal(j.totals.filesTotal, sizes.length);
    assert.equal(j.totals.bytesTotal, total);
    assert.equal(j.workers.find((w: any) => w.worker === 'plain').disabled, true);
    assert.equal(await metric(cached!, 'alluxio_ufs_read_bytes_total'), total);
    await until('pages written', async () => (await metric(cached!, 'alluxio_cache_pages')) === 1 + 1 + 1 + 2 + 4 + 2);
    const st = (await cli(['cache', 'status', '--path', '/d', '--json'])).json();
    const mine = st.workers.find((w: any) => w.worker === 'cached').result;
    assert.deepEqual({ files: mine.path.files, bytes: mine.path.bytes, cachedBytes: mine.path.cachedBytes }, { files: sizes.length, bytes: total, cachedBytes: total });
    const again = await cli(['cache', 'load', '--path', '/d', '--wait', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await metric(cached!, 'alluxio_ufs_read_bytes_total'), total, 'the second read is served from the cache');
    assert.ok((await metric(cached!, 'alluxio_cache_bytes_read_total')) >= total);
    assert.ok((await metric(cached!, 'alluxio_cache_hit_ratio')) > 0);
    // bytes read by loads since the worker started: both loads (a counter; it summed the
    // journal's jobs, the last run of each path only, and those from before restarts)
    assert.equal(await metric(cached!, 'alluxio_cache_load_bytes_total'), 2 * total);
    assert.deepEqual(again.json().fits, { bytes: total, cacheableBytes: total });
    assert.doesNotMatch(again.stderr, /does not fit/);
  });

  test('worker list shows cache use', async () => {
    const l = (await cli(['worker', 'list', '--json'])).json();
    const c = l.workers.find((w: any) => w.id === 'cached');
    assert.equal(c.cache.enabled, true);
    assert.ok(c.cache.usedBytes > 0);
    // the quota it keeps to, as cache status says (less than --cache-size on a small disk)
    const st = (await cli(['cache', 'status', '--json'])).json().workers.find((w: any) => w.worker === 'cached').result;
    assert.equal(c.cache.effectiveCapacityBytes, st.effectiveCapacityBytes);
    assert.deepEqual(l.workers.find((w: any) => w.id === 'plain').cache, { enabled: false });
  });

  test('free needs --yes without a terminal, then drops the pages', async () => {
    const no = await cli(['cache', 'free', '--path', '/d/sub']);
    assert.equal(no.code, 2);
    const r = await cli(['cache', 'free', '--path', '/d/sub', '--yes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json().pages > 0);
    const st = (await cli(['cache', 'status', '--path', '/d', '--json'])).json().workers.find((w: any) => w.worker === 'cached').result;
    const subBytes = sizes.filter((_, i) => i % 2).reduce((a, b) => a + b, 0);
    assert.equal(st.path.cachedBytes, total - subBytes);
  });

  test('load runs in the worker: the CLI returns at once and the job finishes without it', async () => {
    const r = await cli(['cache', 'load', '--path', '/d', '--json']);
    assert.equal(r.code, 0, r.stderr);
    await until('load done in the worker', async () => {
      const res = await fetch(`${cached!.restUrl}/api/v1/cache/load?path=%2Fd`);
      const job = (await res.json()) as any;
      return job.state === 'done' ? job : undefined;
    });
    const st = (await cli(['cache', 'status', '--path', '/d', '--json'])).json().workers.find((w: any) => w.worker === 'cached').result;
    assert.equal(st.path.percent, 100);
  });

  test('load --wait --json interrupted (SIGINT): one JSON error document, exit 130, and the load goes on in the worker', async () => {
    // 3000 files: the load runs for seconds; the worker is paused (SIGSTOP) once it has
    // begun, so the job is surely still running when the CLI is interrupted.
    const many = join(dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 3000; i++) writeFileSync(join(many, `f${i}`), pattern(16 * 1024, i));
    const m = await cli(['mount', 'add', '--path', '/many', '--ufs-uri', `file://${many}`, '--wait']);
    assert.equal(m.code, 0, m.stderr);
    const child = spawn(process.execPath, [RUN, 'cache', 'load', '--path', '/many', '--wait', '--json'], { env: { ...process.env, ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: cluster, NO_COLOR: '1' } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const job = async () => (await (await fetch(`${cached!.restUrl}/api/v1/cache/load?path=%2Fmany`)).json()) as { state: string; filesDone: number };
    await until('the load has begun in the worker', async () => ((await job().catch(() => undefined))?.filesDone ?? 0) > 0 || undefined);
    cached!.pause();
    try {
      child.kill('SIGINT');
      assert.equal(await exited, 130, stdout);
      const doc = JSON.parse(stdout) as { error: { code: string; message: string; exitCode: number } };
      assert.equal(doc.error.code, 'Cancelled');
      assert.equal(doc.error.exitCode, 130);
      assert.match(doc.error.message, /goes on in the workers/);
    } finally {
      cached!.resume();
    }
    await until('the load went on to its end', async () => (await job()).state === 'done' || undefined, 120_000);
    await cli(['cache', 'free', '--path', '/many', '--yes']);
  });

  test('bad input: a path in no mount (exit 4), a worker flag that is not a size (exit 2)', async () => {
    const r = await cli(['cache', 'load', '--path', '/nowhere']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /no mount/i);
    const bad = await cli(['worker', 'start', '--cache-dir', join(dir, 'x'), '--cache-size', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--cache-size "lots"/);
    // A path in a mount that does not exist: NotFound (it was a finished job of 0 files, 100% cached).
    for (const args of [['cache', 'load', '--path', '/d/missing', '--wait'], ['cache', 'status', '--path', '/d/missing']]) {
      const m = await cli(args);
      assert.equal(m.code, 4, `${args.join(' ')}: ${m.stderr}`);
      assert.match(m.stderr, /\/d\/missing does not exist/);
    }
  });

  test('free --path / drops everything, mount by mount', async () => {
    const r = await cli(['cache', 'free', '--path', '/', '--yes', '--json']);
    assert.equal(r.code, 0, r.stderr);
    await until('pages dropped', async () => (await metric(cached!, 'alluxio_cache_pages')) === 0);
    const again = await cli(['cache', 'load', '--path', '/d', '--wait']); // (the tests below expect it loaded)
    assert.equal(again.code, 0, again.stderr);
  });

  test('a restarted worker reuses its pages: nothing read from the UFS', async () => {
    await until('writes settled', async () => (await metric(cached!, 'alluxio_cache_pages')) === 11);
    await cached!.stop();
    cached = await startWorker(etcd.endpoint, { cluster, id: 'cached', extraArgs: cacheArgs() });
    assert.equal(await metric(cached, 'alluxio_cache_pages'), 11);
    const r = await cli(['cache', 'load', '--path', '/d', '--wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await metric(cached, 'alluxio_ufs_read_bytes_total'), 0);
    assert.equal(await metric(cached, 'alluxio_cache_bytes_read_total'), total);
  });

  test('a load running when its worker stopped resumes when the worker starts again', async () => {
    const journal = join(dir, 'cache', 'load-jobs.json');
    // Loads are journaled in the cache directory, finished ones too.
    await until('journal written', async () => {
      const jobs = JSON.parse(readFileSync(journal, 'utf8')).jobs as any[];
      return jobs.find((j) => j.path === '/d' && j.state === 'done');
    });
    const free = await cli(['cache', 'free', '--path', '/d', '--yes']);
    assert.equal(free.code, 0, free.stderr);
    // The worker stops with a load of /d under way (SIGTERM ends the process, not the job):
    // its journal says running.
    await cached!.stop();
    const doc = JSON.parse(readFileSync(journal, 'utf8')) as { jobs: any[] };
    const job = doc.jobs.find((j) => j.path === '/d');
    Object.assign(job, { state: 'running', finishedAt: null, filesDone: 2, bytesLoaded: 1 });
    writeFileSync(journal, JSON.stringify(doc));
    cached = await startWorker(etcd.endpoint, { cluster, id: 'cached', extraArgs: cacheArgs() });
    const resumed = await until('load resumed and done', async () => {
      const res = await fetch(`${cached!.restUrl}/api/v1/cache/load?path=%2Fd`);
      const j = (await res.json()) as any;
      return j.state === 'done' ? j : undefined;
    });
    assert.equal(resumed.resumed, 1);
    assert.equal(resumed.filesDone, sizes.length);
    assert.equal(await metric(cached!, 'alluxio_ufs_read_bytes_total'), total, 'the resumed load read the freed files again');
    const st = (await cli(['cache', 'status', '--path', '/d', '--json'])).json().workers.find((w: any) => w.worker === 'cached').result;
    assert.equal(st.path.percent, 100);
    assert.equal(JSON.parse(readFileSync(journal, 'utf8')).jobs.find((j: any) => j.path === '/d').state, 'done');
  });

  test('a load of a path larger than the cache says so: its share, the cache, and how much is held', async () => {
    // (it printed "Loaded ... 90 MiB" and exit 0, while the load evicted its own first files)
    mkdirSync(join(dir, 'big'));
    for (let i = 0; i < 3; i++) writeFileSync(join(dir, 'big', `b${i}`), pattern(30 << 20, 80 + i));
    assert.equal((await cli(['mount', 'add', '--path', '/big', '--ufs-uri', `file://${join(dir, 'big')}`])).code, 0);
    const r = await cli(['cache', 'load', '--path', '/big', '--wait', '--json']);
    assert.equal(r.code, 0, r.stderr);
    // (its cache: 64 MiB, or less when the test's disk holds less)
    assert.match(r.stderr, /\/big does not fit in the caches \(cached's share is 90 MiB, its cache [\d.]+ [KMG]iB\): at most \d+% of it stays cached/);
    const fits = r.json().fits;
    assert.equal(fits.bytes, 90 << 20);
    assert.ok(fits.cacheableBytes <= 64 << 20, JSON.stringify(fits));
    assert.equal((await cli(['cache', 'free', '--path', '/big', '--yes'])).code, 0);
  });
});

describe('cache endpoints of a worker that requires signatures (ALLUXIO_S3_CREDENTIALS)', () => {
  let etcd: TestEtcd;
  let dir: string;
  let w: WorkerProcess | undefined;
  const cluster = `s${process.pid}`;
  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'cache-auth-'));
    mkdirSync(join(dir, 'ufs'), { recursive: true });
    writeFileSync(join(dir, 'ufs', 'a.bin'), pattern(3 * PAGE, 9));
    const r = await cliFor(etcd.endpoint, cluster)(['mount', 'add', '--path', '/d', '--ufs-uri', `file://${join(dir, 'ufs')}`]);
    assert.equal(r.code, 0, r.stderr);
    w = await startWorker(etcd.endpoint, { cluster, id: 'signed', env: { ALLUXIO_S3_CREDENTIALS: 'AKCACHE:cache-secret' }, extraArgs: ['--cache-dir', join(dir, 'cache'), '--cache-size', '64MiB', '--page-size', '64KiB'] });
  });
  after(async () => {
    await w?.stop();
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('unsigned requests are refused (401) and change nothing; the CLI signs with its ALLUXIO_S3_CREDENTIALS', async () => {
    const anon = await fetch(`${w!.restUrl}/api/v1/cache/load?path=%2Fd`, { method: 'POST' });
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as any).error.code, 'AccessDenied');
    assert.equal(await metric(w!, 'alluxio_ufs_read_bytes_total'), 0, 'nothing loaded');

    const none = await cliFor(etcd.endpoint, cluster)(['cache', 'load', '--path', '/d'], { env: { ALLUXIO_S3_CREDENTIALS: undefined } });
    assert.equal(none.code, 5, none.stderr);
    assert.match(none.stderr, /refused this request.*ALLUXIO_S3_CREDENTIALS/);
    const wrong = await cliFor(etcd.endpoint, cluster)(['cache', 'status', '--json'], { env: { ALLUXIO_S3_CREDENTIALS: 'AKOTHER:nope' } });
    assert.equal(wrong.code, 5, wrong.stderr);
    assert.match(wrong.json().error.message, /do not include AKOTHER/);

    const signed = cliFor(etcd.endpoint, cluster);
    const env = { env: { ALLUXIO_S3_CREDENTIALS: 'AKCACHE:cache-secret' } };
    const load = await signed(['cache', 'load', '--path', '/d', '--wait', '--json'], env);
    assert.equal(load.code, 0, load.stderr);
    assert.equal(load.json().totals.bytesTotal, 3 * PAGE);
    const st = await signed(['cache', 'status', '--path', '/d', '--json'], env);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.json().workers[0].result.path.percent, 100);
  });
});

describe('cache load --wait while the only worker restarts', () => {
  let etcd: TestEtcd;
  let dir: string;
  let worker: WorkerProcess | undefined;
  const cluster = `solo${process.pid}`;
  const cacheArgs = () => ['--cache-dir', join(dir, 'cache'), '--cache-size', '256MiB', '--page-size', '64KiB'];

  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'cache-solo-'));
    mkdirSync(join(dir, 'ufs'));
    for (let i = 0; i < 4000; i++) writeFileSync(join(dir, 'ufs', `f${i}`), pattern(16 * 1024, i));
    const r = await cliFor(etcd.endpoint, cluster)(['mount', 'add', '--path', '/solo', '--ufs-uri', `file://${join(dir, 'ufs')}`]);
    assert.equal(r.code, 0, r.stderr);
    worker = await startWorker(etcd.endpoint, { cluster, id: 'solo', extraArgs: cacheArgs() });
  });
  after(async () => {
    await worker?.stop();
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the wait goes on while no worker is listed, and ends with the resumed load', async () => {
    // (until 2026-12-03 it ended with "no live workers", exit 3, while the restarted worker
    // resumed the load and finished it)
    const child = spawn(process.execPath, [RUN, 'cache', 'load', '--path', '/solo', '--wait', '--json'], { env: { ...process.env, ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: cluster, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const job = async () => (await (await fetch(`${worker!.restUrl}/api/v1/cache/load?path=%2Fsolo`)).json()) as { state: string; filesDone: number; filesTotal: number; listed: boolean };
    await until('the load under way in the worker', async () => {
      const j = await job().catch(() => undefined);
      return j && j.state === 'running' && j.filesDone > 0 ? j : undefined;
    });
    // stopped with its load under way (frozen at once; stop() sends SIGCONT and SIGTERM back
    // to back, and SIGTERM ends the process, not the job; its record leaves etcd at once);
    // the restart takes longer than the CLI's polls
    worker!.pause();
    await worker!.stop();
    const journal = JSON.parse(readFileSync(join(dir, 'cache', 'load-jobs.json'), 'utf8')) as { jobs: { path: string; state: string }[] };
    assert.equal(journal.jobs.find((j) => j.path === '/solo')?.state, 'running', 'stopped mid-load');
    assert.equal(child.exitCode, null, `the CLI gave up: ${stdout}${stderr}`);
    worker = await startWorker(etcd.endpoint, { cluster, id: 'solo', extraArgs: cacheArgs() });
    assert.equal(await exited, 0, stdout + stderr);
    const doc = JSON.parse(stdout) as { totals: { filesDone: number; filesTotal: number; done: number } };
    assert.equal(doc.totals.filesTotal, 4000);
    assert.equal(doc.totals.filesDone, 4000);
  });
});
