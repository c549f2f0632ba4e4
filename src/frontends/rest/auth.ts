/**
 * Authentication of the worker's REST API (docs/rest-api.md, "Authentication").
 *
 * ONE mechanism for both data front ends: when the worker is configured with access/secret
 * key pairs (ALLUXIO_S3_CREDENTIALS="AK:SK,AK2:SK2", the same variable as the S3 API), every
 * REST data endpoint under /api/v1/ requires an AWS Signature Version 4 request, verified by
 * the one signature verifier (src/frontends/s3/sigv4.ts verifySignature): the Authorization
 * header form or a presigned URL. The credential scope's service may be "s3" or "alluxio"
 * (another is AuthorizationHeaderMalformed), in any region. PUT bodies are usually signed
 * as UNSIGNED-PAYLOAD (they stream to the UFS as they arrive); a hex x-amz-content-sha256
 * the signature covers, or one a client declares with auth off, is checked against the
 * body (the S3 API's `payloadSha256`, in server.ts). aws-chunked signed bodies are refused
 * (the REST API streams raw bodies).
 *
 * Without credentials every request is accepted (like Alluxio's REST API).
 *
 * A failed check is the verifier's AuthError; its reason (the AWS error code) is the JSON
 * error code, with the verifier's HTTP status for it (AUTH_HTTP_STATUS, shared with S3).
 */
import type { IncomingMessage } from 'node:http';
import { AUTH_HTTP_STATUS, AuthError, parseCredentials, verifySignature, type Credentials, type VerifiedRequest } from '../s3/sigv4.js';
import { RestError } from './errors.js';


export interface RestAuthOptions {
  /** access key -> secret key; when set, every data request must be signed. */
  credentials?: Credentials;
}

/** The REST API's auth options from the worker's environment (the S3 API's variable). */
export function restAuthFromEnv(env: NodeJS.ProcessEnv = process.env): RestAuthOptions {
  const creds = parseCredentials(env.ALLUXIO_S3_CREDENTIALS);
  return creds ? { credentials: creds } : {};
}

/** The credential scope's services the REST API accepts (any region: the client's). */
const REST_SCOPE = { services: ['s3', 'alluxio'] };

/**
 * Check one REST request. Returns who signed it (undefined when auth is off); throws a
 * RestError 401 AccessDenied (anonymous), 403 AccessDenied / InvalidAccessKeyId /
 * SignatureDoesNotMatch / RequestTimeTooSkewed, or 400 for malformed signatures.
 */
export function authenticateRest(req: IncomingMessage, opts: RestAuthOptions): VerifiedRequest | undefined {
  if (!opts.credentials) return undefined;
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  const rawQuery = q < 0 ? '' : raw.slice(q + 1);
  let v: VerifiedRequest;
  try {
    v = verifySignature({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers, distinctHeaders: () => req.headersDistinct }, opts.credentials, REST_SCOPE);
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    const anonymous = !req.headers.authorization && !/(?:^|&)(?:X-Amz-Signature|Signature)=/.test(rawQuery);
    if (anonymous) {
      throw new RestError(401, 'AccessDenied', 'this worker requires authentication: sign requests with AWS Signature Version 4 (see docs/rest-api.md)', {
        'www-authenticate': 'AWS4-HMAC-SHA256',
      });
    }
    throw new RestError(AUTH_HTTP_STATUS[e.reason], e.reason, e.message);
  }
  if (v.chunkSigner) {
    throw new RestError(400, 'NotImplemented', 'aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) bodies are not accepted by the REST API: sign the body as UNSIGNED-PAYLOAD');
  }
  return v;
}

