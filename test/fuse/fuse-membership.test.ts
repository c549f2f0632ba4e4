/**
 * The FUSE daemon as a member of the cluster, and write handles across a mode change:
 *
 * - the daemon registers a leased record (kind "fuse", `--id`): `worker list --json` shows
 *   it under `clients` (not under `workers`), `--wait` counts it, and a `--wait` while the
 *   daemon is paused (SIGSTOP: it cannot apply the change) times out naming it;
 * - a file opened for writing before its mount became read-only (python open('w'), write,
 *   then `mount update --readonly`) fails at close with EROFS and nothing reaches the UFS;
 *   one opened before its mount was repointed to another directory fails with ESTALE.
 *
 * Real etcd, the daemon as its own process (bin/run.js), real python3 on the real mount.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliFor } from '../helpers/cli.js';
import { etcdctl } from '../helpers/etcdctl.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { forceUnmount, fuseSkipReason, py, startFuse, waitUntil, type FuseProcess } from '../helpers/fuse.js';

const skip = fuseSkipReason();
if (skip) console.log(`# SKIP fuse tests: ${skip}`);

/** Opens argv[1] for writing, writes, signals argv[2], waits for argv[3], closes; prints the outcome. */
const WRITER = `
import errno, os, sys, time
target, opened, go = sys.argv[1:4]
f = open(target, 'w')
f.write('written through a handle opened while writable\\n' * 1000)
f.flush()  # into the daemon's spool (FUSE write), not yet uploaded
open(opened, 'w').close()
deadline = time.time() + 30
while not os.path.exists(go):
    if time.time() > deadline:
        print('NOGO'); sys.exit(3)
    time.sleep(0.02)
try:
    f.close()
    print('CLOSED_OK')
except OSError as e:
    print('ERR', errno.errorcode.get(e.errno, e.errno))
`;

describe('FUSE daemon membership and write handles across a mode change', { skip }, () => {
  let etcd: TestEtcd;
  let fuse: FuseProcess | undefined;
  let dir: string;
  let cli: ReturnType<typeof cliFor>;
  const cluster = 'fusemember';
  const ID = 'fuse-test-member';

  const ok = async (args: string[]) => {
    const r = await cli(args);
    assert.equal(r.code, 0, `alluxio ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  };

  before(async () => {
    etcd = await startTestEtcd();
    cli = cliFor(etcd.endpoint, cluster);
    dir = mkdtempSync(join(tmpdir(), 'alluxio-test-fusemember-'));
    for (const d of ['a', 'b', 'b2', 'c']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'a', 'keep.txt'), 'original a\n');
    writeFileSync(join(dir, 'b', 'keep.txt'), 'original b\n');
    await ok(['mount', 'add', '--path', '/a', '--ufs-uri', `file://${join(dir, 'a')}/`]);
    await ok(['mount', 'add', '--path', '/b', '--ufs-uri', `file://${join(dir, 'b')}/`]);
    await ok(['mount', 'add', '--path', '/c', '--ufs-uri', `file://${join(dir, 'c')}/`]);
    fuse = await startFuse(etcd.endpoint, { cluster, extraArgs: ['--id', ID] });
  });

  after(async () => {
    try {
      if (fuse?.process.exitCode === null) fuse.process.kill('SIGCONT');
      await fuse?.cleanup();
    } finally {
      if (fuse) forceUnmount(fuse.mountpoint);
      await etcd?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is listed as a FUSE client, counted by --wait, and named as the laggard while paused', async () => {
    const list = (await ok(['worker', 'list', '--json'])).json() as {
      workers: { id: string }[];
      clients: { id: string; kind: string; mountpoint: string; appliedRevision: number; pid: number }[];
    };
    assert.deepEqual(list.workers, [], 'a FUSE daemon is not a worker');
    assert.equal(list.clients.length, 1, JSON.stringify(list));
    const me = list.clients[0]!;
    assert.equal(me.id, ID);
    assert.equal(me.kind, 'fuse');
    assert.equal(me.mountpoint, fuse!.mountpoint);
    assert.equal(me.pid, fuse!.pid);

    const waited = (await ok(['mount', 'update', '--path', '/c', '--readonly', '--wait', '--wait-timeout', '20s', '--json'])).json() as {
      revision: number;
      wait: { workers: number; clients: number };
    };
    assert.equal(waited.wait.clients, 1);
    assert.equal(waited.wait.workers, 0);
    const after1 = (await ok(['worker', 'list', '--json'])).json() as { clients: { appliedRevision: number }[] };
    assert.ok(after1.clients[0]!.appliedRevision >= waited.revision);

    // Paused, the daemon cannot apply the next change: --wait must not succeed without it.
    fuse!.process.kill('SIGSTOP');
    let r;
    try {
      r = await cli(['mount', 'update', '--path', '/c', '--no-readonly', '--wait', '--wait-timeout', '1500ms']);
    } finally {
      fuse!.process.kill('SIGCONT');
    }
    assert.equal(r.code, 5, `expected WaitTimeout (exit 5): ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`FUSE client ${ID} \\(at revision ${waited.revision}`), r.stderr);
    // Resumed, it catches up and --wait succeeds again.
    await ok(['mount', 'update', '--path', '/c', '--readonly', '--wait', '--wait-timeout', '20s']);
  });

  it('its record deleted by hand while its lease lives is written again (its watch of the record; the renewals alone never would)', async () => {
    const key = `/alluxio/${cluster}/clients/${ID}`;
    etcdctl(etcd.endpoint, 'del', key);
    await waitUntil('the record written again', () => etcdctl(etcd.endpoint, 'get', key, '--print-value-only').trim() !== '', 30_000);
    await waitUntil('the daemon saying so', () => /FUSE client record was deleted while its lease lived; written again/.test(fuse!.log()), 30_000);
    const list = (await ok(['worker', 'list', '--json'])).json() as { clients: { id: string }[] };
    assert.deepEqual(list.clients.map((c) => c.id), [ID]);
  });

  const writeAcrossChange = async (file: string, change: string[]): Promise<string> => {
    const opened = join(dir, `opened-${Math.random()}`);
    const go = join(dir, `go-${Math.random()}`);
    const writer = py(WRITER, [join(fuse!.mountpoint, file), opened, go], 60_000);
    try {
      await waitUntil('the writer to open and write', () => existsSync(opened), 30_000);
      const rev = (await ok([...change, '--json'])).json() as { revision: number };
      await fuse!.waitForRevision(rev.revision);
    } finally {
      writeFileSync(go, '');
    }
    const out = await writer;
    assert.equal(out.code, 0, out.stderr);
    return out.stdout.trim();
  };

  it('a file opened for writing before its mount became read-only fails at close with EROFS', async () => {
    const res = await writeAcrossChange('a/keep.txt', ['mount', 'update', '--path', '/a', '--readonly']);
    assert.equal(res, 'ERR EROFS');
    assert.equal(readFileSync(join(dir, 'a', 'keep.txt'), 'utf8'), 'original a\n', 'nothing written after the mount became read-only');
    // Writable again: the same write goes through.
    await ok(['mount', 'update', '--path', '/a', '--no-readonly', '--wait']);
    const again = await writeAcrossChange('a/keep.txt', ['mount', 'update', '--path', '/c', '--no-readonly']);
    assert.equal(again, 'CLOSED_OK');
    assert.match(readFileSync(join(dir, 'a', 'keep.txt'), 'utf8'), /^written through a handle/);
  });

  it('a file opened for writing before its mount was repointed fails at close with ESTALE', async () => {
    const res = await writeAcrossChange('b/new.txt', ['mount', 'update', '--path', '/b', '--ufs-uri', `file://${join(dir, 'b2')}/`]);
    assert.equal(res, 'ERR ESTALE');
    assert.ok(!existsSync(join(dir, 'b', 'new.txt')), 'nothing written to the old directory');
    assert.deepEqual(readdirSync(join(dir, 'b2')), [], 'nor to the new one');
  });
});
