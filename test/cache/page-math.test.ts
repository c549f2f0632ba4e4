/** The pure parts of the cache: page math, the LRU order, the page file format (no I/O). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chargedBytes, pageCount, pageLength, parseByteSize, runsOf, sliceAt, sliceSpan } from '../../src/cache/page-math.js';

/** Every slice of a range, in order, as the reader takes them one at a time. */
function slicesFor(start: number, end: number, size: number, pageSize: number) {
  const span = sliceSpan(start, end, size, pageSize);
  return Array.from({ length: span.count }, (_, i) => sliceAt(span, i));
}
import { Lru } from '../../src/cache/lru.js';
import { checkPage, encodePage, fileLength, readTrailer, TRAILER_BYTES } from '../../src/cache/page-file.js';

test('pageCount and pageLength: the last page is short, an empty object has none', () => {
  assert.equal(pageCount(0, 10), 0);
  assert.equal(pageCount(1, 10), 1);
  assert.equal(pageCount(10, 10), 1);
  assert.equal(pageCount(11, 10), 2);
  assert.equal(pageLength(25, 0, 10), 10);
  assert.equal(pageLength(25, 2, 10), 5);
  assert.equal(pageLength(25, 3, 10), 0);
  assert.equal(pageLength(25, -1, 10), 0);
});

test('slicesFor covers exactly the range, page by page, and clamps to the object', () => {
  // every range of a 37-byte object with 8-byte pages: slices concatenate to the range
  for (let s = 0; s < 37; s++) {
    for (let e = s; e < 40; e++) {
      const sl = slicesFor(s, e, 37, 8);
      let pos = s;
      for (const x of sl) {
        assert.equal(x.index * 8 + x.offset, pos);
        assert.ok(x.length > 0 && x.offset + x.length <= 8);
        pos += x.length;
      }
      assert.equal(pos, Math.min(e, 36) + 1, `range ${s}-${e}`);
    }
  }
  assert.deepEqual(slicesFor(5, 4, 37, 8), []);
  assert.deepEqual(slicesFor(37, 40, 37, 8), []);
  assert.deepEqual(slicesFor(0, 0, 0, 8), []);
  assert.deepEqual(slicesFor(7, 8, 37, 8), [
    { index: 0, offset: 7, length: 1 },
    { index: 1, offset: 0, length: 1 },
  ]);
});

test('runsOf groups consecutive pages up to a maximum run length', () => {
  assert.deepEqual(runsOf([], 4), []);
  assert.deepEqual(runsOf([0, 1, 2, 5, 6, 9], 4), [[0, 1, 2], [5, 6], [9]]);
  assert.deepEqual(runsOf([0, 1, 2, 3, 4, 5], 4), [[0, 1, 2, 3], [4, 5]]);
  assert.deepEqual(runsOf([3], 1), [[3]]);
});

test('chargedBytes rounds a page file up to 4 KiB blocks', () => {
  assert.equal(chargedBytes(1, TRAILER_BYTES), 4096);
  assert.equal(chargedBytes(4096 - TRAILER_BYTES, TRAILER_BYTES), 4096);
  assert.equal(chargedBytes(4096, TRAILER_BYTES), 8192);
  assert.equal(chargedBytes(1 << 20, TRAILER_BYTES), (1 << 20) + 4096);
});

test('parseByteSize reads binary and decimal units and refuses the rest', () => {
  assert.equal(parseByteSize('1MiB'), 1 << 20);
  assert.equal(parseByteSize('200GiB'), 200 * 2 ** 30);
  assert.equal(parseByteSize('64m'), 64 << 20);
  assert.equal(parseByteSize('10GB'), 10e9);
  assert.equal(parseByteSize('4096'), 4096);
  assert.equal(parseByteSize('0'), 0);
  assert.equal(parseByteSize('1.5KiB'), 1536);
  assert.equal(parseByteSize('ten'), null);
  assert.equal(parseByteSize('1PiB'), null);
  assert.equal(parseByteSize('-1'), null);
});

test('Lru: touch reorders, victims are the oldest until the incoming bytes fit', () => {
  const l = new Lru<string>();
  l.set('a', 10);
  l.set('b', 10);
  l.set('c', 10);
  assert.equal(l.weight, 30);
  assert.deepEqual(l.victims(0, 30), []);
  assert.deepEqual(l.victims(5, 30), ['a']);
  assert.ok(l.touch('a'));
  assert.deepEqual(l.victims(15, 30), ['b', 'c']);
  assert.ok(!l.touch('zz'));
  l.set('b', 1); // replace: new weight, most recent
  assert.equal(l.weight, 21);
  assert.deepEqual([...l.keys()], ['c', 'a', 'b']);
  assert.ok(l.delete('c'));
  assert.ok(!l.delete('c'));
  assert.equal(l.weight, 11);
  assert.equal(l.size, 2);
  // asking for more than everything: every key, oldest first
  assert.deepEqual(l.victims(1000, 10), ['a', 'b']);
});

test('page file: a valid page checks out; wrong length, magic, recorded length, data or metadata do not', () => {
  const data = Buffer.from('hello page bytes');
  const meta = Buffer.from('{"uri":"s3://b/k","version":"etag:1","size":16,"pageSize":4096}');
  const file = Buffer.concat(encodePage(data, meta, 3));
  assert.equal(file.length, fileLength(data.length, meta.length));
  const ok = checkPage(file, data.length);
  assert.ok(ok.ok && ok.data.equals(data) && ok.meta.equals(meta));
  assert.deepEqual(readTrailer(file.subarray(file.length - TRAILER_BYTES)), { dataLength: data.length, crc: readTrailer(file.subarray(file.length - TRAILER_BYTES))!.crc, metaLength: meta.length, index: 3 });
  assert.match((checkPage(file.subarray(1), data.length) as { reason: string }).reason, /magic|bytes/);
  assert.match((checkPage(file.subarray(0, 10), data.length) as { reason: string }).reason, /too short/);
  assert.match((checkPage(file, data.length - 1) as { reason: string }).reason, /records 16 bytes, expected 15/);
  const flipped = Buffer.from(file);
  flipped[3] = flipped[3]! ^ 1;
  assert.match((checkPage(flipped, data.length) as { reason: string }).reason, /checksum/);
  const metaFlipped = Buffer.from(file);
  metaFlipped[data.length + 2] = metaFlipped[data.length + 2]! ^ 1;
  assert.match((checkPage(metaFlipped, data.length) as { reason: string }).reason, /checksum/);
  const badMagic = Buffer.from(file);
  badMagic[file.length - TRAILER_BYTES] = badMagic[file.length - TRAILER_BYTES]! ^ 1;
  assert.match((checkPage(badMagic, data.length) as { reason: string }).reason, /magic/);
  assert.equal(readTrailer(Buffer.alloc(3)), null);
  const empty = Buffer.concat(encodePage(Buffer.alloc(0), meta, 0));
  assert.ok(checkPage(empty, 0).ok);
  // the page index: another page's file (a recycled file read late) is refused; a file that
  // records none (written before the index was) is judged by the rest
  assert.ok(checkPage(file, data.length, true, 3).ok);
  assert.match((checkPage(file, data.length, true, 4) as { reason: string }).reason, /holds page 3, expected page 4/);
  const noIndex = Buffer.from(file);
  noIndex.writeUInt32BE(0, noIndex.length - 4);
  assert.ok(checkPage(noIndex, data.length, true, 4).ok);
});

test('Lru: the order after any mix of set, touch and delete is the order of last use (against a reference)', () => {
  // A reference model: an array ordered by last use. Deterministic pseudo-random operations.
  const l = new Lru<number>();
  let ref: [number, number][] = [];
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  for (let i = 0; i < 5000; i++) {
    const k = rnd(40);
    const op = rnd(4);
    if (op === 0 || op === 1) {
      const w = 1 + rnd(9);
      l.set(k, w);
      ref = ref.filter(([x]) => x !== k);
      ref.push([k, w]);
    } else if (op === 2) {
      const had = ref.findIndex(([x]) => x === k);
      assert.equal(l.touch(k), had >= 0);
      if (had >= 0) ref.push(ref.splice(had, 1)[0]!);
    } else {
      const had = ref.some(([x]) => x === k);
      assert.equal(l.delete(k), had);
      ref = ref.filter(([x]) => x !== k);
    }
    if (i % 97 === 0) {
      assert.deepEqual([...l.keys()], ref.map(([x]) => x));
      assert.equal(l.weight, ref.reduce((a, [, w]) => a + w, 0));
      assert.equal(l.size, ref.length);
      const cap = 20 + rnd(20);
      const inc = rnd(10);
      let over = l.weight + inc - cap;
      const expect: number[] = [];
      for (const [x, w] of ref) {
        if (over <= 0) break;
        expect.push(x);
        over -= w;
      }
      assert.deepEqual(l.victims(inc, cap), expect);
    }
  }
  // deleting while iterating the keys
  for (const k of l.keys()) l.delete(k);
  assert.equal(l.size, 0);
  assert.equal(l.weight, 0);
  assert.deepEqual(l.victims(1, 0), []);
});

test('sliceSpan is O(1) whatever the range: a claimed 2^53-1 bytes in 4 KiB pages', () => {
  const huge = Number.MAX_SAFE_INTEGER;
  const span = sliceSpan(0, huge - 1, huge, 4096);
  assert.equal(span.count, Math.ceil(huge / 4096));
  assert.deepEqual(sliceAt(span, 0), { index: 0, offset: 0, length: 4096 });
  const last = sliceAt(span, span.count - 1);
  assert.equal(last.index * 4096 + last.offset + last.length, huge);
  assert.deepEqual(sliceAt(sliceSpan(4095, 4096, 10_000, 4096), 1), { index: 1, offset: 0, length: 1 });
  assert.equal(sliceSpan(10, 5, 100, 8).count, 0);
});
