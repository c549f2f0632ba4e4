/**
 * THE resolver (Snapshot.resolve): every step of resolution.md on concrete tables —
 * front ends, normalisation, rules in order (prefix and regex interleaved), exclude,
 * enable/disable, single pass, rewrite validation naming the rule, mount lookup, reverse
 * lookup for FSSpec, virtual children, and the trace.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { failsAt as fails } from '../helpers/assert.js';
import { parseMount, type ParsedMount } from '../../src/domain/mounts.js';
import { Snapshot } from '../../src/domain/snapshot.js';
import type { ResolveRequest } from '../../src/domain/resolver.js';
import type { RuleSpec } from '../../src/domain/rules.js';

const FUSE = '/mnt/alluxio/fuse';
let seq = 0;
const P = (src: string, dst: string, over: Partial<RuleSpec> = {}): RuleSpec => ({ id: `p${++seq}`, order: 10 * seq, kind: 'prefix', src, dst, enabled: true, ...over });
const R = (src: string, dst: string, over: Partial<RuleSpec> = {}): RuleSpec => ({ id: `r${++seq}`, order: 10 * seq, kind: 'regex', src, dst, enabled: true, ...over });

const mounts: ParsedMount[] = [
  parseMount({ path: '/model', ufsUri: 's3://models/m/' }),
  parseMount({ path: '/data', ufsUri: 's3://my-bucket/data/', readOnly: true }),
  parseMount({ path: '/deep', ufsUri: 's3://my-bucket/x/y/' }),
  parseMount({ path: '/local', ufsUri: 'file:///srv/local/' }),
];

const alluxio = (path: string): ResolveRequest => ({ api: 'alluxio', path });

describe('Snapshot basics', () => {
  it('empty snapshot: revision 0, nothing resolves', () => {
    const s = Snapshot.empty();
    assert.equal(s.revision, 0);
    assert.deepEqual([s.mounts.length, s.rules.length, s.invalid.length], [0, 0, 0]);
    fails(() => s.resolve(alluxio('/a')), 'NoMountForPath', 'mount');
    const r = s.resolve(alluxio('/a/b'), { allowUnmounted: true });
    assert.deepEqual([r.mount, r.ufsUri, r.location, r.rule], [null, null, null, null]);
  });

  it('sorts mounts and rules, and skips rules that do not compile into invalid (never throws)', () => {
    const s = Snapshot.build(5, {
      mounts: [mounts[1]!, mounts[0]!],
      rules: [
        { id: 'z', order: 1, kind: 'prefix', src: '/a', dst: '/b', enabled: true },
        { id: 'bad', order: 0, kind: 'regex', src: '(unclosed', dst: '/x', enabled: true },
        { id: 'a', order: 1, kind: 'prefix', src: '/c', dst: '/d', enabled: true },
        { id: 'a', order: 9, kind: 'prefix', src: '/e', dst: '/f', enabled: true },
      ],
      invalid: [{ key: 'k', error: 'from the codec' }],
    });
    assert.deepEqual(s.mounts.map((m) => m.path), ['/data', '/model']);
    assert.deepEqual(s.rules.map((r) => r.id), ['a', 'z']);
    assert.deepEqual(s.invalid.map((i) => i.key), ['k', 'rule:a', 'rule:bad']);
  });

  it('mount() finds the mount of a path by its first segment', () => {
    const s = Snapshot.build(1, { mounts, rules: [] });
    assert.equal(s.mount('/data')?.ufsUri, 's3://my-bucket/data/');
    assert.equal(s.mount('/data/a/b')?.path, '/data');
    assert.equal(s.mount('/database'), undefined);
    assert.equal(s.mount('/'), undefined);
  });
});

describe('front ends agree on the Alluxio path', () => {
  const s = Snapshot.build(7, { mounts, rules: [] });
  it('alluxio, posix, s3 and fsspec give the same UFS URI', () => {
    const reqs: ResolveRequest[] = [
      alluxio('/data/a b/c.csv'),
      { api: 'posix', path: `${FUSE}/data/a b/c.csv`, fuseRoot: FUSE },
      { api: 's3', bucket: 'data', key: 'a b/c.csv' },
      { api: 'fsspec', uri: 's3://my-bucket/data/a b/c.csv' },
      { api: 'fsspec', uri: 'alluxio:///data/a b/c.csv' },
      { api: 'fsspec', uri: '/data/a b/c.csv' },
    ];
    // U+2028 is a line terminator to JS regexes; it is an ordinary character in a path.
    assert.equal(s.resolve({ api: 'fsspec', uri: 'alluxio:///data/\u2028x' }).ufsUri, 's3://my-bucket/data/%E2%80%A8x');
    for (const req of reqs) {
      const r = s.resolve(req);
      assert.equal(r.ufsUri, 's3://my-bucket/data/a%20b/c.csv', req.api);
      assert.equal(r.alluxioPath, '/data/a b/c.csv');
      assert.equal(r.revision, 7);
      assert.deepEqual(r.mount, { path: '/data', ufsUri: 's3://my-bucket/data/', readOnly: true });
      assert.deepEqual(r.location?.relSegments, ['a b', 'c.csv']);
    }
  });

  it('normalises (collapses // and a trailing /) but rejects dot segments with the step', () => {
    assert.equal(s.resolve(alluxio('//data///x/')).alluxioPath, '/data/x');
    fails(() => s.resolve(alluxio('/data/../etc')), 'InvalidPath', 'normalize', /\.\./);
    fails(() => s.resolve(alluxio('/data/./x')), 'InvalidPath', 'normalize');
    fails(() => s.resolve(alluxio('data/x')), 'InvalidPath', 'normalize', /absolute/);
    fails(() => s.resolve(alluxio('/data/x\u0000')), 'InvalidPath', 'normalize', /U\+0000/);
    fails(() => s.resolve({ api: 's3', bucket: 'data', key: '../../etc/passwd' }), 'InvalidPath', 'normalize');
    fails(() => s.resolve({ api: 's3', bucket: 'da/ta', key: 'x' }), 'InvalidPath', 'decode');
    fails(() => s.resolve({ api: 's3', bucket: '', key: 'x' }), 'InvalidPath', 'decode');
    fails(() => s.resolve({ api: 'posix', path: '/elsewhere/data/x', fuseRoot: FUSE }), 'InvalidPath', 'decode', /not under the FUSE root/);
    fails(() => s.resolve({ api: 'posix', path: `${FUSE}/data/../../x`, fuseRoot: FUSE }), 'InvalidPath', 'normalize');
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://my-bucket/data/../x' }), 'InvalidPath', 'decode', /dot segments/);
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://my-bucket/data/./x' }), 'InvalidPath', 'decode', /dot segments/);
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://my-bucket/data/x\u0001' }), 'InvalidPath', 'decode', /control/);
    fails(() => s.resolve({ api: 'fsspec', uri: `s3://my-bucket/data/${'a'.repeat(256)}` }), 'NameTooLong', 'decode', /255 bytes/);
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://my-bucket/data/\ud800x' }), 'InvalidPath', 'decode', /UTF-8/);
    // POSIX: the 4096-byte limit is the Alluxio path's, whatever the mount point's length
    // (it was applied to mount point + path: a long mount point refused shorter paths)
    const longRoot = `/mnt/${'m'.repeat(250)}/${'n'.repeat(250)}/${'o'.repeat(250)}`;
    const near = `/data/${Array.from({ length: 16 }, () => 'r'.repeat(250)).join('/')}`; // 4022 bytes
    assert.equal(s.resolve({ api: 'posix', path: `${longRoot}${near}`, fuseRoot: longRoot }).alluxioPath, near);
    const over = `${near}/${'s'.repeat(80)}`; // 4103 bytes
    fails(() => s.resolve({ api: 'posix', path: `${longRoot}${over}`, fuseRoot: longRoot }), 'NameTooLong', 'normalize', /4096 bytes/);
    fails(() => s.resolve({ api: 'posix', path: `${FUSE}${over}`, fuseRoot: FUSE }), 'NameTooLong', 'normalize', /4096 bytes/);
  });

  it('an fsspec URI is raw text: never percent-decoded again (literal names, like an S3 key)', () => {
    const cases: [string, string][] = [
      ['100%.csv', 's3://my-bucket/data/100%25.csv'],
      ['x%41.txt', 's3://my-bucket/data/x%2541.txt'],
      ['%2e%2e', 's3://my-bucket/data/%252e%252e'],
      ['a%2Fb', 's3://my-bucket/data/a%252Fb'],
      ['q?v=1#f', 's3://my-bucket/data/q%3Fv=1%23f'],
    ];
    for (const [name, ufsUri] of cases) {
      const fs = s.resolve({ api: 'fsspec', uri: `s3://my-bucket/data/${name}` });
      const viaS3 = s.resolve({ api: 's3', bucket: 'data', key: name });
      const viaPosix = s.resolve({ api: 'posix', path: `${FUSE}/data/${name}`, fuseRoot: FUSE });
      for (const r of [fs, viaS3, viaPosix]) {
        assert.equal(r.alluxioPath, `/data/${name}`, `${r.api} ${name}`);
        assert.deepEqual(r.location?.relSegments, [name], `${r.api} ${name}`);
        assert.equal(r.ufsUri, ufsUri, `${r.api} ${name}`);
      }
    }
    // file:// too (the reported case): the file "100%.csv", not a malformed escape.
    const f = s.resolve({ api: 'fsspec', uri: 'file:///srv/local/100%.csv' });
    assert.deepEqual([f.alluxioPath, f.ufsUri], ['/local/100%.csv', 'file:///srv/local/100%25.csv']);
    // the mount part of the URI is raw as well: "%64ata" is not "data"
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://my-bucket/%64ata/x' }), 'NoMountForUri', 'decode');
  });

  it('an s3 key is decoded once by the front end, never again', () => {
    const r = s.resolve({ api: 's3', bucket: 'data', key: 'a%2Fb' });
    assert.equal(r.alluxioPath, '/data/a%2Fb');
    assert.deepEqual(r.location?.relSegments, ['a%2Fb']);
    assert.equal(r.ufsUri, 's3://my-bucket/data/a%252Fb');
  });

  it('s3 with an empty key is the bucket itself; posix at the root is /', () => {
    assert.equal(s.resolve({ api: 's3', bucket: 'data', key: '' }).ufsUri, 's3://my-bucket/data/');
    fails(() => s.resolve({ api: 'posix', path: FUSE, fuseRoot: FUSE }), 'NoMountForPath', 'mount');
    assert.equal(s.resolve({ api: 'posix', path: FUSE, fuseRoot: FUSE }, { allowUnmounted: true }).rewrittenPath, '/');
  });

  it('fsspec reverse lookup is segment-aware, same scheme family and authority, longest match', () => {
    assert.equal(s.resolve({ api: 'fsspec', uri: 's3://my-bucket/x/y/z' }).alluxioPath, '/deep/z');
    assert.equal(s.resolve({ api: 'fsspec', uri: 's3://my-bucket/data' }).alluxioPath, '/data');
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://my-bucket/database/x' }), 'NoMountForUri', 'decode');
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://other-bucket/data/x' }), 'NoMountForUri');
    // s3a:// names the same bucket as s3:// (scheme family); the mount's URI is what is shown.
    const a = s.resolve({ api: 'fsspec', uri: 's3a://my-bucket/data/x' });
    assert.deepEqual([a.alluxioPath, a.ufsUri], ['/data/x', 's3://my-bucket/data/x']);
    fails(() => s.resolve({ api: 'fsspec', uri: 'gs://my-bucket/data/x' }), 'NoMountForUri');
    fails(() => s.resolve({ api: 'fsspec', uri: 's3://my-bucket/x/z' }), 'NoMountForUri');
    assert.equal(s.resolve({ api: 'fsspec', uri: 'file:///srv/local/a/b' }).ufsUri, 'file:///srv/local/a/b');
    fails(() => s.resolve({ api: 'fsspec', uri: 'ftp://h/x' }), 'InvalidPath', 'decode');
  });

  it('outside every mount: NoMountForPath at step mount', () => {
    fails(() => s.resolve(alluxio('/nope/x')), 'NoMountForPath', 'mount', /\/nope\/x/);
    fails(() => s.resolve(alluxio('/')), 'NoMountForPath', 'mount');
  });
});

describe('rules', () => {
  it('prefix rules are segment-aware', () => {
    const s = Snapshot.build(1, { mounts, rules: [P('/model/latest', '/model/v3')] });
    assert.equal(s.resolve(alluxio('/model/latest')).ufsUri, 's3://models/m/v3');
    assert.equal(s.resolve(alluxio('/model/latest/a/b')).ufsUri, 's3://models/m/v3/a/b');
    const miss = s.resolve(alluxio('/model/latest2/a'));
    assert.equal(miss.rule, null);
    assert.equal(miss.ufsUri, 's3://models/m/latest2/a');
  });

  it('regex rules match the whole path, fill templates and report captures', () => {
    const r = R('/team-(\\w+)/(?<rest>.*)', '/data/{{ var1 }}/{{ rest }}');
    const s = Snapshot.build(1, { mounts, rules: [r] });
    const out = s.resolve(alluxio('/team-ml/a/b.csv'));
    assert.equal(out.rewrittenPath, '/data/ml/a/b.csv');
    assert.deepEqual(out.rule, { id: r.id, kind: 'regex', captures: { var1: 'ml', var2: 'a/b.csv', rest: 'a/b.csv' } });
    assert.equal(s.resolve(alluxio('/x/team-ml/a'), { allowUnmounted: true }).rule, null, 'never matches in the middle');
  });

  it('the first rule in order wins, across prefix and regex rules and index levels', () => {
    const deepPrefix = P('/model/latest', '/model/v3', { order: 20 });
    const rootRegex = R('/(model)/latest/(.*)', '/model/v9/{{ var2 }}', { order: 10 });
    const s1 = Snapshot.build(1, { mounts, rules: [deepPrefix, rootRegex] });
    assert.equal(s1.resolve(alluxio('/model/latest/x')).rule?.id, rootRegex.id);
    const s2 = Snapshot.build(1, { mounts, rules: [{ ...deepPrefix, order: 5 }, rootRegex] });
    assert.equal(s2.resolve(alluxio('/model/latest/x')).rule?.id, deepPrefix.id);
    // A shallower prefix rule that comes first in order beats a deeper one.
    const shallow = P('/model', '/data/models', { order: 1 });
    const s3 = Snapshot.build(1, { mounts, rules: [deepPrefix, shallow] });
    assert.equal(s3.resolve(alluxio('/model/latest/x')).rewrittenPath, '/data/models/latest/x');
    // Equal orders: the id decides.
    const a = P('/model/latest', '/model/a', { id: 'a', order: 1 });
    const b = R('/model/latest/.*', '/model/b', { id: 'b', order: 1 });
    assert.equal(Snapshot.build(1, { mounts, rules: [b, a] }).resolve(alluxio('/model/latest/q')).rule?.id, 'a');
    assert.equal(Snapshot.build(1, { mounts, rules: [b, { ...a, id: 'c' }] }).resolve(alluxio('/model/latest/q')).rule?.id, 'b');
  });

  it('single pass: a result is not fed back into the rules (no loop can exist)', () => {
    const s = Snapshot.build(1, { mounts, rules: [P('/model/a', '/model/b'), P('/model/b', '/model/a')] });
    assert.equal(s.resolve(alluxio('/model/a/x')).rewrittenPath, '/model/b/x');
    assert.equal(s.resolve(alluxio('/model/b/x')).rewrittenPath, '/model/a/x');
  });

  it('exclude and disabled rules are skipped; the next rule in order may match', () => {
    const ex = P('/model/latest', '/model/v3', { exclude: '/model/latest/tmp(/.*)?' });
    const fallback = R('/model/latest/(.*)', '/model/fallback/{{ var1 }}');
    const s = Snapshot.build(1, { mounts, rules: [ex, fallback] });
    assert.equal(s.resolve(alluxio('/model/latest/a')).rule?.id, ex.id);
    const t = s.resolve(alluxio('/model/latest/tmp/a'));
    assert.equal(t.rule?.id, fallback.id);
    assert.deepEqual((t.trace.find((x) => x.step === 'rule')!.tried as unknown[])[0], { id: ex.id, matched: true, excluded: true });
    const off = Snapshot.build(1, { mounts, rules: [{ ...ex, enabled: false }] });
    assert.equal(off.resolve(alluxio('/model/latest/a')).rule, null);
  });

  it('the trace lists the rules tried in evaluation order and ends at the winner (the index scans by directory, not by order)', () => {
    const alias = P('/model/latest', '/model/v3', { id: 'alias', order: 5 });
    const late = R('^/model/latest(/.*)?$', '/model/v9{{ var1 }}', { id: 'late', order: 30 }); // filed under /model
    const miss = R('^/model/lat[e]st/nothing$', '/model/v1', { id: 'miss', order: 1 }); // past the prefilter, no match
    const t = Snapshot.build(1, { mounts, rules: [late, alias, miss] }).resolve(alluxio('/model/latest/config.json'));
    assert.equal(t.rule?.id, 'alias');
    const step = t.trace.find((x) => x.step === 'rule')!;
    assert.equal(step.matched, 'alias');
    // 'late' matches too, but comes after the winner: a rule-by-rule evaluation never tries it
    assert.deepEqual(step.tried, [{ id: 'miss', matched: false }, { id: 'alias', matched: true }]);
  });

  it('a result that is not canonical fails with RuleResultInvalid naming the rule', () => {
    const r = R('/x(.*)', '/model/{{ var1 }}', { id: 'dotty' });
    const s = Snapshot.build(1, { mounts, rules: [r] });
    fails(() => s.resolve(alluxio('/x..')), 'RuleResultInvalid', 'rewrite', /rule dotty/);
    const rel = R('/y/(.*)', '{{ var1 }}', { id: 'relative' });
    fails(() => Snapshot.build(1, { mounts, rules: [rel] }).resolve(alluxio('/y/z')), 'RuleResultInvalid', 'rewrite', /rule relative.*absolute/);
    const long = P('/a', '/' + 'x'.repeat(250) + '/' + 'y'.repeat(250), { id: 'long' });
    const deep = '/a/' + Array.from({ length: 15 }, () => 'z'.repeat(250)).join('/');
    fails(() => Snapshot.build(1, { mounts, rules: [long] }).resolve(alluxio(deep)), 'RuleResultInvalid', 'rewrite', /rule long/);
  });

  it('a rewrite collapses // from empty captures (normalised again)', () => {
    const s = Snapshot.build(1, { mounts, rules: [R('/m(/.*)?', '/model/v3/{{ var1 }}')] });
    assert.equal(s.resolve(alluxio('/m')).rewrittenPath, '/model/v3');
    assert.equal(s.resolve(alluxio('/m/a')).rewrittenPath, '/model/v3/a');
  });

  it('rules apply to every API the same way', () => {
    const s = Snapshot.build(3, { mounts, rules: [P('/model/latest', '/model/v3')] });
    const want = 's3://models/m/v3/config.json';
    assert.equal(s.resolve({ api: 's3', bucket: 'model', key: 'latest/config.json' }).ufsUri, want);
    assert.equal(s.resolve({ api: 'posix', path: `${FUSE}/model/latest/config.json`, fuseRoot: FUSE }).ufsUri, want);
    assert.equal(s.resolve({ api: 'fsspec', uri: 's3://models/m/latest/config.json' }).ufsUri, want);
  });

  it('a rule can lead into no mount: allowUnmounted gives nulls, otherwise NoMountForPath', () => {
    const s = Snapshot.build(1, { mounts, rules: [P('/model/latest', '/nowhere/v3')] });
    const r = s.resolve(alluxio('/model/latest/a'), { allowUnmounted: true });
    assert.deepEqual([r.rewrittenPath, r.mount, r.ufsUri], ['/nowhere/v3/a', null, null]);
    fails(() => s.resolve(alluxio('/model/latest/a')), 'NoMountForPath', 'mount', /rewritten from \/model\/latest\/a/);
  });

  it('many rules: lookups still find the right one (index is not a scan, but behaves like one)', () => {
    const rules: RuleSpec[] = [];
    for (let i = 0; i < 500; i++) rules.push(P(`/data/d${i}`, `/model/t${i}`, { id: `p-${i}`, order: i }));
    for (let i = 0; i < 200; i++) rules.push(R(`/data/re${i}/(.*)`, `/model/r${i}/{{ var1 }}`, { id: `re-${i}`, order: 1000 + i }));
    rules.push(R('/data/(.*)', '/local/{{ var1 }}', { id: 'catch-all', order: 5000 }));
    const s = Snapshot.build(1, { mounts, rules });
    assert.equal(s.resolve(alluxio('/data/d499/x')).ufsUri, 's3://models/m/t499/x');
    assert.equal(s.resolve(alluxio('/data/re199/x')).ufsUri, 's3://models/m/r199/x');
    assert.equal(s.resolve(alluxio('/data/d5000/x')).ufsUri, 'file:///srv/local/d5000/x');
  });
});

describe('trace and virtual children', () => {
  it('the trace names every step', () => {
    const s = Snapshot.build(12, { mounts, rules: [P('/model/latest', '/model/v3', { id: 'L' })] });
    const r = s.resolve({ api: 's3', bucket: 'model', key: 'latest/c.json' });
    assert.deepEqual(r.trace.map((t) => t.step), ['input', 'decode', 'normalize', 'rule', 'rewrite', 'mount', 'join']);
    assert.equal(r.trace[0]!.revision, 12);
    assert.equal(r.trace[3]!.matched, 'L');
    assert.equal(r.trace[6]!.ufsUri, 's3://models/m/v3/c.json');
    assert.deepEqual(s.resolve(alluxio('/model/x'), { trace: false }).trace, []);
    assert.equal(s.resolve(alluxio('/model/latest/y'), { trace: false }).ufsUri, 's3://models/m/v3/y');
  });

  it('virtual children: mounts under /, and the components of enabled rule sources', () => {
    const s = Snapshot.build(1, {
      mounts,
      rules: [
        P('/model/latest', '/model/v3'),
        P('/virt/a/b', '/data/x'),
        R('^/team/(\\w+)/(.*)$', '/data/{{ var1 }}'),
        R('^/team-(\\w+)/(.*)$', '/data/{{ var1 }}'),
        R('/exact/file', '/data/f'),
        P('/hidden/x', '/data/y', { enabled: false }),
      ],
    });
    assert.deepEqual(s.virtualChildren('/'), ['data', 'deep', 'exact', 'local', 'model', 'team', 'virt']);
    assert.deepEqual(s.virtualChildren('/model'), ['latest']);
    assert.deepEqual(s.virtualChildren('/virt'), ['a']);
    assert.deepEqual(s.virtualChildren('/virt/a'), ['b']);
    assert.deepEqual(s.virtualChildren('/exact'), ['file']);
    assert.deepEqual(s.virtualChildren('/team'), []);
    assert.deepEqual(s.virtualChildren('/nothing'), []);
  });
});
