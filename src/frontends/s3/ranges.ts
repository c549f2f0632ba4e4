/**
 * Byte ranges of S3 requests, as pure functions (unit-tested in test/s3/ranges.test.ts):
 * the Range header of GET (through the shared parser, common/range.ts, so S3 and REST agree),
 * `partNumber` on GET, and x-amz-copy-source-range of UploadPartCopy.
 */
import type { ByteRange } from '../../ufs/types.js';
import { parseRange } from '../common/range.js';
import { s3err } from './errors.js';

/**
 * The range a GET/HEAD serves: null for the whole object. Objects keep no multipart layout
 * (a file is one part), so `partNumber=1` is the whole object and any other part number is
 * InvalidPartNumber (416); with a Range header too, InvalidRequest (as S3). Throws
 * InvalidRange (416) when the range is unsatisfiable.
 */
export function objectRange(rangeHeader: string | undefined, partNumber: string | undefined, size: number): ByteRange | null {
  if (partNumber !== undefined) {
    if (rangeHeader !== undefined) throw s3err.invalidRequest('Cannot specify both Range header and partNumber query parameter');
    if (!/^\d+$/.test(partNumber) || Number(partNumber) < 1 || Number(partNumber) > 10000) {
      throw s3err.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', partNumber);
    }
    if (partNumber !== '1') throw s3err.invalidPartNumber();
  }
  return parseRange(rangeHeader, size, s3err.invalidRange);
}

/**
 * x-amz-copy-source-range (`bytes=first-last`, both inclusive). A malformed value is
 * InvalidArgument; a range past the end of the source is InvalidRange (as S3).
 */
export function copySourceRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!m || Number(m[1]) > Number(m[2])) {
    throw s3err.invalidArgument('The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', 'x-amz-copy-source-range', header);
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end >= size) throw s3err.invalidRange(size);
  return { start, end };
}
