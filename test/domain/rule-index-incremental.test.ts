/**
 * The incremental rule index (RuleIndex.apply, Snapshot.apply) against a full rebuild
 * (RuleIndex.build, Snapshot.build), property-based: random starting rule sets, then random
 * sequences of add / update / remove / enable / disable (one at a time and in batches, with
 * rules that do not compile, equal orders, prefix and regex rules filed under the same keys,
 * mount table changes). After EVERY step the derived snapshot must equal one rebuilt from
 * the same config: the index structure (ordered rules, per-key lists, failed rules), the
 * virtual directory tree, the rules and invalid entries, and the resolution (with its trace:
 * which rules were tried, in which order) of paths that hit, miss and straddle the rules.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AlluxioError } from '../../src/domain/errors.js';
import { parseMount, type ParsedMount } from '../../src/domain/mounts.js';
import { RuleIndex } from '../../src/domain/rule-index.js';
import { sortRules, prefixAsRegex, type RuleSpec } from '../../src/domain/rules.js';
import { Snapshot, type SnapshotDelta } from '../../src/domain/snapshot.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

const NAMES = ['data', 'model', 'latest', 'v3', 'a', 'b', 'team-ml'];
const name = fc.constantFrom(...NAMES);
const canonical = fc.array(name, { minLength: 1, maxLength: 3 }).map((s) => '/' + s.join('/'));

const MOUNT_POOL: ParsedMount[] = [
  parseMount({ path: '/data', ufsUri: 's3://bucket/data/' }),
  parseMount({ path: '/model', ufsUri: 'file:///srv/model/' }),
  parseMount({ path: '/a', ufsUri: 's3://other/a/' }),
  parseMount({ path: '/team-ml', ufsUri: 's3://bucket/team/' }),
];
const mountsArb = fc.subarray(MOUNT_POOL);

type Body = Omit<RuleSpec, 'id'>;
const prefixBody: fc.Arbitrary<Body> = fc.record({
  order: fc.integer({ min: 0, max: 4 }),
  kind: fc.constant('prefix' as const),
  src: canonical,
  dst: canonical,
  enabled: fc.boolean(),
  exclude: fc.option(fc.constantFrom('.*/tmp(/.*)?', '/data/.*', '.*b'), { nil: undefined }),
}).map(({ exclude, ...r }) => (exclude === undefined ? r : { ...r, exclude }));
const regexBody: fc.Arbitrary<Body> = fc
  .tuple(
    fc.integer({ min: 0, max: 4 }),
    fc.boolean(),
    fc.oneof(
      fc.constant({ src: '^/team-(\\w+)/(.*)$', dst: '/data/{{ var1 }}/{{ var2 }}' }),
      fc.constant({ src: '/(?<first>[^/]+)/latest(/.*)?', dst: '/{{ first }}/v3{{ var2 }}' }),
      fc.constant({ src: '/a/(.*)', dst: '/data/{{ var1 }}' }),
      fc.constant({ src: '.*', dst: '/data/all' }),
      fc.constant({ src: '(a+)+\\1', dst: '/x' }), // RE2 refuses: a rule that fails to compile
      fc.constant({ src: '/a/(.*)', dst: '/{{ var9 }}' }), // template refers to a missing group
      fc.tuple(canonical, canonical).map(([s, d]) => prefixAsRegex(s, d)),
    ),
  )
  .map(([order, enabled, r]) => ({ order, kind: 'regex' as const, enabled, ...r }));
const body = fc.oneof({ weight: 3, arbitrary: prefixBody }, { weight: 2, arbitrary: regexBody });

type Op =
  | { op: 'upsert'; id: string; body: Body }
  | { op: 'remove'; id: string }
  | { op: 'toggle'; id: string; enabled: boolean }
  | { op: 'mounts'; mounts: ParsedMount[] };

function opArb(ids: number): fc.Arbitrary<Op> {
  const id = fc.integer({ min: 0, max: ids - 1 }).map((i) => `r${i}`);
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('upsert' as const), id, body }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), id }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('toggle' as const), id, enabled: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('mounts' as const), mounts: mountsArb }) },
  );
}

/** The config the ops describe (what etcd would hold), and the delta a watch response would carry. */
class Model {
  rules = new Map<string, RuleSpec>();
  mounts: ParsedMount[] = [];
  /** Apply `ops` (one transaction); the delta carries each touched id's final state, as the informer's view does. */
  step(ops: readonly Op[]): SnapshotDelta {
    const touched = new Set<string>();
    let mounts: ParsedMount[] | undefined;
    for (const o of ops) {
      if (o.op === 'upsert') {
        this.rules.set(o.id, { id: o.id, ...o.body } as RuleSpec);
        touched.add(o.id);
      } else if (o.op === 'remove') {
        if (this.rules.delete(o.id)) touched.add(o.id);
      } else if (o.op === 'toggle') {
        const r = this.rules.get(o.id);
        if (!r) continue;
        this.rules.set(o.id, { ...r, enabled: o.enabled });
        touched.add(o.id);
      } else {
        this.mounts = mounts = o.mounts;
      }
    }
    const remove = [...touched].filter((id) => !this.rules.has(id));
    const upsert = [...touched].flatMap((id) => this.rules.get(id) ?? []);
    return { removeRules: remove, upsertRules: upsert, ...(mounts ? { mounts } : {}) };
  }
}

type Outcome = { ok: true; ufsUri: string | null; rule: string | null; rewritten: string; trace: unknown } | { ok: false; code: string; message: string };

function outcome(s: Snapshot, path: string): Outcome {
  try {
    const r = s.resolve({ api: 'alluxio', path }, { allowUnmounted: true });
    return { ok: true, ufsUri: r.ufsUri, rule: r.rule?.id ?? null, rewritten: r.rewrittenPath, trace: r.trace };
  } catch (e) {
    if (!(e instanceof AlluxioError)) throw e;
    return { ok: false, code: e.code, message: e.message };
  }
}

const byKey = (a: { key: string; error: string }, b: { key: string; error: string }) => (a.key + a.error < b.key + b.error ? -1 : 1);

function assertSame(inc: Snapshot, full: Snapshot, paths: readonly string[], model: Model): void {
  assert.deepEqual(inc.structure(), full.structure());
  assert.deepEqual(inc.rules, full.rules);
  assert.deepEqual(inc.mounts.map((m) => m.path), full.mounts.map((m) => m.path));
  assert.deepEqual([...inc.invalid].sort(byKey), [...full.invalid].sort(byKey));
  assert.equal(inc.revision, full.revision);
  const probes = new Set(paths);
  for (const r of model.rules.values()) if (r.kind === 'prefix') probes.add(r.src + '/x');
  for (const p of probes) assert.deepEqual(outcome(inc, p), outcome(full, p), p);
  for (const d of ['/', '/data', '/model', '/a', '/team-ml']) assert.deepEqual(inc.virtualChildren(d), full.virtualChildren(d), d);
}

function run(ids: number, batch: number, runs: number): void {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: ids - 1 }), body), { maxLength: ids }),
      mountsArb,
      fc.array(fc.array(opArb(ids), { minLength: 1, maxLength: batch }), { minLength: 1, maxLength: 12 }),
      fc.array(canonical, { minLength: 1, maxLength: 6 }),
      (initial, mounts, steps, paths) => {
        const model = new Model();
        model.mounts = mounts;
        for (const [i, b] of initial) model.rules.set(`r${i}`, { id: `r${i}`, ...b } as RuleSpec);
        let snap = Snapshot.build(1, { mounts, rules: [...model.rules.values()] });
        let rev = 1;
        for (const ops of steps) {
          const delta = model.step(ops);
          rev++;
          const inc = snap.apply(rev, delta);
          const full = Snapshot.build(rev, { mounts: model.mounts, rules: [...model.rules.values()] });
          assertSame(inc, full, [...paths, '/', '/team-x/y', '/a/b/c'], model);
          // The index alone, too: applying to the index equals building the index.
          assert.deepEqual(RuleIndex.build(sortRules([...model.rules.values()])).index.structure(), full.structure().rules);
          snap = inc;
        }
      },
    ),
    { seed: SEED, numRuns: runs },
  );
}

describe('incremental rule index', () => {
  it(`one change at a time equals a full rebuild (seed ${SEED})`, () => run(8, 1, RUNS));
  it(`batches of changes (a transaction) equal a full rebuild (seed ${SEED})`, () => run(12, 6, RUNS));
  it(`large batches (the re-sorting road) equal a full rebuild (seed ${SEED})`, () => run(160, 120, Math.max(10, Math.floor(RUNS / 10))));

  it('leaves the snapshot it was applied to as it was (requests holding it see no change)', () => {
    const r = (id: string, src: string, dst: string, order = 1): RuleSpec => ({ id, order, kind: 'prefix', src, dst, enabled: true });
    const s1 = Snapshot.build(1, { mounts: MOUNT_POOL, rules: [r('x', '/model/latest', '/model/v3')] });
    const before = JSON.stringify(s1.structure());
    const s2 = s1.apply(2, { upsertRules: [r('x', '/model/latest', '/model/v4'), r('y', '/data/in', '/data/out', 0)] });
    assert.equal(JSON.stringify(s1.structure()), before);
    assert.equal(s1.resolve({ api: 'alluxio', path: '/model/latest/w' }).rewrittenPath, '/model/v3/w');
    assert.equal(s2.resolve({ api: 'alluxio', path: '/model/latest/w' }).rewrittenPath, '/model/v4/w');
    assert.deepEqual(s2.rules.map((x) => x.id), ['y', 'x']);
    const s3 = s2.apply(3, { removeRules: ['x', 'nope'] });
    assert.equal(s3.resolve({ api: 'alluxio', path: '/model/latest/w' }).rewrittenPath, '/model/latest/w');
    assert.deepEqual(s3.virtualChildren('/model'), []);
    assert.deepEqual(s2.virtualChildren('/model'), ['latest']);
  });
});
