/**
 * The S3 route table and the refusal of what we do not implement, as pure functions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeOf, unsupportedHeader, UNSUPPORTED_HEADERS, type RouteInput } from '../../src/frontends/s3/router.js';
import { S3Error, S3_ERRORS } from '../../src/frontends/s3/errors.js';
import { AlluxioError } from '../../src/domain/errors.js';

function op(method: string, path: string, headers: Record<string, string> = {}): string {
  const [p, q = ''] = path.split('?');
  const [bucket = '', ...rest] = p!.slice(1).split('/');
  const query = new Map(q ? q.split('&').map((kv) => [kv.split('=')[0]!, kv.split('=')[1] ?? ''] as [string, string]) : []);
  const input: RouteInput = { method, bucket, key: rest.join('/'), query, headers };
  try {
    return routeOf(input);
  } catch (e) {
    assert.ok(e instanceof S3Error);
    return `${e.status} ${e.code}`;
  }
}

test('service, bucket and object operations', () => {
  assert.equal(op('GET', '/'), 'ListBuckets');
  assert.equal(op('PUT', '/'), '405 MethodNotAllowed');
  assert.equal(op('GET', '/b'), 'ListObjectsV1');
  assert.equal(op('GET', '/b?list-type=2'), 'ListObjectsV2');
  assert.equal(op('GET', '/b?location'), 'GetBucketLocation');
  assert.equal(op('GET', '/b?versioning'), 'GetBucketVersioning');
  assert.equal(op('GET', '/b?uploads'), 'ListMultipartUploads');
  assert.equal(op('HEAD', '/b'), 'HeadBucket');
  assert.equal(op('POST', '/b?delete'), 'DeleteObjects');
  assert.equal(op('PUT', '/b'), 'CreateBucket');
  assert.equal(op('DELETE', '/b'), 'DeleteBucket');
  assert.equal(op('GET', '/b/k'), 'GetObject');
  assert.equal(op('HEAD', '/b/k'), 'HeadObject');
  assert.equal(op('GET', '/b/k?tagging'), 'GetObjectTagging');
  assert.equal(op('GET', '/b/k?uploadId=u'), 'ListParts');
  assert.equal(op('PUT', '/b/k'), 'PutObject');
  assert.equal(op('PUT', '/b/k', { 'x-amz-copy-source': 'b/x' }), 'CopyObject');
  assert.equal(op('PUT', '/b/k?uploadId=u&partNumber=1'), 'UploadPart');
  assert.equal(op('PUT', '/b/k?uploadId=u&partNumber=1', { 'x-amz-copy-source': 'b/x' }), 'UploadPartCopy');
  assert.equal(op('PUT', '/b/k?partNumber=1'), '400 InvalidRequest');
  assert.equal(op('DELETE', '/b/k'), 'DeleteObject');
  assert.equal(op('DELETE', '/b/k?uploadId=u'), 'AbortMultipartUpload');
  assert.equal(op('POST', '/b/k?uploads'), 'CreateMultipartUpload');
  assert.equal(op('POST', '/b/k?uploadId=u'), 'CompleteMultipartUpload');
  assert.equal(op('PATCH', '/b/k'), '405 MethodNotAllowed');
});

test('subresources we do not implement are 501, never served as something else', () => {
  assert.equal(op('PUT', '/b?versioning'), '501 NotImplemented');
  assert.equal(op('PUT', '/b?acl'), '501 NotImplemented');
  assert.equal(op('GET', '/b?acl'), '501 NotImplemented');
  assert.equal(op('PUT', '/b?tagging'), '501 NotImplemented');
  assert.equal(op('GET', '/b?tagging'), '501 NotImplemented');
  assert.equal(op('PUT', '/b/k?tagging'), '501 NotImplemented');
  assert.equal(op('DELETE', '/b/k?tagging'), '501 NotImplemented');
  assert.equal(op('GET', '/b/k?acl'), '501 NotImplemented');
  assert.equal(op('GET', '/b/k?versionId=3'), '501 NotImplemented');
  assert.equal(op('GET', '/b/k?versionId=null'), 'GetObject');
  assert.equal(op('POST', '/b/k?select&select-type=2'), '501 NotImplemented');
  assert.equal(op('POST', '/b/k'), '501 NotImplemented');
  assert.equal(op('GET', '/b?versions'), '501 NotImplemented');
});

test('headers asking for features we lack are named; defaults pass', () => {
  assert.equal(unsupportedHeader({}), undefined);
  assert.equal(unsupportedHeader({ 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }), 'x-amz-server-side-encryption-customer-algorithm');
  assert.equal(unsupportedHeader({ 'x-amz-copy-source-server-side-encryption-customer-key': 'k' }), 'x-amz-copy-source-server-side-encryption-customer-key');
  assert.equal(unsupportedHeader({ 'x-amz-server-side-encryption': 'aws:kms' }), 'x-amz-server-side-encryption');
  assert.equal(unsupportedHeader({ 'x-amz-object-lock-mode': 'GOVERNANCE' }), 'x-amz-object-lock-mode');
  assert.equal(unsupportedHeader({ 'x-amz-acl': 'private' }), undefined);
  assert.equal(unsupportedHeader({ 'x-amz-acl': 'public-read' }), 'x-amz-acl');
  assert.equal(unsupportedHeader({ 'x-amz-storage-class': 'STANDARD' }), undefined);
  assert.equal(unsupportedHeader({ 'x-amz-storage-class': 'GLACIER' }), 'x-amz-storage-class');
  assert.equal(unsupportedHeader({ 'x-amz-tagging': 'a=b' }), 'x-amz-tagging');
});

test('the error table answers the codes the data path throws as documented', () => {
  const a = (code: ConstructorParameters<typeof AlluxioError>[0], step?: string) => S3_ERRORS[code](new AlluxioError(code, 'm', step ? { step } : {}), { bucket: 'b', key: 'k' });
  assert.deepEqual([a('ReadOnlyMount').status, a('ReadOnlyMount').code], [403, 'AccessDenied']);
  assert.deepEqual([a('UfsUnavailable').status, a('UfsUnavailable').code], [503, 'ServiceUnavailable']);
  assert.deepEqual([a('NotFound').status, a('NotFound').code], [404, 'NoSuchKey']);
  assert.deepEqual([a('UfsNotSupported').status, a('UfsNotSupported').code], [501, 'NotImplemented']);
  assert.deepEqual([a('NameTooLong').status, a('NameTooLong').code], [400, 'KeyTooLongError']);
  assert.deepEqual([a('NoMountForPath').status, a('NoMountForPath').code], [404, 'NoSuchBucket']);
  assert.deepEqual([a('InvalidPath').status, a('InvalidPath').code], [400, 'InvalidArgument']);
  assert.deepEqual([a('NotADirectory').status, a('NotADirectory').code], [400, 'InvalidRequest']);
});

test('every header the router refuses starts with x- (the S3 server looks them up only when a header name starts with x)', () => {
  assert.ok(UNSUPPORTED_HEADERS.length > 0);
  for (const h of UNSUPPORTED_HEADERS) assert.ok(h.startsWith('x-'), h);
});
