/**
 * Page arithmetic of the worker cache (pure, no I/O): which pages a byte range touches, how
 * long each page of an object is, and the sizes a page is charged against the quota.
 */

/** One page's share of a byte range: bytes [offset, offset + length) of page `index`. */
export interface PageSlice {
  index: number;
  /** Offset inside the page. */
  offset: number;
  length: number;
}

/** Number of pages of an object of `size` bytes (0 for an empty object). */
export function pageCount(size: number, pageSize: number): number {
  return size <= 0 ? 0 : Math.ceil(size / pageSize);
}

/** Length of page `index` of an object of `size` bytes (the last page may be short). */
export function pageLength(size: number, index: number, pageSize: number): number {
  const start = index * pageSize;
  if (index < 0 || start >= size) return 0;
  return Math.min(pageSize, size - start);
}

/**
 * The pages a byte range [start, end] (inclusive) of an object of `size` bytes touches,
 * clamped to the object: `count` slices from page `first` (0 when the range is empty). O(1)
 * whatever the range: a reader takes its slices one at a time (`sliceAt`), so a range of a
 * huge object (or a size a peer request claims) costs no memory before its first byte.
 */
export interface SliceSpan {
  start: number;
  /** Last byte, clamped to the object. */
  last: number;
  first: number;
  count: number;
  pageSize: number;
}

export function sliceSpan(start: number, end: number, size: number, pageSize: number): SliceSpan {
  const last = Math.min(end, size - 1);
  if (start > last || start < 0) return { start, last, first: 0, count: 0, pageSize };
  const first = Math.floor(start / pageSize);
  return { start, last, first, count: Math.floor(last / pageSize) - first + 1, pageSize };
}

/** Slice `i` (0-based, < span.count) of a span. */
export function sliceAt(span: SliceSpan, i: number): PageSlice {
  const index = span.first + i;
  const pStart = index * span.pageSize;
  const from = Math.max(span.start, pStart);
  const to = Math.min(span.last, pStart + span.pageSize - 1);
  return { index, offset: from - pStart, length: to - from + 1 };
}

/** Filesystem block size a page file is rounded up to when charged against the quota. */
export const CHARGE_BLOCK = 4096;

/**
 * Bytes a page of `length` data bytes is charged against the quota: the page file (data +
 * trailer) rounded up to a 4 KiB block, so a cache of tiny objects cannot hold more than
 * quota / 4 KiB pages (the in-memory index stays bounded whatever the dataset).
 */
export function chargedBytes(length: number, trailer: number): number {
  return Math.ceil((length + trailer) / CHARGE_BLOCK) * CHARGE_BLOCK;
}

/** Group sorted page indexes into runs of consecutive pages, each at most `maxRun` long. */
export function runsOf(indexes: readonly number[], maxRun: number): number[][] {
  const runs: number[][] = [];
  let cur: number[] = [];
  for (const i of indexes) {
    if (cur.length > 0 && (i !== cur[cur.length - 1]! + 1 || cur.length >= maxRun)) {
      runs.push(cur);
      cur = [];
    }
    cur.push(i);
  }
  if (cur.length > 0) runs.push(cur);
  return runs;
}

/** Parse a byte size such as `200GiB`, `64MiB`, `1MiB`, `512KiB`, `1048576`, `10GB`. */
export function parseByteSize(raw: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(raw);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const pow = { '': 0, b: 0, k: 1, kb: 1, kib: 1, ki: 1, m: 2, mb: 2, mib: 2, mi: 2, g: 3, gb: 3, gib: 3, gi: 3, t: 4, tb: 4, tib: 4, ti: 4 }[unit];
  if (pow === undefined) return null;
  const base = unit.includes('i') || unit.length <= 1 ? 1024 : 1000;
  return Math.floor(n * base ** pow);
}
