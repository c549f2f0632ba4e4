/**
 * The one Alluxio path normaliser (resolution.md §1). Every front end calls
 * `normalizePath` before anything else happens; nothing else in the code base splits or
 * joins Alluxio paths by hand.
 */
import { AlluxioError, quote } from './errors.js';

export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_BYTES = 4096;

// Canonical, printable ASCII: "/seg/seg", every segment 1..255 characters, no "/" doubled or trailing.
const CANONICAL_ASCII = /^(?:\/[\x20-\x2e\x30-\x7e]{1,255})+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/**
 * Control characters: C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F). Refused in every
 * path, name, URI segment and option value; the ONE definition (listings hide such names
 * so that what a listing shows can be read through the same API).
 */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL = CONTROL_CHARS;

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Normalise an Alluxio path: collapse repeated `/`, drop a trailing `/`, and reject
 * everything else outside the canonical form with an error naming the offending part.
 * `.` and `..` segments are rejected, never resolved.
 */
export function normalizePath(input: unknown, step = 'normalize', maxBytes = MAX_PATH_BYTES): string {
  if (typeof input !== 'string') {
    throw new AlluxioError('InvalidPath', `path must be a string, got ${typeof input}`, { step });
  }
  if (input.length === 0) throw new AlluxioError('InvalidPath', 'path is empty', { step });
  // Fast path for the common case: already canonical and printable ASCII (so characters
  // are bytes and the segment bound is the byte bound). Anything else takes the full checks.
  if (input.length <= maxBytes && CANONICAL_ASCII.test(input) && !DOT_SEGMENT.test(input)) return input;
  if (!input.isWellFormed()) {
    throw new AlluxioError('InvalidPath', `path ${quote(input)} is not valid UTF-8 (lone surrogate)`, { step });
  }
  const ctl = CONTROL.exec(input);
  if (ctl) {
    throw new AlluxioError('InvalidPath', `path contains control character ${describeChar(ctl[0])} at offset ${ctl.index}`, { step });
  }
  if (!input.startsWith('/')) {
    throw new AlluxioError('InvalidPath', `path ${quote(input)} is not absolute (must start with "/")`, { step });
  }
  const segments: string[] = [];
  for (const seg of input.split('/')) {
    if (seg === '') continue;
    if (seg === '.' || seg === '..') {
      throw new AlluxioError('InvalidPath', `path ${quote(input)} has a "${seg}" segment; dot segments are rejected, not resolved`, { step });
    }
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) {
      throw new AlluxioError('NameTooLong', `path segment "${seg.slice(0, 32)}..." is longer than ${MAX_SEGMENT_BYTES} bytes`, { step });
    }
    segments.push(seg);
  }
  const out = '/' + segments.join('/');
  if (Buffer.byteLength(out, 'utf8') > maxBytes) {
    throw new AlluxioError('NameTooLong', `path is longer than ${MAX_PATH_BYTES} bytes`, { step });
  }
  return out;
}

/** True when `p` is already canonical (no error, same string back). */
export function isCanonicalPath(p: string): boolean {
  try {
    return normalizePath(p) === p;
  } catch {
    return false;
  }
}

/** Segments of a canonical path (`/` has none). */
export function segmentsOf(canonical: string): string[] {
  return canonical === '/' ? [] : canonical.slice(1).split('/');
}

/** Build a canonical path from segments that are already valid. */
export function pathOf(segments: readonly string[]): string {
  return '/' + segments.join('/');
}

/** Segment-aware prefix test on canonical paths: `/a` is a prefix of `/a` and `/a/b`, never of `/ab`. */
export function isPathPrefix(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  return path === prefix || path.startsWith(prefix + '/');
}

/** The remainder of `path` under `prefix` (a canonical path itself, `/` when equal). Assumes isPathPrefix. */
export function stripPathPrefix(prefix: string, path: string): string {
  if (prefix === '/') return path;
  const rest = path.slice(prefix.length);
  return rest === '' ? '/' : rest;
}

/** Join two canonical paths: `/a` + `/b/c` = `/a/b/c`; either may be `/`. */
export function joinPaths(base: string, rest: string): string {
  if (base === '/') return rest;
  if (rest === '/') return base;
  return base + rest;
}

/** Parent of a canonical path (`/` is its own parent). */
export function parentOf(canonical: string): string {
  const i = canonical.lastIndexOf('/');
  return i <= 0 ? '/' : canonical.slice(0, i);
}

/** Last segment of a canonical path ('' for root). */
export function baseName(canonical: string): string {
  return canonical.slice(canonical.lastIndexOf('/') + 1);
}
