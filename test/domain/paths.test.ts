/**
 * The one Alluxio path normaliser (resolution.md §1), including hostile inputs, and the
 * segment-aware helpers built on canonical paths.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AlluxioError } from '../../src/domain/errors.js';
import {
  MAX_PATH_BYTES,
  MAX_SEGMENT_BYTES,
  baseName,
  isCanonicalPath,
  isPathPrefix,
  joinPaths,
  normalizePath,
  parentOf,
  pathOf,
  segmentsOf,
  stripPathPrefix,
} from '../../src/domain/paths.js';

function rejects(input: unknown, pattern?: RegExp, code: 'InvalidPath' | 'NameTooLong' = pattern && /longer than/.test(pattern.source) ? 'NameTooLong' : 'InvalidPath'): AlluxioError {
  let caught: unknown;
  try {
    const out = normalizePath(input);
    assert.fail(`normalizePath(${JSON.stringify(input)?.slice(0, 80)}) returned ${JSON.stringify(out).slice(0, 80)} instead of throwing`);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AlluxioError, `expected AlluxioError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.exitCode, 2);
  assert.equal(caught.step, 'normalize');
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

describe('normalizePath: canonical form', () => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['//', '/'],
    ['///', '/'],
    ['/data', '/data'],
    ['/data/', '/data'],
    ['/data//', '/data'],
    ['//data', '/data'],
    ['/data//file.csv', '/data/file.csv'],
    ['/data///a////b/', '/data/a/b'],
    ['/a/b/c', '/a/b/c'],
    ['/...', '/...'],
    ['/.hidden', '/.hidden'],
    ['/a/..b', '/a/..b'],
    ['/a/b..', '/a/b..'],
    ['/a/.../b', '/a/.../b'],
    ['/ a /b ', '/ a /b '],
    ['/%2e%2e', '/%2e%2e'], // percent-decoding is the front end's job, once; never here
    ['/a%2Fb', '/a%2Fb'],
    ['/ünïcödé/файл/数据/🙂', '/ünïcödé/файл/数据/🙂'],
    ['/a\\..\\b', '/a\\..\\b'], // backslash is an ordinary character
    ['/\u00a0\u00ff', '/\u00a0\u00ff'], // Latin-1 after the C1 controls is ordinary
    ['/e\u0301', '/e\u0301'], // no Unicode normalisation: bytes are names
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} -> ${JSON.stringify(expected)}`, () => {
      assert.equal(normalizePath(input), expected);
      // idempotent
      assert.equal(normalizePath(expected), expected);
      assert.ok(isCanonicalPath(expected));
    });
  }

  it('NFC and NFD spellings stay distinct paths', () => {
    assert.notEqual(normalizePath('/caf\u00e9'), normalizePath('/cafe\u0301'));
  });
});

describe('normalizePath: rejected inputs', () => {
  it('non-strings', () => {
    for (const v of [undefined, null, 42, {}, [], Buffer.from('/a')]) rejects(v, /must be a string/);
  });
  it('empty', () => {
    rejects('', /empty/);
  });
  it('relative paths', () => {
    for (const p of ['data', 'data/x', './data', '../data', ' /data', '.', '..']) rejects(p, /not absolute/);
  });
  it('dot segments are rejected, never resolved', () => {
    for (const p of ['/.', '/..', '/./', '/../', '/data/.', '/data/..', '/data/../etc', '/data/./x', '/a//../b', '/a/b/../../..', '/../../etc/passwd']) {
      const e = rejects(p, /dot segments are rejected/);
      assert.ok(e.message.includes(JSON.stringify(p)), `message names the path: ${e.message}`);
    }
  });
  it('NUL anywhere', () => {
    for (const p of ['/\u0000', '/a\u0000b', '/data/x\u0000', '\u0000/a']) rejects(p, /control character U\+0000/);
  });
  it('every C0 control character and DEL, with its offset', () => {
    for (let c = 0; c <= 0x1f; c++) {
      const ch = String.fromCharCode(c);
      const e = rejects(`/ab${ch}c`, /control character/);
      assert.ok(e.message.includes(`U+${c.toString(16).toUpperCase().padStart(4, '0')}`), e.message);
      assert.ok(e.message.includes('offset 3'), e.message);
    }
    rejects('/a\u007fb', /U\+007F/);
    // C1 controls too (issue: the docs say control characters are refused)
    for (let c = 0x80; c <= 0x9f; c++) rejects(`/ab${String.fromCharCode(c)}c`, new RegExp(`U\\+00${c.toString(16).toUpperCase()} at offset 3`));
    rejects('/a\nb', /U\+000A/);
    rejects('/a\tb', /U\+0009/);
    rejects('/a\rb', /U\+000D/);
  });
  it('lone surrogates (not valid UTF-8)', () => {
    for (const p of ['/\ud800', '/a\udc00b', '/x/\ud83d', '/\udfff/y', '/\ude00\ud83d']) rejects(p, /lone surrogate/);
  });
  it('a well-formed surrogate pair is fine', () => {
    assert.equal(normalizePath('/\ud83d\ude00'), '/😀');
  });
});

describe('normalizePath: length limits (bytes, not characters)', () => {
  it(`a segment of exactly ${MAX_SEGMENT_BYTES} bytes is accepted, ${MAX_SEGMENT_BYTES + 1} rejected`, () => {
    const ok = 'a'.repeat(MAX_SEGMENT_BYTES);
    assert.equal(normalizePath(`/${ok}`), `/${ok}`);
    assert.equal(normalizePath(`/x/${ok}/y`), `/x/${ok}/y`);
    rejects(`/${ok}a`, /longer than 255 bytes/);
    rejects(`/x/${ok}a/y`, /longer than 255 bytes/);
  });
  it('multi-byte characters count as their UTF-8 bytes', () => {
    // "é" is 2 bytes: 127 of them = 254 bytes fit, 128 = 256 bytes do not.
    assert.equal(normalizePath('/' + 'é'.repeat(127)), '/' + 'é'.repeat(127));
    rejects('/' + 'é'.repeat(128), /longer than 255 bytes/);
    // "数" is 3 bytes: 85 = 255 bytes fit, 86 = 258 do not.
    assert.equal(normalizePath('/' + '数'.repeat(85)), '/' + '数'.repeat(85));
    rejects('/' + '数'.repeat(86), /longer than 255 bytes/);
    // an astral character is 4 bytes (two UTF-16 units)
    assert.equal(normalizePath('/' + '😀'.repeat(63) + 'abc'), '/' + '😀'.repeat(63) + 'abc');
    rejects('/' + '😀'.repeat(64), /longer than 255 bytes/);
  });
  it(`a path of exactly ${MAX_PATH_BYTES} bytes is accepted, ${MAX_PATH_BYTES + 1} rejected`, () => {
    // 16 segments of 255 bytes + 16 slashes = 4096 bytes.
    const seg = 'b'.repeat(255);
    const exact = ('/' + seg).repeat(16);
    assert.equal(Buffer.byteLength(exact), 4096);
    assert.equal(normalizePath(exact), exact);
    const over = exact + '/c';
    rejects(over, /longer than 4096 bytes/);
  });
  it('the limit applies to the normalised form (collapsed slashes do not count)', () => {
    const seg = 'b'.repeat(255);
    const exact = ('/' + seg).repeat(16);
    const padded = exact.replaceAll('/', '////') + '/////';
    assert.ok(padded.length > 4096);
    assert.equal(normalizePath(padded), exact);
  });
  it('a very long hostile input fails fast with an error, not a crash', () => {
    rejects('/' + 'a/'.repeat(100_000), /longer than 4096 bytes/);
    rejects('/' + '../'.repeat(10_000), /dot segments/);
  });
});

describe('path helpers', () => {
  it('segmentsOf / pathOf round-trip', () => {
    assert.deepEqual(segmentsOf('/'), []);
    assert.deepEqual(segmentsOf('/a'), ['a']);
    assert.deepEqual(segmentsOf('/a/b/c'), ['a', 'b', 'c']);
    assert.equal(pathOf([]), '/');
    assert.equal(pathOf(['a', 'b']), '/a/b');
    for (const p of ['/', '/a', '/a/b', '/ü/数/😀']) assert.equal(pathOf(segmentsOf(p)), p);
  });
  it('isPathPrefix is segment-aware', () => {
    assert.ok(isPathPrefix('/', '/'));
    assert.ok(isPathPrefix('/', '/a'));
    assert.ok(isPathPrefix('/a', '/a'));
    assert.ok(isPathPrefix('/a', '/a/b'));
    assert.ok(isPathPrefix('/model/latest', '/model/latest/a/b'));
    assert.ok(!isPathPrefix('/a', '/ab'));
    assert.ok(!isPathPrefix('/model/latest', '/model/latest2'));
    assert.ok(!isPathPrefix('/a/b', '/a'));
    assert.ok(!isPathPrefix('/data', '/database'));
  });
  it('stripPathPrefix and joinPaths are inverses', () => {
    assert.equal(stripPathPrefix('/a', '/a'), '/');
    assert.equal(stripPathPrefix('/a', '/a/b/c'), '/b/c');
    assert.equal(stripPathPrefix('/', '/a/b'), '/a/b');
    assert.equal(joinPaths('/', '/b'), '/b');
    assert.equal(joinPaths('/a', '/'), '/a');
    assert.equal(joinPaths('/a', '/b/c'), '/a/b/c');
    for (const [pre, p] of [['/a', '/a/b/c'], ['/', '/x'], ['/m/v3', '/m/v3'], ['/m', '/m/x']] as const) {
      assert.equal(joinPaths(pre, stripPathPrefix(pre, p)), p);
    }
  });
  it('parentOf and baseName', () => {
    assert.equal(parentOf('/'), '/');
    assert.equal(parentOf('/a'), '/');
    assert.equal(parentOf('/a/b'), '/a');
    assert.equal(parentOf('/a/b/c'), '/a/b');
    assert.equal(baseName('/'), '');
    assert.equal(baseName('/a'), 'a');
    assert.equal(baseName('/a/b.csv'), 'b.csv');
  });
  it('isCanonicalPath', () => {
    for (const p of ['/', '/a', '/a/b']) assert.ok(isCanonicalPath(p), p);
    for (const p of ['', 'a', '/a/', '//a', '/a//b', '/./a', '/a/..', '/\u0000']) assert.ok(!isCanonicalPath(p), JSON.stringify(p));
  });
});
