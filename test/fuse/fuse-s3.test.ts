/**
 * The FUSE daemon over an s3:// mount (s3rver, a real S3-compatible server on a free
 * loopback port): listings of prefixes as directories, cat, dd at offsets and a
 * multi-window sequential read through range GETs (the stream read-ahead path), cp in
 * (the object appears in the bucket), rm, a rule mapping into the bucket, and directories
 * emptied through the mount kept until rmdir.
 * Skips with a clear message where /dev/fuse or root is missing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { freePort } from '../../src/local/etcd-server.js';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { forceUnmount, fuseSkipReason, run, startFuse, type FuseProcess } from '../helpers/fuse.js';
import { until } from '../helpers/poll.js';
import { startWorker, stopWorkers } from '../helpers/worker.js';

const require = createRequire(import.meta.url);
const skip = fuseSkipReason();
if (skip) console.log(`# SKIP fuse tests: ${skip}`);

describe('alluxio fuse mount over s3:// (s3rver)', { skip }, () => {
  let etcd: TestEtcd;
  let fuse: FuseProcess | undefined;
  let s3rver: { run(): Promise<unknown>; close(): Promise<void> } | undefined;
  let s3: S3Client | undefined;
  let dir: string;
  let M: string;
  const big = randomBytes(9 * 1024 * 1024 + 333);
  const cluster = 'fuses3';

  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'alluxio-test-fuse-s3-'));
    const port = await freePort();
    const S3rver = require('s3rver');
    s3rver = new S3rver({ port, address: '127.0.0.1', directory: join(dir, 's3'), silent: true, configureBuckets: [{ name: 'lake' }] });
    await s3rver!.run();
    const endpoint = `http://127.0.0.1:${port}`;
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    for (const [key, body] of [
      ['tables/a.csv', 'x,y\n1,2\n'],
      ['tables/part/p1.csv', 'p1\n'],
      ['tables/big.bin', big],
      ['other/outside.txt', 'not under the mount\n'],
    ] as const) {
      await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: key, Body: body }));
    }
    const cli = cliFor(etcd.endpoint, cluster);
    for (const args of [
      ['mount', 'add', '--path', '/lake', '--ufs-uri', 's3://lake/tables/', '--option', `s3a.endpoint=${endpoint}`, '--option', 's3a.accessKeyId=S3RVER', '--option', 's3a.secretKey=S3RVER'],
      ['path-mapping', 'add', '--from', '/latest', '--to', '/lake/part', '--id', 'latest'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, r.stderr);
    }
    fuse = await startFuse(etcd.endpoint, { cluster });
    M = fuse.mountpoint;
  });

  after(async () => {
    try {
      await fuse?.cleanup();
    } finally {
      if (fuse) forceUnmount(fuse.mountpoint);
      s3?.destroy();
      await s3rver?.close();
      await etcd?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists prefixes as directories, and only under the mount', async () => {
    assert.deepEqual((await run('ls', ['-1', M])).stdout.trim().split('\n'), ['lake', 'latest']);
    assert.deepEqual((await run('ls', ['-1', join(M, 'lake')])).stdout.trim().split('\n'), ['a.csv', 'big.bin', 'part']);
    assert.equal((await run('stat', ['-c', '%F', join(M, 'lake', 'part')])).stdout.trim(), 'directory');
    assert.equal((await run('stat', ['-c', '%s', join(M, 'lake', 'big.bin')])).stdout.trim(), String(big.length));
    assert.equal((await run('cat', [join(M, 'latest', 'p1.csv')])).stdout, 'p1\n', 'a rule into the bucket');
  });

  it('a name that is an object and a prefix (other clients wrote both) is the file, in a listing as in a lookup (design 6)', async () => {
    // (the FUSE probe of 2026-12-03: ls -l showed a directory and cat was EISDIR for the
    // second the listing's stats lasted, then the name was the file)
    for (const [key, body] of [['dual/a', 'A\n'], ['dual/a/x', 'X\n'], ['dual/v', 'V\n']] as const) {
      await s3!.send(new PutObjectCommand({ Bucket: 'lake', Key: `tables/${key}`, Body: body }));
    }
    // one process: the listing, then at once the stat and the read its entries answer
    const r = await run('sh', ['-c', `ls -l ${join(M, 'lake', 'dual')} >/dev/null && stat -c %F ${join(M, 'lake', 'dual', 'a')} && cat ${join(M, 'lake', 'dual', 'a')}`]);
    assert.equal(r.stdout, 'regular file\nA\n', r.stderr);
    assert.equal((await run('ls', ['-p', join(M, 'lake', 'dual')])).stdout, 'a\nv\n');
  });

  it('reads: cat, dd at offsets, and a sequential read across many windows (range GETs)', async () => {
    assert.equal((await run('cat', [join(M, 'lake', 'a.csv')])).stdout, 'x,y\n1,2\n');
    const dd = await run('dd', [`if=${join(M, 'lake', 'big.bin')}`, 'bs=4096', 'skip=1000', 'count=3', 'status=none']);
    assert.ok(dd.raw.equals(big.subarray(4096 * 1000, 4096 * 1003)));
    const sum = await run('sha256sum', [join(M, 'lake', 'big.bin')]);
    assert.equal(sum.stdout.split(' ')[0], createHash('sha256').update(big).digest('hex'));
  });

  it('an object replaced while it is open: the rest of the read fails with ESTALE, never the new bytes after the old ones', async () => {
    const size = 32 * 1024 * 1024 + 5;
    const v1 = Buffer.alloc(size, 0x11);
    const v2 = Buffer.alloc(size, 0x22);
    await s3!.send(new PutObjectCommand({ Bucket: 'lake', Key: 'tables/swap.bin', Body: v1 }));
    // Reads 1 MiB, waits for a line on stdin, reads the rest; prints what it got.
    const reader = spawn('/usr/bin/python3', [
      '-c',
      [
        'import sys, errno',
        "f = open(sys.argv[1], 'rb', buffering=0)",
        'first = f.read(1 << 20)',
        "print('paused', len(first), flush=True)",
        'sys.stdin.readline()',
        'runs = {}',
        'n = len(first)',
        'runs[first[0]] = len(first)',
        'try:',
        '    while True:',
        '        b = f.read(1 << 20)',
        '        if not b: break',
        '        for v in set(b): runs[v] = runs.get(v, 0) + b.count(v)',
        '        n += len(b)',
        "    print('done', n, sorted(runs.items()), flush=True)",
        'except OSError as e:',
        "    print('error', errno.errorcode.get(e.errno, e.errno), n, sorted(runs.items()), flush=True)",
      ].join('\n'),
      join(M, 'lake', 'swap.bin'),
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
    reader.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => reader.once('close', (code) => resolve(code)));
    try {
      await until('the reader to read its first MiB', () => {
        if (reader.exitCode !== null) throw new Error(`the reader exited: ${err}`);
        return out.includes('paused');
      }, 60_000);
      await s3!.send(new PutObjectCommand({ Bucket: 'lake', Key: 'tables/swap.bin', Body: v2 }));
      reader.stdin.write('\n');
      assert.equal(await exited, 0, err);
    } finally {
      if (reader.exitCode === null) reader.kill('SIGKILL');
    }
    // Old bytes only (what the read-ahead held), then ESTALE: the daemon names the ETag of the open in every range GET.
    assert.match(out, /^error ESTALE \d+ \[\(17, \d+\)\]$/m, out);
  });

  it('cp in puts the object in the bucket; rm deletes it', async () => {
    const src = join(dir, 'up.bin');
    const payload = randomBytes(1024 * 1024 + 7);
    writeFileSync(src, payload);
    const cp = await run('cp', [src, join(M, 'lake', 'uploaded.bin')]);
    assert.equal(cp.code, 0, cp.stderr);
    const got = await s3!.send(new GetObjectCommand({ Bucket: 'lake', Key: 'tables/uploaded.bin' }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(payload));
    assert.equal((await run('rm', [join(M, 'lake', 'uploaded.bin')])).code, 0);
    await assert.rejects(s3!.send(new HeadObjectCommand({ Bucket: 'lake', Key: 'tables/uploaded.bin' })));
  });

  it('a directory emptied through the mount stays until rmdir (object-store directories have no marker): rm, mv out, rmdir below, shutil.rmtree', async () => {
    for (const key of ['keep/d/e/f2', 'keep/d/f1', 'keep/m/f3', 'tree/x/y/z.txt', 'tree/x/w.txt']) {
      await s3!.send(new PutObjectCommand({ Bucket: 'lake', Key: `tables/${key}`, Body: 'k' }));
    }
    const L = join(M, 'lake');
    const isDir = async (p: string): Promise<boolean> => (await run('stat', ['-c', '%F', join(L, p)])).stdout.toString().trim() === 'directory';
    const ok = async (cmd: string, ...args: string[]): Promise<void> => {
      const r = await run(cmd, args);
      assert.equal(r.code, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    };
    // the last file of keep/d/e unlinked: the directory stays (before 2026-12-03 it went with it)
    await ok('rm', join(L, 'keep/d/e/f2'));
    assert.ok(await isDir('keep/d/e'));
    await ok('rmdir', join(L, 'keep/d/e'));
    // the last file of keep/m moved out: keep/m stays
    await ok('mv', join(L, 'keep/m/f3'), join(L, 'keep/f3'));
    assert.ok(await isDir('keep/m'));
    await ok('rmdir', join(L, 'keep/m'));
    // keep/d emptied by an unlink, then removed: keep stays (it holds f3)
    await ok('rm', join(L, 'keep/d/f1'));
    await ok('rmdir', join(L, 'keep/d'));
    assert.deepEqual((await run('ls', [join(L, 'keep')])).stdout.toString().split('\n').filter(Boolean), ['f3']);
    // a tree written through S3, removed the way Python removes one (unlink, then rmdir, bottom up)
    await ok('python3', '-c', `import shutil; shutil.rmtree(${JSON.stringify(join(L, 'tree'))})`);
    assert.equal((await run('stat', [join(L, 'tree')])).code, 1);
    const left = await s3!.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'tables/tree' }));
    assert.deepEqual((left.Contents ?? []).map((c) => c.Key), [], 'no marker left behind');
    const kept = await s3!.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'tables/keep/' }));
    assert.deepEqual((kept.Contents ?? []).map((c) => c.Key), ['tables/keep/f3']);
  });

  it("a file rewritten through the mount loses its multipart ETag on the workers, also with the same bytes (the UFS version stays the same)", async () => {
    // (before 2026-12-03 the daemon left the record: with identical bytes the s3:// UFS
    // version is unchanged, so the workers kept answering "<md5 of parts>-2")
    const staging = mkdtempSync(join(tmpdir(), 'alluxio-test-fuse-s3-staging-'));
    const worker = await startWorker(etcd.endpoint, { cluster, env: { ALLUXIO_S3_STAGING_DIR: staging } });
    const client = new S3Client({ endpoint: worker.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    try {
      const key = 'mp.bin';
      const part1 = randomBytes(5 * 1024 * 1024);
      const part2 = randomBytes(1000);
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: 'lake', Key: key }));
      const p1 = await client.send(new UploadPartCommand({ Bucket: 'lake', Key: key, UploadId, PartNumber: 1, Body: part1 }));
      const p2 = await client.send(new UploadPartCommand({ Bucket: 'lake', Key: key, UploadId, PartNumber: 2, Body: part2 }));
      const done = await client.send(
        new CompleteMultipartUploadCommand({ Bucket: 'lake', Key: key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }),
      );
      assert.match(done.ETag ?? '', /^"[0-9a-f]{32}-2"$/);
      const whole = Buffer.concat([part1, part2]);
      const src = join(dir, 'same.bin');
      writeFileSync(src, whole);
      const cp = await run('cp', [src, join(M, 'lake', key)]);
      assert.equal(cp.code, 0, cp.stderr);
      // S3's ETag of an object written in one piece: the MD5 of its bytes (the workers learn
      // of the deleted record through their watch of it)
      const md5 = `"${createHash('md5').update(whole).digest('hex')}"`;
      await until('the worker answers the single-part ETag', async () => {
        const h = await client.send(new HeadObjectCommand({ Bucket: 'lake', Key: key }));
        return h.ETag === md5 ? true : undefined;
      }, 20_000);
      const got = await client.send(new GetObjectCommand({ Bucket: 'lake', Key: key }));
      assert.equal(got.ETag, md5);
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(whole));
    } finally {
      client.destroy();
      await stopWorkers([worker]);
      rmSync(staging, { recursive: true, force: true });
    }
  });
});
