/**
 * The informer's PURE parts, no etcd and no timers: the view (a LIST replaces it and is
 * diffed; a watch response is applied whole, replays skipped per event, the revision taken
 * from the events; values decoded once per (key, value); a malformed value skipped; the
 * snapshot derived from the previous one equal to one built from scratch) and the
 * decisions (backoff, dead stream, what a watch response means).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IWatchResponse } from 'etcd3';
import { Layout } from '../../src/store/layout.js';
import { Snapshot } from '../../src/domain/snapshot.js';
import { applyEvents, applyList, emptyView, type ConfigView, type ViewStep } from '../../src/informer/view.js';
import { backoffDelay, classifyResponse, progressTick, type SessionContext, type WatchEvent } from '../../src/informer/decisions.js';
import { decodeConfig } from '../../src/store/codec.js';

const L = new Layout('unit');
const mount = (p: string, uri = `file:///tmp${p}/`): [string, string] => [L.mountKey(p), JSON.stringify({ path: p, ufsUri: uri, readOnly: false, options: {} })];
const rule = (id: string, src: string, dst: string, order = 100, enabled = true): [string, string] => [L.ruleKey(id), JSON.stringify({ id, order, kind: 'prefix', src, dst, enabled })];
const put = ([key, value]: [string, string], modRevision: number): WatchEvent => ({ type: 'put', key, value, modRevision });
const del = (key: string, modRevision: number): WatchEvent => ({ type: 'delete', key, value: '', modRevision });

function published(step: ViewStep): Extract<ViewStep, { kind: 'published' }> {
  assert.equal(step.kind, 'published', JSON.stringify(step));
  return step as Extract<ViewStep, { kind: 'published' }>;
}

/** The snapshot a full decode + build of the view's values gives. */
function rebuilt(view: ConfigView): Snapshot {
  return Snapshot.build(view.revision, decodeConfig(L, [...view.entries].map(([k, e]) => [k, e.value])));
}

function listed(kvs: [string, string][], revision = 10): ConfigView {
  return published(applyList(emptyView(), L, { revision, clusterId: 'c1', kvs }, 'list')).view;
}

describe('informer view (pure)', () => {
  it('a LIST builds the snapshot; a relist reports puts and deletes against the previous view', () => {
    const first = published(applyList(emptyView(), L, { revision: 10, clusterId: 'c1', kvs: [mount('/a'), mount('/b'), rule('x', '/a/x', '/b/x')] }, 'list'));
    assert.equal(first.reason, 'list');
    assert.equal(first.previous, undefined);
    assert.deepEqual(first.snapshot.mounts.map((m) => m.path), ['/a', '/b']);
    assert.equal(first.view.revision, 10);
    const re = published(applyList(first.view, L, { revision: 20, clusterId: '', kvs: [mount('/a'), mount('/c'), rule('x', '/a/x', '/c/x')] }, 'relist'));
    assert.deepEqual(re.put.sort(), [L.mountKey('/c'), L.ruleKey('x')].sort());
    assert.deepEqual(re.deleted, [L.mountKey('/b')]);
    assert.equal(re.previous, first.snapshot);
    assert.equal(re.view.clusterId, 'c1', 'an unknown cluster id keeps the one we had');
    // The unchanged value was not decoded again.
    assert.equal(re.view.entries.get(L.mountKey('/a')), first.view.entries.get(L.mountKey('/a')));
  });

  it('a watch response is applied whole: one snapshot, revision = highest event mod_revision, not the header', () => {
    const v = listed([mount('/a')]);
    const step = published(applyEvents(v, L, [put(mount('/model'), 11), put(rule('latest', '/model/latest', '/model/v3'), 11), del(L.mountKey('/a'), 11)]));
    assert.equal(step.revision, 11);
    assert.equal(step.reason, 'watch');
    assert.deepEqual(step.deleted, [L.mountKey('/a')]);
    assert.deepEqual(step.snapshot.mounts.map((m) => m.path), ['/model']);
    assert.equal(step.snapshot.resolve({ api: 'alluxio', path: '/model/latest/w' }).ufsUri, 'file:///tmp/model/v3/w');
    assert.deepEqual(step.snapshot.structure(), rebuilt(step.view).structure());
    // The view it came from is untouched (a request holding the old snapshot sees no change).
    assert.deepEqual(v.snapshot!.mounts.map((m) => m.path), ['/a']);
  });

  it('skips replayed events per event, and a whole replay changes nothing', () => {
    const v = published(applyEvents(listed([mount('/a')]), L, [put(mount('/b'), 12)])).view;
    assert.equal(applyEvents(v, L, [put(mount('/b', 'file:///old/'), 11), put(mount('/b', 'file:///old/'), 12)]).kind, 'unchanged');
    const step = published(applyEvents(v, L, [put(mount('/b', 'file:///old/'), 12), put(mount('/c'), 13)]));
    assert.deepEqual(step.put, [L.mountKey('/c')]);
    assert.equal(step.snapshot.mount('/b')!.ufsUri, 'file:///tmp/b/');
    assert.equal(step.revision, 13);
  });

  it('a malformed value is skipped and reported once; fixing it brings it in', () => {
    const v = listed([mount('/good')]);
    const bad = published(applyEvents(v, L, [put([L.mountKey('/bad'), '{not json'], 11), put(rule('mismatch', '/p', '/q').map((x, i) => (i === 0 ? L.ruleKey('other') : x)) as [string, string], 11)]));
    assert.deepEqual(bad.newlyInvalid.map((i) => i.key).sort(), [L.mountKey('/bad'), L.ruleKey('other')].sort());
    assert.deepEqual(bad.snapshot.mounts.map((m) => m.path), ['/good']);
    assert.deepEqual([...bad.snapshot.invalid].map((i) => i.key).sort(), [L.mountKey('/bad'), L.ruleKey('other')].sort());
    // Another change elsewhere: the bad entry is still listed, but not reported again.
    const again = published(applyEvents(bad.view, L, [put(mount('/also'), 12)]));
    assert.deepEqual(again.newlyInvalid, []);
    assert.equal(again.snapshot.invalid.length, 2);
    const fixed = published(applyEvents(again.view, L, [put(mount('/bad'), 13), del(L.ruleKey('other'), 13)]));
    assert.deepEqual(fixed.snapshot.mounts.map((m) => m.path), ['/also', '/bad', '/good']);
    assert.deepEqual(fixed.snapshot.invalid, []);
    assert.deepEqual(fixed.snapshot.structure(), rebuilt(fixed.view).structure());
  });

  it('rule changes through the watch equal a rebuild (add, update, disable, remove)', () => {
    let v = listed([mount('/m'), rule('a', '/m/a', '/m/x', 1), rule('b', '/m/b', '/m/y', 2)]);
    const steps: WatchEvent[][] = [
      [put(rule('c', '/m/a/deeper', '/m/z', 0), 11)],
      [put(rule('a', '/m/a', '/m/w', 5), 12)],
      [put(rule('c', '/m/a/deeper', '/m/z', 0, false), 13)],
      [del(L.ruleKey('b'), 14), put(rule('d', '/m', '/m/all', 9), 14)],
    ];
    for (const evs of steps) {
      const s = published(applyEvents(v, L, evs));
      assert.deepEqual(s.snapshot.structure(), rebuilt(s.view).structure());
      for (const p of ['/m/a/deeper/f', '/m/a/f', '/m/b/f', '/m/q']) {
        assert.deepEqual(s.snapshot.resolve({ api: 'alluxio', path: p }).trace, rebuilt(s.view).resolve({ api: 'alluxio', path: p }).trace, p);
      }
      v = s.view;
    }
    assert.deepEqual(v.snapshot!.rules.map((r) => r.id), ['c', 'a', 'd']);
  });
});

describe('informer decisions (pure)', () => {
  it('backoff: exponential, capped, half fixed and half random (never 0)', () => {
    const o = { initialMs: 100, maxMs: 5000 };
    assert.equal(backoffDelay(1, o, 0), 50);
    assert.equal(backoffDelay(1, o, 0.999999) < 100, true);
    assert.equal(backoffDelay(2, o, 0), 100);
    assert.equal(backoffDelay(4, o, 0.5), 600);
    assert.equal(backoffDelay(10, o, 0), 2500, 'capped');
    assert.equal(backoffDelay(1000, o, 0.5), 3750, 'no overflow far out');
  });

  it('dead stream: only an unanswered progress request older than the deadline', () => {
    assert.deepEqual(progressTick({ pendingSince: null, lastHeard: 0 }, 1000, 3000), { kind: 'request' });
    assert.deepEqual(progressTick({ pendingSince: 1000, lastHeard: 1500 }, 2000, 3000), { kind: 'request' }, 'answered: ask again');
    assert.deepEqual(progressTick({ pendingSince: 1000, lastHeard: 900 }, 4000, 3000), { kind: 'wait' }, 'not overdue yet');
    assert.deepEqual(progressTick({ pendingSince: 1000, lastHeard: 900 }, 4001, 3000), { kind: 'dead', silentMs: 3101 });
  });

  const ctx: SessionContext = { watchId: '7', revision: 50, startRevision: 51, clusterId: 'c1' };
  const res = (r: Partial<IWatchResponse> & { rev?: number; cluster?: string }): IWatchResponse =>
    ({ header: { revision: String(r.rev ?? 60), cluster_id: r.cluster ?? 'c1' }, watch_id: '7', created: false, canceled: false, compact_revision: '0', cancel_reason: '', events: [], ...r }) as unknown as IWatchResponse;

  it('what a response means: created, compaction, a different cluster, revision backwards', () => {
    assert.deepEqual(classifyResponse(res({ created: true }), { ...ctx, watchId: null }), { kind: 'created', watchId: '7' });
    assert.equal(classifyResponse(res({ created: true, canceled: true, compact_revision: '40' } as never), ctx).kind, 'relist');
    assert.match((classifyResponse(res({ created: true, cluster: 'c2' }), ctx) as { why: string }).why, /cluster id changed/);
    assert.match((classifyResponse(res({ created: true, rev: 3 }), ctx) as { why: string }).why, /backwards/);
    assert.match((classifyResponse(res({ compact_revision: '55' } as never), ctx) as { why: string }).why, /compacted at revision 55/);
    assert.match((classifyResponse(res({ rev: 3 }), ctx) as { why: string }).why, /backwards/);
  });

  it('only our own watch progress notification moves the revision; a manual one is proof of life only', () => {
    assert.deepEqual(classifyResponse(res({ rev: 70 }), ctx), { kind: 'progress', revision: 70 });
    assert.deepEqual(classifyResponse(res({ rev: 70, watch_id: '-1' } as never), ctx), { kind: 'alive' });
    const ev = { type: 'Put', kv: { key: Buffer.from('k'), value: Buffer.from('v'), mod_revision: '52', lease: '7587' } };
    assert.deepEqual(classifyResponse(res({ events: [ev] } as never), ctx), { kind: 'events', events: [{ type: 'put', key: 'k', value: 'v', modRevision: 52, lease: '7587' }] });
  });
});
