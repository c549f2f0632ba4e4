/**
 * Property-based tests of THE resolver (resolution.md §6) on random mount tables, random
 * rule sets (prefix and regex, with excludes, disabled rules, hostile templates) and random
 * paths, hostile ones included (`..`, `.`, `%2F`, `//`, NUL and other controls, long and
 * unicode segments):
 *  (a) POSIX <fuse-root>+p, S3 bucket/key of p, FSSpec with the UFS-native URI of p (the
 *      mount's URI followed by p's remainder as RAW text, never percent-encoded: a request
 *      URI is decoded once by its front end, like an S3 key; `s3a://` for half of the s3
 *      mounts, the same bucket) and the Alluxio path p agree on the UFS URI, the rule, the mount and the revision (or
 *      all fail with the same error code);
 *  (b) no result ever leaves its mount's UFS URI, and every failure is a typed error;
 *  (c) a prefix rule and its equivalent regex rule (what `path-mapping export` writes)
 *      resolve every path identically.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AlluxioError } from '../../src/domain/errors.js';
import { checkMountAgainst, parseMount, type ParsedMount } from '../../src/domain/mounts.js';
import { normalizePath, segmentsOf } from '../../src/domain/paths.js';
import { Snapshot } from '../../src/domain/snapshot.js';
import type { Resolution, ResolveRequest } from '../../src/domain/resolver.js';
import { prefixAsRegex, sortRules, type RuleSpec } from '../../src/domain/rules.js';
import { RuleIndex } from '../../src/domain/rule-index.js';
import { isPathPrefix, joinPaths, stripPathPrefix } from '../../src/domain/paths.js';
import { compilePattern, compileTemplate, expandTemplate } from '../../src/domain/regex.js';
import { formatRequestUri, formatUfsUri, isUfsPrefix, parseUfsUri } from '../../src/domain/ufs-uri.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const params = { seed: SEED, numRuns: RUNS };
const FUSE = '/mnt/alluxio/fuse';

/** Names that make collisions likely (so rules and mounts actually fire). */
const NAMES = ['data', 'model', 'latest', 'v3', 'v4', 'a', 'b', 'team-ml', 'ü', '数据', 'a b', 'x.y', '~'];
const HOSTILE_SEGS = ['', '.', '..', '%2F', 'a%2Fb', '%2e%2e', 'nul\u0000x', 'tab\tx', 'del\u007f', 'z'.repeat(255), 'é'.repeat(128), '😀', 'e\u0301', '\ud800', '{{ var1 }}', '?', '#', '\\', '100%.csv', 'x%41.txt', '%', '%zz', 'a%20b'];
const name = fc.constantFrom(...NAMES);
const segment = fc.oneof({ weight: 8, arbitrary: name }, { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_SEGS) }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((x) => !x.includes('/')) });
/** Raw paths: segments joined by "/" (empty and dot segments give //, /./, /../). */
const rawPath = fc
  .tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom('data', 'model', 'a', 'team-ml', 'ü', '数据', 'v3') }, { weight: 1, arbitrary: segment }), fc.array(segment, { maxLength: 5 }), fc.boolean())
  .map(([first, rest, empty]) => (empty && rest.length === 0 ? [] : [first, ...rest]))
  .map((s) => ({ segs: s, path: '/' + s.join('/') }));
/** A canonical path made of plain names. */
const canonical = fc.array(name, { minLength: 1, maxLength: 3 }).map((s) => '/' + s.join('/'));

const bucket = fc.constantFrom('my-bucket', 'other-bucket', 'b-1');
const mountUriSeg = fc.constantFrom('data', 'x', 'y', 'ü', 'a b', 'deep');
const mountsArb: fc.Arbitrary<ParsedMount[]> = fc
  .array(
    fc.record({
      name: fc.constantFrom('data', 'model', 'a', 'team-ml', 'ü', '数据', 'v3'),
      scheme: fc.constantFrom('s3', 'file'),
      bucket,
      segs: fc.array(mountUriSeg, { maxLength: 3 }),
      readOnly: fc.boolean(),
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((entries) => {
    const table: ParsedMount[] = [];
    for (const e of entries) {
      const uri = e.scheme === 'file' ? formatUfsUri('file', '', ['srv', ...e.segs]) : formatUfsUri('s3', e.bucket, e.segs);
      const m = parseMount({ path: '/' + e.name, ufsUri: uri, readOnly: e.readOnly });
      try {
        checkMountAgainst(table, m, false); // the table invariant: unique paths, no nesting
        table.push(m);
      } catch {
        /* skip */
      }
    }
    return table;
  });

const prefixRule = fc.record({ src: canonical, dst: canonical, exclude: fc.option(fc.constantFrom('.*/tmp(/.*)?', '/data/.*', '.*b'), { nil: undefined }), enabled: fc.boolean() });
const regexRule = fc.oneof(
  fc.constant({ src: '^/team-(\\w+)/(.*)$', dst: '/data/{{ var1 }}/{{ var2 }}' }),
  fc.constant({ src: '/(?<first>[^/]+)/latest(/.*)?', dst: '/{{ first }}/v4{{ var2 }}' }),
  fc.constant({ src: '/a/(.*)', dst: '/{{ var1 }}' }), // can produce hostile results
  fc.constant({ src: '/x(.*)', dst: '/model/{{ var1 }}' }), // `/x..` -> `/model/..`: RuleResultInvalid
  fc.constant({ src: '/b/(.*)', dst: '{{ var1 }}' }), // relative results: RuleResultInvalid
  fc.constant({ src: '.*', dst: '/data/all' }),
  fc.tuple(canonical, canonical).map(([s, d]) => prefixAsRegex(s, d)),
);

function rulesArb(): fc.Arbitrary<RuleSpec[]> {
  return fc
    .array(fc.oneof(prefixRule.map((r) => ({ ...r, kind: 'prefix' as const })), regexRule.map((r) => ({ ...r, kind: 'regex' as const, enabled: true }))), { maxLength: 8 })
    .chain((list) =>
      fc.tuple(...list.map(() => fc.integer({ min: 0, max: 5 }))).map((orders) =>
        list
          .map((r, i): RuleSpec => ({ id: `r${i}`, order: orders[i]!, kind: r.kind, src: r.src, dst: r.dst, enabled: r.enabled, ...('exclude' in r && r.exclude !== undefined ? { exclude: r.exclude } : {}) }))
          .filter((r) => !(r.kind === 'prefix' && r.src === r.dst)),
      ),
    );
}

type Outcome = { ok: true; ufsUri: string | null; rule: string | null; mount: string | null; revision: number; rewritten: string } | { ok: false; code: string };

const EXPECTED = new Set(['InvalidPath', 'NameTooLong', 'RuleResultInvalid', 'NoMountForPath', 'NoMountForUri']);

function run(s: Snapshot, req: ResolveRequest): { outcome: Outcome; res?: Resolution } {
  try {
    const res = s.resolve(req);
    return { outcome: { ok: true, ufsUri: res.ufsUri, rule: res.rule?.id ?? null, mount: res.mount?.path ?? null, revision: res.revision, rewritten: res.rewrittenPath }, res };
  } catch (e) {
    if (!(e instanceof AlluxioError)) throw new Error(`non-AlluxioError from ${JSON.stringify(req)}: ${String(e)}`);
    assert.ok(EXPECTED.has(e.code), `unexpected ${e.code}: ${e.message}`);
    assert.ok(e.step, `error without step: ${e.message}`);
    return { outcome: { ok: false, code: e.code } };
  }
}

/** (b): the UFS URI is inside the mount's URI: same scheme/authority, mount segments lead, then exactly the rewritten remainder. */
function checkContained(s: Snapshot, res: Resolution): void {
  assert.ok(res.mount && res.ufsUri && res.location);
  const m = s.mount(res.rewrittenPath)!;
  assert.equal(m.path, res.mount.path);
  const back = parseUfsUri(res.ufsUri, 'InvalidPath');
  assert.ok(isUfsPrefix(m.ufs, back), `${res.ufsUri} escaped ${m.ufsUri}`);
  assert.deepEqual(back.segments, [...m.ufs.segments, ...segmentsOf(res.rewrittenPath).slice(1)]);
  assert.equal(res.rewrittenPath, normalizePath(res.rewrittenPath));
}

describe(`property: one resolver for every API (seed ${SEED}, ${RUNS} runs; rerun with FUZZ_SEED=${SEED})`, () => {
  it('(a)+(b) posix, s3, fsspec and the Alluxio path agree, and stay inside the mount', () => {
    let resolved = 0;
    let viaRule = 0;
    let fsspecChecked = 0;
    fc.assert(
      fc.property(mountsArb, rulesArb(), fc.array(rawPath, { minLength: 1, maxLength: 6 }), fc.nat({ max: 1e6 }), (mounts, rules, paths, revision) => {
        const s = Snapshot.build(revision, { mounts, rules });
        for (const { segs, path } of paths) {
          const base = run(s, { api: 'alluxio', path });
          const posix = run(s, { api: 'posix', path: FUSE + path, fuseRoot: FUSE });
          assert.deepEqual(posix.outcome, base.outcome, `posix ${JSON.stringify(path)}`);
          if (segs.length > 0 && segs[0] !== '') {
            const s3 = run(s, { api: 's3', bucket: segs[0]!, key: segs.slice(1).join('/') });
            assert.deepEqual(s3.outcome, base.outcome, `s3 ${JSON.stringify(path)}`);
          }
          let canon: string | undefined;
          try {
            canon = normalizePath(path);
          } catch {
            canon = undefined;
          }
          // FSSpec: the raw path (hostile segments included) under the mount its first
          // segment names, as raw text after the mount's URI.
          const m = segs.length > 0 && segs[0] !== '' && !segs[0]!.includes('/') ? s.mount('/' + segs[0]) : undefined;
          if (m && m.name === segs[0]) {
            const scheme = m.ufs.scheme === 's3' && fsspecChecked % 2 === 1 ? 's3a' : m.ufs.scheme;
            const uri = formatRequestUri(scheme, m.ufs.authority, [...m.ufs.segments, ...segs.slice(1)]);
            const fs = run(s, { api: 'fsspec', uri });
            assert.deepEqual(fs.outcome, base.outcome, `fsspec ${JSON.stringify(uri)} for ${JSON.stringify(path)}`);
            fsspecChecked++;
          }
          if (canon) assert.deepEqual(run(s, { api: 'fsspec', uri: 'alluxio://' + canon }).outcome, base.outcome);
          if (base.res) {
            resolved++;
            if (base.res.rule) viaRule++;
            checkContained(s, base.res);
          }
        }
      }),
      params,
    );
    process.stderr.write(`resolved ${resolved}, via a rule ${viaRule}, fsspec comparisons ${fsspecChecked}\n`);
    // The generators must reach the interesting cases, or the property proves little.
    assert.ok(resolved > RUNS / 4, `only ${resolved} resolutions succeeded`);
    assert.ok(viaRule > RUNS / 20, `only ${viaRule} resolutions went through a rule`);
    assert.ok(fsspecChecked > RUNS / 4, `only ${fsspecChecked} fsspec comparisons`);
  });

  it('(b) hostile rules and paths: typed errors only, never outside the mount', () => {
    const hostileRule = fc.record({
      src: fc.constantFrom('/(.*)', '(.*)', '/([^/]*)/(.*)', '.*?(\\.\\.)?.*', '/a(.*)b', '/(?P<n>.*)'),
      dst: fc.constantFrom('/data/{{ var1 }}', '/data{{ var1 }}', '/data/{{ var1 }}/..', '{{ var1 }}', '/data/../{{ var1 }}', '/data/%2F{{ var1 }}', '/data/\u0000', '/data//{{ var1 }}//'),
    });
    fc.assert(
      fc.property(mountsArb, fc.array(hostileRule, { maxLength: 4 }), rawPath, (mounts, hr, { path }) => {
        const rules: RuleSpec[] = hr.map((r, i) => ({ id: `h${i}`, order: i, kind: 'regex', src: r.src, dst: r.dst, enabled: true }));
        const s = Snapshot.build(1, { mounts, rules });
        // Rules whose template names a missing group are skipped into `invalid`, never thrown.
        assert.equal(s.rules.length + s.invalid.length, rules.length);
        const { res } = run(s, { api: 'alluxio', path });
        if (res) checkContained(s, res);
      }),
      params,
    );
  });

  it('(c) a prefix rule and its equivalent regex rule resolve every path identically', () => {
    fc.assert(
      fc.property(mountsArb, fc.array(prefixRule, { minLength: 1, maxLength: 6 }), fc.array(rawPath, { minLength: 1, maxLength: 6 }), (mounts, prs, paths) => {
        const asPrefix: RuleSpec[] = prs
          .filter((r) => r.src !== r.dst)
          .map((r, i) => ({ id: `p${i}`, order: (i * 7) % 3, kind: 'prefix', src: r.src, dst: r.dst, enabled: r.enabled, ...(r.exclude ? { exclude: r.exclude } : {}) }));
        const asRegex: RuleSpec[] = asPrefix.map((r) => ({ ...r, kind: 'regex', ...prefixAsRegex(r.src, r.dst) }));
        const a = Snapshot.build(9, { mounts, rules: asPrefix });
        const b = Snapshot.build(9, { mounts, rules: asRegex });
        assert.equal(b.invalid.length, 0, JSON.stringify(b.invalid));
        for (const { path } of paths) {
          for (const p of [path, ...asPrefix.map((r) => r.src), ...asPrefix.map((r) => r.src + '/x'), ...asPrefix.map((r) => r.src + 'x')]) {
            const ra = run(a, { api: 'alluxio', path: p }).outcome;
            const rb = run(b, { api: 'alluxio', path: p }).outcome;
            assert.deepEqual(rb, ra, `path ${JSON.stringify(p)}`);
          }
        }
      }),
      params,
    );
  });

  it('(d) the rule index picks exactly what a linear scan in (order, id) order picks', () => {
    /** The specification, written as naively as possible. */
    function linear(rules: RuleSpec[], path: string): { id: string; raw: string } | null {
      for (const r of sortRules(rules)) {
        if (!r.enabled) continue;
        let raw: string | null = null;
        if (r.kind === 'prefix') {
          if (isPathPrefix(r.src, path)) raw = joinPaths(r.dst, stripPathPrefix(r.src, path));
        } else {
          const p = compilePattern(r.src);
          const m = p.re.exec(path);
          if (m) raw = expandTemplate(compileTemplate(r.dst, p), m);
        }
        if (raw === null) continue;
        if (r.exclude !== undefined && compilePattern(r.exclude).re.test(path)) continue;
        return { id: r.id, raw };
      }
      return null;
    }
    fc.assert(
      fc.property(rulesArb(), fc.array(rawPath, { minLength: 1, maxLength: 8 }), (rules, paths) => {
        const { index, failed } = RuleIndex.build(sortRules(rules));
        assert.equal(failed.length, 0);
        for (const { path } of paths) {
          let canon: string;
          try {
            canon = normalizePath(path);
          } catch {
            continue;
          }
          for (const p of [canon, ...rules.filter((r) => r.kind === 'prefix').map((r) => r.src + '/x')]) {
            const got = index.match(p);
            assert.deepEqual(got ? { id: got.rule.spec.id, raw: got.raw } : null, linear(rules, p), p);
          }
        }
      }),
      params,
    );
  });
});
