/**
 * UFS URIs: parsing, validation, normalisation, segment-aware prefix tests, and the one
 * place that joins an Alluxio path remainder onto a mount's URI (`joinUnderUfs`), proving
 * that the result stays inside the mount.
 *
 * Canonical form: `scheme://authority/seg/seg/` — lower-case scheme, percent-encoding
 * only where RFC 3986 requires it (upper-case hex), and always a trailing `/` so that a
 * mount URI reads as a directory. Segments are kept decoded in `ParsedUfsUri.segments`,
 * which is what the UFS adapters use (an object key or a file path), never the string.
 */
import { AlluxioError } from './errors.js';
import { CONTROL_CHARS, MAX_SEGMENT_BYTES } from './paths.js';

export interface SchemeInfo {
  /** Needs a non-empty authority (a bucket, a namenode, a container@account). */
  authority: 'required' | 'forbidden';
  /** Authority pattern and what to tell a user who gets it wrong. */
  authorityPattern?: RegExp;
  authorityHint?: string;
  /** The data plane can read and write it today. */
  served: boolean;
  /** Authorities are case-insensitive host names: compared and stored in lower case. */
  lowerCaseAuthority?: boolean;
  /**
   * Another scheme naming the same storage namespace (`s3a://b/k` is the object `s3://b/k`;
   * `wasbs`, `abfss` are `wasb`, `abfs` over TLS; `cosn` is Hadoop's name for `cos`). Used to
   * compare and index URIs (nesting checks, FSSpec reverse lookup), never for display.
   */
  family?: string;
}

// S3 (and S3-compatible) bucket rules: 3-63 of [a-z0-9.-], starting and ending with a letter
// or digit, no "..", no ".-"/"-.", not an IPv4 address.
const BUCKET = /^(?!\d{1,3}(?:\.\d{1,3}){3}$)(?!.*\.\.)(?!.*\.-)(?!.*-\.)[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$/;
// GCS additionally allows "_".
const GCS_BUCKET = /^(?!\d{1,3}(?:\.\d{1,3}){3}$)(?!.*\.\.)[a-z0-9][a-z0-9.\-_]{1,61}[a-z0-9]$/;
const HOST_PORT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?$/;
const AZURE = /^[a-z0-9](?:[a-z0-9\-]{1,61}[a-z0-9])?@[a-z0-9]{3,24}(?:\.[A-Za-z0-9\-]+)+$/;

export const SCHEMES: Readonly<Record<string, SchemeInfo>> = {
  file: { authority: 'forbidden', served: true },
  s3: { authority: 'required', authorityPattern: BUCKET, authorityHint: 'an S3 bucket name (3-63 lower-case letters, digits, ".", "-")', served: true },
  s3a: { authority: 'required', authorityPattern: BUCKET, authorityHint: 'an S3 bucket name', served: true, family: 's3' },
  gs: { authority: 'required', authorityPattern: GCS_BUCKET, authorityHint: 'a GCS bucket name (3-63 lower-case letters, digits, ".", "-", "_")', served: false },
  oss: { authority: 'required', authorityPattern: BUCKET, authorityHint: 'an OSS bucket name', served: false },
  cos: { authority: 'required', authorityPattern: BUCKET, authorityHint: 'a COS bucket name', served: false },
  cosn: { authority: 'required', authorityPattern: BUCKET, authorityHint: 'a COS bucket name', served: false, family: 'cos' },
  hdfs: { authority: 'required', authorityPattern: HOST_PORT, authorityHint: 'a namenode host[:port 1-65535] or nameservice', served: false, lowerCaseAuthority: true },
  abfs: { authority: 'required', authorityPattern: AZURE, authorityHint: 'container@account.dfs.core.windows.net', served: false, lowerCaseAuthority: true },
  abfss: { authority: 'required', authorityPattern: AZURE, authorityHint: 'container@account.dfs.core.windows.net', served: false, lowerCaseAuthority: true, family: 'abfs' },
  wasb: { authority: 'required', authorityPattern: AZURE, authorityHint: 'container@account.blob.core.windows.net', served: false, lowerCaseAuthority: true },
  wasbs: { authority: 'required', authorityPattern: AZURE, authorityHint: 'container@account.blob.core.windows.net', served: false, lowerCaseAuthority: true, family: 'wasb' },
};

export const KNOWN_SCHEMES = Object.keys(SCHEMES);

/** The scheme a URI is compared and indexed under: `s3a` -> `s3`, `cosn` -> `cos`, ... */
export function schemeFamily(scheme: string): string {
  return SCHEMES[scheme]?.family ?? scheme;
}

/** `family://authority`: the key under which URIs of one storage namespace are indexed. */
export function namespaceKey(u: { scheme: string; authority: string }): string {
  return `${schemeFamily(u.scheme)}://${u.authority}`;
}

export interface ParsedUfsUri {
  scheme: string;
  authority: string;
  /** Decoded path segments (never empty, never `.`/`..`, never containing `/` or NUL). */
  segments: string[];
  /** Canonical string form, always ending in `/`. */
  uri: string;
}

// RFC 3986 pchar minus "%" (which we always encode): unreserved / sub-delims / ":" / "@".
const PCHAR_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const ALL_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
/** What an encoded segment may contain: pchar characters and upper-case %XX escapes. */
const ENCODED_SEGMENT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-F]{2})+$/;

/** Percent-encode one decoded path segment (UTF-8, upper-case hex). */
export function encodeSegment(seg: string): string {
  if (ALL_SAFE.test(seg)) return seg;
  let out = '';
  for (const ch of seg) {
    if (PCHAR_SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function decodeSegment(raw: string, whole: string, code: 'InvalidUfsUri' | 'InvalidPath'): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new AlluxioError(code, `"${whole}": malformed percent-encoding in "${raw}"`);
  }
  return decoded;
}

/**
 * A URI as shown in error messages: credentials in the user-info part (`s3://KEY:SECRET@b/`)
 * and query strings or fragments (presigned signatures) are replaced by `***`, since messages end up in
 * terminals, logs and CI output.
 */
export function maskUri(raw: string): string {
  return maskUserInfo(raw).replace(/[?#].+$/s, (q) => `${q[0]}***`);
}

/** `scheme://user:password@host...` with the user-info as `***`; anything else as it is. */
export function maskUserInfo(raw: string): string {
  return raw.replace(/^([A-Za-z][A-Za-z0-9+.\-]*:\/\/)[^/?#@]*:[^/?#@]*@/, '$1***@');
}

function checkSegment(seg: string, whole: string, code: 'InvalidUfsUri' | 'InvalidPath'): void {
  if (seg === '.' || seg === '..') throw new AlluxioError(code, `"${whole}": dot segments ("${seg}") are not allowed`);
  if (seg.includes('/')) throw new AlluxioError(code, `"${whole}": an encoded "/" (%2F) inside a segment is not allowed`);
  if (CONTROL_CHARS.test(seg)) throw new AlluxioError(code, `"${whole}": control characters are not allowed`);
  if (!seg.isWellFormed()) throw new AlluxioError(code, `"${whole}": not valid UTF-8`);
  if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) throw new AlluxioError(code === 'InvalidPath' ? 'NameTooLong' : code, `"${whole}": a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
}

export function formatUfsUri(scheme: string, authority: string, segments: readonly string[]): string {
  const path = segments.map(encodeSegment).join('/');
  return `${scheme}://${authority}/${path}${segments.length ? '/' : ''}`;
}

interface UriHead {
  scheme: string;
  authority: string;
  /** Everything after the authority (the path, and for a mount URI any query or fragment). */
  tail: string;
  shown: string;
}

/** Scheme and authority, shared by mount URIs and request URIs (one set of checks). */
function parseHead(raw: unknown, code: 'InvalidUfsUri' | 'InvalidPath', rawPath: boolean): UriHead {
  if (typeof raw !== 'string' || raw.trim() === '') throw new AlluxioError(code, 'UFS URI is empty');
  const shown = maskUri(raw);
  // A mount URI is typed by a person: white space around it is a mistake. A request URI's
  // path is raw text (a name may end in a space, as S3 keys and POSIX names may), so only
  // white space before the scheme is refused there.
  if (rawPath ? raw !== raw.trimStart() : raw !== raw.trim()) {
    throw new AlluxioError(code, `"${shown}": ${rawPath ? 'leading' : 'leading or trailing'} white space`);
  }
  // Whole-input checks first, in the order normalizePath makes them, so that every API names
  // the same first problem of a path (a lone surrogate anywhere before a segment too long).
  if (!raw.isWellFormed()) throw new AlluxioError(code, `"${shown}": not valid UTF-8 (lone surrogate)`);
  if (CONTROL_CHARS.test(raw)) throw new AlluxioError(code, `"${shown}": control characters are not allowed`);
  // A request URI's path is raw text: "?" and "#" are characters of a name there.
  const m = (rawPath ? /^([A-Za-z][A-Za-z0-9+.\-]*):\/\/([^/]*)([\s\S]*)$/ : /^([A-Za-z][A-Za-z0-9+.\-]*):\/\/([^/?#]*)([\s\S]*)$/).exec(raw);
  if (!m) {
    throw new AlluxioError(code, `"${shown}" is not a URI of the form scheme://authority/path (allowed schemes: ${KNOWN_SCHEMES.join(', ')})`);
  }
  const scheme = m[1]!.toLowerCase();
  const info = SCHEMES[scheme];
  if (!info) throw new AlluxioError(code, `"${shown}": unknown scheme "${scheme}" (allowed: ${KNOWN_SCHEMES.join(', ')})`);
  const authority = info.lowerCaseAuthority ? m[2]!.toLowerCase() : m[2]!;
  if (info.authority === 'forbidden' && authority !== '') {
    throw new AlluxioError(code, `"${shown}": ${scheme}:// takes no host; write ${scheme}:///absolute/path`);
  }
  if (info.authority === 'required') {
    if (authority === '') throw new AlluxioError(code, `"${shown}": ${scheme}:// needs ${info.authorityHint}`);
    if (info.authorityPattern && !info.authorityPattern.test(authority)) {
      const auth = /:.*@/.test(authority) ? '***@' + authority.slice(authority.lastIndexOf('@') + 1) : authority;
      throw new AlluxioError(code, `"${shown}": "${auth}" is not ${info.authorityHint}${authority.includes('@') && info.authorityPattern !== AZURE ? '; credentials belong in --option, not in the URI' : ''}`);
    }
  }
  return { scheme, authority, tail: m[3]!, shown };
}

/** Split a path on "/" (empty segments dropped), decoding each segment or not, and check each. */
function parseSegments(path: string, shown: string, code: 'InvalidUfsUri' | 'InvalidPath', decode: boolean): string[] {
  const segments: string[] = [];
  for (const part of path.split('/')) {
    if (part === '') continue;
    const seg = decode ? decodeSegment(part, shown, code) : part;
    checkSegment(seg, shown, code);
    segments.push(seg);
  }
  return segments;
}

/**
 * Parse and validate a UFS URI as given to `mount add`: a URI in the RFC 3986 sense, whose
 * path segments are percent-decoded here (`%20` is a space), with no query or fragment.
 */
export function parseUfsUri(raw: unknown, code: 'InvalidUfsUri' | 'InvalidPath' = 'InvalidUfsUri'): ParsedUfsUri {
  const { scheme, authority, tail, shown } = parseHead(raw, code, false);
  const q = tail.search(/[?#]/);
  if (q >= 0) throw new AlluxioError(code, `"${shown}": query strings and fragments are not allowed`);
  const segments = parseSegments(tail, shown, code, true);
  return { scheme, authority, segments, uri: formatUfsUri(scheme, authority, segments) };
}

/**
 * Parse a UFS-native REQUEST URI (FSSpec over REST, `alluxio resolve --api fsspec`): the
 * path is raw text, like an s3fs path, and is NOT percent-decoded (the front end that
 * received the bytes decoded them once already; resolution.md §1). `s3://b/100%.csv` names
 * the key `100%.csv`, `s3://b/x%41.txt` the key `x%41.txt`. Segments are split on "/"
 * (empty ones dropped) and checked exactly like a mount URI's (no `.`/`..`, no control
 * characters, at most 255 bytes, well-formed UTF-16). Errors are InvalidPath.
 */
export function parseRequestUri(raw: unknown): ParsedUfsUri {
  const { scheme, authority, tail, shown } = parseHead(raw, 'InvalidPath', true);
  const segments = parseSegments(tail, shown, 'InvalidPath', false);
  return { scheme, authority, segments, uri: formatUfsUri(scheme, authority, segments) };
}

/** A request URI written back with raw (not percent-encoded) segments, without a trailing "/". */
export function formatRequestUri(scheme: string, authority: string, segments: readonly string[]): string {
  return `${scheme}://${authority}/${segments.join('/')}`;
}

/** Normalise a UFS URI to its canonical string. */
export function normalizeUfsUri(raw: string): string {
  return parseUfsUri(raw).uri;
}

/** Segment-aware prefix: same scheme family and authority, and `a`'s segments lead `b`'s. */
export function isUfsPrefix(a: ParsedUfsUri, b: ParsedUfsUri): boolean {
  if (schemeFamily(a.scheme) !== schemeFamily(b.scheme) || a.authority !== b.authority) return false;
  if (a.segments.length > b.segments.length) return false;
  for (let i = 0; i < a.segments.length; i++) if (a.segments[i] !== b.segments[i]) return false;
  return true;
}

/** Where a resolved path lands in its UFS, in the form the adapters consume. */
export interface UfsLocation {
  /** Canonical URI of the mount root (ends in `/`). */
  mountUri: string;
  scheme: string;
  authority: string;
  /** Decoded segments of the mount root. */
  baseSegments: readonly string[];
  /** Decoded segments below the mount root. */
  relSegments: readonly string[];
  /** The full URI (no trailing `/` unless it is the mount root). */
  uri: string;
}

/**
 * THE join: put Alluxio path segments (already validated by `normalizePath`) under a
 * mount's UFS URI, and prove the result stays inside it. Every code path that turns an
 * Alluxio path into a UFS location goes through here.
 */
export function joinUnderUfs(mount: ParsedUfsUri, relSegments: readonly string[]): UfsLocation {
  for (const seg of relSegments) {
    // normalizePath guarantees this; re-checked because this is the security boundary.
    if (typeof seg !== 'string' || seg === '' || seg === '.' || seg === '..' || seg.includes('/') || CONTROL_CHARS.test(seg) || !seg.isWellFormed() || Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) {
      throw new AlluxioError('InvalidPath', `segment ${JSON.stringify(seg)} cannot be joined onto ${mount.uri}`, { step: 'join' });
    }
  }
  // Proof by construction: mount.uri is canonical and ends in "/"; every encoded segment
  // consists only of pchar characters and %XX escapes (so no "/", "?", "#" can appear)
  // and decodes back to exactly the validated segment. The concatenation therefore parses
  // to the mount's segments followed by exactly ours: it cannot leave the mount.
  if (!mount.uri.endsWith('/')) throw new AlluxioError('Internal', `mount URI ${mount.uri} is not canonical`, { step: 'join' });
  const encoded: string[] = [];
  for (const seg of relSegments) {
    const enc = encodeSegment(seg);
    if (!ENCODED_SEGMENT.test(enc) || decodeURIComponent(enc) !== seg) {
      throw new AlluxioError('Internal', `segment ${JSON.stringify(seg)} does not round-trip under ${mount.uri}`, { step: 'join' });
    }
    encoded.push(enc);
  }
  const uri = encoded.length === 0 ? mount.uri : mount.uri + encoded.join('/');
  return {
    mountUri: mount.uri,
    scheme: mount.scheme,
    authority: mount.authority,
    baseSegments: mount.segments,
    relSegments: [...relSegments],
    uri,
  };
}
