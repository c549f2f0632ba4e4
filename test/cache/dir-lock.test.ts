/**
 * One worker per cache directory (src/cache/dir-lock.ts), and the restart scan's clean-up,
 * with real processes and a real directory: a live process's lock refuses a second store
 * before it touches anything; a dead one's is taken over; the scan removes what is not a
 * page (junk files, empty shards) and does not count pages of another page size as corrupt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PageStore } from '../../src/cache/page-store.js';
import { LOCK_FILE } from '../../src/cache/dir-lock.js';
import { until } from '../helpers/poll.js';

const ROOT = 'alluxio-pages-v2';

test('a cache directory whose lock a live process holds is refused; a dead owner\'s lock is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-lock-'));
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    mkdirSync(join(dir, ROOT), { recursive: true });
    writeFileSync(join(dir, ROOT, LOCK_FILE), `${other.pid}\n`);
    const victim = join(dir, ROOT, 'ab');
    mkdirSync(victim);
    writeFileSync(join(victim, 'not-a-page'), 'x'); // what a scan would delete
    await assert.rejects(PageStore.open({ dir, capacityBytes: 1 << 20, pageSize: 4096 }), (e: Error & { code?: string }) => e.code === 'InvalidState' && /another worker \(pid \d+ on /.test(e.message));
    assert.ok(existsSync(join(victim, 'not-a-page')), 'refused before the scan touched anything');
    const exited = new Promise((r) => other.once('exit', r));
    other.kill('SIGKILL');
    await exited;
    const s = await PageStore.open({ dir, capacityBytes: 1 << 20, pageSize: 4096 });
    assert.match(readdirSync(join(dir, ROOT)).join(' '), new RegExp(LOCK_FILE));
    await s.close();
    assert.ok(!existsSync(join(dir, ROOT, LOCK_FILE)), 'released at close');
  } finally {
    other.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock of another host (a container, a shared file system) is judged by its heartbeat; a lock appears whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-lock-host-'));
  try {
    mkdirSync(join(dir, ROOT), { recursive: true });
    const lock = join(dir, ROOT, LOCK_FILE);
    // our own pid, another token, another host: not ours (two containers' pid 1)
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: 'elsewhere', token: 'theirs' }));
    await assert.rejects(PageStore.open({ dir, capacityBytes: 1 << 20, pageSize: 4096 }), /another worker \(pid \d+ on elsewhere\)/);
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, old, old); // not touched for 10 minutes: its owner is gone
    const s = await PageStore.open({ dir, capacityBytes: 1 << 20, pageSize: 4096 });
    try {
      const held = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number; host: string; token: string };
      assert.equal(held.pid, process.pid);
      assert.notEqual(held.token, 'theirs');
      assert.deepEqual(readdirSync(join(dir, ROOT)).filter((n) => n.startsWith(LOCK_FILE)), [LOCK_FILE], 'no aside or stale copies left');
    } finally {
      await s.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the restart scan removes junk and empty shards, and pages of another page size are not corrupt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cache-scan-'));
  try {
    const a = await PageStore.open({ dir, capacityBytes: 1 << 20, pageSize: 4096 });
    const ref = { uri: 'file:///x/y', version: 'v1', size: 3 * 4096 };
    for (let i = 0; i < 3; i++) await a.put(ref, i, Buffer.alloc(4096, i));
    await a.close();
    writeFileSync(join(dir, ROOT, 'junk.txt'), 'junk');
    mkdirSync(join(dir, ROOT, 'ff'));
    const b = await PageStore.open({ dir, capacityBytes: 1 << 20, pageSize: 8192 });
    try {
      assert.equal(b.counters.corruptPages, 0, 'pages of another page size are not corrupt');
      assert.equal(b.stats().pages, 0);
      const left = readdirSync(join(dir, ROOT));
      assert.ok(!left.includes('junk.txt'), `junk removed (${left.join(' ')})`);
      assert.ok(!left.includes('ff'), 'the empty shard removed');
    } finally {
      await b.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock removed while the store runs is put back (a wipe of the directory by hand); another owner\'s lock in its place is reported', async () => {
  // (until 2026-12-03 the heartbeat only touched the lock: after `rm -rf` of the pages a
  // second worker started on the same directory)
  const dir = mkdtempSync(join(tmpdir(), 'cache-lock-wipe-'));
  const lost: string[] = [];
  const s = await PageStore.open({ dir, capacityBytes: 1 << 20, pageSize: 4096, lockHeartbeatMs: 100, log: { warn: (_o, msg) => lost.push(msg), info: () => undefined } });
  try {
    rmSync(join(dir, ROOT), { recursive: true, force: true });
    await until('the lock put back', () => existsSync(join(dir, ROOT, LOCK_FILE)));
    // ours again (the pid a second worker is refused by: the first test)
    assert.equal(JSON.parse(readFileSync(join(dir, ROOT, LOCK_FILE), 'utf8')).pid, process.pid);
    // another owner's lock in its place: reported
    writeFileSync(join(dir, ROOT, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', token: 'theirs' }));
    await until('the other owner reported', () => lost.some((m) => /another worker \(pid 1 on elsewhere\) holds the lock .* two workers share it/.test(m)));
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
