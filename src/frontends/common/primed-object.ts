/**
 * An object opened with ONE UFS request that answered its metadata and the bytes the caller
 * said it will read (a GET through a worker without a cache, on a UFS with `readFirst`:
 * s3://). Before, such a GET cost a stat (HEAD) and then the read (GET): two requests, two
 * round trips to the store, twice the worker's CPU per small object.
 *
 * The first read of exactly the primed span takes the body as it is; any other read (another
 * range, a second read) discards it (closing its connection if unread) and reads that range
 * of the same version from the UFS (If-Match on the ETag: another version is Conflict).
 */
import type { Readable } from 'node:stream';
import type { ByteRange, UfsEntry } from '../../ufs/types.js';
import type { DataObject } from './data-path.js';

export function primedObject(
  entry: UfsEntry,
  /** The bytes the body holds: [span.start, span.end], within the object. */
  span: ByteRange,
  body: Readable,
  /** Any range of the same version, from the UFS. */
  read: (range: ByteRange) => Promise<Readable>,
): DataObject {
  return new PrimedObject(entry, span, body, read);
}

/**
 * A class, not an object of closures: one is made per cold GET, and the bundle names every
 * named closure it creates (esbuild's keepNames: a defineProperty each), which was a few
 * per cent of a worker's main thread under cold small GETs.
 */
class PrimedObject implements DataObject {
  private primed: Readable | undefined;

  constructor(
    readonly entry: UfsEntry,
    private readonly span: ByteRange,
    body: Readable,
    private readonly read: (range: ByteRange) => Promise<Readable>,
  ) {
    this.primed = body;
  }

  async bytes(range?: ByteRange): Promise<Buffer> {
    return collect(this.take(range) ?? (await this.read(this.whole(range))));
  }

  async stream(range?: ByteRange): Promise<Readable> {
    return this.take(range) ?? this.read(this.whole(range));
  }

  close(): void {
    this.primed?.destroy();
    this.primed = undefined;
  }

  private whole(range: ByteRange | undefined): ByteRange {
    return range ?? { start: 0, end: this.entry.size - 1 };
  }

  /** The body, when `range` is the primed span and it was not taken yet; else it is dropped. */
  private take(range: ByteRange | undefined): Readable | undefined {
    const b = this.primed;
    this.primed = undefined;
    const r = this.whole(range);
    if (b && r.start === this.span.start && r.end === this.span.end) return b;
    b?.destroy();
    return undefined;
  }
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
