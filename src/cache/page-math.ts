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
 * The page slices covering bytes [start, end] (inclusive) of an object of `size` bytes, in
 * order. The range is clamped to the object; an empty list when it is empty.
 */
export function slicesFor(start: number, end: number, size: number, pageSize: number): PageSlice[] {
  const last = Math.min(end, size - 1);
  if (start > last || start < 0) return [];
  const out: PageSlice[] = [];
  for (let i = Math.floor(start / pageSize); i * pageSize <= last; i++) {
    const pStart = i * pageSize;
    const from = Math.max(start, pStart);
    const to = Math.min(last, pStart + pageSize - 1);
    out.push({ index: i, offset: from - pStart, length: to - from + 1 });
  }
  return out;
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
