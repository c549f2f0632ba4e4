/** The `worker start` flags of the cache and how they become a WorkerCache. */
import { Flags } from '@oclif/core';
import type { Logger } from 'pino';
import { AlluxioError } from '../domain/errors.js';
import { WorkerCache } from './cache.js';
import { parseByteSize } from './page-math.js';

export const cacheFlags = {
  'cache-dir': Flags.string({ summary: 'Cache UFS data in pages under this directory (default: no cache, read the UFS directly).' }),
  'cache-size': Flags.string({ default: '10GiB', summary: 'Quota of the cache directory (e.g. 200GiB); least recently used pages are evicted beyond it.' }),
  'cache-memory': Flags.string({ default: 'auto', summary: 'Memory tier in front of the disk (e.g. 2GiB; 0 = none; auto = an eighth of --cache-size, at most 256MiB).' }),
  'page-size': Flags.string({ default: '1MiB', summary: 'Cache page size (e.g. 1MiB, 4MiB). Pages of another size in the directory are dropped.' }),
};

/** The memory tier without --cache-memory: an eighth of the disk quota, at most 256 MiB. */
export const DEFAULT_MEMORY_MAX_BYTES = 256 * 1024 * 1024;
export function defaultMemoryBytes(capacityBytes: number): number {
  return Math.min(DEFAULT_MEMORY_MAX_BYTES, Math.floor(capacityBytes / 8));
}

function size(raw: string, flag: string, min: number): number {
  const n = parseByteSize(raw);
  if (n === null || n < min) throw new AlluxioError('InvalidArgument', `--${flag} "${raw}" is not a size such as 512MiB or 10GiB${min > 0 ? ` (at least ${min} bytes)` : ''}`);
  return n;
}

export async function openCacheFromFlags(flags: { 'cache-dir'?: string | undefined; 'cache-size': string; 'cache-memory': string; 'page-size': string }, log: Logger): Promise<WorkerCache | undefined> {
  if (!flags['cache-dir']) return undefined;
  const pageSize = size(flags['page-size'], 'page-size', 4096);
  if (pageSize > 64 * 1024 * 1024) throw new AlluxioError('InvalidArgument', `--page-size ${flags['page-size']} is more than 64MiB`);
  const capacityBytes = size(flags['cache-size'], 'cache-size', pageSize);
  const memoryBytes = flags['cache-memory'] === 'auto' ? defaultMemoryBytes(capacityBytes) : size(flags['cache-memory'], 'cache-memory', 0);
  try {
    return await WorkerCache.open({ dir: flags['cache-dir'], capacityBytes, pageSize, memoryBytes, log: log.child({ component: 'cache' }) });
  } catch (e) {
    throw new AlluxioError('InvalidArgument', `cannot use --cache-dir ${flags['cache-dir']}: ${(e as Error).message}`);
  }
}
