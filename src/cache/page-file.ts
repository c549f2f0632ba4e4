/**
 * The on-disk form of one page (pure, no I/O): the data, then the object's metadata (JSON:
 * uri, version, size, pageSize — so the index can be rebuilt from the page files alone, with
 * no directory or side file per object), then a 20-byte trailer
 *   "APG2" | data length (u32 BE) | crc32 of data + metadata (u32 BE) | metadata length (u32 BE)
 *   | page index + 1 (u32 BE; 0 in files written before 2026-12-01: index not recorded)
 * A page read back is valid only when the file length, the recorded lengths, the page index
 * (when recorded) and the checksum all agree; otherwise the page is dropped and fetched
 * again. The index matters because page files are recycled (spare-files.ts): a file a
 * reader still has open may be another page's by the time it reads it.
 */
import { crc32 } from 'node:zlib';

export const TRAILER_BYTES = 20;
const MAGIC = 0x41504732; // "APG2"

/** The buffers to write, in order, for a page of `data` with the object's `meta` bytes. */
export function encodePage(data: Buffer, meta: Buffer, index: number): Buffer[] {
  const t = Buffer.alloc(TRAILER_BYTES);
  t.writeUInt32BE(MAGIC, 0);
  t.writeUInt32BE(data.length, 4);
  t.writeUInt32BE(crc32(meta, crc32(data)) >>> 0, 8);
  t.writeUInt32BE(meta.length, 12);
  t.writeUInt32BE(index + 1, 16);
  return [data, meta, t];
}

/** The page file's length for `dataLength` bytes of data and `metaLength` of metadata. */
export function fileLength(dataLength: number, metaLength: number): number {
  return dataLength + metaLength + TRAILER_BYTES;
}

/** Read a trailer (the last TRAILER_BYTES of a page file); null when it is not one. */
export function readTrailer(t: Buffer): { dataLength: number; crc: number; metaLength: number; index: number | null } | null {
  if (t.length !== TRAILER_BYTES || t.readUInt32BE(0) !== MAGIC) return null;
  const i = t.readUInt32BE(16);
  return { dataLength: t.readUInt32BE(4), crc: t.readUInt32BE(8), metaLength: t.readUInt32BE(12), index: i === 0 ? null : i - 1 };
}

export type PageCheck = { ok: true; data: Buffer; meta: Buffer } | { ok: false; reason: string };

/**
 * Validate a whole page file against the data length the index expects: trailer, lengths,
 * the page index (`expectedIndex`, when the file records one) and (unless `crc` is false: a
 * file this process already verified or wrote) the checksum. The caller compares the
 * metadata with the object's.
 */
export function checkPage(file: Buffer, expectedLength: number, crc = true, expectedIndex?: number): PageCheck {
  if (file.length < TRAILER_BYTES + expectedLength) return { ok: false, reason: `page file is ${file.length} bytes, too short for ${expectedLength} bytes of data` };
  const t = readTrailer(file.subarray(file.length - TRAILER_BYTES));
  if (!t) return { ok: false, reason: 'page trailer magic is wrong' };
  if (expectedIndex !== undefined && t.index !== null && t.index !== expectedIndex) return { ok: false, reason: `page file holds page ${t.index}, expected page ${expectedIndex}` };
  if (t.dataLength !== expectedLength) return { ok: false, reason: `page trailer records ${t.dataLength} bytes, expected ${expectedLength}` };
  if (file.length !== fileLength(t.dataLength, t.metaLength)) return { ok: false, reason: `page file is ${file.length} bytes, expected ${fileLength(t.dataLength, t.metaLength)}` };
  const data = file.subarray(0, expectedLength);
  const meta = file.subarray(expectedLength, expectedLength + t.metaLength);
  if (crc && (crc32(meta, crc32(data)) >>> 0) !== t.crc) return { ok: false, reason: 'page checksum mismatch' };
  return { ok: true, data, meta };
}
