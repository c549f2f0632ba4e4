/**
 * The one HTTP Range parser, shared by the S3 and REST front ends (both serve the same
 * files, so they must agree on which bytes a header names).
 *
 * `bytes=a-b`, `bytes=a-` and `bytes=-n` (suffix) against a known size. null means the
 * whole file: no header, several ranges, a malformed header, or `a-b` with b < a (all
 * ignored, as S3 does). A range that starts at or past the end, or an empty suffix, is
 * unsatisfiable: `unsatisfiable(size)` is thrown (each front end brings its own 416 error).
 */
import type { ByteRange } from '../../ufs/types.js';

export function parseRange(header: string | undefined, size: number, unsatisfiable: (size: number) => Error): ByteRange | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable(size);
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) throw unsatisfiable(size);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

/**
 * What a GET or HEAD will read, before the size is known (DataPath.open's hint): a HEAD
 * reads no bytes; `bytes=N-...` starts at N; anything else (no Range, a suffix range,
 * several ranges) is assumed to start at 0. `reads`, when the bytes are known without the
 * size: the whole object (no Range), `bytes=a-b` or `bytes=a-` (end undefined: to the end).
 */
export function openHint(header: string | undefined, head: boolean): { firstByte?: number; noBytes?: boolean; reads?: { start: number; end?: number } } {
  if (head) return { noBytes: true };
  if (header === undefined) return { reads: { start: 0 } };
  const m = /^\s*bytes\s*=\s*(\d{1,15})\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return {};
  const start = Number(m[1]);
  // an end past any object's size (more digits than a safe integer) reads to the end
  if (m[2] === '' || m[2]!.length > 15) return { firstByte: start, reads: { start } };
  const end = Number(m[2]);
  return end >= start ? { firstByte: start, reads: { start, end } } : { firstByte: start };
}
