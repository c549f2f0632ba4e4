/**
 * Rule values: validation of untrusted input (CLI, rule files, etcd written by hand), RE2
 * compilation (whole-path anchoring, templates, named groups, linear time), literal
 * prefixes used by the prefilter, ordering and the prefix->regex equivalence of export.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fails } from '../helpers/assert.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { parseRuleSpec, validateRuleBody, validateRuleId, validateTemplateSegments } from '../../src/domain/rule-validation.js';
import { compilePattern, compileTemplate, expandTemplate, literalPrefix } from '../../src/domain/regex.js';
import { compareRules, generateRuleId, nextOrder, prefixAsRegex, regexAsPrefix, ruleValue, sortRules, type RuleSpec } from '../../src/domain/rules.js';
import { decodeConfig } from '../../src/store/codec.js';
import { Layout } from '../../src/store/layout.js';
import { exportRules, parseRuleFile } from '../../src/control/rules.js';

const rule = (over: Partial<RuleSpec> & Pick<RuleSpec, 'src' | 'dst'>): Record<string, unknown> => ({ id: 'r1', order: 10, kind: 'prefix', enabled: true, ...over });

describe('validateTemplateSegments (a regex target, when written)', () => {
  it('refuses a literal "." or ".." segment; placeholders and dots inside names are fine', () => {
    for (const dst of ['/k5/x/../{{ var1 }}', '/a/./{{ var1 }}', '{{ var1 }}/..', '/..']) {
      assert.throws(() => validateTemplateSegments(dst), (e) => e instanceof AlluxioError && e.code === 'InvalidRule' && /segment/.test(e.message), dst);
    }
    for (const dst of ['/k5/x/{{ var1 }}', '/a/..b/{{ var1 }}', '/a/.hidden', '/a/{{ var1 }}..{{ var2 }}', '{{ var1 }}']) validateTemplateSegments(dst);
  });
});

describe('parseRuleSpec (untrusted values)', () => {
  it('accepts a canonical prefix rule and a regex rule with groups', () => {
    const p = parseRuleSpec(rule({ src: '/model/latest', dst: '/model/v3' }));
    assert.deepEqual(p, { id: 'r1', order: 10, kind: 'prefix', src: '/model/latest', dst: '/model/v3', enabled: true });
    const r = parseRuleSpec(rule({ kind: 'regex', src: '^/team-(\\w+)/(?<rest>.*)$', dst: '/shared/{{ var1 }}/{{rest}}', exclude: '.*/tmp/.*' }));
    assert.equal(r.exclude, '.*/tmp/.*');
  });

  it('defaults enabled to true, keeps false', () => {
    const { enabled: _e, ...noEnabled } = rule({ src: '/a', dst: '/b' });
    assert.equal(parseRuleSpec(noEnabled).enabled, true);
    assert.equal(parseRuleSpec(rule({ src: '/a', dst: '/b', enabled: false })).enabled, false);
  });

  it('rejects non-objects and wrong field types', () => {
    for (const bad of [null, 3, 'x', [], true]) fails(() => parseRuleSpec(bad), 'InvalidRule');
    fails(() => parseRuleSpec(rule({ src: '/a', dst: '/b', kind: 'glob' as never })), 'InvalidRule', /kind/);
    fails(() => parseRuleSpec({ ...rule({ src: '/a', dst: '/b' }), order: 1.5 }), 'InvalidRule', /order/);
    fails(() => parseRuleSpec({ ...rule({ src: '/a', dst: '/b' }), order: '3' }), 'InvalidRule', /order/);
    fails(() => parseRuleSpec({ ...rule({ src: '/a', dst: '/b' }), order: 1e12 }), 'InvalidRule', /order/);
    fails(() => parseRuleSpec({ ...rule({ src: '/a', dst: '/b' }), enabled: 'yes' }), 'InvalidRule', /enabled/);
    fails(() => parseRuleSpec({ ...rule({ src: '/a', dst: '/b' }), src: 7 }), 'InvalidRule', /src/);
    fails(() => parseRuleSpec({ ...rule({ src: '/a', dst: '/b' }), exclude: 7 }), 'InvalidRule', /exclude/);
  });

  it('validates ids', () => {
    assert.equal(validateRuleId('model-latest.v2_x'), 'model-latest.v2_x');
    for (const bad of ['', '-x', 'a/b', 'a b', 'é', 'x'.repeat(129), '..']) fails(() => validateRuleId(bad), 'InvalidRule', /id/);
    // a long id is named by its start and its length, not echoed whole
    fails(() => validateRuleId('y'.repeat(5000)), 'InvalidRule', /rule id "y{120}"\.\.\. \(5000 characters\) is not allowed/);
  });

  it('requires canonical prefix paths and names the canonical form', () => {
    fails(() => validateRuleBody('prefix', '/a/', '/b', undefined), 'InvalidRule', /not canonical; write "\/a"/);
    fails(() => validateRuleBody('prefix', '/a', '/b//c', undefined), 'InvalidRule', /write "\/b\/c"/);
    fails(() => validateRuleBody('prefix', '/a/../b', '/b', undefined), 'InvalidRule', /not a valid Alluxio path/);
    fails(() => validateRuleBody('prefix', 'a', '/b', undefined), 'InvalidRule');
    fails(() => validateRuleBody('prefix', '/a', '/b\u0000', undefined), 'InvalidRule');
    fails(() => validateRuleBody('prefix', '/a', '/a', undefined), 'InvalidRule', /onto itself/);
  });

  it('rejects regexes RE2 cannot run in linear time, and broken ones', () => {
    fails(() => validateRuleBody('regex', '^/(a)\\1$', '/x', undefined), 'InvalidRule', /RE2/);
    fails(() => validateRuleBody('regex', '^/(?=a).*$', '/x', undefined), 'InvalidRule', /RE2/);
    fails(() => validateRuleBody('regex', '^/(a', '/x', undefined), 'InvalidRule', /RE2/);
    // An unbalanced ")" must not break out of the implicit ^(?:...)$ wrapper.
    fails(() => validateRuleBody('regex', '/x)|(.*', '/y', undefined), 'InvalidRule');
    fails(() => validateRuleBody('regex', '', '/x', undefined), 'InvalidRule', /empty/);
    fails(() => validateRuleBody('prefix', '/a', '/b', '(x'), 'InvalidRule', /exclude/);
  });

  it('checks that every template variable names a group', () => {
    fails(() => validateRuleBody('regex', '^/x/(.*)$', '/y/{{ var2 }}', undefined), 'InvalidRule', /var2.*1 group/);
    fails(() => validateRuleBody('regex', '^/x/(?<a>.*)$', '/y/{{ b }}', undefined), 'InvalidRule', /named groups: a/);
    fails(() => validateRuleBody('regex', '^/x/(.*)$', '/y/{{ var1 }', undefined), 'InvalidRule', /malformed/);
    fails(() => validateRuleBody('regex', '^/x/(.*)$', 'y/{{ var1 }}', undefined), 'InvalidRule', /absolute/);
    validateRuleBody('regex', '^/x/(.*)$', '{{ var1 }}', undefined);
    validateRuleBody('regex', '^/x/(?P<rest>.*)$', '/y/{{rest}}', undefined);
  });
});

describe('RE2 patterns', () => {
  it('match the whole path only (implicit anchors)', () => {
    const p = compilePattern('/model/(.*)');
    assert.ok(p.re.test('/model/a'));
    assert.ok(!p.re.test('/x/model/a'), 'must not match in the middle');
    const q = compilePattern('a');
    assert.ok(!q.re.test('/a'));
    assert.ok(!compilePattern('/a|/b/c').re.test('/b/c/d'));
    assert.ok(compilePattern('/a|/b/c').re.test('/b/c'));
  });

  it('a catastrophic-backtracking pattern runs without blowup', () => {
    const p = compilePattern('^/(a+)+$');
    assert.equal(p.re.test('/' + 'a'.repeat(5000) + 'b'), false);
  });

  it('counts groups and names', () => {
    const p = compilePattern('^/(x)(?:y)(?<n>z)(w)?$');
    assert.equal(p.groups, 3);
    assert.deepEqual(p.names, ['n']);
  });

  it('templates fill groups, names, var0 and unmatched optional groups', () => {
    const p = compilePattern('^/(?<team>[a-z]+)/(\\d+)?/?(.*)$');
    const t = compileTemplate('/t/{{ team }}/{{var2}}-{{ var3 }}|{{ var0 }}', p);
    const m = p.re.exec('/ml//file')!;
    assert.equal(expandTemplate(t, m), '/t/ml/-file|/ml//file');
  });

  it('literal prefixes are conservative', () => {
    assert.deepEqual(literalPrefix('^/model/latest/(.*)$'), { literal: '/model/latest/', wholeLiteral: false });
    assert.deepEqual(literalPrefix('^/a/b$'), { literal: '/a/b', wholeLiteral: true });
    assert.deepEqual(literalPrefix('/a\\.b/c'), { literal: '/a.b/c', wholeLiteral: true });
    assert.equal(literalPrefix('^/abc?/').literal, '/ab');
    assert.equal(literalPrefix('^/ab*').literal, '/a');
    assert.equal(literalPrefix('^/a{2}').literal, '/');
    assert.equal(literalPrefix('^/a/x|/b/y').literal, '');
    assert.equal(literalPrefix('^/a/(x|y)').literal, '/a/');
    assert.equal(literalPrefix('(?i)/a').literal, '');
    assert.equal(literalPrefix('^/\\w+/').literal, '/');
    assert.equal(literalPrefix('^/数据/(.*)').literal, '/数据/');
  });
});

describe('ordering, ids, export equivalence', () => {
  it('sorts by order then id; nextOrder leaves a gap', () => {
    const rs = [{ id: 'b', order: 5 }, { id: 'a', order: 5 }, { id: 'c', order: 1 }];
    assert.deepEqual(sortRules(rs).map((r) => r.id), ['c', 'a', 'b']);
    assert.ok(compareRules({ id: 'a', order: 2 }, { id: 'a', order: 3 }) < 0);
    assert.equal(nextOrder([]), 10);
    assert.equal(nextOrder([{ order: 7 }, { order: 42 }]), 52);
  });

  it('generates readable unique ids', () => {
    const seq = [0, 0, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    let i = 0;
    const id = generateRuleId(new Set(['r-000000']), () => seq[i++ % seq.length]!);
    assert.equal(id, 'r-iiiiii');
    assert.match(generateRuleId(new Set()), /^r-[0-9a-z]{6}$/);
  });

  it('prefixAsRegex is segment-aware', () => {
    const { src, dst } = prefixAsRegex('/model/la.test', '/model/v3');
    const p = compilePattern(src);
    const t = compileTemplate(dst, p);
    assert.equal(expandTemplate(t, p.re.exec('/model/la.test/a/b')!), '/model/v3/a/b');
    assert.equal(expandTemplate(t, p.re.exec('/model/la.test')!), '/model/v3');
    assert.equal(p.re.exec('/model/laXtest/a'), null, 'the dot is escaped');
    assert.equal(p.re.exec('/model/la.test2'), null, 'segment-aware');
  });

  it('regexAsPrefix recovers exactly the prefix rules prefixAsRegex wrote, and nothing else', () => {
    const pairs: [string, string][] = [
      ['/model/latest', '/model/v3'],
      ['/a', '/'],
      ['/', '/x'],
      ['/', '/'],
      ['/we ird/la.test+(1)[x]{y}^$|?*', '/t\\back/sl ash'],
      ['/ünï/cödé', '/dst'],
    ];
    for (const [from, to] of pairs) {
      const { src, dst } = prefixAsRegex(from, to);
      assert.deepEqual(regexAsPrefix(src, dst), { src: from, dst: to }, `${from} -> ${to}`);
    }
    for (const [src, dst] of [
      ['^/a/(.*)$', '/b/{{ var1 }}'], // not the shape
      ['^/a(/.*)?$', '/b/{{ var1 }}'], // dst not the shape (/b//x)
      ['^/a(/.*)?$', '/b{{ var2 }}'],
      ['^/a.b(/.*)?$', '/b{{ var1 }}'], // an unescaped dot: a pattern, not a literal path
      ['^/a/(/.*)?$', '/b{{ var1 }}'], // not canonical
      ['^/a(/.*)?$', 'b{{ var1 }}'],
    ] as const) {
      assert.equal(regexAsPrefix(src, dst), null, `${src} -> ${dst}`);
    }
  });

  it('ruleValue round-trips through parseRuleSpec', () => {
    const r: RuleSpec = { id: 'x', order: 3, kind: 'regex', src: '^/a/(.*)$', dst: '/b/{{ var1 }}', exclude: '/a/tmp', enabled: false };
    assert.deepEqual(parseRuleSpec(JSON.parse(ruleValue(r))), r);
  });
});

describe('decodeConfig skips malformed rules', () => {
  it('keeps the good ones and reports the bad ones by key', () => {
    const layout = new Layout('t');
    const good = { id: 'ok', order: 1, kind: 'prefix', src: '/a', dst: '/b', enabled: true };
    const out = decodeConfig(layout, [
      [layout.ruleKey('ok'), JSON.stringify(good)],
      [layout.ruleKey('bad-json'), '{not json'],
      [layout.ruleKey('bad-re'), JSON.stringify({ ...good, id: 'bad-re', kind: 'regex', src: '(a', dst: '/x' })],
      [layout.ruleKey('wrong-key'), JSON.stringify({ ...good, id: 'other' })],
      [layout.ruleKey('bad-tpl'), JSON.stringify({ ...good, id: 'bad-tpl', kind: 'regex', src: '/(.*)', dst: '/{{ var9 }}' })],
    ]);
    assert.deepEqual(out.rules.map((r) => r.id), ['ok']);
    assert.deepEqual(out.invalid.map((i) => i.key).sort(), [layout.ruleKey('bad-json'), layout.ruleKey('bad-re'), layout.ruleKey('bad-tpl'), layout.ruleKey('wrong-key')].sort());
  });
});

describe("Alluxio's path_mapping.json", () => {
  it('parses the shape and refuses anything else', () => {
    assert.deepEqual(parseRuleFile('{"rules":[{"src":"^/a/(.*)$","dst":"/b/{{ var1 }}"}],"virtualDirectories":["/a"]}'), {
      rules: [{ src: '^/a/(.*)$', dst: '/b/{{ var1 }}' }],
      virtualDirectories: ['/a'],
    });
    fails(() => parseRuleFile('{"rules": ['), 'InvalidRuleFile', /not valid JSON/);
    assert.deepEqual(parseRuleFile('\uFEFF{"rules":[]}'), parseRuleFile('{"rules":[]}'), 'a byte-order mark is taken');
    fails(() => parseRuleFile('[]'), 'InvalidRuleFile', /shape/);
    fails(() => parseRuleFile('{"rule": []}'), 'InvalidRuleFile', /"rules"/);
    fails(() => parseRuleFile('{"rules": [{"src": "/a"}]}'), 'InvalidRuleFile', /rules\[0\]/);
    fails(() => parseRuleFile('{"rules": [], "virtualDirectories": [1]}'), 'InvalidRuleFile', /virtualDirectories/);
  });

  it('exports prefix rules as equivalent regex rules, in order, with virtual directories', () => {
    const rules: RuleSpec[] = [
      { id: 'b', order: 20, kind: 'regex', src: '^/team/(\\w+)/(.*)$', dst: '/shared/{{ var1 }}/{{ var2 }}', enabled: true },
      { id: 'a', order: 10, kind: 'prefix', src: '/model/latest', dst: '/model/v3', enabled: true },
      { id: 'c', order: 30, kind: 'prefix', src: '/off', dst: '/on', enabled: false },
    ];
    const out = exportRules(rules);
    assert.deepEqual(out.rules, [
      { src: '^/model/latest(/.*)?$', dst: '/model/v3{{ var1 }}' },
      { src: '^/team/(\\w+)/(.*)$', dst: '/shared/{{ var1 }}/{{ var2 }}' },
    ]);
    assert.deepEqual(out.virtualDirectories, ['/model', '/model/latest', '/team']);
    assert.deepEqual(out.skipped, ['c (disabled)']);
  });
});
