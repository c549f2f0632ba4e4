/**
 * UFS adapters per mount: created on first use, cached per (URI, options, read-only),
 * replaced when a mount's URI or options change (the replaced adapter is closed after a
 * grace period, so requests that took it from an older snapshot can finish), and closed
 * when the mount disappears (`retain`).
 */
import { AlluxioError } from '../domain/errors.js';
import type { ParsedMount } from '../domain/mounts.js';
import { SCHEMES } from '../domain/ufs-uri.js';
import { FileUfs } from './file.js';
import { S3Ufs } from './s3.js';
import type { UfsAdapter } from './types.js';

/** Create a fresh adapter for a mount (no caching). */
export function createUfsAdapter(mount: ParsedMount): UfsAdapter {
  switch (mount.ufs.scheme) {
    case 'file':
      return FileUfs.fromMount(mount);
    case 's3':
    case 's3a':
      return S3Ufs.fromMount(mount);
    default: {
      const info = SCHEMES[mount.ufs.scheme];
      throw new AlluxioError(
        'NotFound',
        `${mount.ufsUri}: the ${mount.ufs.scheme}:// UFS is ${info ? 'recognised in the mount table but not served by this worker yet' : 'unknown'}; served: file://, s3://, s3a://`,
      );
    }
  }
}

function cacheKey(m: ParsedMount): string {
  const opts = Object.keys(m.options)
    .sort()
    .map((k) => [k, m.options[k]]);
  return JSON.stringify([m.ufsUri, m.readOnly, opts]);
}

export class UfsRegistry {
  private readonly byKey = new Map<string, UfsAdapter>();
  /** mount path -> key it currently uses. */
  private readonly byPath = new Map<string, string>();
  private readonly graceMs: number;
  private readonly create: (m: ParsedMount) => UfsAdapter;

  constructor(opts: { graceMs?: number; create?: (m: ParsedMount) => UfsAdapter } = {}) {
    this.graceMs = opts.graceMs ?? 60_000;
    this.create = opts.create ?? createUfsAdapter;
  }

  adapterFor(mount: ParsedMount): UfsAdapter {
    const key = cacheKey(mount);
    let a = this.byKey.get(key);
    if (!a) {
      a = this.create(mount);
      this.byKey.set(key, a);
    }
    const old = this.byPath.get(mount.path);
    if (old !== key) {
      this.byPath.set(mount.path, key);
      if (old !== undefined && ![...this.byPath.values()].includes(old)) this.retire(old);
    }
    return a;
  }

  /** Keep adapters of these mounts only (call on every snapshot swap). */
  retain(mounts: readonly ParsedMount[]): void {
    const keep = new Set(mounts.map(cacheKey));
    for (const [path, key] of [...this.byPath]) {
      if (!keep.has(key)) this.byPath.delete(path);
    }
    for (const key of [...this.byKey.keys()]) if (!keep.has(key)) this.retire(key);
  }

  private retire(key: string): void {
    const a = this.byKey.get(key);
    if (!a) return;
    this.byKey.delete(key);
    const t = setTimeout(() => void a.close().catch(() => undefined), this.graceMs);
    t.unref();
  }

  get size(): number {
    return this.byKey.size;
  }

  async closeAll(): Promise<void> {
    const all = [...this.byKey.values()];
    this.byKey.clear();
    this.byPath.clear();
    await Promise.all(all.map((a) => a.close().catch(() => undefined)));
  }
}

/** Convenience for a process with one registry (the worker). */
const shared = new UfsRegistry();
export function adapterFor(mount: ParsedMount): UfsAdapter {
  return shared.adapterFor(mount);
}
export function sharedUfsRegistry(): UfsRegistry {
  return shared;
}
