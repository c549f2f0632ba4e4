/**
 * BatchedRemoval (src/cache/batched-removal.ts): files go a batch per turn of the event loop,
 * a page no longer dropped is skipped, and flush() waits for what was added before it, not
 * for what is added later.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchedRemoval } from '../../src/cache/batched-removal.js';

test('a batch per turn; flush waits for what was added before it; pages written again are skipped', async () => {
  const removed: string[] = [];
  const rewritten = new Set(['p3']);
  const r = new BatchedRemoval({ batch: 2, dropped: (id) => !rewritten.has(id), remove: (path) => removed.push(path) });
  for (let i = 0; i < 5; i++) r.add(`p${i}`, `/f${i}`);
  const first = r.flush();
  assert.deepEqual(removed, ['/f0', '/f1'], 'one batch before flush returns');
  for (let i = 5; i < 10; i++) r.add(`p${i}`, `/f${i}`);
  const second = r.flush();
  await first;
  // the first five were handled (p3 skipped: written again); later ones may still wait
  assert.deepEqual(removed.slice(0, 4), ['/f0', '/f1', '/f2', '/f4']);
  assert.ok(r.size > 0, 'the first flush did not wait for files added after it');
  await second;
  assert.deepEqual(removed, ['/f0', '/f1', '/f2', '/f4', '/f5', '/f6', '/f7', '/f8', '/f9']);
  assert.equal(r.size, 0);
  await r.flush(); // nothing left: resolves at once
});

test('a remove that throws does not stop the batches', async () => {
  const removed: string[] = [];
  const r = new BatchedRemoval({
    batch: 1,
    dropped: () => true,
    remove: (path) => {
      if (path === '/bad') throw new Error('EBUSY');
      removed.push(path);
    },
  });
  for (const p of ['/a', '/bad', '/b']) r.add(p, p);
  await r.flush();
  assert.deepEqual(removed, ['/a', '/b']);
});
