/**
 * UFS adapters per mount: created on first use, cached per (URI, options[, read-only]),
 * replaced when a mount's URI or options change, and retired when the mount disappears
 * (`retain`). A retired adapter is closed only after a grace period (60 s by default), so
 * requests that took it from an older snapshot (an S3 GET streaming while a cutover
 * repoints the mount) can finish. Used by the worker and by the FUSE daemon.
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
        'UfsNotSupported',
        `${mount.ufsUri}: the ${mount.ufs.scheme}:// UFS is ${info ? 'recognised in the mount table but not served by this worker yet' : 'unknown'}; served: file://, s3://, s3a://`,
      );
    }
  }
}

function cacheKey(m: ParsedMount, withReadOnly: boolean): string {
  const opts = Object.keys(m.options)
    .sort()
    .map((k) => [k, m.options[k]]);
  return JSON.stringify(withReadOnly ? [m.ufsUri, m.readOnly, opts] : [m.ufsUri, opts]);
}

export interface UfsRegistryOptions {
  /** How long a retired adapter stays open for requests still using it, ms. */
  graceMs?: number;
  /** The adapter factory (default createUfsAdapter). */
  create?: (m: ParsedMount) => UfsAdapter;
  /**
   * Whether the read-only flag is part of the cache key (default true: the factory may
   * bake it in). The worker's factory creates adapters without read-only enforcement (its
   * front ends check the mode per request), so it passes false: flipping a mount's mode
   * then keeps the same adapter.
   */
  readOnlyInKey?: boolean;
}

export class UfsRegistry {
  private readonly byKey = new Map<string, UfsAdapter>();
  /** mount path -> key it currently uses. */
  private readonly byPath = new Map<string, string>();
  private readonly graceMs: number;
  private readonly create: (m: ParsedMount) => UfsAdapter;
  private readonly readOnlyInKey: boolean;
  /** Retired adapters waiting out their grace period (closed at once by closeAll). */
  private readonly retiring = new Map<UfsAdapter, NodeJS.Timeout>();
  private readonly keys = new WeakMap<ParsedMount, string>();

  constructor(opts: UfsRegistryOptions = {}) {
    this.graceMs = opts.graceMs ?? 60_000;
    this.create = opts.create ?? createUfsAdapter;
    this.readOnlyInKey = opts.readOnlyInKey ?? true;
  }

  adapterFor(mount: ParsedMount): UfsAdapter {
    // Per mount object (a snapshot's mounts are immutable): the key is JSON of the sorted
    // options, which cost more than the rest of a warm small read's lookup when built per request.
    let key = this.keys.get(mount);
    if (key === undefined) this.keys.set(mount, (key = cacheKey(mount, this.readOnlyInKey)));
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
    const keep = new Set(mounts.map((m) => cacheKey(m, this.readOnlyInKey)));
    for (const [path, key] of [...this.byPath]) {
      if (!keep.has(key)) this.byPath.delete(path);
    }
    for (const key of [...this.byKey.keys()]) if (!keep.has(key)) this.retire(key);
  }

  private retire(key: string): void {
    const a = this.byKey.get(key);
    if (!a) return;
    this.byKey.delete(key);
    const t = setTimeout(() => {
      this.retiring.delete(a);
      void a.close().catch(() => undefined);
    }, this.graceMs);
    t.unref();
    this.retiring.set(a, t);
  }

  /** Adapters in use (not counting retired ones in their grace period). */
  get size(): number {
    return this.byKey.size;
  }

  /** Retired adapters still open for requests in flight. */
  get retiringCount(): number {
    return this.retiring.size;
  }

  /** Close everything now, including retired adapters still in their grace period. */
  async closeAll(): Promise<void> {
    const all = [...this.byKey.values()];
    for (const [a, t] of this.retiring) {
      clearTimeout(t);
      all.push(a);
    }
    this.retiring.clear();
    this.byKey.clear();
    this.byPath.clear();
    await Promise.all(all.map((a) => a.close().catch(() => undefined)));
  }
}
