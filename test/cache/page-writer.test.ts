/**
 * src/cache/page-writer.ts and its thread, on real files: operations land in the order they
 * were asked for; a failed write is reported to its caller and leaves no file; a thread that
 * dies fails what it had not answered, and the next operation starts a new one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PageWriter } from '../../src/cache/page-writer.js';
import { until } from '../helpers/poll.js';

/**
 * Run `fn` with a writer over a fresh directory (`pages` exists, the spares go beside it),
 * its thread running `threadSource` when given (an ES module written to the directory)
 * instead of the real one; the writer is closed and the directory removed after.
 */
async function withWriter(o: { maxSpares?: number; threadSource?: string }, fn: (w: PageWriter, pages: string, spareDir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'page-writer-'));
  const pages = join(dir, 'pages');
  const spareDir = join(dir, 'spare');
  mkdirSync(pages);
  let script: URL | undefined;
  if (o.threadSource !== undefined) {
    writeFileSync(join(dir, 'thread.mjs'), o.threadSource);
    script = pathToFileURL(join(dir, 'thread.mjs'));
  }
  const w = new PageWriter({ spareDir, maxSpares: o.maxSpares ?? 10, ...(script ? { script } : {}) });
  try {
    await fn(w, pages, spareDir);
  } finally {
    await w.close(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The real thread, exiting when asked to write a path containing "crash" (its message listener is wrapped as it registers it: the port starts with that listener). */
const CRASHING_THREAD = `import { parentPort } from 'node:worker_threads';
const on = parentPort.on.bind(parentPort);
parentPort.on = (event, fn) => on(event, event !== 'message' ? fn : (ops) => { if (ops.some((o) => String(o.path).includes('crash'))) process.exit(3); fn(ops); });
await import(${JSON.stringify(new URL('../../src/cache/page-writer-thread.js', import.meta.url).href)});
`;

test('writes and drops land in the order asked for; flush waits for drops; spares are reused', async () => {
  await withWriter({ maxSpares: 100 }, async (w, pages, spareDir) => {
    const p = join(pages, 'a.page');
    // write, drop, write again, drop, write again: all asked for in one turn
    const writes = [w.write(p, [Buffer.from('one')]), (w.drop(p), w.write(p, [Buffer.from('two'), Buffer.from('!')])), (w.drop(p), w.write(p, [Buffer.from('three')]))];
    await Promise.all(writes);
    assert.equal(readFileSync(p, 'utf8'), 'three');
    // 200 files written then dropped: flush resolves once all are gone (kept as empty spares)
    await Promise.all(Array.from({ length: 200 }, (_, i) => w.write(join(pages, `f${i}`), [Buffer.alloc(4096, i)])));
    for (let i = 0; i < 200; i++) w.drop(join(pages, `f${i}`));
    await w.flush();
    assert.deepEqual(readdirSync(pages), ['a.page']);
    assert.equal(readdirSync(spareDir).length, 100, 'at most maxSpares kept');
    // a new file takes a spare (renamed into place, overwritten)
    await w.write(join(pages, 'b.page'), [Buffer.from('bee')]);
    assert.equal(readFileSync(join(pages, 'b.page'), 'utf8'), 'bee');
    assert.equal(readdirSync(spareDir).length, 99);
    // dropsDone: at once when no drop is outstanding, after the drops otherwise
    await w.dropsDone(join(pages, 'never.page'));
    w.drop(join(pages, 'b.page'));
    await w.dropsDone(join(pages, 'b.page'));
    assert.equal(existsSync(join(pages, 'b.page')), false);
  });
});

test('a write that fails is reported to its caller, leaves no file, and the writer goes on', async () => {
  await withWriter({}, async (w, pages) => {
    await assert.rejects(w.write(join(pages, 'no-such-dir', 'x.page'), [Buffer.from('x')]), /ENOENT/);
    writeFileSync(join(pages, 'dir.page'), '');
    rmSync(join(pages, 'dir.page'));
    mkdirSync(join(pages, 'dir.page'));
    await assert.rejects(w.write(join(pages, 'dir.page'), [Buffer.from('x')]), /EISDIR|EEXIST|ENOTEMPTY|EPERM|EACCES/);
    await w.write(join(pages, 'ok.page'), [Buffer.from('ok')]);
    assert.equal(readFileSync(join(pages, 'ok.page'), 'utf8'), 'ok');
  });
});

test('a thread that dies fails the writes it had not answered; the next write starts a new thread', async () => {
  await withWriter({ threadSource: CRASHING_THREAD }, async (w, pages) => {
    await w.prepare();
    await w.write(join(pages, 'before.page'), [Buffer.from('before')]);
    await w.write(join(pages, 'victim.page'), [Buffer.from('dropped')]);
    // in one message: a drop the dead thread never did, and the write that kills it
    w.drop(join(pages, 'victim.page'));
    const doomed = [w.write(join(pages, 'crash.page'), [Buffer.from('x')]), w.write(join(pages, 'same-turn.page'), [Buffer.from('y')])];
    for (const d of doomed) await assert.rejects(d, /the page writer thread stopped: exit code 3/);
    await w.flush(); // nothing outstanding: resolves
    assert.equal(existsSync(join(pages, 'victim.page')), true, 'the dead thread did not drop it');
    await w.write(join(pages, 'after.page'), [Buffer.from('after')]);
    assert.equal(readFileSync(join(pages, 'after.page'), 'utf8'), 'after');
    // the new thread first removed what the dead one left unanswered
    assert.equal(existsSync(join(pages, 'victim.page')), false);
    assert.equal(readFileSync(join(pages, 'before.page'), 'utf8'), 'before');

    // a file written outside the thread (a large page, through the pool) after dropsDone(path)
    // is not removed by the clean-up of a drop of that path the dead thread left unanswered
    const large = join(pages, 'large.page');
    writeFileSync(large, 'old');
    w.drop(large);
    await assert.rejects(w.write(join(pages, 'crash-2.page'), [Buffer.from('x')]), /stopped/);
    await w.dropsDone(large);
    writeFileSync(large, 'new large page');
    await w.write(join(pages, 'after-2.page'), [Buffer.from('after')]); // a new thread, its clean-up first
    assert.equal(readFileSync(large, 'utf8'), 'new large page');
  });
});

test('close waits for outstanding work at most its grace time; what is left fails', async () => {
  await withWriter({ threadSource: `import { parentPort } from 'node:worker_threads';\nparentPort.on('message', () => {});\n` }, async (w, pages) => {
    const stuck = w.write(join(pages, 'never.page'), [Buffer.from('x')]);
    stuck.catch(() => undefined);
    await until('the write was sent', () => (w as unknown as { unanswered: unknown[] }).unanswered.length === 1);
    const t0 = Date.now();
    await w.close(300);
    assert.ok(Date.now() - t0 < 5_000, 'close returned after its grace time, not when the thread answered');
    await assert.rejects(stuck, /closed before it was done/);
    // closed: writes fail at once, drops are ignored, nothing starts a thread again
    await assert.rejects(w.write(join(pages, 'late.page'), [Buffer.from('x')]), /closed/);
    w.drop(join(pages, 'late.page'));
    await w.flush();
    await w.dropsDone(join(pages, 'late.page'));
    await assert.rejects(w.prepare(), /closed/);
    assert.equal((w as unknown as { thread: unknown }).thread, undefined);
  });
});

test('a thread that cannot start fails prepare() with its reason; writes then fail at once until the back-off ends', async () => {
  await withWriter({ threadSource: `throw new Error('cannot start here');\n` }, async (w, pages) => {
    await assert.rejects(w.prepare(), /the page writer thread did not start: cannot start here/);
    // within the back-off: failed at once (on a machine so slow that the back-off is over,
    // a new thread is tried and fails the same way)
    await assert.rejects(w.write(join(pages, 'x.page'), [Buffer.from('x')]), /not running \(cannot start here\); retrying after|thread stopped/);
    // a drop, then waits for drops and for everything: settled, not hung (they were asked
    // for while no thread could run)
    w.drop(join(pages, 'y.page'));
    await w.dropsDone(join(pages, 'z.page'));
    await w.flush();
    const many = Array.from({ length: 300 }, (_, i) => w.write(join(pages, `m${i}.page`), [Buffer.from('m')]));
    for (const m of many) await assert.rejects(m);
  });
});

test('a dropped file that cannot be removed (a read-only disk) is reported and removed once it can be, unless the page is written there again', async (t) => {
  // a real failure: a tmpfs remounted read-only under the thread (needs root)
  const dir = mkdtempSync(join(tmpdir(), 'page-writer-ro-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs (needs root): ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const failed: string[] = [];
  const w = new PageWriter({ spareDir: join(dir, 'spare'), maxSpares: 10, dropRetryMs: 100, onDropError: (path) => failed.push(path) });
  const remount = (mode: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'pipe' });
  try {
    const pages = join(dir, 'pages');
    mkdirSync(pages);
    const [a, b] = [join(pages, 'a.page'), join(pages, 'b.page')];
    await w.write(a, [Buffer.from('a')]);
    await w.write(b, [Buffer.from('b')]);
    remount('ro');
    w.drop(a);
    w.drop(b);
    await w.flush();
    assert.deepEqual(failed.sort(), [a, b], 'both reported');
    assert.ok(existsSync(a) && existsSync(b), 'still there while the disk is read-only');
    // retried while still read-only: reported again, nothing lost track of
    await until('a retry that fails again', () => failed.length >= 4);
    remount('rw');
    // b is a page again (fetched and written anew): the retry must not remove it
    await w.write(b, [Buffer.from('b2')]);
    await until('the stuck file removed once the disk is writable', () => !existsSync(a));
    await w.flush();
    assert.equal(readFileSync(b, 'utf8'), 'b2', 'the page written again is kept');
  } finally {
    try {
      remount('rw');
    } catch {
      // already read-write
    }
    await w.close(300);
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A thread speaking the writer's protocol whose drops of a file fail while `<file>.fail`
 * exists, and whose writes fail while `<file>.wfail` exists (the writer's side is under test).
 */
const FAILING_THREAD = `import { parentPort } from 'node:worker_threads';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
parentPort.postMessage({ ready: true });
parentPort.on('message', (ops) => {
  const reply = { upTo: 0, errors: [], dropErrors: [] };
  for (const op of ops) {
    if (op.kind === 'write') {
      if (existsSync(op.path + '.wfail')) reply.errors.push([op.seq, 'EIO (test)']);
      else writeFileSync(op.path, op.data);
    } else if (op.kind === 'drop') {
      if (existsSync(op.path + '.fail')) reply.dropErrors.push([op.seq, op.path, 'EROFS (test)']);
      else rmSync(op.path, { force: true });
    }
    reply.upTo = op.seq;
  }
  parentPort.postMessage(reply);
});
`;

test('a failed drop is not retried over the page written there again after it, through the thread or directly; a failed write is removed later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'page-writer-fail-'));
  writeFileSync(join(dir, 'thread.mjs'), FAILING_THREAD);
  const failed: string[] = [];
  const w = new PageWriter({ spareDir: join(dir, 'spare'), maxSpares: 10, dropRetryMs: 50, script: pathToFileURL(join(dir, 'thread.mjs')), onDropError: (p) => failed.push(p) });
  try {
    const p = join(dir, 'a.page');
    await w.write(p, [Buffer.from('old')]);
    writeFileSync(p + '.fail', '');
    // the drop fails and the page is written again in the same batch: the write wins
    w.drop(p);
    const again = w.write(p, [Buffer.from('new')]);
    await again;
    await w.flush();
    assert.deepEqual(failed, [p]);
    assert.equal(w.removalsPending, 0, 'no removal of the page written after the failed drop');
    // the same with a write that does not go through the thread (large pages): dropsDone first
    w.drop(p);
    await w.dropsDone(p);
    assert.equal(failed.length, 2);
    assert.equal(w.removalsPending, 0, 'dropsDone: the writer then replaces the file');
    writeFileSync(p, 'direct');
    // a failed drop with nothing written after it is retried, and goes once it can
    w.drop(p);
    await w.flush();
    assert.equal(w.removalsPending, 1);
    rmSync(p + '.fail');
    await until('the file removed on a retry', () => !existsSync(p));
    // a write that fails: its file is removed later (the thread's own clean-up may have failed too)
    const q = join(dir, 'b.page');
    writeFileSync(q, 'left by a failed write');
    writeFileSync(q + '.wfail', '');
    await assert.rejects(w.write(q, [Buffer.from('x')]), /EIO \(test\)/);
    await until('the failed write\'s file removed', () => !existsSync(q));
  } finally {
    await w.close(300);
    rmSync(dir, { recursive: true, force: true });
  }
});
