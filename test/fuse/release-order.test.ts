/**
 * FUSE requests that race a release. libfuse runs requests on several threads, so the
 * RELEASE the kernel queued at close(2) can reach the daemon after a SETATTR (truncate by
 * name) that the application issued later. CI lost a truncate that way on 2026-12-03: the
 * release saw a clean handle, skipped its upload, and dropped the spool the truncate had
 * just shrunk. These tests drive FuseOps directly (a real file:// UFS, the real DataPath;
 * no kernel) in each order, so the interleaving is not left to chance.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataPath } from '../../src/frontends/common/data-path.js';
import { WriteHandle } from '../../src/frontends/fuse/handles.js';
import { FuseOps } from '../../src/frontends/fuse/ops.js';
import { fileBackend, Harness, mountOf } from '../cache/harness.js';

const ROOT = '/mnt/alluxio-test';

describe('FUSE: a release racing a truncate by name or another descriptor', () => {
  const ufs = fileBackend();
  let h: Harness;
  let ops: FuseOps;
  let dir = '';

  before(async () => {
    await ufs.start();
    const root = ufs.root('d');
    dir = root.uri.slice('file://'.length);
    h = new Harness([mountOf('/d', root)], undefined);
    ops = new FuseOps(h.ctx, { fuseRoot: ROOT, attrCacheMs: 0 });
  });

  after(async () => {
    await ops.close();
    await h.close();
    await ufs.stop();
  });

  /** create, write `bytes`, flush (close(2) uploads): the descriptor awaits its release. */
  async function closedButNotReleased(name: string, bytes: string): Promise<number> {
    const fd = await ops.create(`/d/${name}`);
    const buf = Buffer.from(bytes);
    assert.equal(await ops.write(fd, buf, buf.length, 0), buf.length);
    await ops.flush(fd);
    assert.equal(readFileSync(join(dir, name), 'utf8'), bytes, 'close(2) uploaded');
    return fd;
  }

  /**
   * Hold the writer of `fd` (its operations wait behind one of the test's), and learn when a
   * spool truncate has been queued on it: the release can then be sent at exactly that point.
   */
  function holdWriter(fd: number): { held: Promise<void>; open: () => void; truncateQueued: Promise<void> } {
    const w = ops.handles.get(fd) as WriteHandle;
    let release!: () => void; // (set once the held operation runs: after a turn)
    const held = w.exclusive(() => new Promise<void>((r) => (release = r)));
    let queued!: () => void;
    const truncateQueued = new Promise<void>((r) => (queued = r));
    const spoolTruncate = w.truncate.bind(w);
    w.truncate = (size: number) => {
      const p = spoolTruncate(size);
      queued();
      return p;
    };
    return { held, open: () => release(), truncateQueued };
  }

  it('truncate reaching the daemon before the release: the truncated bytes land', async () => {
    const fd = await closedButNotReleased('t-first', '0123456789');
    // Pin the interleaving of the CI failure: the truncate has found the open writer and
    // queued its spool truncate (held behind another operation of the handle) when the
    // release arrives.
    const { held, open, truncateQueued } = holdWriter(fd);
    const truncating = ops.truncate('/d/t-first', 4);
    await truncateQueued;
    const releasing = ops.release(fd);
    open();
    await Promise.all([held, truncating, releasing]);
    assert.equal(readFileSync(join(dir, 't-first'), 'utf8'), '0123');
    assert.equal(ops.handles.size, 0);
  });

  it('release reaching the daemon first: the truncate waits for it, then lands', async () => {
    const fd = await closedButNotReleased('r-first', '0123456789');
    const releasing = ops.release(fd);
    const truncating = ops.truncate('/d/r-first', 4);
    await Promise.all([truncating, releasing]);
    assert.equal(readFileSync(join(dir, 'r-first'), 'utf8'), '0123');
  });

  /**
   * The file truncated by name while its writer was still open (the CI case above), then the
   * release's last upload held as a slow UFS write holds it: returns the fd and a function
   * that lets the upload go.
   */
  async function truncatedThenReleasing(name: string): Promise<{ releasing: Promise<void>; go: () => void }> {
    const fd = await closedButNotReleased(name, '0123456789');
    await ops.truncate(`/d/${name}`, 4); // (found the open writer: its spool is 4 bytes)
    const w = ops.handles.get(fd) as WriteHandle;
    let go!: () => void;
    await new Promise<void>((holding) => {
      void w.exclusive(
        () =>
          new Promise<void>((r) => {
            go = r;
            holding();
          }),
      );
    });
    const releasing = ops.release(fd);
    return { releasing, go };
  }

  /**
   * Starts `op` and resolves once it answered or waits for a release of a writer
   * (HandleTable.settled): as far as it goes while the release's upload is held.
   */
  async function asFarAsItGoes<T>(op: () => Promise<T>): Promise<{ p: Promise<T> }> {
    const settled = ops.handles.settled.bind(ops.handles);
    let waiting!: () => void;
    const waits = new Promise<void>((r) => (waiting = r));
    ops.handles.settled = (uri: string, below?: boolean) => {
      waiting();
      return settled(uri, below);
    };
    try {
      const p = op();
      await Promise.race([p.catch(() => undefined), waits]);
      return { p };
    } finally {
      ops.handles.settled = settled;
    }
  }

  it('stat during the release of a file truncated by name: the truncated size, not the version before', async () => {
    const { releasing, go } = await truncatedThenReleasing('g-size');
    const { p: attr } = await asFarAsItGoes(() => ops.getattr('/d/g-size'));
    go();
    await releasing;
    assert.equal((await attr).size, 4, 'truncate(2) returned: a stat after it does not show the old size');
    assert.equal(readFileSync(join(dir, 'g-size'), 'utf8'), '0123');
  });

  it('open for reading during the release of a file truncated by name: reads the truncated bytes', async () => {
    const { releasing, go } = await truncatedThenReleasing('g-read');
    const { p: opening } = await asFarAsItGoes(() => ops.open('/d/g-read', 0 /* O_RDONLY */));
    go();
    await releasing;
    const fd = await opening;
    try {
      const buf = Buffer.alloc(16);
      const n = await ops.read(fd, buf, 16, 0, '/d/g-read');
      assert.equal(buf.subarray(0, n).toString(), '0123');
    } finally {
      await ops.release(fd);
    }
    assert.equal(ops.handles.size, 0);
  });

  it('an O_TRUNC open sharing the writer whose release comes during its truncate: a descriptor that writes', async () => {
    const fd = await closedButNotReleased('o-trunc', '0123456789');
    // The open has found the writer still open and queued its truncate (held behind another
    // operation of the handle) when the release of that writer's last descriptor arrives.
    const { held, open, truncateQueued } = holdWriter(fd);
    const opening = ops.open('/d/o-trunc', 1 /* O_WRONLY */ | 0o1000 /* O_TRUNC */);
    await truncateQueued;
    const releasing = ops.release(fd);
    open();
    await Promise.all([held, releasing]);
    const fd2 = await opening;
    assert.equal(await ops.write(fd2, Buffer.from('new'), 3, 0), 3);
    await ops.flush(fd2);
    await ops.release(fd2);
    assert.equal(readFileSync(join(dir, 'o-trunc'), 'utf8'), 'new');
    assert.equal(ops.handles.size, 0);
    assert.equal((await ops.getattr('/d/o-trunc')).size, 3, 'no closed writer left behind the name');
  });

  it('a stat answered from the UFS as a truncate lands: not kept for the stats after the truncate', async () => {
    // With the attribute cache on (the daemon keeps a stat 1 s by default).
    const cached = new FuseOps(h.ctx, { fuseRoot: ROOT, attrCacheMs: 60_000 });
    try {
      const fd = await cached.create('/d/c-stale');
      await cached.write(fd, Buffer.from('0123456789'), 10, 0);
      await cached.flush(fd);
      await cached.release(fd);
      // Another process stats the file; its UFS stat answers the version before the truncate,
      // late, after the truncate by name (its upload dropped the caches) returned.
      const dp = (cached as unknown as { dp: DataPath }).dp;
      const stat = dp.stat.bind(dp);
      let late!: () => void;
      const lateGate = new Promise<void>((r) => (late = r));
      let asked!: () => void;
      const statAsked = new Promise<void>((r) => (asked = r));
      let first = true;
      dp.stat = async (...args: Parameters<DataPath['stat']>) => {
        const held = first;
        first = false;
        const e = await stat(...args);
        if (held) {
          asked();
          await lateGate;
        }
        return e;
      };
      const concurrent = cached.getattr('/d/c-stale');
      await statAsked;
      await cached.truncate('/d/c-stale', 4);
      late();
      await concurrent; // (either size: it ran alongside the truncate)
      dp.stat = stat;
      assert.equal((await cached.getattr('/d/c-stale')).size, 4, 'a stat after truncate(2) returned');
    } finally {
      await cached.close();
    }
  });

  it('a second descriptor of the file released while the first truncates it: both bytes land', async () => {
    const a = await ops.create('/d/two');
    await ops.write(a, Buffer.from('0123456789'), 10, 0);
    const b = await ops.open('/d/two', 1 /* O_WRONLY */);
    await ops.flush(a);
    const truncating = ops.ftruncate(a, 6);
    const releasing = ops.release(b);
    await Promise.all([truncating, releasing]);
    await ops.flush(a);
    await ops.release(a);
    assert.equal(readFileSync(join(dir, 'two'), 'utf8'), '012345');
  });
});
