/**
 * effectiveOps (src/store/config-store.ts): what a plan's operations change against the
 * values read. One operation per key (etcd refuses a transaction naming a key twice), no
 * put of the value in place, no delete of an absent key; keys outside the read state kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveOps, type Op } from '../../src/store/config-store.js';

const inRaw = (k: string): boolean => k.startsWith('/c/');
const raw = new Map([
  ['/c/rules/a', 'A'],
  ['/c/rules/b', 'B'],
]);

test('a delete then a put of one key is the put (import --replace of the same ids)', () => {
  const ops: Op[] = [
    { type: 'delete', key: '/c/rules/a' },
    { type: 'delete', key: '/c/rules/b' },
    { type: 'put', key: '/c/rules/a', value: 'A2' },
    { type: 'put', key: '/c/rules/b', value: 'B' },
  ];
  // a: replaced by another value; b: put back as it was (no change at all)
  assert.deepEqual(effectiveOps(ops, raw, inRaw), [{ type: 'put', key: '/c/rules/a', value: 'A2' }]);
});

test('the last operation per key wins, in the order of the last ones', () => {
  const ops: Op[] = [
    { type: 'put', key: '/c/rules/x', value: '1' },
    { type: 'put', key: '/c/rules/y', value: '2' },
    { type: 'delete', key: '/c/rules/x' },
    { type: 'put', key: '/c/rules/x', value: '3' },
  ];
  assert.deepEqual(effectiveOps(ops, raw, inRaw), [
    { type: 'put', key: '/c/rules/y', value: '2' },
    { type: 'put', key: '/c/rules/x', value: '3' },
  ]);
  assert.deepEqual(effectiveOps([{ type: 'put', key: '/c/rules/a', value: 'A' }, { type: 'delete', key: '/c/rules/a' }], raw, inRaw), [{ type: 'delete', key: '/c/rules/a' }]);
});

test('no-ops are dropped: the value in place, a delete of an absent key; nothing left means nothing to commit', () => {
  assert.deepEqual(effectiveOps([{ type: 'put', key: '/c/rules/a', value: 'A' }], raw, inRaw), []);
  assert.deepEqual(effectiveOps([{ type: 'delete', key: '/c/rules/zz' }], raw, inRaw), []);
  assert.deepEqual(effectiveOps([], raw, inRaw), []);
});

test('keys outside the state read are always kept (their value is unknown here)', () => {
  const ops: Op[] = [
    { type: 'delete', key: '/m/record' },
    { type: 'put', key: '/m/other', value: 'v' },
  ];
  assert.deepEqual(effectiveOps(ops, raw, inRaw), ops);
});
