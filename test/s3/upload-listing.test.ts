/**
 * ListMultipartUploads paging (src/frontends/s3/upload-listing.ts, pure): pages of every size
 * put together are the single page; delimiter grouping counts a prefix once; S3's markers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageUploads, type ListedUpload } from '../../src/frontends/s3/upload-listing.js';

const U = (key: string, uploadId: string, initiated = '2026-01-01T00:00:00.000Z'): ListedUpload => ({ key, uploadId, initiated });
const all = [U('u/a', 'z1'), U('u/a', 'a2', '2026-01-02T00:00:00.000Z'), U('u/b', 'm'), U('u/c/d', 'x'), U('u/c/e', 'y'), U('v', 'q'), U('é', 'w'), U('u/c', 'k')];
const base = { prefix: '', delimiter: '', keyMarker: '', uploadIdMarker: '', maxUploads: 1000 };

function walk(input: typeof base): { uploads: string[]; prefixes: string[] } {
  const out = { uploads: [] as string[], prefixes: [] as string[] };
  let p = { ...input };
  for (let n = 0; n < 100; n++) {
    const page = pageUploads(all, p);
    out.uploads.push(...page.uploads.map((u) => `${u.key}#${u.uploadId}`));
    out.prefixes.push(...page.commonPrefixes);
    assert.ok(page.uploads.length + page.commonPrefixes.length <= p.maxUploads);
    if (!page.isTruncated) return out;
    p = { ...p, keyMarker: page.nextKeyMarker!, uploadIdMarker: page.nextUploadIdMarker! };
  }
  throw new Error('did not end');
}

test('one page: UTF-8 order of keys, then initiation; prefix filters', () => {
  const page = pageUploads(all, base);
  assert.deepEqual(page.uploads.map((u) => `${u.key}#${u.uploadId}`), ['u/a#z1', 'u/a#a2', 'u/b#m', 'u/c#k', 'u/c/d#x', 'u/c/e#y', 'v#q', 'é#w']);
  assert.equal(page.isTruncated, false);
  assert.equal(page.nextKeyMarker, undefined);
  assert.deepEqual(pageUploads(all, { ...base, prefix: 'u/c' }).uploads.map((u) => u.key), ['u/c', 'u/c/d', 'u/c/e']);
});

test('pages of every size add up to the single page, with and without a delimiter', () => {
  for (const delimiter of ['', '/']) {
    for (const prefix of ['', 'u/']) {
      const whole = walk({ ...base, prefix, delimiter });
      for (let max = 1; max <= 5; max++) assert.deepEqual(walk({ ...base, prefix, delimiter, maxUploads: max }), whole, `max ${max}, prefix ${prefix}, delimiter ${delimiter}`);
    }
  }
  assert.deepEqual(walk({ ...base, prefix: 'u/', delimiter: '/' }), { uploads: ['u/a#z1', 'u/a#a2', 'u/b#m', 'u/c#k'], prefixes: ['u/c/'] });
  assert.deepEqual(walk({ ...base, delimiter: '/' }).prefixes, ['u/']);
});

test("S3's markers: key-marker alone skips the key; with upload-id-marker, resumes inside it", () => {
  assert.deepEqual(pageUploads(all, { ...base, keyMarker: 'u/a' }).uploads[0]!.key, 'u/b');
  assert.deepEqual(pageUploads(all, { ...base, keyMarker: 'u/a', uploadIdMarker: 'z1' }).uploads.map((u) => u.uploadId).slice(0, 2), ['a2', 'm']);
  // an id this did not hand out: the key's uploads with greater ids (S3's definition)
  assert.deepEqual(pageUploads(all, { ...base, keyMarker: 'u/a', uploadIdMarker: 'b' }).uploads.map((u) => u.uploadId).slice(0, 2), ['z1', 'm']);
  assert.equal(pageUploads(all, { ...base, maxUploads: 0 }).uploads.length, 0);
  assert.equal(pageUploads(all, { ...base, maxUploads: 0 }).isTruncated, false, 'an empty, untruncated page, as max-keys=0');
});
