/**
 * The FUSE read-ahead (src/frontends/fuse/read-ahead.ts) against real byte sources: a range
 * stream (any adapter), a sender that reuses ONE buffer for every chunk (like the local
 * file adapter's sendTo), and positional reads with short counts into the window's own
 * slab (readInto), so a window that kept a reference instead of copying, or a slab
 * recycled while a read still copies from it, returns wrong bytes and fails here.
 *
 * Patterns: sequential (with the kernel's reordering: batches of concurrent reads in
 * shuffled order), random seeks, reads past EOF, reads larger than a window, and a mix,
 * each checked byte for byte; plus failure (a source error fails the read, the next read
 * retries) and no hang when a random seek drops windows a read is waiting for.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, type Writable } from 'node:stream';
import { ReadAhead, type RangeProvider } from '../../src/frontends/fuse/read-ahead.js';
import { prng } from '../helpers/prng.js';

function fileOf(size: number, seed: number): Buffer {
  const r = prng(seed);
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = Math.floor(r() * 256);
  return b;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Range streams with odd chunk sizes and an await between chunks. */
function streamProvider(data: Buffer, counter: { opens: number }): RangeProvider {
  return {
    kind: 'stream',
    open: async (start, end) => {
      counter.opens++;
      await tick();
      async function* gen() {
        let pos = start;
        while (pos <= end) {
          const n = Math.min(end - pos + 1, 1000 + ((pos * 7919) % 70000));
          yield Buffer.from(data.subarray(pos, pos + n));
          pos += n;
          await tick();
        }
      }
      return Readable.from(gen(), { objectMode: false });
    },
  };
}

/** A sender that writes every chunk from ONE reused buffer, honouring write callbacks. */
function sendProvider(data: Buffer, counter: { opens: number }): RangeProvider {
  return {
    kind: 'send',
    send: async (start: number, end: number, dest: Writable) => {
      counter.opens++;
      const buf = Buffer.allocUnsafe(64 * 1024);
      let pos = start;
      while (pos <= end) {
        if (dest.destroyed) return;
        const n = Math.min(buf.length, end - pos + 1);
        data.copy(buf, 0, pos, pos + n);
        await new Promise<void>((resolve) => dest.write(buf.subarray(0, n), () => resolve()));
        buf.fill(0xee); // the sink must have copied already
        pos += n;
        await tick();
      }
      dest.end();
    },
  };
}

async function check(ra: ReadAhead, data: Buffer, pos: number, len: number): Promise<void> {
  const target = Buffer.alloc(len, 0xaa);
  const n = await ra.read(pos, len, target);
  const want = data.subarray(Math.min(pos, data.length), Math.min(data.length, pos + len));
  assert.equal(n, want.length, `read(${pos}, ${len}): count`);
  assert.ok(target.subarray(0, n).equals(want), `read(${pos}, ${len}): bytes`);
}

/** Positional reads into the caller's slab, short reads included (like pread on a local file). */
function readProvider(data: Buffer, counter: { opens: number }): RangeProvider {
  return {
    kind: 'read',
    read: async (target: Buffer, offset: number, length: number, position: number) => {
      counter.opens++;
      await tick();
      if (position >= data.length) return 0;
      const n = Math.min(length, data.length - position, 1 + ((position * 31) % 300_000));
      data.copy(target, offset, position, position + n);
      return n;
    },
  };
}

for (const [name, make] of [
  ['range streams', streamProvider],
  ['a sender reusing one buffer', sendProvider],
  ['positional reads into its slabs', readProvider],
] as const) {
  describe(`ReadAhead over ${name}`, () => {
    const size = 5 * 1024 * 1024 + 4321;
    const data = fileOf(size, 7);
    const opts = { minWindow: 64 * 1024, maxWindow: 1024 * 1024 };

    it('sequential 128 KiB reads, in concurrent shuffled batches (kernel reordering), are byte-exact and read ahead', async () => {
      const counter = { opens: 0 };
      const ra = new ReadAhead(make(data, counter), size, opts);
      const r = prng(1);
      const K = 128 * 1024;
      for (let pos = 0; pos < size + K; pos += 4 * K) {
        const batch = [0, 1, 2, 3].map((i) => pos + i * K).sort(() => r() - 0.5);
        await Promise.all(batch.map((p) => check(ra, data, p, K)));
      }
      if (name !== 'positional reads into its slabs') assert.ok(counter.opens < size / (64 * 1024), `windows grew (${counter.opens} source requests for ${Math.ceil(size / K)} reads)`);
      assert.ok(ra.stats.syncReads > 0, 'some reads were answered synchronously');
      await ra.close();
    });

    it('random seeks, reads past EOF and reads larger than a window are byte-exact', async () => {
      const ra = new ReadAhead(make(data, { opens: 0 }), size, opts);
      const r = prng(2);
      for (let i = 0; i < 150; i++) {
        const kind = r();
        const pos = kind < 0.1 ? size - Math.floor(r() * 5000) : Math.floor(r() * size);
        const len = kind > 0.9 ? 2 * 1024 * 1024 + Math.floor(r() * 1000) : 1 + Math.floor(r() * 200_000);
        await check(ra, data, pos, len);
      }
      await check(ra, data, size, 100); // at EOF
      await check(ra, data, size + 5000, 100); // past EOF
      await ra.close();
    });

    it('a mix of sequential streaks and seeks with concurrent reads never mixes up bytes (slab reuse)', async () => {
      const ra = new ReadAhead(make(data, { opens: 0 }), size, opts);
      const r = prng(3);
      let pos = 0;
      for (let i = 0; i < 120; i++) {
        if (r() < 0.15) pos = Math.floor(r() * size);
        const reads = [0, 1, 2].map((k) => [pos + k * 65536, 65536] as const);
        await Promise.all(reads.map(([p, l]) => check(ra, data, p, l)));
        pos += 3 * 65536;
        if (pos >= size) pos = 0;
      }
      await ra.close();
    });
  });
}

describe('ReadAhead failures', () => {
  it('a source error fails that read; the next read retries and succeeds', async () => {
    const data = fileOf(1024 * 1024, 9);
    let fail = true;
    const ra = new ReadAhead(
      {
        kind: 'stream',
        open: async (start, end) => {
          if (fail) {
            fail = false;
            throw new Error('UFS down');
          }
          return Readable.from([Buffer.from(data.subarray(start, end + 1))]);
        },
      },
      data.length,
    );
    await assert.rejects(async () => ra.read(0, 4096, Buffer.alloc(4096)), /UFS down/);
    await check(ra, data, 0, 4096);
    await ra.close();
  });

  it('a random seek while reads wait for a slow window does not hang them', async () => {
    const data = fileOf(4 * 1024 * 1024, 11);
    const gates: (() => void)[] = [];
    const ra = new ReadAhead(
      {
        kind: 'stream',
        open: async (start, end) => {
          async function* slow() {
            await new Promise<void>((r) => gates.push(r));
            yield Buffer.from(data.subarray(start, end + 1));
          }
          return Readable.from(slow());
        },
      },
      data.length,
      { minWindow: 64 * 1024, maxWindow: 256 * 1024 },
    );
    const waiting = check(ra, data, 0, 65536);
    const seek = check(ra, data, 3 * 1024 * 1024, 65536); // drops the windows of the first read
    const release = setInterval(() => gates.splice(0).forEach((g) => g()), 5);
    try {
      await Promise.all([waiting, seek]);
    } finally {
      clearInterval(release);
    }
    await ra.close();
  });
});
