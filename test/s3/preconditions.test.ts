/**
 * The S3 preconditions and ranges as pure functions: no server, no clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conditionOf, conditionsFrom, etagMatches, evaluateCopySource, evaluateRead, evaluateWrite, hasWriteConditions } from '../../src/frontends/s3/preconditions.js';
import { copySourceRange, objectRange } from '../../src/frontends/s3/ranges.js';
import { S3Error } from '../../src/frontends/s3/errors.js';

const V = { etag: '"abc"', mtimeMs: Date.parse('2024-05-01T10:00:00.700Z') };
const before = 'Wed, 01 May 2024 09:59:59 GMT';
const same = 'Wed, 01 May 2024 10:00:00 GMT';
const after = 'Wed, 01 May 2024 10:00:01 GMT';

test('ETag lists: quoted, unquoted, weak, several, and *', () => {
  assert.equal(etagMatches('"abc"', V.etag), true);
  assert.equal(etagMatches('abc', V.etag), true);
  assert.equal(etagMatches('W/"abc"', V.etag), true);
  assert.equal(etagMatches('"x", "abc"', V.etag), true);
  assert.equal(etagMatches('*', V.etag), true);
  assert.equal(etagMatches('"abd"', V.etag), false);
  assert.equal(etagMatches('', V.etag), false);
});

test('reads: If-Match / If-Unmodified-Since fail, If-None-Match / If-Modified-Since are 304', () => {
  assert.equal(evaluateRead({}, V), 'ok');
  assert.equal(evaluateRead({ ifMatch: '"abc"' }, V), 'ok');
  assert.equal(evaluateRead({ ifMatch: '"zzz"' }, V), 'failed');
  assert.equal(evaluateRead({ ifNoneMatch: '"abc"' }, V), 'not-modified');
  assert.equal(evaluateRead({ ifNoneMatch: '"zzz"' }, V), 'ok');
  // second resolution: mtime 10:00:00.700 is "10:00:00"
  assert.equal(evaluateRead({ ifModifiedSince: same }, V), 'not-modified');
  assert.equal(evaluateRead({ ifModifiedSince: before }, V), 'ok');
  assert.equal(evaluateRead({ ifUnmodifiedSince: same }, V), 'ok');
  assert.equal(evaluateRead({ ifUnmodifiedSince: before }, V), 'failed');
  assert.equal(evaluateRead({ ifUnmodifiedSince: after }, V), 'ok');
  // unparseable dates are ignored
  assert.equal(evaluateRead({ ifModifiedSince: 'yesterday' }, V), 'ok');
  assert.equal(evaluateRead({ ifUnmodifiedSince: 'yesterday' }, V), 'ok');
});

test('reads: If-Match wins over If-Unmodified-Since, If-None-Match over If-Modified-Since', () => {
  assert.equal(evaluateRead({ ifMatch: '"abc"', ifUnmodifiedSince: before }, V), 'ok');
  assert.equal(evaluateRead({ ifNoneMatch: '"zzz"', ifModifiedSince: after }, V), 'ok');
  assert.equal(evaluateRead({ ifMatch: '"zzz"', ifNoneMatch: '"abc"' }, V), 'failed');
  assert.equal(evaluateRead({ ifMatch: '"abc"', ifNoneMatch: '"abc"' }, V), 'not-modified');
});

test('copy sources: every failure is a failure (no 304), naming the header that failed', () => {
  assert.equal(evaluateCopySource({ ifNoneMatch: '"abc"' }, V), 'x-amz-copy-source-If-None-Match');
  assert.equal(evaluateCopySource({ ifModifiedSince: after }, V), 'x-amz-copy-source-If-Modified-Since');
  assert.equal(evaluateCopySource({ ifUnmodifiedSince: before }, V), 'x-amz-copy-source-If-Unmodified-Since');
  assert.equal(evaluateCopySource({ ifMatch: '"abc"', ifModifiedSince: before }, V), undefined);
  const c = conditionsFrom({ 'x-amz-copy-source-if-match': '"zzz"', 'if-match': '"abc"' }, 'x-amz-copy-source-');
  assert.deepEqual(c, { ifMatch: '"zzz"' });
  assert.equal(evaluateCopySource(c, V), 'x-amz-copy-source-If-Match');
});

test('a failed read names the header that failed: If-Match, else If-Unmodified-Since', () => {
  assert.equal(conditionOf({ ifMatch: '"zzz"', ifUnmodifiedSince: before }, 'failed'), 'If-Match');
  assert.equal(conditionOf({ ifUnmodifiedSince: before }, 'failed'), 'If-Unmodified-Since');
  assert.equal(conditionOf({ ifNoneMatch: '"abc"' }, 'not-modified'), 'If-None-Match');
  assert.equal(conditionOf({ ifModifiedSince: after }, 'not-modified'), 'If-Modified-Since');
});

test('writes: If-None-Match: * only when absent; If-Match only on the same ETag; other If-None-Match unsupported', () => {
  assert.equal(evaluateWrite({}, null), 'ok');
  assert.equal(evaluateWrite({}, V), 'ok');
  assert.equal(evaluateWrite({ ifNoneMatch: '*' }, null), 'ok');
  assert.equal(evaluateWrite({ ifNoneMatch: '*' }, V), 'failed');
  assert.equal(evaluateWrite({ ifNoneMatch: '"abc"' }, null), 'unsupported');
  assert.equal(evaluateWrite({ ifMatch: '"abc"' }, V), 'ok');
  assert.equal(evaluateWrite({ ifMatch: 'abc' }, V), 'ok');
  assert.equal(evaluateWrite({ ifMatch: '"zzz"' }, V), 'failed');
  assert.equal(evaluateWrite({ ifMatch: '"abc"' }, null), 'missing');
  assert.equal(hasWriteConditions(conditionsFrom({ 'if-modified-since': same })), false);
  assert.equal(hasWriteConditions(conditionsFrom({ 'if-none-match': '*' })), true);
});

function s3code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof S3Error);
    return `${e.status} ${e.code}`;
  }
  return 'ok';
}

test('GET ranges: a-b, a-, -n, clamped, ignored, unsatisfiable; partNumber', () => {
  assert.deepEqual(objectRange('bytes=0-9', undefined, 100), { start: 0, end: 9 });
  assert.deepEqual(objectRange('bytes=90-', undefined, 100), { start: 90, end: 99 });
  assert.deepEqual(objectRange('bytes=-10', undefined, 100), { start: 90, end: 99 });
  assert.deepEqual(objectRange('bytes=-1000', undefined, 100), { start: 0, end: 99 });
  assert.deepEqual(objectRange('bytes=50-1000', undefined, 100), { start: 50, end: 99 });
  assert.equal(objectRange('bytes=9-0', undefined, 100), null);
  assert.equal(objectRange('bytes=0-1,5-6', undefined, 100), null);
  assert.equal(objectRange(undefined, undefined, 100), null);
  assert.equal(s3code(() => objectRange('bytes=100-', undefined, 100)), '416 InvalidRange');
  assert.equal(s3code(() => objectRange('bytes=-0', undefined, 100)), '416 InvalidRange');
  assert.equal(s3code(() => objectRange('bytes=-5', undefined, 0)), '416 InvalidRange');
  assert.equal(objectRange(undefined, '1', 100), null);
  assert.equal(s3code(() => objectRange(undefined, '2', 100)), '416 InvalidPartNumber');
  assert.equal(s3code(() => objectRange('bytes=0-1', '1', 100)), '400 InvalidRequest');
  assert.equal(s3code(() => objectRange(undefined, 'x', 100)), '400 InvalidArgument');
});

test('x-amz-copy-source-range: inclusive, malformed is InvalidArgument, past the end is InvalidRange', () => {
  assert.equal(copySourceRange(undefined, 10), undefined);
  assert.deepEqual(copySourceRange('bytes=0-9', 10), { start: 0, end: 9 });
  assert.deepEqual(copySourceRange('bytes=3-3', 10), { start: 3, end: 3 });
  assert.equal(s3code(() => copySourceRange('bytes=0-10', 10)), '416 InvalidRange');
  assert.equal(s3code(() => copySourceRange('bytes=5-2', 10)), '400 InvalidArgument');
  assert.equal(s3code(() => copySourceRange('bytes=5-', 10)), '400 InvalidArgument');
});
