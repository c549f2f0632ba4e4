/**
 * Bytes [skip, skip + n) of a body, as it streams (n may be Infinity). One piece of code for
 * two uses: cutting a body to the range it was asked for (the cache's primed bodies), and
 * cutting a range out of a whole object that a store sent when it ignored Range (an answer
 * of 200 instead of 206: s3.ts).
 *
 * A body that ends right after the slice (the usual case: the request asked for exactly
 * this range) is read to its end, so its keep-alive connection goes back to the pool; a body
 * with more bytes after the slice is destroyed (its connection is closed, the rest unread).
 */
import { Readable } from 'node:stream';

export async function* sliceOf(body: Readable, skip: number, n: number): AsyncGenerator<Buffer> {
  const end = skip + n; // exclusive
  let pos = 0; // bytes of the body seen so far
  try {
    for await (const chunk of body) {
      const b = chunk as Buffer;
      if (b.length === 0) continue;
      if (pos >= end) break; // more than asked for: drop the rest
      const from = Math.max(0, skip - pos);
      const to = Math.min(b.length, end - pos);
      pos += b.length;
      if (to > from) yield from === 0 && to === b.length ? b : b.subarray(from, to);
      if (to < b.length) break; // this chunk went past the slice: drop the rest
    }
  } finally {
    if (!body.readableEnded) body.destroy();
  }
}

function ignore(): void {}

/**
 * sliceOf as a byte stream. Destroying it (a client gone) destroys the body at once: left to
 * Readable.from, the destroy would wait for the generator, which sees it only when the body's
 * next chunk comes (from a stalled store: at its deadline), holding the connection meanwhile.
 */
export function sliceStream(body: Readable, skip: number, n: number): Readable {
  const out = Readable.from(sliceOf(body, skip, n), { objectMode: false });
  const destroy = out._destroy.bind(out);
  out._destroy = (err, cb) => {
    if (!body.readableEnded) {
      // its abort error (undici's RequestAbortedError) is nobody's news: the slice's reader
      // is gone; without a listener it would be an uncaught exception
      body.on('error', ignore);
      body.destroy(); // the generator's loop ends now, then its finally
    }
    destroy(err, cb);
  };
  return out;
}
