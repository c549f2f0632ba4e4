/**
 * Property-based fuzz of the security boundary: normalizePath (the only normaliser) and
 * joinUnderUfs (the only place a path becomes a UFS location).
 *
 * For arbitrary input strings mixing hostile fragments (dot segments, encoded dots and
 * slashes, NUL and other controls, lone surrogates, unicode, over-long segments), and for
 * arbitrary valid mount URIs:
 *  - every failure is an AlluxioError with a usage code (never a TypeError, never Internal:
 *    an Internal from joinUnderUfs would mean its own containment proof failed);
 *  - whenever normalisation succeeds, the joined URI re-parses to the mount's scheme and
 *    authority with the mount's segments as a segment-aware prefix, followed by exactly the
 *    path's segments (round trip), and its string starts with the mount URI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AlluxioError } from '../../src/domain/errors.js';
import { normalizePath, segmentsOf } from '../../src/domain/paths.js';
import { formatUfsUri, isUfsPrefix, joinUnderUfs, normalizeUfsUri, parseUfsUri, type ParsedUfsUri } from '../../src/domain/ufs-uri.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const params = { seed: SEED, numRuns: RUNS };

const HOSTILE = [
  '/', '//', '///', '.', '..', '...', './', '../', '/./', '/../', '%2e', '%2E', '%2e%2e', '%2E%2e', '.%2e', '%2e.',
  '%2f', '%2F', '..%2F', '%2F..', '%5C', '\\', '..\\', '%', '%%', '%2', '%zz', '%25', '%252e', '%252F', '%00', '%0a',
  '%C0%AF', '%C0%AE', '%E2%80%AE', '%ED%A0%80', '%F0%9F%98%80', '?', '#', '?x=1', '#frag', ';', ':', '@', '~', ' ', '+',
  '\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u00a0', '\u200b', '\u202e', '\ufeff', '\ufffd', '\ud800', '\udc00', '\udbff\udfff',
  'ü', 'e\u0301', '数据', '😀', 'Ω', 'a', 'b', 'data', 'file.csv', 'x'.repeat(255), 'y'.repeat(256), 'é'.repeat(128),
  's3:', 's3://other-bucket', 'file:', 'C:', '*', '[', ']', "'", '"', '<', '>', '{{ var1 }}',
];

/** A string assembled from hostile fragments, arbitrary code points and encodings of both. */
const fragment: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(...HOSTILE).map((s) => encodeURIComponent(s.isWellFormed() ? s : 'x')) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
);
const hostileString = fc.array(fragment, { maxLength: 14 }).map((parts) => parts.join(''));
/** Mostly absolute paths, sometimes anything at all. */
const hostilePath = fc.oneof({ weight: 4, arbitrary: hostileString.map((s) => '/' + s) }, { weight: 1, arbitrary: hostileString });

/** Valid mount URIs of the served schemes (and a few others), with awkward segment names. */
const mountSegment = fc.oneof(
  fc.constantFrom('data', 'a b', 'ü', '数据', '%', '...', '.x', 'x..', '~', 'a%2Fb', '?#', '😀', "it's"),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }),
).filter((s) => s !== '.' && s !== '..' && !s.includes('/') && !/[\u0000-\u001f\u007f]/.test(s));
const mountUri: fc.Arbitrary<ParsedUfsUri> = fc
  .record({
    base: fc.constantFrom('s3://my-bucket', 's3a://my.bucket-1', 'file://', 'gs://b_1', 'hdfs://nn:8020', 'abfs://container@account.dfs.core.windows.net'),
    segs: fc.array(mountSegment, { maxLength: 4 }),
  })
  .map(({ base, segs }) => {
    const [scheme, authority] = base.split('://') as [string, string];
    return parseUfsUri(formatUfsUri(scheme, authority, segs));
  });

function expectUsageError(e: unknown, what: string): void {
  if (!(e instanceof AlluxioError)) throw new Error(`${what} threw a non-AlluxioError: ${String(e)}`);
  assert.equal(e.exitCode, 2, `${what}: ${e.code} ${e.message}`);
}

describe(`fuzz: normalizePath + joinUnderUfs (seed ${SEED}, ${RUNS} runs; rerun with FUZZ_SEED=${SEED})`, () => {
  it('a joined path always lands inside the mount and round-trips', () => {
    let joined = 0;
    fc.assert(
      fc.property(mountUri, hostilePath, (mount, raw) => {
        let canonical: string;
        try {
          canonical = normalizePath(raw);
        } catch (e) {
          expectUsageError(e, 'normalizePath');
          assert.ok(['InvalidPath', 'NameTooLong'].includes((e as AlluxioError).code), (e as AlluxioError).code);
          return;
        }
        // The canonical form is a fixed point and never contains what it must not.
        assert.equal(normalizePath(canonical), canonical);
        const rel = segmentsOf(canonical);
        for (const s of rel) {
          assert.ok(s !== '' && s !== '.' && s !== '..' && !s.includes('/'));
          assert.ok(Buffer.byteLength(s) <= 255);
        }
        assert.ok(!/[\u0000-\u001f\u007f]/.test(canonical));
        assert.ok(canonical.isWellFormed());

        const loc = joinUnderUfs(mount, rel); // must not throw for canonical segments
        joined++;
        assert.ok(loc.uri.startsWith(mount.uri) || loc.uri === mount.uri, `${loc.uri} starts with ${mount.uri}`);
        const back = parseUfsUri(loc.uri);
        assert.equal(back.scheme, mount.scheme);
        assert.equal(back.authority, mount.authority);
        assert.ok(isUfsPrefix(mount, back), `${loc.uri} inside ${mount.uri}`);
        assert.deepEqual(back.segments, [...mount.segments, ...rel]);
        assert.deepEqual([...loc.relSegments], rel);
        // string round trip: canonical URI of the location is the joined URI (plus the directory slash)
        assert.equal(normalizeUfsUri(loc.uri), rel.length ? loc.uri + '/' : loc.uri);
        // and nothing after the mount prefix can climb out: no raw "/", "?" or "#" in an encoded segment
        const tail = loc.uri.slice(mount.uri.length);
        assert.equal(tail.split('/').length, Math.max(rel.length, 1));
        assert.ok(!/[?#]/.test(tail));
      }),
      params,
    );
    // The generator must actually reach the join, or the property proves nothing.
    assert.ok(joined > RUNS / 10, `only ${joined} of ${RUNS} inputs normalised; generator too hostile`);
  });

  it('front-end style: decode once, normalise, join; never escapes, never a non-Alluxio error', () => {
    fc.assert(
      fc.property(mountUri, hostilePath, (mount, raw) => {
        let decoded: string;
        try {
          decoded = decodeURIComponent(raw); // what the S3 front end does with the URL path, once
        } catch {
          return; // the front end answers 400 itself
        }
        try {
          const loc = joinUnderUfs(mount, segmentsOf(normalizePath(decoded)));
          const back = parseUfsUri(loc.uri);
          assert.ok(isUfsPrefix(mount, back));
          assert.equal(back.segments.length, mount.segments.length + segmentsOf(normalizePath(decoded)).length);
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          expectUsageError(e, 'decode/normalize/join');
        }
      }),
      params,
    );
  });

  it('joinUnderUfs with raw (unvalidated) segments never escapes: it refuses or stays inside', () => {
    fc.assert(
      fc.property(mountUri, fc.array(hostileString, { maxLength: 5 }), (mount, segs) => {
        let loc;
        try {
          loc = joinUnderUfs(mount, segs);
        } catch (e) {
          expectUsageError(e, 'joinUnderUfs');
          assert.equal((e as AlluxioError).step, 'join');
          return;
        }
        const back = parseUfsUri(loc.uri);
        assert.ok(isUfsPrefix(mount, back));
        assert.deepEqual(back.segments, [...mount.segments, ...segs]);
      }),
      params,
    );
  });

  it('parseUfsUri on arbitrary strings: AlluxioError or an idempotent canonical URI', () => {
    const uriLike = fc.oneof(
      hostileString,
      fc.tuple(fc.constantFrom('s3://', 'S3://', 'file://', 'file:///', 'gs://', 'hdfs://', 'ftp://', 's3:/', ''), fc.constantFrom('my-bucket', 'b', 'NN:1', '', 'a@b.c', 'My_B'), hostileString).map(([a, b, c]) => a + b + c),
    );
    fc.assert(
      fc.property(uriLike, (raw) => {
        let p: ParsedUfsUri;
        try {
          p = parseUfsUri(raw);
        } catch (e) {
          expectUsageError(e, 'parseUfsUri');
          assert.equal((e as AlluxioError).code, 'InvalidUfsUri');
          return;
        }
        assert.equal(normalizeUfsUri(p.uri), p.uri);
        assert.ok(p.uri.endsWith('/'));
        assert.deepEqual(parseUfsUri(p.uri).segments, p.segments);
        for (const s of p.segments) assert.ok(s !== '.' && s !== '..' && !s.includes('/') && s !== '');
      }),
      params,
    );
  });
});
