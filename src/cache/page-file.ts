/**
 * The on-disk form of one page (pure, no I/O): the data followed by a 16-byte trailer
 * "APG1" | length (u32 BE) | crc32 (u32 BE) | reserved (u32). A page read back is valid only
 * when the file length, the recorded length and the checksum all agree; otherwise the page
 * is dropped and fetched again.
 */
import { crc32 } from 'node:zlib';

export const TRAILER_BYTES = 16;
const MAGIC = 0x41504731; // "APG1"

export function checksum(data: Buffer): number {
  return crc32(data) >>> 0;
}

/** The trailer to append after `data` in its page file. */
export function trailerFor(data: Buffer, crc = checksum(data)): Buffer {
  const t = Buffer.alloc(TRAILER_BYTES);
  t.writeUInt32BE(MAGIC, 0);
  t.writeUInt32BE(data.length, 4);
  t.writeUInt32BE(crc, 8);
  return t;
}

export type PageCheck = { ok: true; data: Buffer } | { ok: false; reason: string };

/** Validate a page file's bytes against the length the index expects. */
export function checkPage(file: Buffer, expectedLength: number): PageCheck {
  if (file.length !== expectedLength + TRAILER_BYTES) {
    return { ok: false, reason: `page file is ${file.length} bytes, expected ${expectedLength + TRAILER_BYTES}` };
  }
  const t = file.subarray(expectedLength);
  if (t.readUInt32BE(0) !== MAGIC) return { ok: false, reason: 'page trailer magic is wrong' };
  if (t.readUInt32BE(4) !== expectedLength) return { ok: false, reason: `page trailer records ${t.readUInt32BE(4)} bytes, expected ${expectedLength}` };
  const data = file.subarray(0, expectedLength);
  if (checksum(data) !== t.readUInt32BE(8)) return { ok: false, reason: 'page checksum mismatch' };
  return { ok: true, data };
}
