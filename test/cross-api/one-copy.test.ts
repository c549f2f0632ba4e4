/**
 * The promise of the cluster cache (issue 15, docs/cluster-cache.md), end to end with real
 * processes: 3 caching workers over an s3:// UFS (s3rver), a dataset read once through S3
 * (on a worker that owns little of it), then through the FUSE mount, then through FSSpec
 * (alluxiofs discovering the workers from etcd): the second and third passes read 0 bytes
 * from the UFS, counted both by the workers (alluxio_ufs_read_bytes_total) and at the UFS
 * itself (object GETs answered by s3rver, whoever asked), and every API returns the same
 * bytes. The first pass fetched each byte exactly once, by the file's owner.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { placementOrder } from '../../src/domain/placement.js';
import { startCachingCluster, type CachingCluster } from '../helpers/cluster-cache.js';
import { fuseSkipReason, startFuse, type FuseProcess } from '../helpers/fuse.js';
import { collect } from '../helpers/proc.js';
import type { WorkerProcess } from '../helpers/worker.js';
import { metric, pattern } from '../cache/harness.js';
import { PY_DIR, PYTHON } from '../fsspec/env.js';
import { join } from 'node:path';

const skip = fuseSkipReason();
if (skip) console.log(`# SKIP one-copy test (needs FUSE): ${skip}`);

const PAGE = 64 * 1024;
const FILES = Array.from({ length: 15 }, (_, i) => ({ key: `set/part-${String(i).padStart(3, '0')}.bin`, data: pattern([700, PAGE, 5 * PAGE + 3, 2 * PAGE, 40_000][i % 5]! + i, 300 + i) }));
const TOTAL = FILES.reduce((n, f) => n + f.data.length, 0);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('one copy per cluster: S3, then FUSE, then FSSpec read the dataset; only the first pass reads the UFS', { skip }, () => {
  let c: CachingCluster;
  let fuse: FuseProcess | undefined;
  let workers: WorkerProcess[];
  const workerUfsBytes = async (): Promise<number[]> => Promise.all(workers.map((w) => metric(w, 'alluxio_ufs_read_bytes_total')));
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

  before(async () => {
    c = await startCachingCluster({ name: 'one-copy', files: FILES });
    workers = c.workers;
    fuse = await startFuse(c.etcd.endpoint, { cluster: c.cluster });
  });
  after(async () => {
    await fuse?.cleanup();
    await c?.stop();
  });

  it('pass 1 (S3) fills the owners once; pass 2 (FUSE) and pass 3 (FSSpec) read 0 bytes from the UFS', async () => {
    const names = workers.map(c.nameOf);
    // Pass 1: S3, all on the worker that owns the fewest files (so most reads are proxied).
    const owners = FILES.map((f) => placementOrder(names, `s3://remote/${f.key}`)[0]!);
    const entry = workers.map((w, i) => ({ w, i, n: owners.filter((o) => o === c.nameOf(w)).length })).sort((a, b) => a.n - b.n)[0]!.w;
    const s3 = new S3Client({ endpoint: entry.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    const before1 = await workerUfsBytes();
    for (const f of FILES) {
      const r = await s3.send(new GetObjectCommand({ Bucket: 'data', Key: f.key }));
      assert.equal(sha(Buffer.from(await r.Body!.transformToByteArray())), sha(f.data), `S3 ${f.key}`);
    }
    s3.destroy();
    const after1 = await workerUfsBytes();
    assert.equal(sum(after1) - sum(before1), TOTAL, 'pass 1 fetched each byte once');
    for (let i = 0; i < workers.length; i++) {
      const mine = FILES.filter((_, k) => owners[k] === names[i]).reduce((n, f) => n + f.data.length, 0);
      assert.equal(after1[i]! - before1[i]!, mine, `${workers[i]!.id} fetched exactly the files it owns`);
    }
    const gets1 = { ...c.ufsGets };
    assert.equal(gets1.bytes, TOTAL, 'the UFS served the dataset once');

    // Pass 2: POSIX, through the FUSE mount.
    for (const f of FILES) assert.equal(sha(await readFile(join(fuse!.mountpoint, 'data', f.key))), sha(f.data), `FUSE ${f.key}`);
    assert.equal(sum(await workerUfsBytes()), sum(after1), 'pass 2 (FUSE): 0 bytes from the UFS by the workers');
    assert.deepEqual(c.ufsGets, gets1, 'pass 2 (FUSE): no object GET reached the UFS');

    // Pass 3: FSSpec (alluxiofs, workers discovered from etcd).
    const code = [
      'import fsspec, hashlib, json, sys, alluxiofs',
      `fs = fsspec.filesystem("alluxiofs", etcd_hosts=${JSON.stringify(c.etcd.endpoint.replace(/^http:\/\//, ''))}, cluster_name=${JSON.stringify(c.cluster)})`,
      'out = {}',
      'for key in json.loads(sys.argv[1]):',
      '    with fs.open("alluxio:///data/" + key, "rb") as f:',
      '        out[key] = hashlib.sha256(f.read()).hexdigest()',
      'print(json.dumps(out))',
    ].join('\n');
    const child = spawn(PYTHON, ['-c', code, JSON.stringify(FILES.map((f) => f.key))], { env: { ...process.env, PYTHONPATH: PY_DIR, PYTHONDONTWRITEBYTECODE: '1' } });
    const py = await collect(child, 120_000);
    assert.equal(py.code, 0, py.stderr);
    const got = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, string>;
    for (const f of FILES) assert.equal(got[f.key], sha(f.data), `FSSpec ${f.key}`);
    assert.equal(sum(await workerUfsBytes()), sum(after1), 'pass 3 (FSSpec): 0 bytes from the UFS by the workers');
    assert.deepEqual(c.ufsGets, gets1, 'pass 3 (FSSpec): no object GET reached the UFS');
  });
});
