/**
 * Per-component lookups (resolution.md §2) and virtual directories of regex rules, on a
 * real FUSE mount, a real worker (REST / FSSpec listing) and `alluxio resolve`, all on one
 * real etcd:
 *
 * - `^/vx/([^/]+)/(.*)$ -> /d/{{ var2 }}`: `cat <fuse>/vx/any/f.txt` reads /d/f.txt, as
 *   `resolve` says; /vx/any is a directory on the way there.
 * - `--from /d/latest --to /d/v3 --exclude '.*\.csv'` where /d/v3/data does not exist:
 *   `cat <fuse>/d/latest/data/x.csv` reads the excluded file in place, and the listing of
 *   /d/latest/data shows exactly the names that reading reaches, in FUSE and REST alike.
 * - a top-level virtual directory made by a regex rule (`^/vq/(\w+)-(.*)$`) is a directory
 *   that exists and lists the same (empty) contents through FUSE and REST.
 *
 * - one error table per boundary: a UFS scheme the worker does not serve (hdfs://) is 501
 *   UfsNotSupported on REST and ENOTSUP in FUSE; a 256-byte name is 400 NameTooLong.
 *
 * The pure parts (may a pattern match below a directory; where children may land) have
 * unit tests first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePattern } from '../../src/domain/regex.js';
import { parseMount } from '../../src/domain/mounts.js';
import { Snapshot } from '../../src/domain/snapshot.js';
import { mayMatchBelow } from '../../src/frontends/common/regex-prefix.js';
import { childLandsAt, traversalOf } from '../../src/frontends/common/traversal.js';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { forceUnmount, fuseSkipReason, run, startFuse, type FuseProcess } from '../helpers/fuse.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';

describe('mayMatchBelow: can a whole-path pattern match below a directory', () => {
  const cases: [string, string, boolean][] = [
    ['^/vx/([^/]+)/(.*)$', '/vx', true],
    ['^/vx/([^/]+)/(.*)$', '/vx/any', true],
    ['^/vx/([^/]+)/(.*)$', '/vx/any/deeper', true],
    ['^/vx/([^/]+)/(.*)$', '/vy', false],
    ['^/vq/(\\w+)-(.*)$', '/vq', true],
    ['^/vq/(\\w+)-(.*)$', '/vq/abc', false], // no "-" before the "/": nothing below can match
    ['^/vq/(\\w+)-(.*)$', '/vq/a-b', true],
    ['.*\\.csv', '/d/latest/data', true],
    ['^/t/(?P<name>[a-z]+)/x$', '/t/abc', true],
    ['^/t/(?P<name>[a-z]+)/x$', '/t/ab1', false],
    ['^/t/(?P<name>[a-z]+)/x$', '/t/abc/x', false], // x is the end: nothing below it
    ['^/a/b{2,3}/c$', '/a/bbb', true],
    ['^/a/b{2,3}/c$', '/a/bbbb', false],
    ['^/m/(a|bc)\\Q.x\\E/y$', '/m/bc.x', true],
    ['^/m/(a|bc)\\Q.x\\E/y$', '/m/bcyx', false],
    ['^/exact/path$', '/exact', true],
    ['^/exact/path$', '/exact/path', false],
    ['(?i)^/A/.*', '/a', true], // not parsed (bare flags): the conservative answer
  ];
  for (const [src, dir, want] of cases) {
    it(`${src} below ${dir}: ${want}`, () => assert.equal(mayMatchBelow(compilePattern(src), dir), want));
  }
});

describe('traversalOf: where the children of a directory may land', () => {
  const snap = Snapshot.build(7, {
    mounts: [parseMount({ path: '/d', ufsUri: 'file:///srv/d/' })],
    rules: [
      { id: 'latest', order: 10, kind: 'prefix', src: '/d/latest', dst: '/d/v3', exclude: '.*\\.csv', enabled: true },
      { id: 'vx', order: 20, kind: 'regex', src: '^/vx/([^/]+)/(.*)$', dst: '/d/{{ var2 }}', enabled: true },
      { id: 'plain', order: 30, kind: 'prefix', src: '/d/old', dst: '/d/new', enabled: true },
      { id: 'vq', order: 40, kind: 'regex', src: '^/vq/(\\w+)-(.*)$', dst: '/d/{{ var2 }}', enabled: true },
      { id: 'tmp', order: 50, kind: 'regex', src: '^/d/.*\\.tmp$', dst: '/d/trash{{ var0 }}', enabled: true },
    ],
  });
  const res = (p: string) => snap.resolve({ api: 'alluxio', path: p }, { allowUnmounted: true, trace: false });

  it('an exclude that may match below: the excluded children stay where they are', () => {
    const t = traversalOf(snap, res('/d/latest/data'));
    assert.deepEqual(
      t.alternatives.map((a) => a.rewrittenPath),
      ['/d/latest/data'],
    );
    assert.equal(t.byPattern, true, 'the tmp rule may match below it (it adds no directory: see below)');
    assert.equal(t.mixed, true);
    const alt = t.alternatives[0]!;
    assert.equal(childLandsAt(snap, '/d/latest/data', 'x.csv', alt), true);
    assert.equal(childLandsAt(snap, '/d/latest/data', 'y.txt', alt), false, 'y.txt resolves to /d/v3/data/y.txt');
    assert.equal(childLandsAt(snap, '/d/latest/data', 'y.txt', res('/d/latest/data')), true);
  });
  it('a multi-segment regex: a step towards paths it matches, whose children land child-wise in its target', () => {
    const t = traversalOf(snap, res('/vx/any'));
    assert.equal(t.byPattern, true);
    assert.deepEqual(t.alternatives.map((a) => a.rewrittenPath), ['/d']);
    assert.equal(childLandsAt(snap, '/vx/any', 'f.txt', t.alternatives[0]!), true);
    assert.equal(traversalOf(snap, res('/elsewhere')).byPattern, false);
    // Below a path the rule rewrites itself, children follow its own rewrite: nothing else to look at.
    assert.deepEqual(traversalOf(snap, res('/vx/any/sub')).alternatives, []);
  });
  it('a rule that maps children other than child-wise (or a catch-all pattern) makes no directory', () => {
    assert.deepEqual(traversalOf(snap, res('/vq')).alternatives, [], '/vq/abc-f.txt is /d/f.txt: reachable by name only');
    const t = traversalOf(snap, res('/d/new.txt'));
    assert.equal(t.byPattern, true, '/d/new.txt/x.tmp would match the tmp rule');
    assert.deepEqual(t.alternatives, [], 'but /d/new.txt is not made a directory (a create there must work)');
  });
  it('a plain prefix rule: every child goes with the directory, nothing else to look at', () => {
    const t = traversalOf(snap, res('/d/old/x'));
    assert.deepEqual(t.alternatives, []);
    assert.equal(t.mixed, false);
  });
});

const skip = fuseSkipReason();
if (skip) console.log(`# SKIP fuse tests: ${skip}`);

describe('FUSE, REST and resolve agree on per-component lookups and regex virtual directories', { skip }, () => {
  let etcd: TestEtcd;
  let fuse: FuseProcess | undefined;
  let worker: WorkerProcess | undefined;
  let dir: string;
  let d: string;
  let M: string;
  let cli: ReturnType<typeof cliFor>;

  const ok = async (args: string[]) => {
    const r = await cli(args);
    assert.equal(r.code, 0, `alluxio ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  };
  const resolveJson = async (path: string) => (await ok(['resolve', path, '--json'])).json() as { ufsUri: string | null; revision: number };
  const restList = async (uri: string) => {
    const res = await fetch(`${worker!.restUrl}/api/v1/list?${new URLSearchParams({ uri })}`);
    const doc = (await res.json()) as { entries?: { name: string; type: string }[]; error?: { code: string } };
    return { status: res.status, names: (doc.entries ?? []).map((e) => e.name.slice(e.name.lastIndexOf('/') + 1)), doc };
  };
  const restInfo = async (uri: string) => {
    const res = await fetch(`${worker!.restUrl}/api/v1/info?${new URLSearchParams({ uri })}`);
    return { status: res.status, doc: (await res.json()) as { type?: string; error?: { code: string } } };
  };
  const ls = async (p: string) => {
    const r = await run('ls', ['-1A', p]);
    assert.equal(r.code, 0, `ls ${p}: ${r.stderr}`);
    return r.stdout.split('\n').filter((x) => x !== '');
  };

  before(async () => {
    etcd = await startTestEtcd();
    cli = cliFor(etcd.endpoint, 'percomp');
    dir = mkdtempSync(join(tmpdir(), 'alluxio-test-percomp-'));
    d = join(dir, 'd');
    mkdirSync(join(d, 'latest', 'data'), { recursive: true });
    mkdirSync(join(d, 'v3'), { recursive: true });
    writeFileSync(join(d, 'f.txt'), 'f at the top of /d\n');
    writeFileSync(join(d, 'latest', 'data', 'x.csv'), 'x,csv\n1,2\n');
    writeFileSync(join(d, 'latest', 'data', 'y.txt'), 'y is not reachable: /d/latest/data/y.txt is /d/v3/data/y.txt\n');
    writeFileSync(join(d, 'v3', 'model.bin'), 'model v3\n');
    await ok(['mount', 'add', '--path', '/d', '--ufs-uri', `file://${d}/`]);
    // Recognised by the mount table, not served by workers or FUSE: UfsNotSupported.
    await ok(['mount', 'add', '--path', '/h', '--ufs-uri', 'hdfs://namenode:8020/warehouse']);
    await ok(['path-mapping', 'add', '--id', 'latest', '--from', '/d/latest', '--to', '/d/v3', '--exclude', '.*\\.csv']);
    await ok(['path-mapping', 'add', '--id', 'vx', '--src', '^/vx/([^/]+)/(.*)$', '--dst', '/d/{{ var2 }}']);
    await ok(['path-mapping', 'add', '--id', 'tmp', '--src', '^/d/.*\\.tmp$', '--dst', '/d/trash{{ var0 }}']);
    const last = (await ok(['path-mapping', 'add', '--id', 'vq', '--src', '^/vq/(\\w+)-(.*)$', '--dst', '/d/{{ var2 }}', '--json'])).json() as { revision: number };
    [fuse, worker] = await Promise.all([startFuse(etcd.endpoint, { cluster: 'percomp' }), startWorker(etcd.endpoint, { cluster: 'percomp' })]);
    await Promise.all([fuse.waitForRevision(last.revision), worker.waitForRevision(last.revision)]);
    M = fuse.mountpoint;
  });

  after(async () => {
    try {
      await Promise.all([fuse?.cleanup(), worker?.stop()]);
    } finally {
      if (fuse) forceUnmount(fuse.mountpoint);
      await etcd?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a multi-segment regex: cat <fuse>/vx/any/f.txt reads what resolve names', async () => {
    const r = await resolveJson('/vx/any/f.txt');
    assert.equal(r.ufsUri, `file://${d}/f.txt`);
    assert.equal(await readFile(join(M, 'vx', 'any', 'f.txt'), 'utf8'), 'f at the top of /d\n');
    const cat = await run('cat', [join(M, 'vx', 'other-name', 'f.txt')]);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'f at the top of /d\n');
    assert.ok((await stat(join(M, 'vx', 'any'))).isDirectory(), '/vx/any is a step towards /vx/any/f.txt');
    assert.equal((await restInfo('alluxio:///vx/any')).doc.type, 'directory', 'REST info agrees');
    // ... and, like a virtual directory, not removable: EBUSY (it was ENOENT, though stat said directory)
    await assert.rejects(rmdir(join(M, 'vx', 'any')), { code: 'EBUSY' });
    await assert.rejects(rename(join(M, 'vx', 'any'), join(M, 'vx', 'other')), { code: 'EBUSY' }, 'rename agrees with rmdir');
    // A path no rule reaches is still ENOENT.
    await assert.rejects(stat(join(M, 'vy')), { code: 'ENOENT' });
  });

  it('an excluded file under a rewritten directory that does not exist: read in place, listed the same by FUSE and REST', async () => {
    const r = await resolveJson('/d/latest/data/x.csv');
    assert.equal(r.ufsUri, `file://${d}/latest/data/x.csv`);
    assert.equal(await readFile(join(M, 'd', 'latest', 'data', 'x.csv'), 'utf8'), 'x,csv\n1,2\n');
    assert.ok((await stat(join(M, 'd', 'latest', 'data'))).isDirectory());
    // y.txt is listed in the UFS directory, but reading /d/latest/data/y.txt goes to /d/v3/data/y.txt: not listed.
    assert.deepEqual(await ls(join(M, 'd', 'latest', 'data')), ['x.csv']);
    await assert.rejects(stat(join(M, 'd', 'latest', 'data', 'y.txt')), { code: 'ENOENT' });
    const rest = await restList('alluxio:///d/latest/data');
    assert.equal(rest.status, 200, JSON.stringify(rest.doc));
    assert.deepEqual(rest.names, ['x.csv']);
    // /d/latest itself lists /d/v3 (and the data directory its excluded children live in).
    assert.deepEqual(await ls(join(M, 'd', 'latest')), ['data', 'model.bin']);
    assert.deepEqual((await restList('alluxio:///d/latest')).names, ['data', 'model.bin']);
  });

  it('a pattern that could match below a missing path does not make it a directory: creating a file there works', async () => {
    await assert.rejects(stat(join(M, 'd', 'new.txt')), { code: 'ENOENT' });
    await writeFile(join(M, 'd', 'new.txt'), 'created through FUSE\n');
    assert.equal(readFileSync(join(d, 'new.txt'), 'utf8'), 'created through FUSE\n');
    await assert.rejects(stat(join(M, 'vx', 'any', 'missing-dir')), { code: 'ENOENT' }, '/d/missing-dir does not exist');
  });

  it('a file created where an exclude lets it fall through, in a directory the UFS does not have: made, as S3 and REST PUT make it', async () => {
    // /d/alias is /d/v3 (which exists); /d/alias/*.csv falls through to /d/alias/, which does not.
    const added = (await ok(['path-mapping', 'add', '--id', 'alias', '--from', '/d/alias', '--to', '/d/v3', '--exclude', '.*\\.csv', '--json'])).json() as { revision: number };
    await fuse!.waitForRevision(added.revision);
    try {
      assert.ok((await stat(join(M, 'd', 'alias'))).isDirectory());
      await writeFile(join(M, 'd', 'alias', 'new.csv'), 'a,b\n');
      assert.equal(readFileSync(join(d, 'alias', 'new.csv'), 'utf8'), 'a,b\n', 'in the UFS where resolve says');
      assert.equal((await resolveJson('/d/alias/new.csv')).ufsUri, `file://${d}/alias/new.csv`);
      assert.equal(await readFile(join(M, 'd', 'alias', 'new.csv'), 'utf8'), 'a,b\n');
      // a name that is no directory of the view still has no parent to create in
      await assert.rejects(writeFile(join(M, 'd', 'nowhere', 'x.csv'), 'x'), { code: 'ENOENT' });
    } finally {
      const removed = (await ok(['path-mapping', 'remove', '--id', 'alias', '--yes', '--json'])).json() as { revision: number };
      await fuse!.waitForRevision(removed.revision);
      rmSync(join(d, 'alias'), { recursive: true, force: true });
    }
  });

  it('one error table per boundary: an unserved UFS scheme is 501 UfsNotSupported on REST and ENOTSUP in FUSE; a too-long name is NameTooLong', async () => {
    const res = await fetch(`${worker!.restUrl}/api/v1/file?${new URLSearchParams({ uri: 'alluxio:///h/t.csv' })}`);
    assert.equal(res.status, 501);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'UfsNotSupported');
    await assert.rejects(readFile(join(M, 'h', 't.csv')), { code: 'ENOTSUP' });
    const long = await fetch(`${worker!.restUrl}/api/v1/info?${new URLSearchParams({ uri: `alluxio:///d/${'n'.repeat(256)}` })}`);
    assert.equal(long.status, 400);
    assert.equal(((await long.json()) as { error: { code: string } }).error.code, 'NameTooLong');
  });

  it('a top-level virtual directory of a regex rule exists and lists the same through FUSE and REST', async () => {
    assert.ok((await ls(M)).includes('vq'));
    assert.ok((await stat(join(M, 'vq'))).isDirectory());
    assert.deepEqual(await ls(join(M, 'vq')), []);
    const rest = await restList('alluxio:///vq');
    assert.equal(rest.status, 200, JSON.stringify(rest.doc));
    assert.deepEqual(rest.names, []);
    assert.equal((await restInfo('alluxio:///vq')).doc.type, 'directory');
    // Its files are reachable by name, as through S3 and resolve.
    assert.equal((await resolveJson('/vq/abc-f.txt')).ufsUri, `file://${d}/f.txt`);
    assert.equal(await readFile(join(M, 'vq', 'abc-f.txt'), 'utf8'), 'f at the top of /d\n');
    // A name below it that no rule can reach is not a directory.
    await assert.rejects(stat(join(M, 'vq', 'nodash')), { code: 'ENOENT' });
    assert.equal((await restInfo('alluxio:///vq/nodash')).status, 404);
  });
});
