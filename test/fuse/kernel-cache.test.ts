/**
 * `fuse mount --kernel-cache` (libfuse auto_cache; docs/fuse.md "Kernel page cache"): a warm
 * re-read of an unchanged file is served by the kernel without reaching the daemon (its read
 * bytes, /proc/<pid>/io, do not move), and a file changed in size or mtime is read anew on
 * the next open. Without the flag every read reaches the daemon.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliFor } from '../helpers/cli.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { fuseSkipReason, startFuse, type FuseProcess } from '../helpers/fuse.js';
import { until } from '../helpers/poll.js';
import { bytesRead } from '../helpers/proc-stats.js';
import { pattern } from '../cache/harness.js';

const skip = fuseSkipReason();
if (skip) console.log(`# SKIP fuse tests: ${skip}`);
const SIZE = 8 << 20;

describe('fuse mount --kernel-cache', { skip }, () => {
  let etcd: TestEtcd;
  let dir: string;
  const mounts: FuseProcess[] = [];
  const cluster = `kc${process.pid}`;

  before(async () => {
    etcd = await startTestEtcd();
    dir = mkdtempSync(join(tmpdir(), 'kernel-cache-'));
    writeFileSync(join(dir, 'a.bin'), pattern(SIZE, 1));
    writeFileSync(join(dir, 'b.bin'), pattern(SIZE, 2));
    const r = await cliFor(etcd.endpoint, cluster)(['mount', 'add', '--path', '/data', '--ufs-uri', `file://${dir}`]);
    assert.equal(r.code, 0, r.stderr);
    mounts.push(await startFuse(etcd.endpoint, { cluster, extraArgs: ['--kernel-cache'] }));
    mounts.push(await startFuse(etcd.endpoint, { cluster }));
  });
  after(async () => {
    for (const m of mounts) await m.cleanup();
    await etcd?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a warm re-read never reaches the daemon; a change of size or mtime is seen on the next open', async () => {
    const [cached] = mounts as [FuseProcess];
    const file = join(cached.mountpoint, 'data', 'a.bin');
    assert.ok((await readFile(file)).equals(pattern(SIZE, 1)));
    const warm0 = bytesRead(cached.pid);
    for (let i = 0; i < 3; i++) assert.ok((await readFile(file)).equals(pattern(SIZE, 1)));
    assert.ok(bytesRead(cached.pid) - warm0 < SIZE / 4, `the daemon read ${bytesRead(cached.pid) - warm0} bytes for 3 warm reads of ${SIZE}`);

    // Same size, another mtime: read anew.
    writeFileSync(join(dir, 'a.bin'), pattern(SIZE, 3));
    utimesSync(join(dir, 'a.bin'), new Date(), new Date(Date.now() + 5000));
    // (the daemon's own attribute cache, --attr-cache 1s, may answer the first stat: poll)
    await until('the new content through the kernel-cached mount', async () => (await readFile(file)).equals(pattern(SIZE, 3)), 20_000);
    // Another size: read anew.
    writeFileSync(join(dir, 'a.bin'), pattern(SIZE - 1, 4));
    await until('the resized content', async () => (await readFile(file)).equals(pattern(SIZE - 1, 4)), 20_000);
  });

  it('without --kernel-cache every read reaches the daemon', async () => {
    const plain = mounts[1]!;
    const file = join(plain.mountpoint, 'data', 'b.bin');
    assert.ok((await readFile(file)).equals(pattern(SIZE, 2)));
    const warm0 = bytesRead(plain.pid);
    assert.ok((await readFile(file)).equals(pattern(SIZE, 2)));
    assert.ok(bytesRead(plain.pid) - warm0 >= SIZE, 'the second read went through the daemon');
  });
});
