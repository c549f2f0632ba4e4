/**
 * The pure history arithmetic (src/domain/history.ts): the key changes a commit makes, undo
 * and apply, rebuilding an older config from the kept records, and when the kept records
 * do not allow it (trimmed, a gap, a record too large to keep its values).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges, changesOf, configAt, coverage, diffConfigs, parseRecord, summarize, describeChange, type HistoryRecord } from '../../src/domain/history.js';

const isConfig = (k: string) => k.startsWith('/c/config/mounts/') || k.startsWith('/c/config/rules/');
const M = (n: string) => `/c/config/mounts/${n}`;
const R = (n: string) => `/c/config/rules/${n}`;

function rec(generation: number, revision: number, prevRevision: number, changes: HistoryRecord['changes'], complete = true): HistoryRecord {
  return { generation, revision, prevRevision, at: '', who: { etcdUser: null, os: 'u@h' }, command: 'test', changes, complete };
}

describe('history arithmetic', () => {
  it('changesOf keeps config keys that really change, sorted; applyChanges and undo invert each other', () => {
    const before = new Map([[M('a'), '1'], [R('x'), 'r']]);
    const ops = [
      { type: 'put' as const, key: M('a'), value: '2' },
      { type: 'put' as const, key: R('x'), value: 'r' }, // unchanged: dropped
      { type: 'delete' as const, key: R('gone') }, // absent: no change
      { type: 'put' as const, key: M('b'), value: 'new' },
      { type: 'put' as const, key: '/c/migrations/m1', value: '{}' }, // not config
    ];
    const ch = changesOf(before, ops, isConfig);
    assert.deepEqual(ch, [
      { key: M('a'), before: '1', after: '2' },
      { key: M('b'), before: null, after: 'new' },
    ]);
    const after = applyChanges(before, ch);
    assert.deepEqual(diffConfigs(before, after), ch);
    assert.deepEqual(configAt(after, [rec(1, 10, 0, ch)]), before);
  });

  it('rebuilds the config at any covered revision by undoing later records, newest first', () => {
    const c0 = new Map<string, string>();
    const ch1 = changesOf(c0, [{ type: 'put', key: M('a'), value: 'v1' }], isConfig);
    const c1 = applyChanges(c0, ch1);
    const ch2 = changesOf(c1, [{ type: 'put', key: M('a'), value: 'v2' }, { type: 'put', key: R('x'), value: 'r' }], isConfig);
    const c2 = applyChanges(c1, ch2);
    const ch3 = changesOf(c2, [{ type: 'delete', key: M('a') }], isConfig);
    const c3 = applyChanges(c2, ch3);
    const records = [rec(1, 5, 0, ch1), rec(2, 9, 5, ch2), rec(3, 12, 9, ch3)];
    for (const [revision, expected] of [[4, c0], [5, c1], [8, c1], [9, c2], [11, c2], [12, c3], [20, c3]] as const) {
      const cov = coverage(records, revision, 12);
      assert.ok(cov.ok, `revision ${revision} covered`);
      assert.deepEqual(configAt(c3, cov.later), expected, `config at ${revision}`);
    }
  });

  it('is not covered when records were trimmed, have a gap, or kept no values', () => {
    const ch = [{ key: M('a'), before: 'x', after: 'y' }];
    // trimmed: the oldest kept record's predecessor is after the asked revision
    assert.equal(coverage([rec(5, 50, 40, ch), rec(6, 60, 50, ch)], 30, 60).ok, false);
    // a gap in the generations
    assert.equal(coverage([rec(5, 50, 40, ch), rec(7, 70, 60, ch)], 45, 70).ok, false);
    // the newest record is not the current config change
    assert.equal(coverage([rec(5, 50, 40, ch)], 45, 70).ok, false);
    // a record too large to keep its values cannot be undone
    const partial = [rec(5, 50, 40, ch), rec(6, 60, 50, [{ key: M('a'), before: null, after: null }], false)];
    assert.equal(coverage(partial, 45, 60).ok, false);
    assert.equal(coverage(partial, 55, 60).ok, false);
    // ... but a revision after it needs nothing undone
    assert.equal(coverage(partial, 60, 60).ok, true);
  });

  it('parses stored records (complete unless stored false) and describes changes for people', () => {
    const stored = JSON.stringify({ generation: 3, prevRevision: 7, at: 't', who: { etcdUser: 'ops', os: 'a@b' }, command: 'mount add', changes: [{ key: M('data'), before: null, after: '{"path":"/data"}' }] });
    const r = parseRecord('/c/history/3', stored, 11);
    assert.equal(r.revision, 11);
    assert.equal(r.complete, true);
    assert.equal(parseRecord('/c/history/4', JSON.stringify({ ...JSON.parse(stored), complete: false }), 12).complete, false);
    assert.throws(() => parseRecord('/c/history/5', 'nope', 1), /not JSON/);
    // a change edited by hand into something else is refused (the record is skipped), not
    // passed on to fail history or to undo into a wrong config
    const edited = (changes: unknown[]): string => JSON.stringify({ ...JSON.parse(stored), changes });
    for (const bad of [[{ before: null, after: '{}' }], [{ key: 7, before: null, after: null }], [{ key: M('x'), before: 1, after: null }], [{ key: M('x'), before: null, after: { path: '/x' } }], [null], ['k']]) {
      assert.throws(() => parseRecord('/c/history/6', edited(bad), 1), /history record \/c\/history\/6 is malformed \(change 1\)/, JSON.stringify(bad));
    }
    // a missing value is a missing key (null), an unknown action is dropped
    assert.deepEqual(parseRecord('/c/history/7', edited([{ key: M('x'), after: '{}', action: 'grew' }]), 1).changes, [{ key: M('x'), before: null, after: '{}' }]);
    const d = describeChange(r.changes[0]!, { mounts: '/c/config/mounts/', rules: '/c/config/rules/' });
    assert.deepEqual([d.kind, d.name, d.action], ['mount', '/data', 'added']);
    assert.equal(summarize([d]), '+mount /data');
     // a record too large to keep its values keeps what each change did
    const P = { mounts: '/c/config/mounts/', rules: '/c/config/rules/' };
    const kept = ['added', 'removed', 'changed'] as const;
    assert.deepEqual(kept.map((action) => describeChange({ key: '/c/config/rules/r1', before: null, after: null, action }, P).action), kept);
    assert.equal(summarize([describeChange({ key: '/c/config/rules/r1', before: null, after: null, action: 'removed' }, P)]), '-rule r1');
    // (older such records kept nothing: not claimed to be additions)
    assert.equal(describeChange({ key: '/c/config/rules/r1', before: null, after: null }, P).action, 'changed');
  });
});
