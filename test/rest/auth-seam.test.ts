/**
 * The seam between the one signature verifier and the two front ends that use it:
 * verifySignature throws its own AuthError (never the S3 front end's S3Error); the S3 front
 * end answers each reason with the S3Error of the same code, the REST API with a JSON error
 * of the same code and its own status (401 for an anonymous request). No server: the
 * verifier and the REST check are called directly on request shapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { AuthError, verifySigV4, verifySignature, type AuthReason, type SigInput } from '../../src/frontends/s3/sigv4.js';
const S3 = { services: ['s3'], sigV2: true };
import { S3Error } from '../../src/frontends/s3/errors.js';
import { authenticateRest } from '../../src/frontends/rest/auth.js';
import { RestError } from '../../src/frontends/rest/errors.js';

const AK = 'AKIAIOSFODNN7EXAMPLE';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const creds = new Map([[AK, SK]]);
const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
const scope = (ak: string): string => `${ak}/${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;

/** Requests that fail verification, with the reason and the status each front end answers. */
const cases: { name: string; req: SigInput; reason: AuthReason; s3: number; rest: number }[] = [
  { name: 'anonymous', req: { method: 'GET', rawPath: '/api/v1/file', rawQuery: 'path=/a', headers: { host: 'w' } }, reason: 'AccessDenied', s3: 403, rest: 401 },
  {
    name: 'unknown access key',
    req: { method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { host: 'w', 'x-amz-date': amzDate, authorization: `AWS4-HMAC-SHA256 Credential=${scope('NOSUCHKEY')},SignedHeaders=host;x-amz-date,Signature=${'0'.repeat(64)}` } },
    reason: 'InvalidAccessKeyId',
    s3: 403,
    rest: 403,
  },
  {
    name: 'wrong signature',
    req: { method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { host: 'w', 'x-amz-date': amzDate, authorization: `AWS4-HMAC-SHA256 Credential=${scope(AK)},SignedHeaders=host;x-amz-date,Signature=${'0'.repeat(64)}` } },
    reason: 'SignatureDoesNotMatch',
    s3: 403,
    rest: 403,
  },
  {
    name: 'malformed Authorization header',
    req: { method: 'GET', rawPath: '/b/k', rawQuery: '', headers: { host: 'w', authorization: 'AWS4-HMAC-SHA256 Credential=x' } },
    reason: 'AuthorizationHeaderMalformed',
    s3: 400,
    rest: 400,
  },
  {
    name: 'presigned URL without its parameters',
    req: { method: 'GET', rawPath: '/b/k', rawQuery: 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc', headers: { host: 'w' } },
    reason: 'AuthorizationQueryParametersError',
    s3: 400,
    rest: 400,
  },
  {
    name: 'query that is not percent-encoding',
    req: { method: 'GET', rawPath: '/b/k', rawQuery: 'X-Amz-Signature=%zz', headers: { host: 'w' } },
    reason: 'InvalidArgument',
    s3: 400,
    rest: 400,
  },
];

test('verifySignature throws AuthError with the AWS code as its reason, never an S3Error', () => {
  for (const c of cases) {
    assert.throws(
      () => verifySignature(c.req, creds, S3),
      (e: unknown) => e instanceof AuthError && !(e instanceof S3Error) && e.reason === c.reason,
      c.name,
    );
  }
});

test('the S3 front end answers each reason with the S3Error of the same code', () => {
  for (const c of cases) {
    assert.throws(
      () => verifySigV4(c.req, creds, S3),
      (e: unknown) => e instanceof S3Error && e.code === c.reason && e.status === c.s3,
      c.name,
    );
  }
});

test('REST answers each reason with a RestError of the same code and its own status (401 when nothing was signed)', () => {
  for (const c of cases) {
    const req = { method: c.req.method, url: c.req.rawPath + (c.req.rawQuery ? `?${c.req.rawQuery}` : ''), headers: c.req.headers } as unknown as IncomingMessage;
    assert.throws(
      () => authenticateRest(req, { credentials: creds }),
      (e: unknown) => e instanceof RestError && e.code === c.reason && e.status === c.rest,
      c.name,
    );
  }
});
