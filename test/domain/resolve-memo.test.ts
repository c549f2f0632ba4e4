/**
 * The S3 resolution memo of a Snapshot (snapshot.ts, `s3Memo`): a remembered answer is
 * exactly what resolving afresh gives; a new snapshot (a rule or the mount table changed)
 * never answers from the old one's memo; failures and traced resolutions are not
 * remembered.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failsAt as fails } from '../helpers/assert.js';
import { parseMount } from '../../src/domain/mounts.js';
import { Snapshot } from '../../src/domain/snapshot.js';
import type { ResolveRequest } from '../../src/domain/resolver.js';

const s3 = (bucket: string, key: string): ResolveRequest => ({ api: 's3', bucket, key });
const fast = { trace: false } as const;

describe('S3 resolution memo', () => {
  const mounts = [parseMount({ path: '/data', ufsUri: 's3://bkt-one/data/' }), parseMount({ path: '/other', ufsUri: 'file:///srv/other/' })];

  it('answers a repeated request with the resolution it computed, equal to a fresh one', () => {
    const s = Snapshot.build(1, { mounts, rules: [] });
    const a = s.resolve(s3('data', 'x/y.bin'), fast);
    const b = s.resolve(s3('data', 'x/y.bin'), fast);
    assert.equal(b, a); // remembered
    const fresh = Snapshot.build(1, { mounts, rules: [] }).resolve(s3('data', 'x/y.bin'), fast);
    assert.deepEqual(b, fresh);
    assert.equal(b.ufsUri, 's3://bkt-one/data/x/y.bin');
    // allowUnmounted does not change a mounted answer
    assert.deepEqual(s.resolve(s3('data', 'x/y.bin'), { trace: false, allowUnmounted: true }), fresh);
    // a traced resolution is computed afresh, with its trace
    const traced = s.resolve(s3('data', 'x/y.bin'));
    assert.notEqual(traced, a);
    assert.ok(traced.trace.length > 0);
    assert.equal(traced.ufsUri, a.ufsUri);
  });

  it('a new snapshot (rule added, mount re-pointed) resolves afresh', () => {
    const s1 = Snapshot.build(1, { mounts, rules: [] });
    assert.equal(s1.resolve(s3('data', 'in/f'), fast).ufsUri, 's3://bkt-one/data/in/f');
    const s2 = s1.apply(2, { upsertRules: [{ id: 'r', order: 1, kind: 'prefix', src: '/data/in', dst: '/other/in', enabled: true }] });
    assert.equal(s2.resolve(s3('data', 'in/f'), fast).ufsUri, 'file:///srv/other/in/f');
    assert.equal(s1.resolve(s3('data', 'in/f'), fast).ufsUri, 's3://bkt-one/data/in/f'); // the old snapshot keeps its answer
    const s3b = s2.apply(3, { mounts: [parseMount({ path: '/data', ufsUri: 's3://bkt-two/moved/' }), mounts[1]!], removeRules: ['r'] });
    assert.equal(s3b.resolve(s3('data', 'in/f'), fast).ufsUri, 's3://bkt-two/moved/in/f');
  });

  it('failures are not remembered, and keys that differ only in case or encoding stay apart', () => {
    const s = Snapshot.build(1, { mounts, rules: [] });
    fails(() => s.resolve(s3('nope', 'k'), fast), 'NoMountForPath', 'mount');
    fails(() => s.resolve(s3('nope', 'k'), fast), 'NoMountForPath', 'mount');
    fails(() => s.resolve(s3('data', 'a/../../etc'), fast), 'InvalidPath');
    fails(() => s.resolve(s3('data', 'a/../../etc'), fast), 'InvalidPath');
    assert.equal(s.resolve(s3('nope', 'k'), { trace: false, allowUnmounted: true }).mount, null);
    fails(() => s.resolve(s3('nope', 'k'), fast), 'NoMountForPath', 'mount'); // the unmounted answer was not kept
    assert.equal(s.resolve(s3('data', 'A'), fast).ufsUri, 's3://bkt-one/data/A');
    assert.equal(s.resolve(s3('data', 'a'), fast).ufsUri, 's3://bkt-one/data/a');
    assert.equal(s.resolve(s3('data', 'a%20b'), fast).ufsUri, s.resolve(s3('data', 'a%20b'), fast).ufsUri);
    assert.equal(s.resolve(s3('data', 'a%20b'), fast).ufsUri, 's3://bkt-one/data/a%2520b');
    assert.notEqual(s.resolve(s3('data', 'a b'), fast).ufsUri, s.resolve(s3('data', 'a%20b'), fast).ufsUri);
  });

  it('stays bounded: many keys still resolve right after the memo is cleared', () => {
    const s = Snapshot.build(1, { mounts, rules: [] });
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      assert.equal(s.resolve(s3('data', `k${i}`), fast).ufsUri, `s3://bkt-one/data/k${i}`);
      most = Math.max(most, s.s3MemoEntries);
    }
    assert.equal(s.resolve(s3('data', 'k5'), fast).ufsUri, 's3://bkt-one/data/k5');
    assert.ok(most <= 8192, `the memo held ${most} entries`);
    // long keys resolve, and are not kept (an entry holds its key several times)
    const before = s.s3MemoEntries;
    const long = `${'segment-0/'.repeat(40)}f`;
    assert.equal(s.resolve(s3('data', long), fast).ufsUri, `s3://bkt-one/data/${long}`);
    assert.equal(s.s3MemoEntries, before);
    // what is kept cannot be changed by a caller
    assert.ok(Object.isFrozen(s.resolve(s3('data', 'k5'), fast)));
  });
});
