/**
 * An object read through its owners (docs/cluster-cache.md): the DataObject DataPath hands
 * out when another worker owns the file. Every range is asked of the first owner; a peer
 * that fails (refused, reset, timed out, a short body, an answer other than the bytes) is
 * marked suspect and the read continues FROM THE BYTE WHERE IT STOPPED on the next owner,
 * then on `fallback` (this worker's own cache when it is in the ring, else the UFS). Every
 * source serves exactly `ref` (URI + version), so the bytes spliced together are one version:
 * the client sees one body or an error, never a mix. A Conflict (the UFS holds another
 * version now) is not a failure of the peer: it ends the read, and the caller re-stats. A
 * NotFound is not one either: the fallback is asked (no peer marked suspect), and when it
 * too finds nothing the read ends and the caller forgets its metadata.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import type { RingMember } from '../cluster/ring.js';
import type { DataObject } from '../frontends/common/data-path.js';
import type { ByteRange, UfsEntry } from '../ufs/types.js';
import type { ObjectRef } from './page-store.js';
import type { PeerClient } from './peer-client.js';
import type { PageSource } from './source.js';
import { readPageFile } from './colocated.js';

export interface ClusterReadOptions {
  entry: UfsEntry;
  ref: ObjectRef;
  /** The owners to ask, in order (this process and recently failed peers excluded), asked for each range. */
  owners: () => readonly RingMember[];
  peers: PeerClient;
  /** Where to read when no owner could: this worker's cache, or the UFS. */
  fallback: PageSource;
  /** Called when a source reports another version, or none (the caller forgets its metadata). */
  onChanged?: () => void;
  log?: Logger;
}

export function clusterObject(o: ClusterReadOptions): DataObject {
  const { ref } = o;
  const bounds = (range?: ByteRange): ByteRange => (range ? { start: range.start, end: Math.min(range.end, ref.size - 1) } : { start: 0, end: ref.size - 1 });

  /** `signal`: the consumer went away (stream destroyed): end at once, no failover. */
  async function* bytesOf(range: ByteRange, signal?: AbortSignal): AsyncGenerator<Buffer> {
    let pos = range.start;
    try {
      for (const peer of o.owners()) {
        if (pos > range.end) return;
        try {
          // From `pos` to `end` over HTTP: the whole rest, or a gap between co-located pages.
          const http = async function* (end: number): AsyncGenerator<Buffer> {
            for await (const chunk of await o.peers.read(peer, ref, { start: pos, end }, signal)) {
              const c = chunk as Buffer;
              if (c.length > end - pos + 1) throw new AlluxioError('UfsUnavailable', `worker ${peer.name} sent more bytes than asked`);
              pos += c.length;
              o.peers.counters.bytes += c.length;
              yield c;
            }
            if (pos <= end) throw new AlluxioError('UfsUnavailable', `worker ${peer.name} ended the body at byte ${pos} of ${end + 1}`);
          };
          const files = o.peers.colocatedWith(peer) ? await o.peers.pageFiles(peer, ref, pos, range.end) : null;
          if (files) {
            // Co-located: the owner's page files read here, the pages it does not hold over HTTP.
            const ps = files.pageSize;
            const paths = new Map(files.pages.map((p) => [p.index, p.path]));
            while (pos <= range.end) {
              const index = Math.floor(pos / ps);
              const path = paths.get(index);
              const data = path === undefined ? null : await readPageFile(path, ref, index, ps);
              if (!data) {
                let next = index + 1;
                while (next * ps <= range.end && !paths.has(next)) next++;
                yield* http(Math.min(range.end, next * ps - 1));
                continue;
              }
              const off = pos - index * ps;
              const take = Math.min(data.length - off, range.end - pos + 1);
              pos += take;
              o.peers.counters.bytes += take;
              o.peers.counters.colocatedBytes += take;
              yield data.subarray(off, off + take);
            }
            return;
          }
          yield* http(range.end);
          return;
        } catch (e) {
          if ((isAlluxioError(e) && e.code === 'Conflict') || signal?.aborted) throw e;
          if (isAlluxioError(e) && e.code === 'NotFound') {
            // The owner found no such object (gone from the UFS behind Alluxio, or its mount
            // table behind ours): a fact about the object, not the peer's health. Not
            // suspect (that sent all it owns to the UFS for 5 s, cached twice); the fallback
            // decides, and answers NotFound itself when the object is gone.
            o.log?.debug({ peer: peer.name, uri: ref.uri, err: e.message }, 'the owner found no such object; asking the fallback');
            break;
          }
          o.peers.suspect(peer.name);
          const status = isAlluxioError(e) ? (e.details as { status?: number } | undefined)?.status : undefined;
          if (status === 401 || status === 403) {
            // Not a dead peer: a cluster whose workers do not share ALLUXIO_S3_CREDENTIALS,
            // which would silently bypass the owners' caches.
            o.log?.error({ peer: peer.name, status, err: (e as Error).message }, 'a peer refused our signature: every worker needs the same ALLUXIO_S3_CREDENTIALS');
          }
          o.log?.warn({ peer: peer.name, uri: ref.uri, at: pos, err: (e as Error).message }, 'peer read failed; continuing on the next owner');
        }
      }
      if (pos > range.end) return;
      for await (const chunk of await o.fallback.read(ref, { start: pos, end: range.end })) {
        pos += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      if (pos <= range.end) throw new AlluxioError('UfsUnavailable', `${ref.uri}: the UFS ended the read at byte ${pos} of ${range.end + 1}; the object may have changed`);
    } catch (e) {
      if (isAlluxioError(e) && (e.code === 'Conflict' || e.code === 'NotFound')) o.onChanged?.();
      throw e;
    }
  }

  return {
    entry: o.entry,
    bytes: async (range) => {
      const r = bounds(range);
      if (r.end < r.start) return Buffer.alloc(0);
      const parts: Buffer[] = [];
      for await (const c of bytesOf(r)) parts.push(c);
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    },
    stream: async (range) => {
      const r = bounds(range);
      // Destroying the stream aborts the peer request in flight: a generator cannot be
      // returned while it awaits, so without this a reader that closes a file whose owner
      // hangs would wait for the idle timeout.
      const ac = new AbortController();
      const rs = Readable.from(r.end < r.start ? [] : bytesOf(r, ac.signal), { objectMode: false });
      const destroy = rs._destroy.bind(rs);
      rs._destroy = (err: Error | null, cb: (e?: Error | null) => void) => {
        ac.abort();
        destroy(err, cb);
      };
      return rs;
    },
    ranges: true,
    close: () => {},
  };
}
