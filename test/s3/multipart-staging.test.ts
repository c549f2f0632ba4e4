/**
 * Multipart staging is per worker (src/frontends/s3/multipart.ts defaultStagingDir): two
 * workers of one host keep their uploads apart (one directory shared by both let each list,
 * complete and abort the other's), and the default directory in the shared tmpdir is private
 * (0700) and refused when it is a symbolic link, a file or another user's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultStagingDir, MultipartStore } from '../../src/frontends/s3/multipart.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { makeMountTree, type MountTree } from '../helpers/mount-tree.js';
import { startWorkers, stopWorkers, type WorkerProcess } from '../helpers/worker.js';

describe('defaultStagingDir', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'staging-base-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('one directory per instance (<cluster>/<id>, the "/" written "+": no two pairs meet), private to this user', () => {
    const a = defaultStagingDir('default/w1', base);
    const b = defaultStagingDir('default/w2', base);
    assert.notEqual(a, b);
    assert.equal(a, join(base, 'alluxio-s3-multipart-default+w1'));
    assert.equal(statSync(a).mode & 0o777, 0o700);
    assert.notEqual(defaultStagingDir('a-b/c', base), defaultStagingDir('a/b-c', base));
    assert.equal(defaultStagingDir('a/../b', base), join(base, 'alluxio-s3-multipart-a+..+b'), 'no path separator from the instance name');
    chmodSync(b, 0o755);
    assert.equal(defaultStagingDir('default/w2', base), b);
    assert.equal(statSync(b).mode & 0o777, 0o700, 'readable by others: tightened');
  });

  it('an upload made after the directory was removed (a /tmp cleaner) checks it again: made private, or refused when someone else put theirs there', async () => {
    const dir = defaultStagingDir('default/gone', base);
    const store = new MultipartStore(dir, true);
    rmSync(dir, { recursive: true });
    const id = await store.create('data', 'k');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal((await store.get(id)).key, 'k');
    rmSync(dir, { recursive: true });
    mkdirSync(dir, { mode: 0o777 });
    chmodSync(dir, 0o777); // (another's, as far as the check can tell: writable by others)
    await assert.rejects(store.create('data', 'k2'), (e: unknown) => e instanceof AlluxioError && /can be written by others \(mode 777\)/.test(e.message));
  });

  it('refuses a symbolic link, a file and another user\'s directory in its place', () => {
    const elsewhere = mkdtempSync(join(base, 'elsewhere-'));
    symlinkSync(elsewhere, join(base, 'alluxio-s3-multipart-link'));
    writeFileSync(join(base, 'alluxio-s3-multipart-file'), 'x');
    const refused = (instance: string, why: RegExp) =>
      assert.throws(() => defaultStagingDir(instance, base), (e: unknown) => e instanceof AlluxioError && why.test(e.message) && /ALLUXIO_S3_STAGING_DIR/.test(e.message), instance);
    refused('link', /is a symbolic link/);
    refused('file', /is not a directory/);
    mkdirSync(join(base, 'alluxio-s3-multipart-open'), { mode: 0o777 });
    chmodSync(join(base, 'alluxio-s3-multipart-open'), 0o777);
    refused('open', /can be written by others \(mode 777\)/);
    if (process.getuid?.() === 0) {
      mkdirSync(join(base, 'alluxio-s3-multipart-theirs'));
      chownSync(join(base, 'alluxio-s3-multipart-theirs'), 4321, 4321);
      refused('theirs', /owned by uid 4321/);
    }
  });
});

describe('two workers of one host', () => {
  let etcd: TestEtcd;
  let tree: MountTree;
  let workers: WorkerProcess[] = [];

  before(async () => {
    etcd = await startTestEtcd();
    tree = makeMountTree('mp-staging-');
    const r = await cliFor(etcd.endpoint)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${tree.data}`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    // (the default directory, not the test helper's own per worker)
    workers = await startWorkers(etcd.endpoint, 2, { idPrefix: `mps${process.pid}`, env: { ALLUXIO_S3_STAGING_DIR: '' } });
  });
  after(async () => {
    await stopWorkers(workers);
    await etcd?.destroy();
    if (tree) rmSync(tree.dir, { recursive: true, force: true });
    for (const w of workers) rmSync(join(tmpdir(), `alluxio-s3-multipart-default+${w.id}`), { recursive: true, force: true });
  });

  it('keep their uploads apart: the other worker neither lists nor accepts parts of one, nor aborts it', async () => {
    const [w1, w2] = workers as [WorkerProcess, WorkerProcess];
    const created = await fetch(`${w1.s3Url}/data/big.bin?uploads`, { method: 'POST' });
    assert.equal(created.status, 200);
    const id = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())![1]!;
    const listed = async (w: WorkerProcess) => (await (await fetch(`${w.s3Url}/data?uploads`)).text()).includes(id);
    assert.equal(await listed(w1), true);
    assert.equal(await listed(w2), false);
    const part = await fetch(`${w2.s3Url}/data/big.bin?partNumber=1&uploadId=${id}`, { method: 'PUT', body: 'part' });
    assert.equal(part.status, 404);
    assert.match(await part.text(), /<Code>NoSuchUpload<\/Code>/);
    const abort = await fetch(`${w2.s3Url}/data/big.bin?uploadId=${id}`, { method: 'DELETE' });
    assert.equal(abort.status, 404);
    assert.equal(await listed(w1), true, 'still there on its own worker');
    const dir = join(tmpdir(), `alluxio-s3-multipart-default+${w1.id}`);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal((await fetch(`${w1.s3Url}/data/big.bin?uploadId=${id}`, { method: 'DELETE' })).status, 204);
    // a worker that stops leaves no empty staging directory behind in the shared tmpdir
    await w2.stop();
    assert.equal(existsSync(join(tmpdir(), `alluxio-s3-multipart-default+${w2.id}`)), false);
  });
});
