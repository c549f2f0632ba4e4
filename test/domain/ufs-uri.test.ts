/**
 * UFS URIs: parsing, validation, canonical form, segment-aware prefixes, and the one join
 * (joinUnderUfs) that turns an Alluxio remainder into a UFS location.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AlluxioError } from '../../src/domain/errors.js';
import { KNOWN_SCHEMES, SCHEMES, encodeSegment, formatRequestUri, formatUfsUri, isUfsPrefix, joinUnderUfs, maskUri, namespaceKey, normalizeUfsUri, parseRequestUri, parseUfsUri, schemeFamily } from '../../src/domain/ufs-uri.js';

function invalid(raw: unknown, pattern?: RegExp, code: 'InvalidUfsUri' | 'InvalidPath' = 'InvalidUfsUri'): AlluxioError {
  try {
    const p = parseUfsUri(raw, code);
    assert.fail(`parseUfsUri(${JSON.stringify(raw)}) accepted it as ${p.uri}`);
  } catch (e) {
    assert.ok(e instanceof AlluxioError, `expected AlluxioError for ${JSON.stringify(raw)}, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.exitCode, 2);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
}

describe('parseUfsUri: schemes', () => {
  it('knows at least file, s3, gs, hdfs, oss, abfs, wasb, cos', () => {
    for (const s of ['file', 's3', 'gs', 'hdfs', 'oss', 'abfs', 'wasb', 'cos']) assert.ok(KNOWN_SCHEMES.includes(s), s);
    assert.ok(SCHEMES.file!.served && SCHEMES.s3!.served, 'file and s3 are served by the data plane');
  });
  it('accepts one valid URI of every known scheme', () => {
    const samples: Record<string, string> = {
      file: 'file:///srv/datasets/',
      s3: 's3://my-bucket/data/',
      s3a: 's3a://my-bucket/data/',
      gs: 'gs://my_bucket/data/',
      oss: 'oss://my-bucket/data/',
      cos: 'cos://my-bucket-125/data/',
      cosn: 'cosn://my-bucket-125/data/',
      hdfs: 'hdfs://namenode:8020/data/',
      abfs: 'abfs://container@account.dfs.core.windows.net/data/',
      abfss: 'abfss://container@account.dfs.core.windows.net/data/',
      wasb: 'wasb://container@account.blob.core.windows.net/data/',
      wasbs: 'wasbs://container@account.blob.core.windows.net/data/',
    };
    for (const scheme of KNOWN_SCHEMES) {
      const sample = samples[scheme];
      assert.ok(sample, `test has a sample for ${scheme}`);
      const p = parseUfsUri(sample);
      assert.equal(p.scheme, scheme);
      assert.equal(p.uri, sample);
      assert.deepEqual(p.segments, scheme === 'file' ? ['srv', 'datasets'] : ['data']);
    }
  });
  it('unknown schemes are rejected naming the allowed ones', () => {
    for (const raw of ['ftp://host/x', 'http://host/x', 'https://bucket/x', 'alluxio:///data', 'jar://x/y', 'S4://bucket/x']) {
      const e = invalid(raw, /unknown scheme/);
      assert.match(e.message, /allowed: file, s3/);
    }
  });
  it('the scheme is case-insensitive and stored in lower case', () => {
    assert.equal(normalizeUfsUri('S3://my-bucket/Data'), 's3://my-bucket/Data/');
    assert.equal(normalizeUfsUri('FILE:///Srv/X'), 'file:///Srv/X/');
    assert.equal(normalizeUfsUri('Hdfs://nn:8020/x'), 'hdfs://nn:8020/x/');
  });
  it('not a scheme://authority/path URI', () => {
    for (const raw of ['/srv/data', 'my-bucket/data', 's3:/my-bucket/x', 's3:my-bucket', 'file:/srv/data', '://x/y', '3s://bucket/x', 's3//bucket/x']) {
      invalid(raw, /is not a URI of the form scheme:\/\/authority\/path|unknown scheme/);
    }
  });
  it('empty, blank, non-string, white space around', () => {
    for (const raw of ['', '   ', undefined, null, 7]) invalid(raw, /empty/);
    invalid(' s3://my-bucket/x', /white space/);
    invalid('s3://my-bucket/x ', /white space/);
    invalid('s3://my-bucket/x\n', /white space/);
  });
  it('control characters anywhere, raw or percent-encoded', () => {
    invalid('s3://my-bucket/a\u0000b', /control characters/);
    invalid('s3://my-bucket/a\u0007b', /control characters/);
    invalid('s3://my-bucket/a\u007fb', /control characters/);
    invalid('s3://my-bucket/a%00b', /control characters/);
    invalid('s3://my-bucket/a%0Ab', /control characters/);
    invalid('s3://my-bucket/a%7f', /control characters/);
  });
});

describe('parseUfsUri: authority rules', () => {
  it('s3 needs a bucket', () => {
    invalid('s3:///data', /needs an S3 bucket name/);
    invalid('s3://', /needs an S3 bucket name/);
  });
  it('S3 bucket naming rules', () => {
    for (const ok of ['abc', 'my-bucket', 'my.bucket.name', 'a1b', '123', 'a'.repeat(63), 'b-1.c-2']) {
      assert.equal(parseUfsUri(`s3://${ok}/x`).authority, ok);
    }
    for (const bad of ['ab', 'a'.repeat(64), 'My-Bucket', 'BUCKET', 'my_bucket', '-bucket', 'bucket-', '.bucket', 'bucket.', 'a..b', 'a.-b', 'a-.b', '192.168.1.1', 'bück', 'user@bucket', 'bucket:9000', 'user:pw@bucket', 'buc ket']) {
      invalid(`s3://${bad}/x`, /is not an S3 bucket name/);
    }
  });
  it('GCS allows "_" in bucket names', () => {
    assert.equal(parseUfsUri('gs://my_bucket/x').authority, 'my_bucket');
    invalid('gs://My_Bucket/x', /GCS bucket/);
  });
  it('file:// takes no host', () => {
    const e = invalid('file://localhost/srv/data', /takes no host/);
    assert.match(e.message, /file:\/\/\/absolute\/path/);
    invalid('file://server/share', /takes no host/);
    assert.equal(parseUfsUri('file:///').uri, 'file:///');
    assert.equal(parseUfsUri('file://').uri, 'file:///');
  });
  it('hdfs: host[:port], case-insensitive host, port 1-65535', () => {
    assert.equal(normalizeUfsUri('hdfs://NameNode.Example.com:8020/data'), 'hdfs://namenode.example.com:8020/data/');
    assert.equal(normalizeUfsUri('hdfs://nameservice1/data'), 'hdfs://nameservice1/data/');
    assert.equal(normalizeUfsUri('hdfs://nn:65535/x'), 'hdfs://nn:65535/x/');
    for (const bad of ['nn:65536', 'nn:99999', 'nn:0', 'nn:', 'nn:port', '-nn', 'user@nn', 'nn..x']) invalid(`hdfs://${bad}/x`, /namenode/);
    invalid('hdfs:///x', /needs a namenode/);
  });
  it('azure: container@account.domain', () => {
    assert.equal(normalizeUfsUri('ABFS://Container@Account.dfs.core.windows.net/x'), 'abfs://container@account.dfs.core.windows.net/x/');
    for (const bad of ['container', '@account.dfs.core.windows.net', 'c@account', 'container@ac.dfs.core.windows.net']) invalid(`abfs://${bad}/x`, /container@account/);
  });
});

describe('parseUfsUri: path, query, fragment, encoding', () => {
  it('query strings and fragments are rejected', () => {
    for (const raw of ['s3://my-bucket/data?versionId=1', 's3://my-bucket/data#frag', 's3://my-bucket?x', 's3://my-bucket/#', 'file:///srv/x?', 'file:///srv/x#y']) {
      invalid(raw, /query strings and fragments/);
    }
  });
  it('an encoded ? or # is an ordinary character in a segment', () => {
    const p = parseUfsUri('s3://my-bucket/a%3Fb/c%23d');
    assert.deepEqual(p.segments, ['a?b', 'c#d']);
    assert.equal(p.uri, 's3://my-bucket/a%3Fb/c%23d/');
  });
  it('dot segments, raw or encoded, in any case, are rejected', () => {
    for (const raw of ['s3://my-bucket/.', 's3://my-bucket/..', 's3://my-bucket/a/../b', 's3://my-bucket/./a', 'file:///srv/../etc', 's3://my-bucket/%2e', 's3://my-bucket/%2e%2e', 's3://my-bucket/%2E%2E/x', 's3://my-bucket/.%2e', 's3://my-bucket/%2e.', 'file:///srv/%2E%2e/etc']) {
      invalid(raw, /dot segments/);
    }
  });
  it('names with dots that are not dot segments are fine', () => {
    assert.deepEqual(parseUfsUri('s3://my-bucket/.../..a/a../.x').segments, ['...', '..a', 'a..', '.x']);
  });
  it('an encoded "/" (%2F, %2f) inside a segment is rejected', () => {
    invalid('s3://my-bucket/a%2Fb', /%2F/);
    invalid('s3://my-bucket/a%2fb', /%2F/);
    invalid('s3://my-bucket/%2F', /%2F/);
    invalid('file:///srv/..%2F..%2Fetc', /%2F/);
  });
  it('malformed percent-encoding is rejected', () => {
    for (const raw of ['s3://my-bucket/%', 's3://my-bucket/%2', 's3://my-bucket/%zz', 's3://my-bucket/a%g0', 's3://my-bucket/%C3', 's3://my-bucket/%C0%AF', 's3://my-bucket/%ED%A0%80', 's3://my-bucket/%FF']) {
      invalid(raw, /malformed percent-encoding/);
    }
  });
  it('lone surrogates in the raw string are rejected', () => {
    invalid('s3://my-bucket/a\ud800b', /not valid UTF-8/);
  });
  it('255-byte segments are accepted, 256 rejected (decoded bytes)', () => {
    assert.equal(parseUfsUri(`s3://my-bucket/${'a'.repeat(255)}`).segments[0]!.length, 255);
    invalid(`s3://my-bucket/${'a'.repeat(256)}`, /longer than 255 bytes/);
    // 85 x "数" = 255 bytes, written encoded (765 characters) it is still 255 bytes
    const enc = encodeURIComponent('数'.repeat(85));
    assert.equal(parseUfsUri(`s3://my-bucket/${enc}`).segments[0], '数'.repeat(85));
    invalid(`s3://my-bucket/${encodeURIComponent('数'.repeat(86))}`, /longer than 255 bytes/);
  });
  it('trailing slash and repeated slashes normalise; canonical form ends in "/"', () => {
    const canon = 's3://my-bucket/data/';
    for (const raw of ['s3://my-bucket/data', 's3://my-bucket/data/', 's3://my-bucket//data//', 'S3://my-bucket/data///', 's3://my-bucket///data']) {
      assert.equal(normalizeUfsUri(raw), canon, raw);
    }
    assert.equal(normalizeUfsUri('s3://my-bucket'), 's3://my-bucket/');
    assert.equal(normalizeUfsUri('s3://my-bucket/'), 's3://my-bucket/');
  });
  it('percent-encoding is canonical: decoded once, re-encoded with upper-case hex only where needed', () => {
    assert.equal(normalizeUfsUri('s3://my-bucket/a%20b'), 's3://my-bucket/a%20b/');
    assert.equal(normalizeUfsUri('s3://my-bucket/a b'), 's3://my-bucket/a%20b/');
    assert.equal(normalizeUfsUri('s3://my-bucket/%61bc'), 's3://my-bucket/abc/');
    assert.equal(normalizeUfsUri('s3://my-bucket/%c3%bc'), 's3://my-bucket/%C3%BC/');
    assert.equal(normalizeUfsUri('s3://my-bucket/ü'), 's3://my-bucket/%C3%BC/');
    assert.equal(normalizeUfsUri('s3://my-bucket/%25'), 's3://my-bucket/%25/');
    assert.equal(normalizeUfsUri('s3://my-bucket/%2525'), 's3://my-bucket/%2525/');
    assert.deepEqual(parseUfsUri('s3://my-bucket/%2525').segments, ['%25']);
    assert.equal(normalizeUfsUri("s3://my-bucket/a-._~!$&'()*+,;=:@z"), "s3://my-bucket/a-._~!$&'()*+,;=:@z/");
  });
  it('normalisation is idempotent and segments round-trip through formatUfsUri', () => {
    for (const raw of ['s3://my-bucket/a%20b/ü/数据/😀', 'file:///srv/a%25b/x y', 'gs://b_1/%3F%23', 'hdfs://NN:1/%7E']) {
      const p = parseUfsUri(raw);
      assert.equal(normalizeUfsUri(p.uri), p.uri);
      assert.equal(formatUfsUri(p.scheme, p.authority, p.segments), p.uri);
      assert.deepEqual(parseUfsUri(p.uri).segments, p.segments);
    }
  });
  it('encodeSegment encodes everything outside RFC 3986 pchar, including "%"', () => {
    assert.equal(encodeSegment('a b'), 'a%20b');
    assert.equal(encodeSegment('%'), '%25');
    assert.equal(encodeSegment('/'), '%2F');
    assert.equal(encodeSegment('?#[]'), '%3F%23%5B%5D');
    assert.equal(encodeSegment('é'), '%C3%A9');
    assert.equal(encodeSegment('😀'), '%F0%9F%98%80');
  });
  it('InvalidPath code for request URIs, for every kind of defect', () => {
    invalid('s3://my-bucket/%2e%2e', /dot segments/, 'InvalidPath');
    invalid('s3://my-bucket/%zz', /malformed percent-encoding/, 'InvalidPath');
    invalid('s3://my-bucket/a?b', /query/, 'InvalidPath');
    invalid('ftp://h/x', /unknown scheme/, 'InvalidPath');
  });
  it('credentials and query strings never appear in error messages', () => {
    for (const raw of ['s3://AKIAXYZ:s3cr3tKey@my-bucket/x', 'hdfs://hdfs:s3cr3tKey@nn:8020/x', 's3://AKIAXYZ:s3cr3tKey@my-bucket/%zz', 's3://my-bucket/x?X-Amz-Signature=s3cr3tKey', 's3://my-bucket/x?a=1#s3cr3tKey']) {
      const e = invalid(raw);
      assert.doesNotMatch(e.message, /s3cr3tKey/, e.message);
    }
    assert.match(invalid('s3://AKIAXYZ:s3cr3tKey@my-bucket/x').message, /credentials belong in --option/);
    assert.equal(maskUri('s3://k:s@b/x?sig=1'), 's3://***@b/x?***');
    assert.equal(maskUri('abfs://container@account.dfs.core.windows.net/x'), 'abfs://container@account.dfs.core.windows.net/x');
    assert.equal(maskUri('s3://my-bucket/a:b@c'), 's3://my-bucket/a:b@c');
  });
});

describe('parseRequestUri: a request URI\'s path is raw text (decoded once, by the front end)', () => {
  const bad = (raw: string, pattern: RegExp) => {
    try {
      const p = parseRequestUri(raw);
      assert.fail(`parseRequestUri(${JSON.stringify(raw)}) accepted it as ${p.uri}`);
    } catch (e) {
      assert.ok(e instanceof AlluxioError, String(e));
      // A too-long segment is its own code (ENAMETOOLONG in FUSE); every other refusal is InvalidPath.
      assert.equal(e.code, /longer than/.test(pattern.source) ? 'NameTooLong' : 'InvalidPath');
      assert.match(e.message, pattern);
    }
  };
  it('percent signs are characters of the name, never escapes', () => {
    assert.deepEqual(parseRequestUri('file:///srv/data/100%.csv').segments, ['srv', 'data', '100%.csv']);
    assert.deepEqual(parseRequestUri('s3://my-bucket/x%41.txt').segments, ['x%41.txt']);
    assert.deepEqual(parseRequestUri('s3://my-bucket/%2e%2e/a%2Fb/%zz').segments, ['%2e%2e', 'a%2Fb', '%zz']);
    // canonical string form encodes the literal "%"
    assert.equal(parseRequestUri('s3://my-bucket/x%41.txt').uri, 's3://my-bucket/x%2541.txt/');
  });
  it('"?" and "#" belong to the name; spaces and non-ASCII stay as they are', () => {
    assert.deepEqual(parseRequestUri('s3://my-bucket/a?b=1/c#d').segments, ['a?b=1', 'c#d']);
    assert.deepEqual(parseRequestUri('s3://my-bucket/a b/ü').segments, ['a b', 'ü']);
  });
  it('a name may end (or a segment start) in white space; only white space before the scheme is refused (issue 12 item 3)', () => {
    assert.deepEqual(parseRequestUri('file:///srv/data/x ').segments, ['srv', 'data', 'x ']);
    assert.deepEqual(parseRequestUri('file:///srv/data/ d /y\u00a0').segments.slice(2), [' d ', 'y\u00a0']);
    bad('file:///srv/data/x\t', /control characters/);
    assert.deepEqual(parseRequestUri('s3://my-bucket/k  ').segments, ['k  ']);
    bad(' file:///srv/data/x', /leading white space/);
  });
  it('empty segments are dropped; scheme and authority are checked as for a mount URI', () => {
    assert.deepEqual(parseRequestUri('S3://my-bucket//a///b/').segments, ['a', 'b']);
    assert.equal(parseRequestUri('S3://my-bucket/a').scheme, 's3');
    assert.equal(parseRequestUri('hdfs://NN:8020/a').authority, 'nn:8020');
    bad('ftp://h/x', /unknown scheme/);
    bad('s3://My_Bucket/x', /is not an S3 bucket name/);
    bad('s3://my-bucket?x/y', /is not an S3 bucket name/);
    bad('file://host/x', /takes no host/);
    bad('no-scheme/x', /scheme:\/\/authority/);
  });
  it('the same segment checks: dot segments, control characters, length, lone surrogates', () => {
    bad('s3://my-bucket/a/../b', /dot segments/);
    bad('s3://my-bucket/./b', /dot segments/);
    bad('s3://my-bucket/a\u0007b', /control characters/);
    bad(`s3://my-bucket/${'a'.repeat(256)}`, /longer than 255 bytes/);
    assert.equal(parseRequestUri(`s3://my-bucket/${'a'.repeat(255)}`).segments[0]!.length, 255);
    bad(`s3://my-bucket/${'数'.repeat(86)}`, /longer than 255 bytes/);
    bad('s3://my-bucket/a\ud800b', /not valid UTF-8/);
  });
  it('formatRequestUri writes raw segments back (what REST listings return)', () => {
    const p = parseRequestUri('s3://my-bucket/d');
    assert.equal(formatRequestUri(p.scheme, p.authority, [...p.segments, '100%.csv']), 's3://my-bucket/d/100%.csv');
    assert.deepEqual(parseRequestUri(formatRequestUri(p.scheme, p.authority, [...p.segments, 'x%41 y'])).segments, ['d', 'x%41 y']);
    assert.equal(formatRequestUri('file', '', ['srv']), 'file:///srv');
  });
  it('scheme families index the same namespace together', () => {
    assert.deepEqual(['s3', 's3a', 'cosn', 'wasbs', 'abfss', 'gs'].map(schemeFamily), ['s3', 's3', 'cos', 'wasb', 'abfs', 'gs']);
    assert.equal(namespaceKey(parseRequestUri('s3a://my-bucket/x')), namespaceKey(parseUfsUri('s3://my-bucket/')));
    for (const s of KNOWN_SCHEMES) assert.ok(KNOWN_SCHEMES.includes(schemeFamily(s)), s);
  });
});

describe('isUfsPrefix: segment-aware', () => {
  const p = (s: string) => parseUfsUri(s);
  it('s3://b/data is a prefix of s3://b/data/tables, never of s3://b/database', () => {
    assert.ok(isUfsPrefix(p('s3://bkt/data'), p('s3://bkt/data/tables')));
    assert.ok(isUfsPrefix(p('s3://bkt/data'), p('s3://bkt/data/')));
    assert.ok(isUfsPrefix(p('s3://bkt/data/'), p('s3://bkt/data')));
    assert.ok(!isUfsPrefix(p('s3://bkt/data'), p('s3://bkt/database')));
    assert.ok(!isUfsPrefix(p('s3://bkt/database'), p('s3://bkt/data')));
    assert.ok(!isUfsPrefix(p('s3://bkt/data/tables'), p('s3://bkt/data')));
  });
  it('the bucket root is a prefix of everything in that bucket only', () => {
    assert.ok(isUfsPrefix(p('s3://bkt'), p('s3://bkt/a/b')));
    assert.ok(!isUfsPrefix(p('s3://bkt'), p('s3://bkt2/a')));
    assert.ok(!isUfsPrefix(p('s3://bkt'), p('s3://bk1/a')));
  });
  it('scheme family and authority must match (after normalisation)', () => {
    // s3a is s3 (same bucket namespace); wasbs/abfss are wasb/abfs over TLS; cosn is cos.
    assert.ok(isUfsPrefix(p('s3://bkt/a'), p('s3a://bkt/a/b')));
    assert.ok(isUfsPrefix(p('s3a://bkt/a'), p('s3://bkt/a/b')));
    assert.ok(!isUfsPrefix(p('s3a://bkt/a'), p('s3://bkt/ab')));
    assert.ok(!isUfsPrefix(p('s3a://bkt/a'), p('s3://bkt2/a')));
    assert.ok(isUfsPrefix(p('cosn://bkt-1/a'), p('cos://bkt-1/a/b')));
    assert.ok(isUfsPrefix(p('wasbs://c@acct.blob.core.windows.net/a'), p('wasb://c@acct.blob.core.windows.net/a/b')));
    assert.ok(isUfsPrefix(p('abfs://c@acct.dfs.core.windows.net/a'), p('abfss://c@acct.dfs.core.windows.net/a/b')));
    assert.ok(!isUfsPrefix(p('wasb://c@acct.blob.core.windows.net/a'), p('abfs://c@acct.blob.core.windows.net/a/b')));
    assert.ok(!isUfsPrefix(p('s3://bkt/a'), p('oss://bkt/a/b')));
    assert.ok(!isUfsPrefix(p('s3://bkt/a'), p('gs://bkt/a/b')));
    assert.ok(isUfsPrefix(p('S3://bkt/a'), p('s3://bkt/a/b')));
    assert.ok(isUfsPrefix(p('hdfs://NN:8020/a'), p('hdfs://nn:8020/a/b')));
    assert.ok(!isUfsPrefix(p('hdfs://nn:8020/a'), p('hdfs://nn:8021/a/b')));
  });
  it('compares decoded segments, so encodings do not matter', () => {
    assert.ok(isUfsPrefix(p('s3://bkt/a%20b'), p('s3://bkt/a b/c')));
    assert.ok(isUfsPrefix(p('s3://bkt/%C3%BC'), p('s3://bkt/ü/x')));
    assert.ok(!isUfsPrefix(p('s3://bkt/a%2520b'), p('s3://bkt/a%20b/c')));
  });
  it('file:/// is a prefix of every file URI', () => {
    assert.ok(isUfsPrefix(p('file:///'), p('file:///srv/x')));
    assert.ok(isUfsPrefix(p('file:///srv'), p('file:///srv/x')));
    assert.ok(!isUfsPrefix(p('file:///srv'), p('file:///srv2/x')));
  });
});

describe('joinUnderUfs', () => {
  const mount = parseUfsUri('s3://my-bucket/data/');
  it('joins with exactly one "/" and encodes object keys', () => {
    const loc = joinUnderUfs(mount, ['dir', 'file.csv']);
    assert.equal(loc.uri, 's3://my-bucket/data/dir/file.csv');
    assert.equal(loc.mountUri, 's3://my-bucket/data/');
    assert.deepEqual(loc.baseSegments, ['data']);
    assert.deepEqual(loc.relSegments, ['dir', 'file.csv']);
    assert.equal(loc.scheme, 's3');
    assert.equal(loc.authority, 'my-bucket');
    assert.equal(joinUnderUfs(mount, ['a b', 'ü', '%', '?#']).uri, 's3://my-bucket/data/a%20b/%C3%BC/%25/%3F%23');
  });
  it('no segments is the mount root itself', () => {
    assert.equal(joinUnderUfs(mount, []).uri, 's3://my-bucket/data/');
    assert.equal(joinUnderUfs(parseUfsUri('s3://my-bucket'), []).uri, 's3://my-bucket/');
    assert.equal(joinUnderUfs(parseUfsUri('file:///'), ['etc']).uri, 'file:///etc');
  });
  it('segments that could escape are refused with InvalidPath at step "join"', () => {
    for (const seg of ['..', '.', '', 'a/b', '/', 'a\u0000', '\u0001', '\ud800', 'x'.repeat(256)]) {
      assert.throws(
        () => joinUnderUfs(mount, ['ok', seg]),
        (e: unknown) => e instanceof AlluxioError && e.code === 'InvalidPath' && e.step === 'join',
        JSON.stringify(seg.slice(0, 10)),
      );
    }
  });
  it('encoded dot and slash spellings are just names and stay inside', () => {
    for (const seg of ['%2e%2e', '%2E%2E', '..%2F..', '%2F', '%2e', '..\\..', '.. ', ' ..']) {
      const loc = joinUnderUfs(mount, [seg, 'x']);
      const back = parseUfsUri(loc.uri);
      assert.deepEqual(back.segments, ['data', seg, 'x']);
      assert.ok(isUfsPrefix(mount, back));
    }
  });
});

describe('request URIs name the same first problem as paths do', () => {
  it('a lone surrogate anywhere is InvalidPath, even after a segment too long (found by the resolver property test, seed 764447076)', () => {
    const uri = `s3://my-bucket/${'é'.repeat(128)}/\ud800`;
    assert.throws(() => parseRequestUri(uri), (e) => e instanceof AlluxioError && e.code === 'InvalidPath' && /UTF-8/.test(e.message));
    assert.throws(() => parseRequestUri(`s3://my-bucket/${'é'.repeat(128)}/x`), (e) => e instanceof AlluxioError && e.code === 'NameTooLong');
  });
});
