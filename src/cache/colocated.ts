/**
 * Co-located reads (docs/cluster-cache.md): a reader on the owner's host (the FUSE daemon
 * beside its worker) asks the owner which page files of a version it holds
 * (`GET /api/v1/peer/pages`, answered only to local peers) and reads them itself, instead of
 * receiving the same bytes over loopback HTTP. Each file is checked exactly as the owner
 * checks it (length, CRC, and the metadata naming this very URI, version and size); any
 * failure (evicted, corrupt, another object) makes that page a gap, read over HTTP.
 */
import { readFile } from 'node:fs/promises';
import type { ObjectRef } from './page-store.js';
import { checkPage } from './page-file.js';
import { pageLength } from './page-math.js';

/** A page listing of the owner: its page size, and the files it holds. */
export interface PageFiles {
  pageSize: number;
  pages: { index: number; path: string }[];
}

/** The data of page `index` of `ref` from a page file, or null when it is not exactly that page. */
export async function readPageFile(path: string, ref: ObjectRef, index: number, pageSize: number): Promise<Buffer | null> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch {
    return null;
  }
  const c = checkPage(file, pageLength(ref.size, index, pageSize), true, index);
  if (!c.ok) return null;
  try {
    const m = JSON.parse(c.meta.toString('utf8')) as Partial<ObjectRef & { pageSize: number }>;
    if (m.uri !== ref.uri || m.version !== ref.version || m.size !== ref.size || m.pageSize !== pageSize) return null;
  } catch {
    return null;
  }
  return c.data;
}
