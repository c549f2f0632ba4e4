/**
 * Owner agreement between TypeScript and Python on the golden vectors
 * (test/fixtures/placement-vectors.json, docs/cluster-cache.md): alluxiofs.placement_order
 * under Debian's python3 gives every vector's order, and a copy of the file with one order
 * changed makes it fail (the check can fail). The live-ring agreement is in cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { placementOrder } from '../../src/domain/placement.js';
import { PY_TESTS, python } from './env.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'placement-vectors.json');
const SCRIPT = join(PY_TESTS, 'placement_vectors.py');

interface Vector {
  workers: string[];
  key: string;
  order: string[];
}

test('alluxiofs.placement_order gives the order of every golden vector', async () => {
  const vectors = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { vectors: Vector[] }).vectors;
  assert.ok(vectors.length > 0);
  const r = await python([SCRIPT, FIXTURE]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json(), { vectors: vectors.length, checked: 3 * vectors.length });
});

test('a vector with a wrong order fails the Python check, naming it', async () => {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { vectors: Vector[] };
  const i = doc.vectors.findIndex((v) => v.order.length > 1);
  assert.ok(i >= 0);
  const v = doc.vectors[i]!;
  v.order = [v.order[1]!, v.order[0]!, ...v.order.slice(2)];
  // the changed order is not TypeScript's either
  assert.notDeepEqual(placementOrder(v.workers, v.key), v.order);
  const dir = mkdtempSync(join(tmpdir(), 'placement-vectors-'));
  try {
    const bad = join(dir, 'vectors.json');
    writeFileSync(bad, JSON.stringify(doc));
    const r = await python([SCRIPT, bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`vector ${i} key`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
