/**
 * Checksums S3 clients send (x-amz-checksum-*: CRC32, CRC32C, CRC64NVME, SHA1, SHA256;
 * Content-MD5; x-amz-content-sha256), computed incrementally over a stream. Values are
 * base64 of the big-endian digest, as S3 sends them (Content-MD5 and SHA: base64 of the
 * digest; x-amz-content-sha256: hex).
 */
import { createHash, type Hash } from 'node:crypto';
import zlib from 'node:zlib';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

/** How many bytes each algorithm's digest has (its header value is their base64). */
const DIGEST_BYTES: Readonly<Record<ChecksumAlgorithm, number>> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

/** Whether `value` can be a digest of `alg` at all: the base64 of exactly its bytes. */
export function isChecksumValue(alg: ChecksumAlgorithm, value: string): boolean {
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === DIGEST_BYTES[alg] && bytes.toString('base64') === value;
}

export interface Checksummer {
  update(b: Buffer): void;
  /** base64 of the big-endian digest. */
  digest(): string;
}

// ---- CRC32 (zlib, Node >= 20.15) with a table fallback ------------------------------
function makeTable32(poly: number): Uint32Array {
  const t = new Uint32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[i] = c >>> 0;
  }
  // slicing-by-8 tables
  for (let i = 0; i < 256; i++) {
    let c = t[i]!;
    for (let s = 1; s < 8; s++) {
      c = (t[c & 0xff]! ^ (c >>> 8)) >>> 0;
      t[s * 256 + i] = c;
    }
  }
  return t;
}

function crc32Update(t: Uint32Array, crc: number, b: Buffer): number {
  let c = ~crc >>> 0;
  let i = 0;
  const n = b.length;
  for (; i + 8 <= n; i += 8) {
    const lo = (c ^ (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24))) >>> 0;
    const hi = b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24);
    c =
      (t[7 * 256 + (lo & 0xff)]! ^
        t[6 * 256 + ((lo >>> 8) & 0xff)]! ^
        t[5 * 256 + ((lo >>> 16) & 0xff)]! ^
        t[4 * 256 + (lo >>> 24)]! ^
        t[3 * 256 + (hi & 0xff)]! ^
        t[2 * 256 + ((hi >>> 8) & 0xff)]! ^
        t[1 * 256 + ((hi >>> 16) & 0xff)]! ^
        t[(hi >>> 24) & 0xff]!) >>>
      0;
  }
  for (; i < n; i++) c = (t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8)) >>> 0;
  return ~c >>> 0;
}

let T32: Uint32Array | undefined;
let T32C: Uint32Array | undefined;

export function crc32(b: Buffer, prev = 0): number {
  const z = (zlib as unknown as { crc32?: (d: Buffer, v?: number) => number }).crc32;
  if (z) return z(b, prev) >>> 0;
  return crc32Update((T32 ??= makeTable32(0xedb88320)), prev, b);
}

export function crc32c(b: Buffer, prev = 0): number {
  return crc32Update((T32C ??= makeTable32(0x82f63b78)), prev, b);
}

// ---- CRC64/NVME (reflected poly 0x9a6c9329ac4bc9b5), two 32-bit halves ----------------
let T64: { hi: Uint32Array; lo: Uint32Array } | undefined;
function table64(): { hi: Uint32Array; lo: Uint32Array } {
  if (T64) return T64;
  const PH = 0x9a6c9329;
  const PL = 0xac4bc9b5;
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let h = 0;
    let l = i;
    for (let k = 0; k < 8; k++) {
      const bit = l & 1;
      l = ((l >>> 1) | ((h & 1) << 31)) >>> 0;
      h = h >>> 1;
      if (bit) {
        h = (h ^ PH) >>> 0;
        l = (l ^ PL) >>> 0;
      }
    }
    hi[i] = h;
    lo[i] = l;
  }
  return (T64 = { hi, lo });
}

export class Crc64Nvme {
  private h = 0xffffffff;
  private l = 0xffffffff;
  update(b: Buffer): void {
    const { hi, lo } = table64();
    let h = this.h;
    let l = this.l;
    for (let i = 0; i < b.length; i++) {
      const idx = (l ^ b[i]!) & 0xff;
      l = ((l >>> 8) | ((h & 0xff) << 24)) >>> 0;
      h = h >>> 8;
      h = (h ^ hi[idx]!) >>> 0;
      l = (l ^ lo[idx]!) >>> 0;
    }
    this.h = h;
    this.l = l;
  }
  value(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.h >>> 0, 0);
    out.writeUInt32BE(~this.l >>> 0, 4);
    return out;
  }
}

function be32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

export function createChecksummer(alg: ChecksumAlgorithm): Checksummer {
  switch (alg) {
    case 'crc32': {
      let c = 0;
      return { update: (b) => void (c = crc32(b, c)), digest: () => be32(c) };
    }
    case 'crc32c': {
      let c = 0;
      return { update: (b) => void (c = crc32c(b, c)), digest: () => be32(c) };
    }
    case 'crc64nvme': {
      const c = new Crc64Nvme();
      return { update: (b) => c.update(b), digest: () => c.value().toString('base64') };
    }
    case 'sha1':
    case 'sha256': {
      const h: Hash = createHash(alg);
      return { update: (b) => void h.update(b), digest: () => h.digest('base64') };
    }
  }
}

/** `x-amz-checksum-crc32` -> 'crc32' (undefined for anything else). */
export function algorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const m = /^x-amz-checksum-([a-z0-9]+)$/.exec(name.trim().toLowerCase());
  if (!m) return undefined;
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(m[1]!) ? (m[1] as ChecksumAlgorithm) : undefined;
}
