/**
 * What every S3 listing (ListObjects v1/v2, ListMultipartUploads) parses and encodes the same
 * way (pure): its page size (max-keys, max-uploads: digits, at most 1000), encoding-type
 * (only `url`), and the encoder of its names: names XML 1.0 cannot carry (control
 * characters) are answered url-encoded, declared by <EncodingType>url</EncodingType>, the
 * only lossless well-formed answer.
 */
import { s3err } from './errors.js';
import { awsUriEncode } from './sigv4.js';
import { needsUrlEncoding } from './xml.js';

/** A page size parameter (`max-keys`, `max-uploads`): 1000 when absent, capped at 1000. */
export function pageSizeParam(q: ReadonlyMap<string, string>, name: string): number {
  const v = q.get(name);
  if (v === undefined) return 1000;
  if (!/^\d+$/.test(v)) throw s3err.invalidArgument(`Provided ${name} not an integer or within integer range`, name, v);
  return Math.min(1000, Number(v));
}

/** Whether encoding-type=url was asked (anything else is InvalidArgument). */
export function urlEncodingParam(q: ReadonlyMap<string, string>): boolean {
  const enc = q.get('encoding-type');
  if (enc !== undefined && enc !== 'url') throw s3err.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', enc);
  return enc === 'url';
}

/** The encoder of a listing's names: url-encoding when asked or when any of `names` needs it. */
export function listingEncoder(asked: boolean, names: readonly string[]): { url: boolean; e: (s: string) => string } {
  const url = asked || names.some(needsUrlEncoding);
  return { url, e: url ? (s: string) => awsUriEncode(s, true) : (s: string) => s };
}
