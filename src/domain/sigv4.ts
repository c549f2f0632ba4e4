/**
 * AWS Signature Version 4, the pure part (no I/O): the canonicalisation rules and the signer.
 * One implementation for both directions: the S3 front end's verifier
 * (src/frontends/s3/sigv4.ts) canonicalises requests it receives with these functions, and
 * the requests this process sends are signed with signV4 (a worker's peer reads, the CLI's
 * admin calls, and the s3:// UFS adapter's GETs, src/ufs/s3-get.ts).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AlluxioError } from './errors.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** Key pairs: access key id -> secret key (ALLUXIO_S3_CREDENTIALS; the verifier's and the peers' signer's). */
export type Credentials = ReadonlyMap<string, string>;

/** SigV4 URI encoding: everything but A-Z a-z 0-9 - _ . ~ is %XX (upper-case); '/' kept when asked. */
export function awsUriEncode(s: string, keepSlash: boolean): string {
  // The common case (keys of plain ASCII names) costs one test, not a loop per byte.
  if (keepSlash ? /^[A-Za-z0-9\-_.~/]*$/.test(s) : /^[A-Za-z0-9\-_.~]*$/.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || c === '-' || c === '_' || c === '.' || c === '~' || (keepSlash && c === '/')) {
      out += c;
    } else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function sha256Hex(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Two lower-case hex signatures compared in constant time (false for anything else). */
export function safeEqualHex(a: string, b: string): boolean {
  if (a.length !== b.length || !/^[0-9a-f]*$/.test(a)) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function hmac(key: Buffer | string, s: string): Buffer {
  return createHmac('sha256', key).update(s, 'utf8').digest();
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

/** Raw query -> decoded pairs, in order ('+' is a space, like S3); `malformed` builds the error for bad percent-encoding. */
export function splitQuery(rawQuery: string, malformed: (why: string) => Error): [string, string][] {
  const out: [string, string][] = [];
  if (!rawQuery) return out;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const i = part.indexOf('=');
    const k = i < 0 ? part : part.slice(0, i);
    const v = i < 0 ? '' : part.slice(i + 1);
    try {
      out.push([decodeURIComponent(k.replace(/\+/g, '%20')), decodeURIComponent(v.replace(/\+/g, '%20'))]);
    } catch {
      throw malformed(`malformed percent-encoding in the query string near "${part.slice(0, 40)}"`);
    }
  }
  return out;
}

/** The canonical query string of decoded pairs (without the pair named `skip`). */
export function canonicalQuery(pairs: [string, string][], skip?: string): string {
  return pairs
    .filter(([k]) => k !== skip)
    .map(([k, v]) => [awsUriEncode(k, false), awsUriEncode(v, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

const CANONICAL_AS_IS = /^[A-Za-z0-9\-_.~/]*$/;

/**
 * The canonical URI of a path as sent: each segment percent-decoded once and re-encoded with
 * the SigV4 rules (what every SDK signs for S3: no double encoding, no dot-segment
 * normalisation). `malformed` builds the error for a segment that is not valid percent-encoding.
 */
export function canonicalUri(rawPath: string, malformed: () => Error): string {
  // A path of unreserved characters and slashes only is its own canonical form (no segment
  // to decode or encode): most object keys, and every path awsUriEncode(key, true) made.
  if (CANONICAL_AS_IS.test(rawPath)) return rawPath;
  return rawPath
    .split('/')
    .map((seg) => {
      try {
        return awsUriEncode(decodeURIComponent(seg), false);
      } catch {
        throw malformed();
      }
    })
    .join('/');
}

/** The last second amzDateOf formatted (a worker signs many requests a second). */
let lastSecond = NaN;
let lastAmzDate = '';

/** 20261201T034500Z */
export function amzDateOf(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastAmzDate = new Date(second * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    lastSecond = second;
  }
  return lastAmzDate;
}

/** Signing keys by secret, date, region and service: four HMACs saved per request (a key is valid for its day). */
const keyMemo = new Map<string, Buffer>();

function memoSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${date}\n${region}\n${service}\n${secret}`;
  let k = keyMemo.get(id);
  if (k === undefined) {
    if (keyMemo.size >= 64) keyMemo.clear();
    k = signingKey(secret, date, region, service);
    keyMemo.set(id, k);
  }
  return k;
}

/**
 * Sign a request we send: SigV4 headers over host, x-amz-content-sha256, x-amz-date and
 * `headers` (lower-case names; e.g. range, if-match, x-amz-security-token), with an unsigned
 * payload. `rawPath` is the path as it goes on the wire (percent-encoded), `rawQuery` the
 * query string without '?'. Returns the headers to add (authorization, x-amz-date,
 * x-amz-content-sha256, and the given ones).
 */
export function signV4(input: {
  method: string;
  rawPath: string;
  rawQuery: string;
  host: string;
  accessKey: string;
  secret: string;
  region?: string;
  service?: string;
  /** The signing time, ms since the epoch (the caller's clock: this module reads none). */
  now: number;
  headers?: Record<string, string>;
}): Record<string, string> {
  const amzDate = amzDateOf(input.now);
  const date = amzDate.slice(0, 8);
  const region = input.region ?? 'us-east-1';
  const service = input.service ?? 'alluxio';
  // The signed headers as [name, value] pairs sorted by name: the given ones, then the three
  // every request signs (which win over given ones of the same name). Plain arrays and one
  // output object built by assignment: object spreads and a `delete` here were a third of a
  // worker's signing time, and left undici a dictionary-mode object to walk per request.
  const given = input.headers ?? {};
  const kept = Object.keys(given).filter((n) => n !== 'host' && n !== 'x-amz-content-sha256' && n !== 'x-amz-date');
  const pairs: [string, string][] = kept.map((n) => [n, given[n]!]);
  pairs.push(['host', input.host], ['x-amz-content-sha256', UNSIGNED_PAYLOAD], ['x-amz-date', amzDate]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let canonicalHeaders = '';
  let signedHeaders = '';
  for (const [n, v] of pairs) {
    canonicalHeaders += `${n}:${canonicalHeaderValue(v)}\n`;
    signedHeaders += signedHeaders === '' ? n : `;${n}`;
  }
  const canonicalRequest = `${input.method}\n${canonicalUri(input.rawPath, unsignable)}\n${input.rawQuery === '' ? '' : canonicalQuery(splitQuery(input.rawQuery, unsignable))}\n${canonicalHeaders}\n${signedHeaders}\n${UNSIGNED_PAYLOAD}`;
  const scope = `${date}/${region}/${service}/aws4_request`;
  const sts = `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', memoSigningKey(input.secret, date, region, service)).update(sts).digest('hex');
  const out: Record<string, string> = {};
  for (const n of kept) out[n] = given[n]!;
  out['x-amz-content-sha256'] = UNSIGNED_PAYLOAD;
  out['x-amz-date'] = amzDate;
  out.authorization = `${SIGV4_ALGORITHM} Credential=${input.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return out;
}

/** A request signV4 cannot sign (a module function: a closure per call costs the bundle a defineProperty). */
function unsignable(why = 'the path is not valid percent-encoding'): AlluxioError {
  return new AlluxioError('InvalidArgument', `cannot sign the request: ${why}`);
}

const WHITESPACE = /\s/;

/** A header value as SigV4 signs it: trimmed, inner runs of whitespace made one space. */
export function canonicalHeaderValue(v: string): string {
  const t = v.trim();
  return WHITESPACE.test(t) ? t.replace(/\s+/g, ' ') : t;
}
