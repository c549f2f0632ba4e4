/**
 * Zero-downtime cutover and rollback, with real clients reading all the time:
 * real etcd, two real worker processes, two mounts migrated between file:// directories
 * (/data, and /model with the rule /model/latest -> /model/v3 pointing into it), and
 * continuous readers through S3 (@aws-sdk/client-s3, against both workers) and FSSpec
 * (the alluxiofs package in python/, by Alluxio path, through the workers' REST API).
 *
 * Every read is checked byte for byte. The S3 ETag of a file:// object names the inode it
 * came from, which tells which UFS served a read: reads that start after `cutover --wait`
 * returned come from the new directory, after `rollback --wait` from the old one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fileEtag } from '../../src/ufs/file.js';
import { startWorkers, stopWorkers, type WorkerProcess } from '../helpers/worker.js';
import { ROOT } from '../helpers/cli.js';
import { must, populate, startMigEnv, waitStatus, type MigEnv } from './env.js';
import { collect, type ProcOutput } from '../helpers/proc.js';
import { until } from '../helpers/poll.js';

let env: MigEnv;
let workers: WorkerProcess[] = [];
const clients: S3Client[] = [];
let py: ChildProcess | undefined;
/** The reader loops run until this is set (also by after(), when the test failed midway). */
let stop = false;

before(async () => {
  env = await startMigEnv();
});
after(async () => {
  stop = true;
  py?.kill('SIGKILL');
  for (const c of clients) c.destroy();
  await stopWorkers(workers);
  await env?.destroy();
});

interface FsRead {
  path: string;
  ok: boolean;
  error?: string;
  start: number;
  end: number;
}

interface Read {
  api: 's3' | 'fsspec';
  start: number;
  end: number;
  key: string;
  ok: boolean;
  error?: string;
  etag?: string;
}

test('reads through S3 and FSSpec see no error and the right bytes across cutover and rollback; the alias rule composes', async (t) => {
  const dataOld = env.mkdir('data-old');
  const dataNew = env.mkdir('data-new');
  const modelOld = env.mkdir('model-old');
  const modelNew = env.mkdir('model-new');
  const dataFiles = populate(dataOld, {
    ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`part-${i}.bin`, 1000 + i * 9000])),
    'big.bin': 2 * 1024 * 1024,
    'nested/deeper/file.csv': 4321,
  });
  const modelFiles = populate(modelOld, { 'v3/weights.bin': 512 * 1024, 'v3/config.json': 200, 'v2/weights.bin': 1000 });
  must(await env.cli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${dataOld}`]), 'mount /data');
  must(await env.cli(['mount', 'add', '--path', '/model', '--ufs-uri', `file://${modelOld}`]), 'mount /model');
  must(await env.cli(['path-mapping', 'add', '--from', '/model/latest', '--to', '/model/v3']), 'alias rule');
  workers = await startWorkers(env.etcd.endpoint, 2, { leaseTtl: '3s' });

  // What readers read: (bucket, key) -> expected bytes. The alias resolves to v3.
  const targets: { bucket: string; key: string; path: string; bytes: Buffer; ufsRel: ['data' | 'model', string] }[] = [
    ...[...dataFiles].map(([k, b]) => ({ bucket: 'data', key: k, path: `/data/${k}`, bytes: b, ufsRel: ['data', k] as ['data', string] })),
    { bucket: 'model', key: 'latest/weights.bin', path: '/model/latest/weights.bin', bytes: modelFiles.get('v3/weights.bin')!, ufsRel: ['model', 'v3/weights.bin'] },
    { bucket: 'model', key: 'latest/config.json', path: '/model/latest/config.json', bytes: modelFiles.get('v3/config.json')!, ufsRel: ['model', 'v3/config.json'] },
    { bucket: 'model', key: 'v2/weights.bin', path: '/model/v2/weights.bin', bytes: modelFiles.get('v2/weights.bin')!, ufsRel: ['model', 'v2/weights.bin'] },
  ];

  // Migrate both mounts (one migration per mount; two mounts at once is fine).
  const m1 = must(await env.cli(['migrate', 'start', '--path', '/data', '--to', `file://${dataNew}`, '--verify', 'checksum', '--wait', '--json']), 'start /data').json();
  const m2 = must(await env.cli(['migrate', 'start', '--path', '/model', '--to', `file://${modelNew}`, '--json']), 'start /model').json();
  assert.notEqual(m1.id, m2.id);
  assert.equal(m1.wait.workers, 2);
  await waitStatus(env, m1.id, (d) => d.state === 'ready', 'ready');
  await waitStatus(env, m2.id, (d) => d.state === 'ready', 'ready');

  const sdk = (w: WorkerProcess) => {
    const c = new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'any', secretAccessKey: 'any' }, maxAttempts: 1 });
    clients.push(c);
    return c;
  };
  const s3s = workers.map(sdk);

  // Held read-only until cutover: writes are refused through S3, not lost.
  await assert.rejects(s3s[0]!.send(new PutObjectCommand({ Bucket: 'data', Key: 'during.txt', Body: 'x' })), (e: any) => e.$metadata?.httpStatusCode === 403);
  assert.ok(!existsSync(join(dataOld, 'during.txt')) && !existsSync(join(dataNew, 'during.txt')));

  const etagOf = (dir: string, rel: string) => fileEtag(statSync(join(dir, rel)));
  const dirs = { data: { old: dataOld, new: dataNew }, model: { old: modelOld, new: modelNew } };
  const oldEtags = new Set(targets.map((t) => etagOf(dirs[t.ufsRel[0]].old, t.ufsRel[1])));
  const newEtags = new Set(targets.map((t) => etagOf(dirs[t.ufsRel[0]].new, t.ufsRel[1])));

  // --- S3 readers: 3 per worker, random objects, some ranged.
  const reads: Read[] = [];
  let n = 0;
  const s3Reader = async (c: S3Client) => {
    while (!stop) {
      const t = targets[n++ % targets.length]!;
      const ranged = n % 3 === 0 && t.bytes.length > 100;
      const start = Date.now();
      try {
        const r = await c.send(new GetObjectCommand({ Bucket: t.bucket, Key: t.key, ...(ranged ? { Range: 'bytes=10-99' } : {}) }));
        const body = Buffer.from(await r.Body!.transformToByteArray());
        const want = ranged ? t.bytes.subarray(10, 100) : t.bytes;
        const ok = body.equals(want);
        reads.push({ api: 's3', start, end: Date.now(), key: `${t.bucket}/${t.key}`, ok, ...(ok ? {} : { error: `wrong bytes (${body.length} vs ${want.length})` }), etag: (r.ETag ?? '').replace(/"/g, '') });
      } catch (e) {
        reads.push({ api: 's3', start, end: Date.now(), key: `${t.bucket}/${t.key}`, ok: false, error: `${(e as Error).name}: ${(e as Error).message}` });
      }
    }
  };
  const s3Loops = s3s.flatMap((c) => [s3Reader(c), s3Reader(c), s3Reader(c)]);

  // --- FSSpec readers (python), by Alluxio path, through both workers.
  const stopFile = join(env.dir, 'stop-fsspec');
  const expected = Object.fromEntries(targets.map((t) => [t.path, createHash('sha256').update(t.bytes).digest('hex')]));
  const script = `
import json, os, sys, time, hashlib, threading
from alluxiofs import AlluxioFileSystem
fs = AlluxioFileSystem(worker_hosts=sys.argv[1], timeout=30)
expected = json.loads(sys.argv[2]); stop = sys.argv[3]
paths = sorted(expected)
lock = threading.Lock()
def loop(k):
    i = k
    while not os.path.exists(stop):
        p = paths[i % len(paths)]; i += 1
        t0 = time.time()
        try:
            b = fs.cat_file(p)
            ok = hashlib.sha256(b).hexdigest() == expected[p]
            rec = {"path": p, "ok": ok, "start": t0 * 1000, "end": time.time() * 1000}
            if not ok: rec["error"] = "wrong bytes (%d)" % len(b)
        except Exception as e:
            rec = {"path": p, "ok": False, "error": "%s: %s" % (type(e).__name__, e), "start": t0 * 1000, "end": time.time() * 1000}
        with lock: print(json.dumps(rec), flush=True)
ts = [threading.Thread(target=loop, args=(k,)) for k in range(3)]
[t.start() for t in ts]; [t.join() for t in ts]
`;
  const scriptFile = join(env.dir, 'fsspec_reader.py');
  writeFileSync(scriptFile, script);
  const pyEnv = { ...process.env, PYTHONPATH: join(ROOT, 'python'), PYTHONDONTWRITEBYTECODE: '1' };
  const hosts = workers.map((w) => `127.0.0.1:${w.restPort}`).join(',');
  // Probe: FSSpec reads through the workers before the readers start; if it cannot, the
  // test fails here, with python's own error.
  const probe = await runPy(['-c', `import sys\nfrom alluxiofs import AlluxioFileSystem\nfs = AlluxioFileSystem(worker_hosts=sys.argv[1])\nsys.stdout.write(str(len(fs.cat_file("/data/part-1.bin"))))`, hosts], pyEnv);
  assert.equal(probe.code, 0, `alluxiofs could not read through the workers' REST API:\n${probe.stderr.slice(-2000)}`);
  assert.equal(probe.stdout.trim(), String(dataFiles.get('part-1.bin')!.length), `alluxiofs read the wrong length: ${probe.stdout}`);
  // Each FSSpec read is one JSON line on python's stdout, so phases can wait on them.
  const fr: FsRead[] = [];
  let pyBuf = '';
  const fsspecDone = runPy([scriptFile, hosts, JSON.stringify(expected), stopFile], pyEnv, (c) => {
    py = c;
    c.stdout!.on('data', (d: Buffer) => {
      pyBuf += d.toString('utf8');
      for (let nl = pyBuf.indexOf('\n'); nl >= 0; nl = pyBuf.indexOf('\n')) {
        const line = pyBuf.slice(0, nl).trim();
        pyBuf = pyBuf.slice(nl + 1);
        if (line) fr.push(JSON.parse(line) as FsRead);
      }
    });
  });
  const pyAlive = () => py !== undefined && py.exitCode === null && py.signalCode === null;

  const s3CountBy = (t0: number, t1: number) => reads.filter((r) => r.start >= t0 && r.end <= t1).length;
  /** Wait until both kinds of reader have completed reads that started after `t0`. */
  const readsAfter = (what: string, t0: number, extra: () => boolean = () => true) =>
    until(`S3 and FSSpec reads ${what}`, () => {
      if (!pyAlive()) throw new Error(`the FSSpec readers exited early`);
      return reads.filter((r) => r.start > t0).length >= 20 && fr.filter((r) => r.start > t0).length >= 3 && extra();
    }, 60_000);
  await readsAfter('before cutover', 0);

  // --- Cutover both mounts; --wait returns once both workers apply it.
  const cutAt = Date.now();
  const c1 = must(await env.cli(['migrate', 'cutover', '--id', m1.id, '--wait', '--json']), 'cutover /data').json();
  const c2 = must(await env.cli(['migrate', 'cutover', '--id', m2.id, '--wait', '--json']), 'cutover /model').json();
  const cutDone = Date.now();
  assert.equal(c1.state, 'cut-over');
  assert.equal(c1.wait.workers, 2);
  assert.equal(c2.wait.workers, 2);
  for (const w of workers) assert.ok((await w.status()).appliedRevision >= c2.revision);
  const res = must(await env.cli(['resolve', '/model/latest/weights.bin', '--json']), 'resolve').json();
  assert.equal(res.rewrittenPath, '/model/v3/weights.bin');
  assert.equal(res.ufsUri, `file://${modelNew}/v3/weights.bin`);
  // Reads after the switch, the alias included, through both APIs.
  await readsAfter(
    'after cutover',
    cutDone,
    () =>
      reads.some((r) => r.key === 'model/latest/weights.bin' && r.start > cutDone) &&
      fr.some((r) => r.path === '/model/latest/weights.bin' && r.start > cutDone),
  );
  const afterCut = Date.now();

  // Writable again, and writes land in the NEW UFS. While such a write exists there,
  // rollback is refused (it would hide it); once it is gone rollback proceeds.
  await s3s[1]!.send(new PutObjectCommand({ Bucket: 'data', Key: 'after-cutover.txt', Body: 'new' }));
  assert.ok(existsSync(join(dataNew, 'after-cutover.txt')) && !existsSync(join(dataOld, 'after-cutover.txt')));
  const refused = await env.cli(['migrate', 'rollback', '--id', m1.id, '--json']);
  assert.equal(refused.code, 3);
  assert.match(refused.json().error.message, /changed since it was verified/);
  await s3s[1]!.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'after-cutover.txt' }));

  // --- Rollback both, again with --wait.
  const rbAt = Date.now();
  const r1 = must(await env.cli(['migrate', 'rollback', '--id', m1.id, '--wait', '--json']), 'rollback /data').json();
  const r2 = must(await env.cli(['migrate', 'rollback', '--id', m2.id, '--wait', '--json']), 'rollback /model').json();
  const rbDone = Date.now();
  assert.equal(r1.state, 'rolled-back');
  assert.equal(r1.mount.ufsUri, `file://${dataOld}/`);
  assert.equal(r2.wait.workers, 2);
  await readsAfter('after rollback', rbDone);
  stop = true;
  await Promise.all(s3Loops);
  writeFileSync(stopFile, '');
  const end = Date.now();

  // --- Every S3 read succeeded with the right bytes.
  const s3Bad = reads.filter((r) => !r.ok);
  assert.deepEqual(s3Bad, [], `S3 errors:\n${JSON.stringify(s3Bad.slice(0, 10), null, 1)}`);
  // Reads happened in every phase, including while cutover and rollback were in progress.
  for (const [what, a, b] of [
    ['before cutover', 0, cutAt],
    ['during cutover', cutAt, cutDone],
    ['after cutover', cutDone, afterCut],
    ['during rollback', rbAt, rbDone],
    ['after rollback', rbDone, end],
  ] as const) {
    assert.ok(s3CountBy(a, b) > 0, `no S3 reads ${what}`);
  }
  // Which UFS served them: old before cutover, new after it was applied, old after rollback.
  const full = reads.filter((r) => r.etag);
  for (const r of full.filter((x) => x.end < cutAt)) assert.ok(oldEtags.has(r.etag!), `before cutover ${r.key} came from ${r.etag}`);
  const afterCutReads = full.filter((x) => x.start > cutDone && x.end < rbAt);
  assert.ok(afterCutReads.length > 0);
  for (const r of afterCutReads) assert.ok(newEtags.has(r.etag!), `after cutover ${r.key} was not served by the new UFS`);
  const afterRb = full.filter((x) => x.start > rbDone);
  assert.ok(afterRb.length > 0);
  for (const r of afterRb) assert.ok(oldEtags.has(r.etag!), `after rollback ${r.key} was not served by the old UFS`);
  // The alias was read through the switch too.
  assert.ok(reads.some((r) => r.key === 'model/latest/weights.bin' && r.start > cutDone && r.end < rbAt));
  t.diagnostic(`S3: ${reads.length} reads (${s3CountBy(cutAt, cutDone)} during cutover, ${s3CountBy(rbAt, rbDone)} during rollback), 0 errors`);

  {
    const out = await fsspecDone;
    assert.equal(out.code, 0, out.stderr);
    const bad = fr.filter((r) => !r.ok);
    assert.deepEqual(bad, [], `FSSpec errors:\n${JSON.stringify(bad.slice(0, 10), null, 1)}`);
    for (const [what, a, b] of [
      ['before cutover', 0, cutAt],
      ['across cutover', cutAt, afterCut],
      ['across rollback', rbAt, end],
    ] as const) {
      assert.ok(fr.some((r) => r.start >= a && r.end <= b), `no FSSpec reads ${what}`);
    }
    assert.ok(fr.some((r) => r.path === '/model/latest/weights.bin' && r.start > cutDone && r.end < rbAt));
    t.diagnostic(`FSSpec: ${fr.length} reads, 0 errors`);
  }
});

async function runPy(args: string[], env: NodeJS.ProcessEnv, onChild?: (c: ChildProcess) => void): Promise<ProcOutput> {
  const child = spawn('/usr/bin/python3', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  onChild?.(child);
  return collect(child, 180_000);
}
