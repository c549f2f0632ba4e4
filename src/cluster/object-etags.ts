/**
 * ETags declared for object versions, cluster-wide (docs/s3-api.md "Multipart ETags"). S3
 * reports a multipart object's ETag as "<md5 of the part md5s>-N"; the UFS knows nothing of
 * the parts (a file system has no ETag at all; an S3 UFS written in one stream has its own),
 * so CompleteMultipartUpload records the declared ETag against the version it wrote:
 *
 *   /alluxio/<cluster>/objects/etag/<sha256(uri)> = {"uri", "version", "etag", "at"}
 *
 * Every worker mirrors the prefix (./prefix-mirror.ts) and answers that ETag for GET, HEAD,
 * listings and conditions on any worker, for exactly that version: once the object is
 * replaced (another version) the record no longer applies. A write or delete through a worker
 * or a FUSE daemon (which mirrors the prefix too) deletes it at once. A record whose object
 * changed outside the workers stays, inert (it names a version that no longer exists), until
 * the next write through a worker: a worker whose metadata is stale cannot tell a newer
 * version from an older one, so none deletes a record on a mismatch.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { EtcdConnection } from '../store/connection.js';
import { PrefixMirror } from './prefix-mirror.js';

interface Declared {
  uri: string;
  version: string;
  etag: string;
  /** The record as stored: a stale record is deleted only if it is still this one. */
  raw: string;
}

/** What the front ends ask (FrontendContext.etags). */
export interface DeclaredEtags {
  /** How many declarations are known (0: nothing to look up). */
  readonly count: number;
  /** The ETag declared for this version of `uri` (unquoted), if any. */
  lookup(uri: string, version: string): string | undefined;
  /** Declare `etag` for `version` of `uri` (CompleteMultipartUpload). */
  declare(uri: string, version: string, etag: string): Promise<void>;
  /** The object at `uri` was written or deleted: drop its record. */
  forget(uri: string): void;
}

export class ObjectEtags implements DeclaredEtags {
  private byUri = new Map<string, Declared>();
  private readonly mirror: PrefixMirror;

  constructor(private readonly conn: EtcdConnection, private readonly log?: Logger) {
    this.mirror = new PrefixMirror(conn, conn.layout.objectEtagsPrefix, {
      what: 'declared object ETags',
      // events keep it current; a full read (the prefix grows with multipart objects) is rare
      resyncMs: 5 * 60_000,
      ...(log ? { log } : {}),
      onRead: (kvs) => {
        const next = new Map<string, Declared>();
        for (const v of kvs.values()) {
          try {
            const d = JSON.parse(v) as Partial<Declared>;
            if (typeof d.uri === 'string' && typeof d.version === 'string' && typeof d.etag === 'string') next.set(d.uri, { uri: d.uri, version: d.version, etag: d.etag, raw: v });
          } catch {
            /* not ours */
          }
        }
        this.byUri = next;
      },
    });
  }

  start(): Promise<void> {
    return this.mirror.start();
  }

  get count(): number {
    return this.byUri.size;
  }

  stop(): Promise<void> {
    return this.mirror.stop();
  }

  private key(uri: string): string {
    return this.conn.layout.objectEtagsPrefix + createHash('sha256').update(uri, 'utf8').digest('hex');
  }

  lookup(uri: string, version: string): string | undefined {
    const d = this.byUri.get(uri);
    if (!d) return undefined;
    return d.version === version ? d.etag : undefined;
  }

  async declare(uri: string, version: string, etag: string): Promise<void> {
    const raw = JSON.stringify({ uri, version, etag, at: new Date().toISOString() });
    await this.conn.call('declare an object ETag', (c) => c.put(this.key(uri)).value(raw).exec());
    this.byUri.set(uri, { uri, version, etag, raw }); // this worker answers with it at once; the others once their mirror reads it
  }

  forget(uri: string): void {
    const d = this.byUri.get(uri);
    if (d) this.drop(d);
  }

  /**
   * Delete a record, only if etcd still holds exactly it: a worker that saw the old record
   * must not delete the one another worker just declared for the new version.
   */
  private drop(d: Declared): void {
    if (this.byUri.get(d.uri) === d) this.byUri.delete(d.uri);
    const key = this.key(d.uri);
    void this.conn
      .call('forget an object ETag', (c) => c.if(key, 'Value', '==', d.raw).then(c.delete().key(key)).commit())
      .catch((e: Error) => this.log?.warn({ err: e.message, uri: d.uri }, 'could not delete a stale ETag record'));
  }
}
