/**
 * HTTP preconditions of S3, as pure functions (no I/O, unit-tested in
 * test/s3/preconditions.test.ts):
 *
 *  - reads (GET/HEAD): If-Match / If-Unmodified-Since fail with 412, If-None-Match /
 *    If-Modified-Since answer 304; If-Match wins over If-Unmodified-Since and
 *    If-None-Match over If-Modified-Since (RFC 7232 §6, as S3 does);
 *  - copy sources (x-amz-copy-source-if-*): the same, but every failure is 412;
 *  - writes (PUT, CompleteMultipartUpload): `If-None-Match: *` (only when the key does not
 *    exist) and `If-Match: <etag>` (only when the current object has that ETag).
 *
 * ETags are compared in their quoted form ("abc"); a condition may name them quoted,
 * unquoted or weak (W/"abc"); `*` matches any existing object. Dates have second
 * resolution (HTTP dates), so the object's mtime is truncated to seconds.
 */

export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

/** The version a condition is evaluated against. */
export interface Version {
  /** Quoted ETag. */
  etag: string;
  mtimeMs: number;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** A header's value when it is one string (a module function: no closure per request). */
function headerOf(h: Headers, prefix: string, n: string): string | undefined {
  const v = h[prefix === '' ? n : prefix + n];
  return typeof v === 'string' ? v : undefined;
}

/** The four conditions from request headers; `prefix` is 'x-amz-copy-source-' for copy sources. */
export function conditionsFrom(h: Headers, prefix = ''): Conditions {
  const c: Conditions = {};
  const m = headerOf(h, prefix, 'if-match');
  const nm = headerOf(h, prefix, 'if-none-match');
  const ms = headerOf(h, prefix, 'if-modified-since');
  const us = headerOf(h, prefix, 'if-unmodified-since');
  if (m !== undefined) c.ifMatch = m;
  if (nm !== undefined) c.ifNoneMatch = nm;
  if (ms !== undefined) c.ifModifiedSince = ms;
  if (us !== undefined) c.ifUnmodifiedSince = us;
  return c;
}

/** True when the list (`*`, or comma-separated ETags) names `etag`. */
export function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((raw) => {
    const t = raw.trim();
    if (t === '*') return true;
    const strong = t.replace(/^W\//, '');
    return strong === etag || `"${strong}"` === etag;
  });
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

export type ReadOutcome = 'ok' | 'not-modified' | 'failed';

/** GET / HEAD. Unparseable dates are ignored (as S3 does). */
export function evaluateRead(c: Conditions, v: Version): ReadOutcome {
  const secs = seconds(v.mtimeMs);
  if (c.ifMatch !== undefined && !etagMatches(c.ifMatch, v.etag)) return 'failed';
  if (c.ifMatch === undefined && c.ifUnmodifiedSince !== undefined) {
    const t = Date.parse(c.ifUnmodifiedSince);
    if (!Number.isNaN(t) && secs > t) return 'failed';
  }
  if (c.ifNoneMatch !== undefined && etagMatches(c.ifNoneMatch, v.etag)) return 'not-modified';
  if (c.ifNoneMatch === undefined && c.ifModifiedSince !== undefined) {
    const t = Date.parse(c.ifModifiedSince);
    if (!Number.isNaN(t) && secs <= t) return 'not-modified';
  }
  return 'ok';
}

/** The header that made evaluateRead answer `outcome`: what a 412 names in its <Condition>. */
export function conditionOf(c: Conditions, outcome: 'failed' | 'not-modified'): string {
  if (outcome === 'failed') return c.ifMatch !== undefined ? 'If-Match' : 'If-Unmodified-Since';
  return c.ifNoneMatch !== undefined ? 'If-None-Match' : 'If-Modified-Since';
}

/**
 * x-amz-copy-source-if-*: like a read, but a copy has no 304: every failure is 412. The
 * header that failed (what the 412 names), undefined when the copy may go on.
 */
export function evaluateCopySource(c: Conditions, v: Version): string | undefined {
  const o = evaluateRead(c, v);
  return o === 'ok' ? undefined : `x-amz-copy-source-${conditionOf(c, o)}`;
}

export type WriteOutcome = 'ok' | 'failed' | 'missing' | 'unsupported';

/**
 * Conditional writes against the current object (null when the key does not exist):
 *  - `If-None-Match: *` fails (412) when the key exists; any other If-None-Match value is
 *    'unsupported' (S3 answers 501 NotImplemented);
 *  - `If-Match: <etag>` fails (412) when the ETag differs, 'missing' (404 NoSuchKey, as S3)
 *    when there is no object.
 */
export function evaluateWrite(c: Conditions, current: Version | null): WriteOutcome {
  if (c.ifNoneMatch !== undefined) {
    if (c.ifNoneMatch.trim() !== '*') return 'unsupported';
    if (current) return 'failed';
  }
  if (c.ifMatch !== undefined) {
    if (!current) return 'missing';
    if (!etagMatches(c.ifMatch, current.etag)) return 'failed';
  }
  return 'ok';
}

/** A write has conditions to check. */
export function hasWriteConditions(c: Conditions): boolean {
  return c.ifMatch !== undefined || c.ifNoneMatch !== undefined;
}
