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

describe('ReadAhead under page faults (mmap)', () => {
  // A reader of an mmap'ed file faults pages in all over the file: the kernel sends 128 KiB
  // reads at random offsets and reads ahead of each fault, several at once. A read answered
  // with fewer bytes than asked (not at EOF) is the end of the file to the kernel, which
  // then SIGBUSes the reader (the FUSE probe of 2026-12-01: a read ending in the gap before
  // a window kept for another read got the bytes up to the gap).
  for (const [name, make] of [
    ['range streams', streamProvider],
    ['positional reads', readProvider],
  ] as const) {
    it(`concurrent random reads and their read-ahead are answered in full (${name})`, async () => {
      const size = 8 * 1024 * 1024 + 777;
      const data = fileOf(size, 13);
      const ra = new ReadAhead(make(data, { opens: 0 }), size, { minWindow: 256 * 1024, maxWindow: 1024 * 1024 });
      const r = prng(5);
      const K = 128 * 1024;
      for (let i = 0; i < 200; i++) {
        const batch: Promise<void>[] = [];
        for (let k = 0; k < 3; k++) {
          const pos = Math.floor(r() * (size - 70_000));
          batch.push(check(ra, data, pos, K));
          if (r() < 0.5) batch.push(check(ra, data, pos + K, K)); // the kernel's read-ahead of that fault
        }
        await Promise.all(batch);
      }
      await ra.close();
    });
  }

  it('a read that ends in the gap before a window kept for another read is answered in full', async () => {
    // The state the probe found: a read held by a slow window goes on past it after a seek
    // elsewhere dropped the windows (so it adds one far ahead); the seeker's next read then
    // runs off the end of its own window, where the only window further on is that one.
    const K = 64 * 1024;
    const M = 1024 * 1024;
    const data = fileOf(4 * M, 19);
    let gate: (() => void) | undefined;
    const gated = new Promise<void>((r) => (gate = r));
    const ra = new ReadAhead(
      {
        kind: 'stream',
        open: async (start, end) => {
          if (start === 3 * M + K) await gated; // the window of the read held back
          return Readable.from([Buffer.from(data.subarray(start, end + 1))]);
        },
      },
      data.length,
      { minWindow: K, maxWindow: M },
    );
    await check(ra, data, 3 * M, K);
    const held = [
      check(ra, data, 3 * M + K, K), // sequential: its (gated) window, and the next one fetched ahead
      check(ra, data, 3 * M + K + K / 2, K), // waits in the gated window, then reads on into the next
    ];
    await check(ra, data, M, K); // a seek: drops every window (the next one is cancelled)
    gate!();
    await Promise.all(held); // the second went on past the gated window: a new window, far ahead of the seeker
    await check(ra, data, M + K / 2, K); // sequential after the seek: runs off its window into the gap
    await ra.close();
  });

  it('a source that ends before the window does fails the read (ESTALE upstream), never a short answer', async () => {
    const data = fileOf(1024 * 1024, 17);
    const ra = new ReadAhead({ kind: 'stream', open: async (start, end) => Readable.from([Buffer.from(data.subarray(start, Math.min(end + 1, 300_000)))]) }, data.length, { minWindow: 64 * 1024 });
    await check(ra, data, 0, 4096);
    await assert.rejects(async () => ra.read(290_000, 65536, Buffer.alloc(65536)), (e: Error & { code?: string }) => e.code === 'Conflict' && /ended at byte 300000/.test(e.message));
    await ra.close();
  });
});

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
