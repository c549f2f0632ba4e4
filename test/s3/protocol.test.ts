/**
 * The S3 protocol pieces against published reference data: SigV4 and the chunk
 * signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD from AWS's documentation example
 * ("Signature Calculations for the Authorization Header: Transferring Payload in Multiple
 * Chunks"), checksum check values, and the XML parser on hostile input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AuthError, verifySigV4, verifySignature, awsUriEncode } from '../../src/frontends/s3/sigv4.js';
const S3 = { services: ['s3'], sigV2: true };
import { AwsChunkedDecoder } from '../../src/frontends/s3/body.js';
import { createChecksummer } from '../../src/frontends/s3/checksums.js';
import { parseXml, XmlParseError } from '../../src/frontends/s3/xml.js';
import { S3Error } from '../../src/frontends/s3/errors.js';

const AK = 'AKIAIOSFODNN7EXAMPLE';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];

function exampleRequest(signature = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9') {
  return {
    method: 'PUT',
    rawPath: '/examplebucket/chunkObject.txt',
    rawQuery: '',
    now: Date.UTC(2013, 4, 24, 0, 1),
    headers: {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      authorization: `AWS4-HMAC-SHA256 Credential=${AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${signature}`,
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560',
      'content-length': '66824',
    },
  };
}

function chunkedBody(tamper = false): Buffer {
  const a = Buffer.alloc(65536, 'a');
  const b = Buffer.alloc(1024, 'a');
  if (tamper) b[10] = 0x62;
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${SIGS[0]}\r\n`),
    a,
    Buffer.from(`\r\n400;chunk-signature=${SIGS[1]}\r\n`),
    b,
    Buffer.from(`\r\n0;chunk-signature=${SIGS[2]}\r\n\r\n`),
  ]);
}

async function decode(body: Buffer, dec: AwsChunkedDecoder, split = 777): Promise<Buffer> {
  const out: Buffer[] = [];
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += split) parts.push(body.subarray(i, i + split));
  await pipeline(Readable.from(parts), dec, new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

test('SigV4 seed signature and chunk signatures match the AWS documentation example', async () => {
  const body = chunkedBody();
  assert.equal(body.length, 66824);
  const v = verifySigV4(exampleRequest(), new Map([[AK, SK]]), S3);
  assert.equal(v.accessKey, AK);
  assert.ok(v.chunkSigner);
  const out = await decode(body, new AwsChunkedDecoder({ signer: v.chunkSigner, decodedLength: 66560, expectTrailer: false }));
  assert.equal(out.length, 66560);
  assert.ok(out.equals(Buffer.alloc(66560, 'a')));
});

test('a tampered chunk, a wrong seed signature, a wrong secret and a skewed clock are refused', async () => {
  const v = verifySigV4(exampleRequest(), new Map([[AK, SK]]), S3);
  await assert.rejects(
    decode(chunkedBody(true), new AwsChunkedDecoder({ signer: v.chunkSigner!, expectTrailer: false })),
    (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch',
  );
  assert.throws(() => verifySigV4(exampleRequest('0'.repeat(64)), new Map([[AK, SK]]), S3), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
  assert.throws(() => verifySigV4(exampleRequest(), new Map([[AK, 'other']]), S3), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
  assert.throws(() => verifySigV4(exampleRequest(), new Map([['OTHER', SK]]), S3), (e: unknown) => e instanceof S3Error && e.code === 'InvalidAccessKeyId');
  assert.throws(() => verifySigV4({ ...exampleRequest(), now: Date.UTC(2013, 4, 25) }, new Map([[AK, SK]]), S3), (e: unknown) => e instanceof S3Error && e.code === 'RequestTimeTooSkewed');
});

test('the credential scope: the service must be the front end\'s, the region the configured one when set', () => {
  const creds = new Map([[AK, SK]]);
  assert.equal(verifySigV4(exampleRequest(), creds, { services: ['s3'], region: 'us-east-1' }).accessKey, AK);
  assert.throws(
    () => verifySigV4(exampleRequest(), creds, { services: ['s3'], region: 'eu-west-1' }),
    (e: unknown) => e instanceof S3Error && e.code === 'AuthorizationHeaderMalformed' && /the region 'us-east-1' is wrong; expecting 'eu-west-1'/.test(e.message),
  );
  assert.throws(
    () => verifySigV4(exampleRequest(), creds, { services: ['alluxio'] }),
    (e: unknown) => e instanceof S3Error && e.code === 'AuthorizationHeaderMalformed' && /incorrect service "s3"/.test(e.message),
  );
  // SigV2 without any date is refused for what it lacks, not as a skewed clock
  assert.throws(
    () => verifySigV4({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { authorization: `AWS ${AK}:c2lnbmF0dXJl`, host: 'h' } }, creds, S3),
    (e: unknown) => e instanceof S3Error && e.code === 'AccessDenied' && /valid Date or x-amz-date/.test(e.message),
  );
  // ... and so is a date before 1970 (s3-tests: AccessDenied, as AWS; a date after it but far off is a skewed clock)
  for (const [date, code] of [['Tue, 07 Jul 1950 21:53:04 GMT', 'AccessDenied'], ['Tue, 07 Jul 2009 21:53:04 GMT', 'RequestTimeTooSkewed']]) {
    assert.throws(
      () => verifySigV4({ method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { authorization: `AWS ${AK}:c2lnbmF0dXJl`, host: 'h', date } }, creds, S3),
      (e: unknown) => e instanceof S3Error && e.code === code,
      date,
    );
  }
});

test('SigV2: a bucket request sent as "/bucket" verifies when signed as "/bucket/" (current botocore) or with list-type (botocore 1.29)', () => {
  const creds = new Map([[AK, SK]]);
  const date = new Date().toUTCString();
  const sig = (resource: string) => createHmac('sha1', SK).update(`GET\n\n\n${date}\n${resource}`).digest('base64');
  const req = (resource: string, rawQuery = '') => ({ method: 'GET', rawPath: '/b', rawQuery, headers: { authorization: `AWS ${AK}:${sig(resource)}`, date, host: 'h' } });
  assert.equal(verifySigV4(req('/b'), creds, S3).accessKey, AK);
  assert.equal(verifySigV4(req('/b/'), creds, S3).accessKey, AK);
  assert.equal(verifySigV4(req('/b?list-type=2', 'list-type=2&prefix=x'), creds, S3).accessKey, AK);
  assert.throws(() => verifySigV4(req('/c/'), creds, S3), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
  // an object's path has no such second form
  const obj = { method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { authorization: `AWS ${AK}:${sig('/b/k/')}`, date, host: 'h' } };
  assert.throws(() => verifySigV4(obj, creds, S3), (e: unknown) => e instanceof S3Error && e.code === 'SignatureDoesNotMatch');
});

test('SigV2 is refused where the rules do not accept it (400 InvalidRequest, header and presigned forms, even when valid); a SigV2 presigned URL lives at most 7 days, as SigV4', () => {
  const creds = new Map([[AK, SK]]);
  const date = new Date().toUTCString();
  const header = { method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { authorization: `AWS ${AK}:${createHmac('sha1', SK).update(`GET\n\n\n${date}\n/b/k`).digest('base64')}`, date, host: 'h' } };
  const presigned = (expires: number) => ({
    method: 'GET',
    rawPath: '/b/k',
    rawQuery: `AWSAccessKeyId=${AK}&Expires=${expires}&Signature=${encodeURIComponent(createHmac('sha1', SK).update(`GET\n\n\n${expires}\n/b/k`).digest('base64'))}`,
    headers: { host: 'h' },
  });
  const inAnHour = Math.floor(Date.now() / 1000) + 3600;
  assert.equal(verifySigV4(header, creds, S3).accessKey, AK);
  assert.equal(verifySigV4(presigned(inAnHour), creds, S3).accessKey, AK);
  for (const req of [header, presigned(inAnHour)]) {
    for (const rules of [{ services: ['s3'] }, { services: ['s3'], sigV2: false }]) {
      assert.throws(() => verifySignature(req, creds, rules), (e: unknown) => e instanceof AuthError && e.reason === 'InvalidRequest' && /Please use AWS4-HMAC-SHA256/.test(e.message));
    }
  }
  const sixDays = Math.floor(Date.now() / 1000) + 6 * 86400;
  assert.equal(verifySigV4(presigned(sixDays), creds, S3).accessKey, AK);
  const hundredYears = Math.floor(Date.now() / 1000) + 100 * 365 * 86400;
  assert.throws(() => verifySigV4(presigned(hundredYears), creds, S3), (e: unknown) => e instanceof S3Error && e.code === 'AuthorizationQueryParametersError' && e.status === 400 && /at most 604800 seconds/.test(e.message));
});

test('an empty x-amz-date is no date (SigV2 and SigV4: AccessDenied), even beside a valid Date (ceph s3-tests)', () => {
  const creds = new Map([[AK, SK]]);
  const date = new Date().toUTCString();
  const v2 = createHmac('sha1', SK).update(`PUT\n\n\n${date}\nx-amz-date:\n/b/k`).digest('base64');
  const put = (authorization: string, more: Record<string, string> = {}) => ({ method: 'PUT', rawPath: '/b/k', rawQuery: '', headers: { authorization, date, 'x-amz-date': '', host: 'h', ...more } });
  const denied = (e: unknown) => e instanceof S3Error && e.code === 'AccessDenied' && /x-amz-date is empty/.test(e.message);
  assert.throws(() => verifySigV4(put(`AWS ${AK}:${v2}`), creds, S3), denied);
  const scope = `${AK}/20130524/us-east-1/s3/aws4_request`;
  assert.throws(() => verifySigV4(put(`AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=date;host;x-amz-date, Signature=${'0'.repeat(64)}`, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }), creds, S3), denied);
  // without the header at all, Date is the date (as before)
  const plain = createHmac('sha1', SK).update(`PUT\n\n\n${date}\n/b/k`).digest('base64');
  assert.equal(verifySigV4({ method: 'PUT', rawPath: '/b/k', rawQuery: '', headers: { authorization: `AWS ${AK}:${plain}`, date, host: 'h' } }, creds, S3).accessKey, AK);
});

test('aws-chunked framing errors: truncated body, bad size, length mismatch', async () => {
  const ok = Buffer.from('5\r\nhello\r\n0\r\n\r\n');
  assert.equal((await decode(ok, new AwsChunkedDecoder({ expectTrailer: false }), 3)).toString(), 'hello');
  const bad = (e: unknown) => e instanceof S3Error && e.code === 'IncompleteBody';
  await assert.rejects(decode(Buffer.from('5\r\nhel'), new AwsChunkedDecoder({ expectTrailer: false })), bad);
  await assert.rejects(decode(Buffer.from('zz\r\nhello\r\n0\r\n\r\n'), new AwsChunkedDecoder({ expectTrailer: false })), bad);
  await assert.rejects(decode(Buffer.from('5\r\nhelloXX0\r\n\r\n'), new AwsChunkedDecoder({ expectTrailer: false })), bad);
  await assert.rejects(decode(ok, new AwsChunkedDecoder({ expectTrailer: false, decodedLength: 6 })), bad);
  // trailers are bounded in all, not only line by line (a section that never ended grew the heap)
  const endless = Buffer.concat([Buffer.from('5\r\nhello\r\n0\r\n'), Buffer.from(Array.from({ length: 2000 }, (_, i) => `x-junk-${i}: ${'v'.repeat(20)}\r\n`).join(''))]);
  await assert.rejects(decode(endless, new AwsChunkedDecoder({ expectTrailer: true })), (e: unknown) => bad(e) && /trailers over/.test((e as Error).message));
  // a declared trailer checksum that is missing is an error, not a pass
  await assert.rejects(decode(ok, new AwsChunkedDecoder({ expectTrailer: true, trailerChecksum: 'crc32' })), (e: unknown) => e instanceof S3Error && e.code === 'InvalidRequest');
});

test('checksum check values ("123456789")', () => {
  const hex = (alg: Parameters<typeof createChecksummer>[0]) => {
    const c = createChecksummer(alg);
    c.update(Buffer.from('1234'));
    c.update(Buffer.from('56789'));
    return Buffer.from(c.digest(), 'base64').toString('hex');
  };
  assert.equal(hex('crc32'), 'cbf43926');
  assert.equal(hex('crc32c'), 'e3069283');
  assert.equal(hex('crc64nvme'), 'ae8b14860a799888');
  assert.equal(hex('sha256'), createHash('sha256').update('123456789').digest('hex'));
});

test('SigV4 URI encoding keeps unreserved characters only', () => {
  assert.equal(awsUriEncode('a b/c~d+é*', true), 'a%20b/c~d%2B%C3%A9%2A');
  assert.equal(awsUriEncode('a/b', false), 'a%2Fb');
});

test('XML parser: entities, CDATA and namespaces work; DTDs, mismatched tags and trailing junk are refused', () => {
  const doc = parseXml('<?xml version="1.0"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b&#x20;&lt;c&gt;</Key></Object><Object><Key><![CDATA[x<y]]></Key></Object><Quiet>true</Quiet></Delete>');
  assert.equal(doc.name, 'Delete');
  assert.deepEqual(doc.children.filter((c) => c.name === 'Object').map((o) => o.children[0]!.text), ['a&b <c>', 'x<y']);
  for (const bad of [
    '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>',
    '<Delete><Object></Delete>',
    '<Delete></Delete><Extra/>',
    '<Delete>',
    'not xml',
  ]) {
    assert.throws(() => parseXml(bad), XmlParseError, bad);
  }
});
