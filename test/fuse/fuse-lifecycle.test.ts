/**
 * The FUSE daemon's life cycle, with real processes and real mounts: SIGTERM unmounts
 * cleanly (exit 0, gone from the mount table, pending writes flushed); `alluxio fuse
 * unmount DIR` stops the daemon; a busy mount is refused without --lazy (exit 3); a daemon
 * killed with SIGKILL leaves a stale mount ("Transport endpoint is not connected") that the
 * next `fuse mount` detects and cleans; --daemon returns once mounted; an unreachable etcd
 * fails the mount with exit 5 and leaves nothing mounted; DIR that is not a FUSE mount is
 * exit 4 for unmount.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliFor, runCli } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { forceUnmount, fuseSkipReason, isMounted, run, startFuse, waitUntil, type FuseProcess } from '../helpers/fuse.js';
import { freePort } from '../../src/local/etcd-server.js';

const skip = fuseSkipReason();
if (skip) console.log(`# SKIP fuse tests: ${skip}`);

describe('alluxio fuse mount / unmount: life cycle', { skip }, () => {
  let etcd: TestEtcd;
  let dir: string;
  let data: string;
  const cluster = 'fuselife';
  let cli: ReturnType<typeof cliFor>;
  const daemons: FuseProcess[] = [];
  const mountpoints: string[] = [];

  before(async () => {
    etcd = await startTestEtcd();
    cli = cliFor(etcd.endpoint, cluster);
    dir = mkdtempSync(join(tmpdir(), 'alluxio-test-fuselife-'));
    data = join(dir, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'hello.txt'), 'hello\n');
    const r = await cli(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${data}/`]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    try {
      for (const d of daemons) await d.cleanup().catch(() => undefined);
    } finally {
      for (const m of mountpoints) forceUnmount(m);
      await etcd?.destroy();
      if (dir && !mountpoints.some(isMounted)) rmSync(dir, { recursive: true, force: true });
    }
  });

  const start = async () => {
    const f = await startFuse(etcd.endpoint, { cluster });
    daemons.push(f);
    mountpoints.push(f.mountpoint);
    return f;
  };

  it('--allow-other: other users may read what the modes let them, and change nothing (the kernel checks the modes)', async () => {
    // (before, with no default_permissions, any local user could write, truncate and delete
    // through the mount, though stat showed everything owned by the daemon's user, 0644)
    const f = await startFuse(etcd.endpoint, { cluster, extraArgs: ['--allow-other'] });
    daemons.push(f);
    mountpoints.push(f.mountpoint);
    // (the test's temp directories are 0700: let others reach the mount point)
    chmodSync(join(f.mountpoint, '..'), 0o711);
    const file = join(f.mountpoint, 'data', 'hello.txt');
    const asNobody = (cmd: string) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', cmd]);
    const read = await asNobody(`cat '${file}'`);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, 'hello\n');
    for (const cmd of [`echo x > '${file}'`, `truncate -s 0 '${file}'`, `rm -f '${file}'`, `touch '${join(f.mountpoint, 'data', 'new.txt')}'`, `mkdir '${join(f.mountpoint, 'data', 'newdir')}'`]) {
      const r = await asNobody(cmd);
      assert.notEqual(r.code, 0, `${cmd} was refused`);
      assert.match(r.stderr, /Permission denied/, cmd);
    }
    assert.equal(readFileSync(join(data, 'hello.txt'), 'utf8'), 'hello\n', 'unchanged in the UFS');
    assert.deepEqual(readdirSync(data).sort(), ['hello.txt']);
    // the daemon's own user (root here) writes as before
    writeFileSync(join(f.mountpoint, 'data', 'by-owner.txt'), 'mine');
    assert.equal(readFileSync(join(data, 'by-owner.txt'), 'utf8'), 'mine');
    rmSync(join(f.mountpoint, 'data', 'by-owner.txt'));
    assert.equal(await f.stop(), 0, f.log());
    // --umask 000: the operator lets every local user write (0666 files, 0777 directories)
    const open = await startFuse(etcd.endpoint, { cluster, extraArgs: ['--allow-other', '--umask', '000'] });
    daemons.push(open);
    mountpoints.push(open.mountpoint);
    chmodSync(join(open.mountpoint, '..'), 0o711);
    const w = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sh', '-c', `echo shared > '${join(open.mountpoint, 'data', 'by-nobody.txt')}' && stat -c %a '${join(open.mountpoint, 'data', 'by-nobody.txt')}'`]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), '666');
    assert.equal(readFileSync(join(data, 'by-nobody.txt'), 'utf8'), 'shared\n');
    rmSync(join(data, 'by-nobody.txt'));
    assert.equal(await open.stop(), 0, open.log());
    const bad = await runCli(['fuse', 'mount', join(dir, 'never'), '--umask', '999'], { env: { ALLUXIO_ETCD_ENDPOINTS: etcd.endpoint, ALLUXIO_CLUSTER: cluster } });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--umask "999" must be octal/);
  });

  it('SIGTERM unmounts cleanly and flushes a file still being written', async () => {
    const f = await start();
    const file = join(f.mountpoint, 'data', 'open-at-exit.txt');
    // A writer that keeps the file open until told (a line on stdin), after the daemon got SIGTERM.
    const writer = spawn('/usr/bin/python3', ['-c', 'import sys\nf=open(sys.argv[1],"w"); f.write("written before SIGTERM\\n"); f.flush(); print("ready", flush=True); sys.stdin.readline(); f.close()', file], { stdio: ['pipe', 'pipe', 'pipe'] });
    const writerExit = new Promise<number | null>((r) => writer.once('exit', (c) => r(c)));
    await Promise.race([
      new Promise<void>((resolve) => writer.stdout.once('data', () => resolve())),
      writerExit.then((c) => {
        throw new Error(`writer exited early (${c})`);
      }),
    ]);
    const stopped = f.stop();
    await waitUntil('the daemon to begin stopping', () => /fuse: stopping/.test(f.log()));
    writer.stdin.end('close\n');
    const code = await stopped;
    assert.equal(code, 0, f.log());
    assert.ok(!isMounted(f.mountpoint), 'gone from the mount table');
    assert.equal(await writerExit, 0, 'the writer closed its file without an error');
    assert.equal(readFileSync(join(data, 'open-at-exit.txt'), 'utf8'), 'written before SIGTERM\n', 'the pending write reached the UFS');
    assert.match(f.log(), /fuse: unmounted/);
  });

  it('`alluxio fuse unmount DIR` stops the daemon; a busy mount needs --lazy (exit 3); not a mount is exit 4', async () => {
    const f = await start();
    // Busy: a process holds a file open.
    const holder = spawn('sleep', ['30'], { cwd: join(f.mountpoint, 'data'), stdio: 'ignore' });
    const holderExit = new Promise((r) => holder.once('exit', r));
    try {
      await waitUntil('the holder to start', () => holder.pid !== undefined);
      const busy = await cli(['fuse', 'unmount', f.mountpoint, '--json']);
      assert.equal(busy.code, 3, busy.stdout + busy.stderr);
      assert.equal(busy.json().error.code, 'InvalidState');
      assert.match(busy.json().error.message, /busy.*--lazy/);
      assert.ok(isMounted(f.mountpoint));
    } finally {
      holder.kill('SIGKILL');
      await holderExit;
    }
    const r = await cli(['fuse', 'unmount', f.mountpoint, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json(), { mountpoint: f.mountpoint, unmounted: true, stale: false, lazy: false });
    assert.ok(!isMounted(f.mountpoint));
    const code = await Promise.race([f.exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
    assert.equal(code, 0, `the daemon exits on its own after the unmount:\n${f.log()}`);

    const again = await cli(['fuse', 'unmount', f.mountpoint]);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /is not a FUSE mount/);
  });

  it('a daemon killed with SIGKILL leaves a stale mount; the next mount detects and cleans it', async () => {
    const f = await start();
    assert.equal((await run('cat', [join(f.mountpoint, 'data', 'hello.txt')])).stdout, 'hello\n');
    await f.kill9();
    assert.ok(isMounted(f.mountpoint), 'the kernel keeps the dead mount');
    await assert.rejects(stat(f.mountpoint), (e: NodeJS.ErrnoException) => e.code === 'ENOTCONN');

    const g = await startFuse(etcd.endpoint, { cluster, mountpoint: f.mountpoint });
    daemons.push(g);
    assert.match(g.log(), /stale FUSE mount.*Transport endpoint is not connected.*cleaning/);
    assert.equal((await run('cat', [join(g.mountpoint, 'data', 'hello.txt')])).stdout, 'hello\n');
    assert.equal(await g.stop(), 0);
    assert.ok(!isMounted(g.mountpoint));
  });

  it('mounting over a live mount is refused (exit 3) and leaves it alone', async () => {
    const f = await start();
    const r = await cli(['fuse', 'mount', f.mountpoint, '--json']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.json().error.message, /already a FUSE mount/);
    assert.equal((await run('cat', [join(f.mountpoint, 'data', 'hello.txt')])).stdout, 'hello\n');
    assert.equal(await f.stop(), 0);
  });

  it('--daemon returns once mounted, with the pid and the log file; unmount stops it', async () => {
    const mp = join(dir, 'bg-mnt');
    mountpoints.push(mp);
    const logFile = join(dir, 'bg.log');
    const r = await cli(['fuse', 'mount', mp, '--daemon', '--log-file', logFile, '--json'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const doc = r.json();
    assert.equal(doc.mountpoint, mp);
    assert.equal(typeof doc.pid, 'number');
    assert.equal(doc.logFile, logFile);
    assert.ok(isMounted(mp), 'mounted when the command returns');
    assert.equal((await run('cat', [join(mp, 'data', 'hello.txt')])).stdout, 'hello\n');
    const u = await cli(['fuse', 'unmount', mp]);
    assert.equal(u.code, 0, u.stderr);
    await waitUntil('the background daemon to exit', () => {
      try {
        process.kill(doc.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 15_000);
    assert.match(readFileSync(logFile, 'utf8'), /fuse: unmounted/);
  });

  it('an unreachable etcd fails the mount with exit 5 and leaves nothing mounted', async () => {
    const mp = join(dir, 'no-etcd');
    mountpoints.push(mp);
    const port = await freePort();
    const r = await runCli(['fuse', 'mount', mp, '--ready-timeout', '2s', '--etcd-timeout', '1s', '--json'], {
      env: { ALLUXIO_ETCD_ENDPOINTS: `http://127.0.0.1:${port}`, ALLUXIO_CLUSTER: cluster },
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.equal(r.json().error.code, 'EtcdUnavailable');
    assert.ok(!isMounted(mp));
    // the same with --daemon: the daemon's error and exit status, not InvalidState (3)
    const bg = await runCli(['fuse', 'mount', mp, '--daemon', '--log-file', join(dir, 'no-etcd.log'), '--ready-timeout', '2s', '--etcd-timeout', '1s', '--json'], {
      env: { ALLUXIO_ETCD_ENDPOINTS: `http://127.0.0.1:${port}`, ALLUXIO_CLUSTER: cluster },
      timeoutMs: 30_000,
    });
    assert.equal(bg.code, 5, bg.stdout + bg.stderr);
    assert.equal(bg.json().error.code, 'EtcdUnavailable');
    assert.match(bg.json().error.message, /no-etcd\.log/, 'names the log');
    assert.match(readFileSync(join(dir, 'no-etcd.log'), 'utf8'), /could not load the configuration from etcd/, 'the daemon logged its error before it went');
    assert.ok(!isMounted(mp));
  });
});
