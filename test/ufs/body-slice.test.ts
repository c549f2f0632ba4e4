/**
 * sliceOf / sliceStream (src/ufs/body-slice.ts): the bytes [skip, skip + n) of a body, in any
 * chunking; a body that ends with the slice is read to its end (its connection can be
 * reused), one with more is destroyed; destroying the slice destroys the body at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { sliceOf, sliceStream } from '../../src/ufs/body-slice.js';
import { until } from '../helpers/poll.js';

const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 13 + 5) & 0xff));

/** `data` in chunks of the given sizes (0 = an empty chunk), as a byte stream. */
function chunked(sizes: number[]): Readable {
  const parts: Buffer[] = [];
  let off = 0;
  for (let k = 0; off < data.length; k++) {
    const n = sizes[k % sizes.length]!;
    parts.push(data.subarray(off, off + n));
    off += n;
  }
  return Readable.from(parts, { objectMode: false });
}

test('any slice, any chunking: exactly the bytes asked for', async () => {
  for (const sizes of [[1000], [1], [7, 0, 13], [64, 0, 0, 300], [999, 1]]) {
    for (const [skip, n] of [[0, 0], [0, 1], [0, 1000], [1, 998], [500, 10], [63, 2], [999, 1], [0, Infinity], [700, Infinity], [990, 50], [1000, 5]] as const) {
      const parts: Buffer[] = [];
      for await (const c of sliceOf(chunked(sizes), skip, n)) parts.push(c);
      const want = data.subarray(skip, Number.isFinite(n) ? skip + n : undefined);
      assert.ok(Buffer.concat(parts).equals(want), `chunks ${sizes} skip ${skip} n ${n}`);
      assert.ok(parts.every((p) => p.length > 0), 'no empty chunks');
      assert.ok((await buffer(sliceStream(chunked(sizes), skip, n))).equals(want), `stream: chunks ${sizes} skip ${skip} n ${n}`);
    }
  }
});

test('a body that ends with the slice is read to its end; one with more after it is destroyed', async () => {
  const exact = chunked([100]);
  await buffer(sliceStream(exact, 900, 100));
  assert.equal(exact.readableEnded, true);
  assert.equal(exact.destroyed, true); // (autoDestroy after its end: not cut short)

  const longer = new PassThrough();
  longer.write(data.subarray(0, 600));
  const got = await buffer(sliceStream(longer, 100, 200)); // the rest never comes
  assert.ok(got.equals(data.subarray(100, 300)));
  assert.equal(longer.readableEnded, false);
  assert.equal(longer.destroyed, true);
});

test('a slice destroyed before any read: its body is destroyed, and the abort error the body emits is not an uncaught exception', async () => {
  // like undici's bodies: destroy() without an error still emits one (RequestAbortedError)
  const body = new Readable({ read() {}, destroy: (_e, cb) => cb(new Error('Request aborted')) });
  body.push(data.subarray(0, 10));
  const s = sliceStream(body, 0, 100);
  s.destroy();
  await until('the body is destroyed', () => body.destroyed);
  await new Promise((r) => setImmediate(r)); // its error event, if nobody listened, would have been thrown by now
});

test('destroying the slice destroys a stalled body at once, not at its next chunk', async () => {
  const body = new PassThrough();
  body.write(data.subarray(0, 10));
  const s = sliceStream(body, 0, 1000);
  const first = await new Promise<Buffer>((resolve) => s.once('data', resolve));
  assert.ok(first.equals(data.subarray(0, 10)));
  s.destroy();
  await until('the body is destroyed', () => body.destroyed);
});
