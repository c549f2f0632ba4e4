/**
 * Request bodies: `aws-chunked` decoding (signed chunks, unsigned chunks with trailers:
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) and
 * verification of what the client declared (x-amz-checksum-*, Content-MD5, a hex
 * x-amz-content-sha256, x-amz-decoded-content-length). Both are Transforms that fail in
 * flush() when the body does not match, so the UFS write (temp file + rename) is
 * abandoned and nothing lands.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { safeEqualHex } from '../../domain/sigv4.js';
import { algorithmOfHeader, createChecksummer, type ChecksumAlgorithm, type Checksummer } from './checksums.js';
import { S3Error, s3err } from './errors.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_LINE = 8 * 1024;
/**
 * The trailer section in all (AWS sends one checksum and, signed, its signature: ~200 bytes).
 * Each line was bounded but not their number: a client that never ended the section grew the
 * worker's heap by what it sent.
 */
const MAX_TRAILERS = 16 * 1024;

/** Verifies signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD); given by the SigV4 layer. */
export interface ChunkSigner {
  /** Expected signature of the next chunk whose data hashes to `sha256Hex`. */
  next(sha256Hex: string): string;
  /** Expected signature of the trailer block (x-amz-trailer-signature). */
  trailer(canonicalTrailer: string): string;
}

export function isAwsChunked(h: IncomingHttpHeaders): boolean {
  const sha = String(h['x-amz-content-sha256'] ?? '');
  if (sha.startsWith('STREAMING-')) return true;
  const ce = String(h['content-encoding'] ?? '');
  return ce.split(',').some((x) => x.trim().toLowerCase() === 'aws-chunked');
}

type State = 'header' | 'data' | 'dataCrlf' | 'trailer' | 'done';

export class AwsChunkedDecoder extends Transform {
  private state: State = 'header';
  private line = '';
  private remaining = 0;
  private chunkSig: string | undefined;
  private chunkHash: Hash | undefined;
  private crlf = 0;
  private decoded = 0;
  private trailerBytes = 0;
  private readonly trailers = new Map<string, string>();
  private readonly trailerLines: string[] = [];
  private readonly checksummer: Checksummer | undefined;
  private readonly algorithm: ChecksumAlgorithm | undefined;

  constructor(
    private readonly opts: {
      /** From x-amz-trailer: which trailer carries the checksum. */
      trailerChecksum?: ChecksumAlgorithm;
      /** From x-amz-decoded-content-length. */
      decodedLength?: number;
      signer?: ChunkSigner;
      expectTrailer: boolean;
    },
  ) {
    super();
    this.algorithm = opts.trailerChecksum;
    if (this.algorithm) this.checksummer = createChecksummer(this.algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      let i = 0;
      while (i < chunk.length) {
        switch (this.state) {
          case 'header': {
            const j = chunk.indexOf(0x0a, i);
            const end = j < 0 ? chunk.length : j;
            this.line += chunk.toString('latin1', i, end);
            if (this.line.length > MAX_LINE) throw this.bad('chunk header too long');
            if (j < 0) {
              i = chunk.length;
              break;
            }
            i = j + 1;
            this.startChunk(this.line.replace(/\r$/, ''));
            this.line = '';
            break;
          }
          case 'data': {
            const n = Math.min(this.remaining, chunk.length - i);
            const part = chunk.subarray(i, i + n);
            this.checksummer?.update(part);
            this.chunkHash?.update(part);
            this.decoded += n;
            this.push(part);
            this.remaining -= n;
            i += n;
            if (this.remaining === 0) {
              this.endChunk();
              this.state = 'dataCrlf';
              this.crlf = 0;
            }
            break;
          }
          case 'dataCrlf': {
            const b = chunk[i++]!;
            const want = this.crlf === 0 ? 0x0d : 0x0a;
            if (b !== want) throw this.bad('chunk data not followed by CRLF');
            if (++this.crlf === 2) this.state = 'header';
            break;
          }
          case 'trailer': {
            const j = chunk.indexOf(0x0a, i);
            const end = j < 0 ? chunk.length : j;
            this.line += chunk.toString('latin1', i, end);
            this.trailerBytes += end - i + 1;
            if (this.line.length > MAX_LINE) throw this.bad('trailer too long');
            if (this.trailerBytes > MAX_TRAILERS) throw this.bad(`trailers over ${MAX_TRAILERS} bytes`);
            if (j < 0) {
              i = chunk.length;
              break;
            }
            i = j + 1;
            const l = this.line.replace(/\r$/, '');
            this.line = '';
            if (l === '') {
              this.state = 'done';
              break;
            }
            const k = l.indexOf(':');
            if (k <= 0) throw this.bad(`malformed trailer line`);
            const name = l.slice(0, k).trim().toLowerCase();
            const value = l.slice(k + 1).trim();
            this.trailers.set(name, value);
            if (name !== 'x-amz-trailer-signature') this.trailerLines.push(`${name}:${value}\n`);
            break;
          }
          case 'done': {
            // Tolerate trailing CRLFs after the final empty line.
            const b = chunk[i++]!;
            if (b !== 0x0d && b !== 0x0a) throw this.bad('data after the final chunk');
            break;
          }
        }
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private bad(why: string): S3Error {
    return new S3Error('IncompleteBody', 400, `aws-chunked body: ${why}`);
  }

  private startChunk(header: string): void {
    const [sizeHex, ...exts] = header.split(';');
    if (!sizeHex || !/^[0-9a-fA-F]{1,16}$/.test(sizeHex.trim())) throw this.bad(`bad chunk size "${header.slice(0, 40)}"`);
    const size = parseInt(sizeHex.trim(), 16);
    this.chunkSig = undefined;
    for (const e of exts) {
      const [k, v] = e.split('=');
      if (k?.trim() === 'chunk-signature') this.chunkSig = v?.trim();
    }
    if (this.opts.signer) {
      if (!this.chunkSig) throw new S3Error('SignatureDoesNotMatch', 403, 'aws-chunked body: a chunk has no chunk-signature');
      this.chunkHash = createHash('sha256');
    }
    if (size === 0) {
      this.endChunk();
      this.state = 'trailer';
      // Without trailers the final chunk is followed by one empty line.
      return;
    }
    this.remaining = size;
    this.state = 'data';
  }

  private endChunk(): void {
    if (!this.opts.signer) return;
    const digest = this.chunkHash ? this.chunkHash.digest('hex') : EMPTY_SHA256;
    this.chunkHash = undefined;
    const want = this.opts.signer.next(digest);
    if (!safeEqualHex(want, this.chunkSig ?? '')) throw new S3Error('SignatureDoesNotMatch', 403, 'aws-chunked body: a chunk signature does not match');
  }

  override _flush(cb: TransformCallback): void {
    try {
      if (this.state === 'trailer' && this.line === '') this.state = 'done'; // EOF right after the trailers
      if (this.state !== 'done') throw this.bad('the body ended before the final chunk');
      if (this.opts.decodedLength !== undefined && this.decoded !== this.opts.decodedLength) {
        throw this.bad(`decoded ${this.decoded} bytes, but x-amz-decoded-content-length says ${this.opts.decodedLength}`);
      }
      if (this.opts.signer && this.trailerLines.length > 0) {
        const sig = this.trailers.get('x-amz-trailer-signature');
        if (!sig || !safeEqualHex(this.opts.signer.trailer(this.trailerLines.join('')), sig)) {
          throw new S3Error('SignatureDoesNotMatch', 403, 'aws-chunked body: the trailer signature does not match');
        }
      }
      if (this.algorithm && this.checksummer) {
        const name = `x-amz-checksum-${this.algorithm}`;
        const got = this.trailers.get(name);
        if (got === undefined) throw new S3Error('InvalidRequest', 400, `aws-chunked body: the declared trailer ${name} is missing`);
        const want = this.checksummer.digest();
        if (got !== want) throw s3err.badDigest(`The ${this.algorithm.toUpperCase()} you specified did not match the calculated checksum (${got} != ${want}).`);
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  /** Trailers as received (after the stream ended). */
  trailerValues(): ReadonlyMap<string, string> {
    return this.trailers;
  }
}

/** Checks a plain (not chunked) body against what the headers declared. */
export class BodyVerifier extends Transform {
  private readonly sums: { name: string; c: Checksummer; want: string }[] = [];
  private md5: { h: Hash; want: string } | undefined;
  private sha256: { h: Hash; want: string } | undefined;
  private n = 0;

  constructor(checks: { checksums?: { alg: ChecksumAlgorithm; want: string }[]; contentMd5?: string; sha256Hex?: string; length?: number }) {
    super();
    for (const { alg, want } of checks.checksums ?? []) this.sums.push({ name: alg, c: createChecksummer(alg), want });
    if (checks.contentMd5) this.md5 = { h: createHash('md5'), want: checks.contentMd5 };
    if (checks.sha256Hex) this.sha256 = { h: createHash('sha256'), want: checks.sha256Hex.toLowerCase() };
    this.length = checks.length;
  }
  private readonly length: number | undefined;

  get active(): boolean {
    return this.sums.length > 0 || this.md5 !== undefined || this.sha256 !== undefined;
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.n += chunk.length;
    for (const s of this.sums) s.c.update(chunk);
    this.md5?.h.update(chunk);
    this.sha256?.h.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.length !== undefined && this.n !== this.length) return cb(new S3Error('IncompleteBody', 400, `got ${this.n} of ${this.length} bytes`));
    if (this.md5 && this.md5.h.digest('base64') !== this.md5.want) return cb(s3err.badDigest('The Content-MD5 you specified did not match what we received.'));
    if (this.sha256 && this.sha256.h.digest('hex') !== this.sha256.want) {
      return cb(new S3Error('XAmzContentSHA256Mismatch', 400, 'The provided x-amz-content-sha256 header does not match what was computed.'));
    }
    for (const s of this.sums) {
      const got = s.c.digest();
      if (got !== s.want) return cb(s3err.badDigest(`The ${s.name.toUpperCase()} you specified did not match the calculated checksum.`));
    }
    cb();
  }
}

/**
 * Checks an assembled multipart object (CompleteMultipartUpload) as it streams by: per part
 * (the <ChecksumXXX> a Part of the XML names, when it does), and the object's x-amz-checksum-*
 * header, which is either the checksum of the whole object (full-object CRCs) or, with a
 * `-N` suffix, the composite: the checksum of the N parts' binary checksums, in order.
 * A mismatch fails the stream (BadDigest) before the write commits. (Before 2026-12-02 the
 * header was taken and not checked: any value, `bad` too, committed the object.)
 */
export class MultipartChecksumVerifier extends Transform {
  private part = 0;
  private inPart = 0;
  private current: Checksummer;
  private readonly whole: Checksummer | undefined;
  private readonly digests: Buffer[] = [];
  private readonly composite: boolean;

  constructor(
    private readonly alg: ChecksumAlgorithm,
    private readonly sizes: readonly number[],
    /** The object's header value (undefined: the parts' only). */
    private readonly object: string | undefined,
    /** Each part's value from the XML (undefined where none). */
    private readonly perPart: readonly (string | undefined)[],
  ) {
    super();
    this.current = createChecksummer(alg);
    this.composite = object !== undefined && /-\d+$/.test(object);
    if (object !== undefined && !this.composite) this.whole = createChecksummer(alg);
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      let off = 0;
      while (off < chunk.length) {
        this.endEmptyParts();
        const size = this.sizes[this.part];
        if (size === undefined) throw new S3Error('InternalError', 500, 'the assembled object is longer than its parts');
        const slice = chunk.subarray(off, off + Math.min(size - this.inPart, chunk.length - off));
        this.current.update(slice);
        this.whole?.update(slice);
        off += slice.length;
        this.inPart += slice.length;
        if (this.inPart === size) this.endPart();
      }
      cb(null, chunk);
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.endEmptyParts();
      if (this.part !== this.sizes.length) throw new S3Error('InternalError', 500, 'the assembled object is shorter than its parts');
      const name = this.alg.toUpperCase();
      if (this.object !== undefined) {
        let got: string;
        if (this.composite) {
          const c = createChecksummer(this.alg);
          c.update(Buffer.concat(this.digests));
          got = `${c.digest()}-${this.sizes.length}`;
        } else got = this.whole!.digest();
        if (got !== this.object) throw s3err.badDigest(`The ${name} you specified for the object did not match the calculated checksum (${this.composite ? 'composite of its parts' : 'full object'}).`);
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  private endPart(): void {
    const digest = this.current.digest();
    const want = this.perPart[this.part];
    if (want !== undefined && want !== digest) throw s3err.badDigest(`The ${this.alg.toUpperCase()} you specified for part ${this.part + 1} did not match the calculated checksum.`);
    this.digests.push(Buffer.from(digest, 'base64'));
    this.part++;
    this.inPart = 0;
    this.current = createChecksummer(this.alg);
  }

  private endEmptyParts(): void {
    while (this.inPart === 0 && this.sizes[this.part] === 0) this.endPart();
  }
}

/** x-amz-checksum-<alg> request headers (plain bodies). */
export function declaredChecksums(h: IncomingHttpHeaders): { alg: ChecksumAlgorithm; want: string }[] {
  const out: { alg: ChecksumAlgorithm; want: string }[] = [];
  for (const [k, v] of Object.entries(h)) {
    const alg = algorithmOfHeader(k);
    if (alg && typeof v === 'string') out.push({ alg, want: v.trim() });
  }
  return out;
}

/** The checksum algorithm named by x-amz-trailer (chunked bodies). */
export function trailerAlgorithm(h: IncomingHttpHeaders): ChecksumAlgorithm | undefined | 'unsupported' {
  const t = h['x-amz-trailer'];
  if (typeof t !== 'string' || t.trim() === '') return undefined;
  for (const name of t.split(',')) {
    const alg = algorithmOfHeader(name);
    if (alg) return alg;
  }
  return 'unsupported';
}
