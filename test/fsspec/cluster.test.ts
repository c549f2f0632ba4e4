/**
 * alluxiofs over one cache across the cluster (docs/cluster-cache.md, docs/alluxiofs.md):
 * real etcd, an s3:// UFS (s3rver) and a file:// mount, three worker processes with
 * --cache-dir, and Python (Debian's python3, python/tests/cluster_scenarios.py) discovering
 * them from etcd.
 * - A dataset read once through S3 is read again through alluxiofs with 0 bytes from the UFS.
 * - Every read goes to the owner: the one worker that answered its ranged reads is the first
 *   of TypeScript's placementOrder over the live ring (/api/v1/status), for the resolved UFS
 *   URI, whether the file is named alluxio:///data/... or s3://remote/....
 * - The owner of a large file killed with -9 between two halves of a read: the bytes are
 *   identical, the rest came from the next owner.
 * - A file replaced while open: the client refuses the worker's answer of the new version.
 * - Every worker stopped: with ufs_fallback, open files and resolved paths of the file:// mount
 *   read from the UFS (a file changed since it was opened raises UfsVersionMismatchError);
 *   without it, WorkersUnavailableError.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCachingCluster, type CachingCluster } from '../helpers/cluster-cache.js';
import type { WorkerProcess } from '../helpers/worker.js';
import { until } from '../helpers/poll.js';
import { placementOrder } from '../../src/domain/placement.js';
import { pattern } from '../cache/harness.js';
import { PY_DIR, PY_TESTS, PYTHON } from './env.js';

const PAGE = 64 * 1024;
const MiB = 1024 * 1024;
const SCRIPT = join(PY_TESTS, 'cluster_scenarios.py');

const FILES = Array.from({ length: 12 }, (_, i) => ({ key: `set/f${i}.bin`, data: pattern([100, PAGE, 3 * PAGE + 17, 5000][i % 4]! + i, 70 + i) }));
/** Large enough that a reader's socket buffers cannot hold its second half. */
const BIG = { key: 'big.bin', data: pattern(32 * MiB + 13, 99) };

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A Python scenario that prints JSON lines and reads "go" on stdin between steps. */
function scenario(name: string, env: Record<string, string>) {
  const child = spawn(PYTHON, [SCRIPT, name], {
    env: { ...process.env, PYTHONPATH: PY_DIR, PYTHONDONTWRITEBYTECODE: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let code: number | null | undefined;
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise<void>((resolve) => child.on('close', (c) => ((code = c), resolve())));
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  let taken = 0;
  const lines = () => stdout.split('\n').filter((l) => l.startsWith('{'));
  return {
    /** The next JSON line (fails with the output when the script exits first). */
    async next(): Promise<any> {
      const line = await until(
        `line ${taken + 1} of ${name}`,
        () => {
          const l = lines();
          if (l.length > taken) return l[taken];
          if (code !== undefined) throw new Error(`${name} exited (${code}) early:\n${stdout}\n${stderr}`);
          return undefined;
        },
        180_000,
      );
      taken++;
      return JSON.parse(line);
    },
    go(): void {
      child.stdin.write('go\n');
    },
    async done(): Promise<void> {
      await closed;
      clearTimeout(killer);
      assert.equal(code, 0, `${name} failed:\n${stdout}\n${stderr}`);
    },
    kill(): void {
      clearTimeout(killer);
      child.kill('SIGKILL');
    },
  };
}

describe('alluxiofs over one cache across the cluster: owner routing, failover, UFS fallback', () => {
  let c: CachingCluster;
  let local: string;
  let workers: WorkerProcess[];
  const dead = new Set<WorkerProcess>();
  let pyEnv: Record<string, string>;

  const nameOf = (w: WorkerProcess): string => c.nameOf(w);
  const live = (): WorkerProcess[] => workers.filter((w) => !dead.has(w));
  const ringOf = async (w: WorkerProcess): Promise<string[]> => ((await w.status()).ring?.members ?? []).map((m: { name: string }) => m.name).sort();
  const ufsBytes = (ws: readonly WorkerProcess[]): Promise<number> => c.ufsBytes(ws);
  const s3get = (w: WorkerProcess, key: string): Promise<Buffer> => c.s3Get(w, key);

  before(async () => {
    c = await startCachingCluster({ name: 'fsspec-cluster', files: [...FILES, BIG], cacheSize: '128MiB', leaseTtl: '15s' });
    workers = c.workers;
    local = join(c.dir, 'local');
    mkdirSync(local);
    for (const [i, n] of ['a.bin', 'b.bin', 'e.bin', 'changed.bin', 'resized.bin', 'swap.bin'].entries()) writeFileSync(join(local, n), pattern(300_000 + i, 200 + i));
    // metadata TTL 0: a worker sees a file replaced at once (the swap.bin step of the fallback scenario)
    const fileMount = await c.cli(['mount', 'add', '--path', '/local', '--ufs-uri', `file://${local}`, '--option', 'cache.metadata.ttl=0']);
    assert.equal(fileMount.code, 0, fileMount.stderr);
    await until('every worker applied the /local mount', async () => {
      for (const w of workers) {
        const r = await fetch(`${w.restUrl}/api/v1/info?uri=${encodeURIComponent('alluxio:///local/a.bin')}`);
        if (r.status !== 200) return false;
      }
      return true;
    });
    const etcdUrl = new URL(c.etcd.endpoint);
    pyEnv = { ETCD_HOST: etcdUrl.hostname, ETCD_PORT: etcdUrl.port, CLUSTER: c.cluster, LOCAL_DIR: local };
  });
  after(async () => {
    await c?.stop();
  });

  let owners: any;

  test('a dataset read through S3, then through alluxiofs (etcd discovery): identical bytes, 0 bytes from the UFS', async () => {
    const before = await ufsBytes(workers);
    for (const f of FILES) assert.ok((await s3get(workers[0]!, f.key)).equals(f.data), f.key);
    const total = FILES.reduce((n, f) => n + f.data.length, 0);
    assert.equal((await ufsBytes(workers)) - before, total, 'the S3 pass fetched each byte once');
    const warm = await ufsBytes(workers);
    // alluxio:/// paths and s3:// URIs in turn: both resolve to the same UFS URI
    const files = FILES.map((f, i) => ({ uri: i % 4 < 2 ? `alluxio:///data/${f.key}` : `s3://remote/${f.key}`, sha256: sha256(f.data) }));
    const py = scenario('owners', { ...pyEnv, FILES: JSON.stringify(files) });
    owners = await py.next();
    await py.done();
    assert.equal(owners.files.length, FILES.length);
    for (const [i, r] of owners.files.entries()) assert.equal(r.sha256, files[i]!.sha256, `bytes of ${r.uri}`);
    assert.equal(await ufsBytes(workers), warm, 'the alluxiofs pass read 0 bytes from the UFS');
  });

  test('every read went to the owner: the first of placementOrder over the live ring, for the resolved UFS URI', async () => {
    assert.ok(owners, 'the previous test ran');
    const ring = await ringOf(workers[0]!);
    for (const w of workers) assert.deepEqual(await ringOf(w), ring);
    assert.deepEqual(owners.ring, ring, "the client's ring is the workers' ring");
    const served = new Set<string>();
    for (const [i, r] of owners.files.entries()) {
      const ufsUri = `s3://remote/${FILES[i]!.key}`;
      assert.equal(r.ufsUri, ufsUri);
      const owner = placementOrder(ring, ufsUri)[0]!;
      served.add(owner);
      assert.equal(r.owner, owner, `client's owner of ${r.uri}`);
      // ranged reads answered (peer reads included): the owner's, and nobody else's
      for (const w of ring) {
        if (w === owner) assert.ok(r.ranged[w] >= 1, `${w} answered the read of ${r.uri}`);
        else assert.equal(r.ranged[w], 0, `${w} (not the owner of ${r.uri}) answered no read`);
      }
    }
    assert.ok(served.size > 1, 'the dataset has more than one owner');
    assert.deepEqual(Object.keys(owners.by_worker).sort(), [...served].sort());
  });

  test('the owner hung (SIGSTOP) and a 5 s client timeout: the next worker serves the read without asking the hung owner again', async () => {
    // (p10-py probe: the next worker read the file through the hung owner and answered
    // after its 4 s health check, ~6 s in all, so a client timeout below that failed on
    // every worker: WorkersUnavailableError, healthy workers marked dead. The client now
    // names the workers it failed on; 5 s leaves the fixed path room on a loaded machine.)
    const f = FILES[1]!;
    const ring = await ringOf(workers[0]!);
    const order = placementOrder(ring, `s3://remote/${f.key}`);
    const owner = workers.find((w) => nameOf(w) === order[0])!;
    const py = scenario('hung', { ...pyEnv, URI: `alluxio:///data/${f.key}` });
    let stopped = false;
    try {
      const ready = await py.next();
      assert.deepEqual(ready.order, order);
      process.kill(owner.process.pid!, 'SIGSTOP');
      stopped = true;
      py.go();
      const r = await py.next();
      await py.done();
      assert.equal(r.sha256, sha256(f.data));
      assert.equal(r.by_worker[order[0]!] ?? 0, 0, 'nothing from the hung owner');
      assert.equal(r.by_worker[order[1]!], f.data.length, `served by the next worker: ${JSON.stringify(r.by_worker)}`);
    } catch (e) {
      py.kill();
      throw e;
    } finally {
      if (stopped) process.kill(owner.process.pid!, 'SIGCONT');
    }
    await c.waitForRing(workers); // (its lease outlives the stop: 15 s, so it stayed in the ring meanwhile)
  });

  test('a file changed behind the cluster within the metadata TTL, its info cached on another worker than its owner: whole-file reads get one whole version, never an error', async () => {
    // (p10-cache probe: every fresh cat_file raised UfsVersionMismatchError for the whole
    // TTL: the info came from the worker the path hashes to, still holding the old version,
    // and the bytes from the owner of the UFS URI, which had seen the new one)
    const dir = join(c.dir, 'behind');
    mkdirSync(dir);
    const SIZE = 3 * MiB + 7;
    const names = Array.from({ length: 16 }, (_, i) => `b${i}.bin`);
    for (const [i, n] of names.entries()) writeFileSync(join(dir, n), pattern(SIZE, 300 + i));
    const m = await c.cli(['mount', 'add', '--path', '/behind', '--ufs-uri', `file://${dir}`, '--option', 'cache.metadata.ttl=10m']);
    assert.equal(m.code, 0, m.stderr);
    await until('every worker applied the /behind mount', async () => {
      for (const w of live()) if ((await fetch(`${w.restUrl}/api/v1/info?uri=${encodeURIComponent('alluxio:///behind/b0.bin')}`)).status !== 200) return false;
      return true;
    });
    const py = scenario('behind', { ...pyEnv, BEHIND_DIR: dir, NAMES: JSON.stringify(names) });
    try {
      const primed = await py.next();
      assert.notEqual(primed.info_worker, primed.owner, 'a file whose info worker is not its owner');
      const i = names.indexOf(primed.name);
      const v1 = pattern(SIZE, 300 + i);
      const v2 = pattern(SIZE, 999);
      assert.equal(primed.sha256, sha256(v1.subarray(0, 100)));
      writeFileSync(join(dir, primed.name), v2); // in place, same size: another version
      py.go();
      const r = await py.next();
      await py.done();
      for (const [k, got] of Object.entries(r.reads as Record<string, string>)) {
        assert.ok(got === sha256(v1) || got === sha256(v2), `${k}: one whole version, got ${got}`);
      }
      assert.equal(r.reads.last, sha256(v2), 'the owner, having met the new version, serves it');
      assert.equal(r.reads.open0, sha256(v2), "a fresh client's open file takes the owner's version");
      assert.equal(r.reads.open1, sha256(v2));
    } catch (e) {
      py.kill();
      throw e;
    }
  });

  test('the owner killed with -9 in the middle of a read: the bytes are identical, the rest comes from the next owner', async () => {
    const ring = await ringOf(workers[0]!);
    const order = placementOrder(ring, `s3://remote/${BIG.key}`);
    const py = scenario('kill_owner', { ...pyEnv, URI: `alluxio:///data/${BIG.key}`, SIZE: String(BIG.data.length) });
    try {
      const half = await py.next();
      assert.deepEqual(half.order, order, "the client's read order is placementOrder over the ring");
      const victim = workers.find((w) => nameOf(w) === order[0])!;
      assert.equal(await victim.kill9(), 'SIGKILL');
      dead.add(victim);
      py.go();
      const r = await py.next();
      await py.done();
      assert.equal(r.size, BIG.data.length);
      assert.equal(r.sha256, sha256(BIG.data), 'byte-identical');
      assert.equal(r.ufs_bytes, 0, 'no UFS fallback involved');
      assert.ok(r.by_worker[order[0]!] >= half.half, 'the first half came from the owner');
      assert.ok(r.by_worker[order[1]!] > 0, `the rest came from the next owner ${order[1]}: ${JSON.stringify(r.by_worker)}`);
      assert.equal(r.by_worker[order[0]!] + r.by_worker[order[1]!], BIG.data.length);
    } catch (e) {
      py.kill();
      throw e;
    }
  });

  test('a file replaced while open is refused, not mixed; every worker stopped: ufs_fallback reads the file:// mount directly, version checked; without it WorkersUnavailableError', async () => {
    const py = scenario('fallback', pyEnv);
    try {
      const opened = await py.next();
      assert.equal(opened.opened, true);
      assert.match(opened.swapped, /swap\.bin changed since it was opened \(ETag [0-9a-f]+-1, [0-9a-f]+-1 when opened\)/);
      await Promise.all(live().map((w) => w.stop()));
      for (const w of live()) dead.add(w);
      // changed.bin: other bytes, same size, another mtime; resized.bin: another size
      const changed = join(local, 'changed.bin');
      writeFileSync(changed, pattern(300_003, 1));
      utimesSync(changed, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
      writeFileSync(join(local, 'resized.bin'), pattern(1000, 2));
      py.go();
      const r = await py.next();
      await py.done();
      assert.equal(r.open_file, true, 'an open file goes on from the UFS');
      assert.equal(r.resolved_path, true, 'a path resolved a moment ago reads from its UFS URI');
      assert.equal(r.ufs_uri, true, 'a UFS-native URI reads from the UFS');
      assert.ok(r.ufs_bytes >= 300_000 + 300_001, `bytes read from the UFS: ${r.ufs_bytes}`);
      assert.equal(r.unresolved, 'WorkersUnavailableError');
      assert.equal(r.changed.code, 'VersionMismatch');
      assert.match(r.changed.message, /changed in the UFS since it was opened \(modified at/);
      assert.match(r.resized.message, /size 1000 in the UFS, 300004 when opened/);
      assert.equal(r.off_open_file.type, 'WorkersUnavailableError');
      assert.match(r.off_open_file.message, /no worker could serve alluxio:\/\/\/local\/a\.bin/);
      assert.equal(r.off_ufs_uri, 'WorkersUnavailableError');
    } catch (e) {
      py.kill();
      throw e;
    }
  });
});
