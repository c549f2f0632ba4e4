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
  let primed: Readable | undefined = body;
  const whole = (range: ByteRange | undefined): ByteRange => range ?? { start: 0, end: entry.size - 1 };
  const take = (range: ByteRange | undefined): Readable | undefined => {
    const b = primed;
    primed = undefined;
    const r = whole(range);
    if (b && r.start === span.start && r.end === span.end) return b;
    b?.destroy();
    return undefined;
  };
  return {
    entry,
    bytes: async (range) => collect(take(range) ?? (await read(whole(range)))),
    stream: async (range) => take(range) ?? read(whole(range)),
    close: () => {
      primed?.destroy();
      primed = undefined;
    },
  };
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
