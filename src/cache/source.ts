/**
 * Where the cache gets the bytes of a page it does not hold: a PageSource, the UFS of a mount
 * holding the object (UfsPageSource). Pages are keyed by ObjectRef (URI + version), never by
 * which worker or which mount asked, so the owner of a file in the cluster cache serves a
 * peer's read of the same ref from the same pages (docs/cluster-cache.md; reads through the
 * owners are src/cache/cluster-read.ts).
 */
import type { Readable } from 'node:stream';
import { AlluxioError } from '../domain/errors.js';
import { sliceOf, sliceStream } from '../ufs/body-slice.js';
import type { ByteRange, UfsAdapter } from '../ufs/types.js';
import type { ObjectRef } from './page-store.js';

export interface PageSource {
  /** What the source is, for logs and metrics labels (`ufs`, later `peer:<worker id>`). */
  readonly kind: string;
  /**
   * Stream bytes [range.start, range.end] of exactly the version `ref` names. A source that
   * can tell the object changed (a different ETag / size: file:// through its open file,
   * s3:// with If-Match) throws AlluxioError('Conflict').
   */
  read(ref: ObjectRef, range: ByteRange): Promise<Readable>;
  /** Optional: the same bytes in one buffer (small reads: less overhead than a stream). */
  readBuffer?(ref: ObjectRef, range: ByteRange): Promise<Buffer>;
}

/** The UFS of the request's mount, at the target's relative location. */
export class UfsPageSource implements PageSource {
  readonly kind = 'ufs';
  constructor(private readonly adapter: UfsAdapter, private readonly rel: readonly string[]) {}

  async read(ref: ObjectRef, range: ByteRange): Promise<Readable> {
    if (this.adapter.openRead) {
      // One open file: check it is still the version we key pages by, then read from it.
      const f = await this.adapter.openRead(this.rel);
      if (!f) throw new AlluxioError('NotFound', `${ref.uri} no longer exists in the UFS`);
      const v = versionOf(f.entry);
      if (v !== ref.version || f.entry.size !== ref.size) {
        f.close();
        throw new AlluxioError('Conflict', `${ref.uri} changed in the UFS while it was being read (version ${ref.version} -> ${v})`);
      }
      // exact: a page holds bytes of this version only; a file truncated and rewritten
      // larger in place while it is read passes for an append (the fuzz probe of 2026-12-02:
      // a page began with the old version and went on with the new one, served from the cache)
      return f.stream(range, { exact: true });
    }
    // Adapters with ETags check it per request (S3: If-Match), so no page of another
    // version is ever stored under this one's key.
    return this.adapter.read(this.rel, range, etagOfVersion(ref.version));
  }

  async readBuffer(ref: ObjectRef, range: ByteRange): Promise<Buffer> {
    const a = this.adapter;
    if (a.openRead || !a.readBuffer) {
      const parts: Buffer[] = [];
      for await (const c of await this.read(ref, range)) parts.push(c as Buffer);
      return Buffer.concat(parts);
    }
    return a.readBuffer(this.rel, range);
  }
}

/** The ETag a version names (`etag:<etag>`), else undefined. */
export function etagOfVersion(version: string): string | undefined {
  return version.startsWith('etag:') ? version.slice('etag:'.length) : undefined;
}

/** The version an entry is keyed by: its ETag, else size + mtime. */
export function versionOf(e: { etag?: string; size: number; mtimeMs: number }): string {
  return e.etag ? `etag:${e.etag}` : `sm:${e.size}:${e.mtimeMs}`;
}

/**
 * A source that already holds one response: the bytes from `start` of a request made before
 * the version was known (a cold open's first request: WorkerCache.open). The first read
 * starting at `start` gets that body (cut at the range's end); any other read, or a read
 * after it, goes to `next`. `discard()` drops the body if nobody took it.
 */
export class PrimedSource implements PageSource {
  readonly kind: string;
  private body: Readable | undefined;

  constructor(
    private readonly next: PageSource,
    private readonly start: number,
    body: Readable,
  ) {
    this.kind = next.kind;
    this.body = body;
  }

  async read(ref: ObjectRef, range: ByteRange): Promise<Readable> {
    const body = this.take(range);
    return body ? sliceStream(body, 0, range.end - range.start + 1) : this.next.read(ref, range);
  }

  async readBuffer(ref: ObjectRef, range: ByteRange): Promise<Buffer> {
    const body = this.take(range);
    if (!body) return this.next.readBuffer ? this.next.readBuffer(ref, range) : collect(await this.next.read(ref, range));
    const parts: Buffer[] = [];
    for await (const c of sliceOf(body, 0, range.end - range.start + 1)) parts.push(c);
    return Buffer.concat(parts);
  }

  discard(): void {
    this.body?.destroy();
    this.body = undefined;
  }

  private take(range: ByteRange): Readable | undefined {
    const body = this.body;
    this.body = undefined;
    if (body && range.start === this.start) return body;
    body?.destroy();
    return undefined;
  }
}

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
