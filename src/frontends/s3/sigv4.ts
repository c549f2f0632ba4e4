/**
 * AWS Signature Version 4 verification for the S3 front end: the Authorization header
 * form and the presigned-URL (query) form, plus the per-chunk signatures of
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies. Only used when the worker is configured
 * with access/secret key pairs; otherwise any credentials are accepted (like Alluxio).
 *
 * The canonical URI is rebuilt from the path as received: each segment percent-decoded
 * once and re-encoded with the SigV4 rules (unreserved characters kept), which is what
 * every SDK signs for S3 (no double encoding, no dot-segment normalisation).
 *
 * The REST API verifies its requests with the same verifier (src/frontends/rest/auth.ts), so
 * a failed check is an AuthError, the verifier's own type, with a reason named after the AWS
 * error code: verifySignature() throws it and each front end maps the reason in its own
 * vocabulary (S3: verifySigV4() below, an S3Error with the XML code; REST: a JSON status).
 *
 * Longer than ~300 lines on purpose: one concern (checking a request's signature, in the
 * SigV4 and SigV2 forms S3 clients send), which reads best in one place.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ChunkSigner } from './body.js';
import { S3Error } from './errors.js';
import { canonicalHeaderValue, canonicalQuery, canonicalUri as canonicalUriOf, EMPTY_SHA256, safeEqualHex, sha256Hex, SIGV4_ALGORITHM as ALGORITHM, signingKey, splitQuery, type Credentials } from '../../domain/sigv4.js';

// The pure part (canonicalisation, the signer) is shared with the requests this process
// sends: src/domain/sigv4.ts. awsUriEncode is re-exported for the front end's listings.
export { awsUriEncode } from '../../domain/sigv4.js';

function canonicalUri(rawPath: string): string {
  return canonicalUriOf(rawPath, () => new AuthError('InvalidURI', 'Couldn\'t parse the specified URI.'));
}
const MAX_SKEW_MS = 15 * 60 * 1000;
/** The longest a presigned URL may live, either version (AWS's SigV4 limit: 7 days). */
const MAX_PRESIGN_S = 604800;

export type { Credentials };

/**
 * x-amz-* headers a request may carry unsigned: the payload hash and the date (the string to
 * sign covers them in their own lines), and CloudFront's request id, which a CDN in front of
 * the endpoint adds after the client signed (it changes nothing the request does).
 */
const UNSIGNED_AMZ_HEADERS = new Set(['x-amz-content-sha256', 'x-amz-date', 'x-amz-cf-id']);

/** Why a signature check failed: the AWS error code, which both front ends answer with. */
export type AuthReason =
  /** Anonymous, an expired presigned URL, no valid date, host or an x-amz-* header not signed. */
  | 'AccessDenied'
  | 'InvalidAccessKeyId'
  | 'SignatureDoesNotMatch'
  | 'RequestTimeTooSkewed'
  | 'AuthorizationHeaderMalformed'
  | 'AuthorizationQueryParametersError'
  /** The query string is not valid percent-encoding (it cannot be canonicalised), or another authorization scheme. */
  | 'InvalidArgument'
  /** The path is not valid percent-encoding. */
  | 'InvalidURI'
  /** A Signature Version 2 request where only SigV4 is accepted (as AWS answers SigV2 in SigV4-only regions). */
  | 'InvalidRequest';

/** A request whose signature does not verify (thrown by verifySignature). */
export class AuthError extends Error {
  constructor(
    readonly reason: AuthReason,
    message: string,
    /** Diagnostic fields AWS returns with the error (AWSAccessKeyId, StringToSign, ...). */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/**
 * The HTTP status of each reason, as AWS answers it: the S3 front end sends it with the
 * reason as XML code, the REST API with the reason as JSON code (an anonymous request to
 * the REST API is 401 instead, rest/auth.ts).
 */
export const AUTH_HTTP_STATUS: Readonly<Record<AuthReason, number>> = {
  AccessDenied: 403,
  InvalidAccessKeyId: 403,
  SignatureDoesNotMatch: 403,
  RequestTimeTooSkewed: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  InvalidArgument: 400,
  InvalidURI: 400,
  InvalidRequest: 400,
};

/** An AuthError as the S3 front end answers it. */
export function s3ErrorOfAuth(e: AuthError): S3Error {
  return new S3Error(e.reason, AUTH_HTTP_STATUS[e.reason], e.message, e.extra);
}

/** Raw query -> decoded pairs, in order ('+' is a space, like S3). */
export function parseQueryPairs(rawQuery: string): [string, string][] {
  return splitQuery(rawQuery, (why) => new S3Error('InvalidArgument', 400, why));
}

/**
 * The x-amz-date header, '' when absent. One sent empty is no date (AWS answers 403): before
 * 2026-12-02 it counted as absent and the Date header was used instead (ceph s3-tests,
 * test_object_create_bad_date_empty_aws2).
 */
function amzDateHeader(h: IncomingHttpHeaders): string {
  const v = headerValue(h, 'x-amz-date');
  if (!v && h['x-amz-date'] !== undefined) throw new AuthError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header (x-amz-date is empty)');
  return v;
}

function headerValue(h: IncomingHttpHeaders, name: string, distinct?: () => NodeJS.Dict<string[]>): string {
  const v = h[name];
  // A header sent on several lines: SigV4 signs the values trimmed and joined with ','
  // (Node has merged them with ', ', which a value may also hold: ask for them apart).
  let s = Array.isArray(v) ? v.join(',') : (v ?? '');
  if (distinct && s.includes(',')) {
    const all = distinct()[name];
    if (all && all.length > 1) s = all.map(canonicalHeaderValue).join(',');
  }
  return canonicalHeaderValue(String(s));
}

function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

export interface VerifiedRequest {
  accessKey: string;
  /** Set for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] bodies. */
  chunkSigner?: ChunkSigner;
  /**
   * The body's SHA-256 (lower-case hex) that the signature covers: the x-amz-content-sha256
   * header or a presigned URL's X-Amz-Content-Sha256, or the empty body's when a SigV4
   * header signature names no payload hash. The body must match it.
   */
  payloadSha256?: string;
  /** A SigV4 header signature without x-amz-content-sha256 (it covers an empty body only). */
  payloadHashMissing?: boolean;
}

export interface SigInput {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: IncomingHttpHeaders;
  /** The headers as sent, one value per line (Node's `req.headersDistinct`), read only for a value holding ','. */
  distinctHeaders?: () => NodeJS.Dict<string[]>;
  now?: number;
}

/** What a credential scope may name: the front end's services, and the region when the operator set one. */
export interface ScopeRules {
  services: readonly string[];
  /**
   * Whether Signature Version 2 is accepted (the S3 API: older clients presign with it). It
   * signs only the path and S3's sub-resources, not the whole query: refused where the query
   * names what is acted on (the REST API's `uri`).
   */
  sigV2?: boolean;
  /** Unset: any region (as MinIO without a configured region). */
  region?: string;
}

/** verifySignature for the S3 front end: a failed check is the S3Error it answers with. */
export function verifySigV4(input: SigInput, creds: Credentials, scope: ScopeRules): VerifiedRequest {
  try {
    return verifySignature(input, creds, scope);
  } catch (e) {
    throw e instanceof AuthError ? s3ErrorOfAuth(e) : e;
  }
}

/**
 * Verify a request (SigV4, header or presigned; SigV2 for older clients). Returns who
 * signed it; throws AuthError: AccessDenied (anonymous), InvalidAccessKeyId,
 * SignatureDoesNotMatch, RequestTimeTooSkewed, AuthorizationHeaderMalformed,
 * AuthorizationQueryParametersError, or InvalidArgument / InvalidURI for a request that
 * cannot be canonicalised.
 */
export function verifySignature(input: SigInput, creds: Credentials, rules: ScopeRules): VerifiedRequest {
  const now = input.now ?? Date.now();
  const pairs = splitQuery(input.rawQuery, (why) => new AuthError('InvalidArgument', why));
  const q = new Map(pairs);
  const auth = headerValue(input.headers, 'authorization');
  const hv = (name: string) => headerValue(input.headers, name, input.distinctHeaders);
  let accessKey: string, scopeDate: string, region: string, service: string, signedHeaders: string[], signature: string, amzDate: string, payloadHash: string;
  let presigned = false;
  if (auth) {
    if (auth.startsWith('AWS ')) return verifySigV2(input, creds, pairs, rules);
    // (another scheme, e.g. Bearer: 400 InvalidArgument, as AWS answers; not an anonymous request)
    if (!auth.startsWith(ALGORITHM + ' ')) throw new AuthError('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: auth.split(' ')[0]!.slice(0, 64) });
    const fields = new Map<string, string>();
    for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
      const i = part.indexOf('=');
      if (i > 0) fields.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
    }
    const cred = fields.get('Credential');
    const sh = fields.get('SignedHeaders');
    const sig = fields.get('Signature');
    if (!cred || !sh || !sig) throw new AuthError('AuthorizationHeaderMalformed', 'The authorization header is malformed');
    [accessKey, scopeDate, region, service] = splitCredential(cred);
    signedHeaders = sh.split(';');
    signature = sig;
    amzDate = amzDateHeader(input.headers);
    if (!amzDate) {
      const d = Date.parse(headerValue(input.headers, 'date'));
      if (Number.isNaN(d)) throw new AuthError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
      amzDate = new Date(d).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    }
    payloadHash = headerValue(input.headers, 'x-amz-content-sha256') || EMPTY_SHA256;
    checkScope(rules, region, service, 'AuthorizationHeaderMalformed', 'The authorization header is malformed');
  } else if (q.has('X-Amz-Algorithm')) {
    presigned = true;
    if (q.get('X-Amz-Algorithm') !== ALGORITHM) throw new AuthError('AuthorizationQueryParametersError', `X-Amz-Algorithm must be ${ALGORITHM}`);
    const cred = q.get('X-Amz-Credential');
    const sh = q.get('X-Amz-SignedHeaders');
    const sig = q.get('X-Amz-Signature');
    amzDate = q.get('X-Amz-Date') ?? '';
    if (!cred || !sh || !sig || !amzDate) throw new AuthError('AuthorizationQueryParametersError', 'Query-string authentication requires X-Amz-Credential, X-Amz-SignedHeaders, X-Amz-Signature and X-Amz-Date');
    [accessKey, scopeDate, region, service] = splitCredential(cred);
    signedHeaders = sh.split(';');
    signature = sig;
    payloadHash = q.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
    checkScope(rules, region, service, 'AuthorizationQueryParametersError', 'Error parsing the X-Amz-Credential parameter');
    const expires = Number(q.get('X-Amz-Expires') ?? String(MAX_PRESIGN_S));
    const t = parseAmzDate(amzDate);
    if (!Number.isFinite(expires) || expires > MAX_PRESIGN_S) throw new AuthError('AuthorizationQueryParametersError', `X-Amz-Expires must be between 1 and ${MAX_PRESIGN_S} seconds`);
    // A URL valid for no time at all has expired (as S3 answers), it is not malformed.
    if (expires < 1) throw new AuthError('AccessDenied', 'Request has expired');
    if (Number.isNaN(t)) throw new AuthError('AuthorizationQueryParametersError', 'X-Amz-Date is malformed');
    if (now > t + expires * 1000) throw new AuthError('AccessDenied', 'Request has expired');
    if (t - now > MAX_SKEW_MS) throw new AuthError('RequestTimeTooSkewed', 'The difference between the request time and the server\'s time is too large.');
  } else if (q.has('AWSAccessKeyId') && q.has('Signature')) {
    return verifySigV2(input, creds, pairs, rules);
  } else {
    throw new AuthError('AccessDenied', 'Anonymous requests are not allowed: this endpoint requires AWS Signature Version 4');
  }

  const secret = creds.get(accessKey);
  if (secret === undefined) throw new AuthError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKey });
  const t = parseAmzDate(amzDate);
  if (Number.isNaN(t)) throw new AuthError('AccessDenied', 'x-amz-date is malformed');
  if (!presigned && Math.abs(now - t) > MAX_SKEW_MS) throw new AuthError('RequestTimeTooSkewed', 'The difference between the request time and the server\'s time is too large.');
  if (amzDate.slice(0, 8) !== scopeDate) {
    // a malformed request (400, as AWS answers), not a wrong secret
    throw new AuthError(presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed', 'Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  if (!signedHeaders.includes('host')) throw new AuthError('AccessDenied', 'The host header must be signed');
  // Every x-amz-* header changes what the request does (x-amz-copy-source turns a PUT into a
  // copy, x-amz-meta-* sets metadata): one the signer did not sign is refused, as AWS does,
  // or a presigned PUT could be replayed as a copy of anything its key may read. Exempt: the
  // payload hash and the date, which the string to sign covers in their own lines (a
  // presigned URL's declared hash only adds a check, request-body.ts).
  const unsigned = Object.keys(input.headers)
    .filter((n) => n.startsWith('x-amz-') && !UNSIGNED_AMZ_HEADERS.has(n) && !signedHeaders.includes(n))
    .sort();
  if (unsigned.length > 0) {
    throw new AuthError('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: unsigned.join(', ') });
  }

  const canonicalHeaders = signedHeaders.map((n) => `${n}:${hv(n)}\n`).join('');
  const canonicalRequest = [
    input.method,
    canonicalUri(input.rawPath),
    canonicalQuery(pairs, presigned ? 'X-Amz-Signature' : undefined),
    canonicalHeaders,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const key = signingKey(secret, scopeDate, region, service);
  // Header values reach us as latin1 (one char per byte as sent). Hash the bytes as sent
  // (what a signer that signs its wire bytes computed, e.g. UTF-8 values); a client that
  // sent a latin1 byte but signed the character's UTF-8 (botocore, Node's http) is accepted
  // too: both name the same characters.
  const sign = (bytes: Buffer) => {
    const sts = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(bytes)}`;
    return { sts, sig: createHmac('sha256', key).update(sts).digest('hex') };
  };
  let { sts: stringToSign, sig: expected } = sign(Buffer.from(canonicalRequest, 'latin1'));
  if (!safeEqualHex(signature, expected) && /[^\x00-\x7f]/.test(canonicalRequest)) {
    const alt = sign(Buffer.from(canonicalRequest, 'utf8'));
    if (safeEqualHex(signature, alt.sig)) ({ sts: stringToSign, sig: expected } = alt);
  }
  if (!safeEqualHex(signature, expected)) {
    throw new AuthError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
      AWSAccessKeyId: accessKey,
      StringToSign: stringToSign,
      CanonicalRequest: canonicalRequest,
    });
  }
  const out: VerifiedRequest = { accessKey };
  if (/^[0-9a-fA-F]{64}$/.test(payloadHash)) out.payloadSha256 = payloadHash.toLowerCase();
  if (!presigned && !headerValue(input.headers, 'x-amz-content-sha256')) out.payloadHashMissing = true;
  if (payloadHash === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' || payloadHash === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER') {
    let prev = expected;
    out.chunkSigner = {
      next(chunkSha: string): string {
        const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${prev}\n${EMPTY_SHA256}\n${chunkSha}`;
        prev = createHmac('sha256', key).update(sts).digest('hex');
        return prev;
      },
      trailer(canonicalTrailer: string): string {
        const sts = `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${prev}\n${sha256Hex(canonicalTrailer)}`;
        prev = createHmac('sha256', key).update(sts).digest('hex');
        return prev;
      },
    };
  }
  return out;
}

/** A scope naming another service, or another region than the one configured, is malformed (as AWS answers). */
function checkScope(rules: ScopeRules, region: string, service: string, reason: AuthReason, what: string): void {
  if (!rules.services.includes(service)) {
    throw new AuthError(reason, `${what}; incorrect service "${service}". This endpoint belongs to ${rules.services.map((s) => `"${s}"`).join(' or ')}.`);
  }
  if (rules.region !== undefined && region !== rules.region) {
    throw new AuthError(reason, `${what}; the region '${region}' is wrong; expecting '${rules.region}'`, { Region: rules.region });
  }
}

function splitCredential(cred: string): [string, string, string, string] {
  const parts = cred.split('/');
  if (parts.length < 5 || parts[parts.length - 1] !== 'aws4_request') {
    throw new AuthError('AuthorizationHeaderMalformed', `the Credential "${cred}" is not AK/date/region/service/aws4_request`);
  }
  const n = parts.length;
  // an access key may itself contain '/' in theory: take the last four as the scope
  return [parts.slice(0, n - 4).join('/'), parts[n - 4]!, parts[n - 3]!, parts[n - 2]!];
}

/** Parse `--s3-credentials` style input: "AK:SK,AK2:SK2" (or a map). */
export function parseCredentials(spec: string | Record<string, string> | undefined): Credentials | undefined {
  if (spec === undefined || spec === '') return undefined;
  if (typeof spec !== 'string') return new Map(Object.entries(spec));
  const m = new Map<string, string>();
  for (const pair of spec.split(',')) {
    const i = pair.indexOf(':');
    if (i <= 0 || i === pair.length - 1) throw new Error(`credential "${pair}" is not ACCESS_KEY:SECRET_KEY`);
    m.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
  }
  return m;
}

/** Sub-resources that are part of a Signature Version 2 canonical resource. */
const V2_SUBRESOURCES = new Set([
  'acl', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires', 'restore', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId',
  'versioning', 'versions', 'website', 'cors', 'replication', 'encryption', 'object-lock',
]);

/**
 * Signature Version 2 (HMAC-SHA1), header (`AWS AK:sig`) and query (AWSAccessKeyId,
 * Expires, Signature) forms: what older botocore uses for presigned URLs by default.
 */
function verifySigV2(input: SigInput, creds: Credentials, pairs: [string, string][], rules: ScopeRules): VerifiedRequest {
  if (!rules.sigV2) throw new AuthError('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  const now = input.now ?? Date.now();
  const q = new Map(pairs);
  const auth = headerValue(input.headers, 'authorization');
  let accessKey: string;
  let signature: string;
  let dateLine: string;
  if (auth.startsWith('AWS ')) {
    const i = auth.lastIndexOf(':');
    // (no "AK:signature": 400 InvalidArgument, as AWS answers a malformed SigV2 header)
    if (i < 5) throw new AuthError('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', { ArgumentName: 'Authorization', ArgumentValue: auth.slice(0, 64) });
    accessKey = auth.slice(4, i);
    signature = auth.slice(i + 1);
    const amzDate = amzDateHeader(input.headers);
    const t = Date.parse(amzDate || headerValue(input.headers, 'date'));
    // (a date before 1970 is no valid date to AWS: AccessDenied, not a skewed clock)
    if (Number.isNaN(t) || t < 0) throw new AuthError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    if (Math.abs(now - t) > MAX_SKEW_MS) throw new AuthError('RequestTimeTooSkewed', 'The difference between the request time and the server\'s time is too large.');
    dateLine = amzDate ? '' : headerValue(input.headers, 'date');
  } else {
    accessKey = q.get('AWSAccessKeyId')!;
    signature = q.get('Signature')!;
    const expires = q.get('Expires') ?? '';
    if (!/^\d+$/.test(expires)) throw new AuthError('AccessDenied', 'Query-string authentication requires the Expires parameter');
    if (now > Number(expires) * 1000) throw new AuthError('AccessDenied', 'Request has expired');
    // No URL lives longer than SigV4 allows (7 days): SigV2 itself sets no bound.
    if (Number(expires) * 1000 - now > MAX_PRESIGN_S * 1000 + MAX_SKEW_MS) {
      throw new AuthError('AuthorizationQueryParametersError', `Expires must be at most ${MAX_PRESIGN_S} seconds (7 days) ahead of the worker's clock`);
    }
    dateLine = expires;
  }
  const secret = creds.get(accessKey);
  if (secret === undefined) throw new AuthError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKey });
  const amz = Object.keys(input.headers)
    .filter((k) => k.startsWith('x-amz-'))
    .sort()
    .map((k) => `${k}:${headerValue(input.headers, k, input.distinctHeaders)}\n`)
    .join('');
  const subOf = (names: (k: string) => boolean) =>
    pairs
      .filter(([k]) => names(k))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
      .join('&');
  const sub = subOf((k) => V2_SUBRESOURCES.has(k));
  const stringToSign = (path: string, s = sub) => `${input.method}\n${headerValue(input.headers, 'content-md5')}\n${headerValue(input.headers, 'content-type')}\n${dateLine}\n${amz}${path}${s ? '?' + s : ''}`;
  // As for SigV4: the bytes as sent, or the UTF-8 of the characters.
  const v2 = (bytes: Buffer) => createHmac('sha1', secret).update(bytes).digest('base64');
  const a = Buffer.from(signature);
  const same = (expected: string) => {
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const verifies = (sts: string) => same(v2(Buffer.from(sts, 'latin1'))) || (/[^\x00-\x7f]/.test(sts) && same(v2(Buffer.from(sts, 'utf8'))));
  const sts = stringToSign(input.rawPath);
  // Bucket requests sent as "/bucket" (ListObjects, HeadBucket, DeleteObjects, ...) are
  // signed as "/bucket/" by current botocore, and older botocore (1.29) counts list-type
  // among the sub-resources: accept those forms of the same request too.
  const alternatives = (): string[] => {
    if (!/^\/[^/]+$/.test(input.rawPath)) return [];
    const withListType = subOf((k) => V2_SUBRESOURCES.has(k) || k === 'list-type');
    return [stringToSign(input.rawPath + '/'), ...(withListType !== sub ? [stringToSign(input.rawPath, withListType), stringToSign(input.rawPath + '/', withListType)] : [])];
  };
  if (!verifies(sts) && !alternatives().some(verifies)) {
    throw new AuthError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', { AWSAccessKeyId: accessKey, StringToSign: sts });
  }
  return { accessKey };
}
