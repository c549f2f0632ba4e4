/**
 * CowMap (the copy-on-write map under the rule index and the informer's view) against a
 * plain Map, property-based: random sets and deletes in random batches; after each batch
 * the new map holds exactly the model's entries and size, and EVERY earlier version still
 * holds what it held (a snapshot serving requests never sees a later change).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CowMap } from '../../src/domain/cow-map.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const key = fc.oneof(fc.constantFrom('', '/', 'a', 'r1', 'r10', 'r100', '/m1/alias1', '/m1/alias10'), fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 3000 }).map((i) => `r${i}`));
const op = fc.oneof(fc.record({ set: key, v: fc.integer() }), fc.record({ del: key }));

const sorted = (it: Iterable<[string, number]>) => [...it].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

describe('CowMap', () => {
  it(`behaves as a Map, and old versions never change (seed ${SEED})`, () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 40 }), { maxLength: 20 }), (batches) => {
        const versions: { map: CowMap<number>; model: [string, number][] }[] = [];
        let map = CowMap.empty<number>();
        const model = new Map<string, number>();
        for (const batch of batches) {
          const e = map.edit();
          for (const o of batch) {
            if ('set' in o) {
              e.set(o.set, o.v);
              model.set(o.set, o.v);
            } else assert.equal(e.delete(o.del), model.delete(o.del));
          }
          map = e.done();
          assert.equal(map.size, model.size);
          assert.deepEqual(sorted(map), sorted(model));
          for (const k of model.keys()) assert.equal(map.get(k), model.get(k));
          versions.push({ map, model: sorted(model) });
        }
        for (const v of versions) assert.deepEqual(sorted(v.map), v.model);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('spreads rule-id-like and path-like keys over its buckets', () => {
    const m = CowMap.from(Array.from({ length: 10_000 }, (_, i): [string, number] => [`r${i}`, i]));
    const buckets = (m as unknown as { buckets: ReadonlyMap<string, number>[] }).buckets.map((b) => b.size);
    assert.ok(Math.max(...buckets) < 200, `largest bucket ${Math.max(...buckets)} of 10,000 keys`);
    const p = CowMap.from(Array.from({ length: 10_000 }, (_, i): [string, number] => [`/m${i % 100}/alias${i}`, i]));
    const pb = (p as unknown as { buckets: ReadonlyMap<string, number>[] }).buckets.map((b) => b.size);
    assert.ok(Math.max(...pb) < 200, `largest bucket ${Math.max(...pb)} of 10,000 paths`);
  });
});
