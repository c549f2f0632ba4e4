/**
 * S3 listings over the resolver: a key prefix is split at its last '/' into a directory
 * part (resolved through the snapshot like any request, so rules apply) and a name
 * prefix; directories are listed through the UFS adapter and names are computed relative
 * to the REQUESTED path (so a rewritten directory lists under the name the client asked
 * for). Virtual directories (mount names, rule sources) are merged in as directories.
 *
 * Order is S3's: UTF-8 byte order of whole keys. A depth-first walk yields it when the
 * children of each directory are ordered by `name` for files and `name + "/"` for
 * directories (every key under a directory starts with "name/").
 *
 * Without a delimiter the walk descends (resolving each sub-directory against the same
 * snapshot); with delimiter "/" it stops at the first level and reports directories as
 * common prefixes; any other delimiter groups the keys of the full walk.
 */
import { isAlluxioError } from '../../domain/errors.js';
import type { Snapshot } from '../../domain/snapshot.js';
import type { UfsEntry } from '../../ufs/types.js';
import { compareUtf8 } from '../../ufs/file.js';
import type { DataPath, DataTarget } from '../common/data-path.js';
import { isVirtualDirectory, listMerged } from '../common/listing.js';
import { fromAlluxio, s3err } from './errors.js';

export interface ListInput {
  bucket: string;
  prefix: string;
  delimiter: string;
  /** Keys (and common prefixes) <= marker are skipped (start-after / token / v1 marker). */
  marker: string;
  maxKeys: number;
}

export interface ListedObject {
  key: string;
  entry: UfsEntry;
}

export interface ListOutput {
  contents: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned (the next marker / token). */
  last: string | undefined;
}

type Item = { kind: 'object'; key: string; entry: UfsEntry } | { kind: 'prefix'; key: string };

const MAX_DEPTH = 256;

export class Lister {
  /** Directories resolved by this listing (each against the same snapshot). */
  resolutions = 0;

  constructor(
    private readonly dp: DataPath,
    private readonly snap: Snapshot,
  ) {}

  /**
   * Children of the directory `dirKey` ('' or 'a/b/') of the bucket, sorted for the walk. A
   * name that is an object and a directory in an object store (keys `a` and `a/x`) is both
   * here, as in S3; a virtual directory (mount, rule source) hides a file of its name.
   */
  async children(bucket: string, dirKey: string): Promise<{ name: string; entry: UfsEntry }[]> {
    return (await this.childrenOf(bucket, dirKey)).list;
  }

  /**
   * children(), and the directory's target when the UFS listed it (it exists there: an
   * empty one is a marker). The listing is THE shared one (common/listing.ts), as REST and
   * FUSE list: the UFS entries, the children that per-component lookups reach elsewhere
   * (a prefix rule's excluded children falling through, a regex rule's child-wise
   * targets), and the virtual directories; a file and a directory of one name both kept.
   */
  private async childrenOf(bucket: string, dirKey: string): Promise<{ list: { name: string; entry: UfsEntry }[]; listed: DataTarget | null }> {
    const key = dirKey.endsWith('/') ? dirKey.slice(0, -1) : dirKey;
    let res;
    try {
      this.resolutions++;
      res = this.dp.resolve(this.snap, { api: 's3', bucket, key }, { allowUnmounted: true });
    } catch (e) {
      if (isAlluxioError(e)) {
        if (key === '' || e.code !== 'InvalidPath') throw fromAlluxio(e, { bucket });
        return { list: [], listed: null }; // a name that cannot be a path has no children
      }
      throw e;
    }
    let merged;
    try {
      merged = await listMerged(this.dp, this.snap, res, { keepBoth: true });
    } catch (e) {
      throw isAlluxioError(e) ? fromAlluxio(e, { bucket }) : e;
    }
    // A bucket is a mount or a top-level virtual directory (ListBuckets shows both).
    if (key === '' && !res.mount && merged.virtual.length === 0 && !isVirtualDirectory(this.snap, res.alluxioPath)) throw s3err.noSuchBucket(bucket);
    const listed = merged.ufsDirectory ? this.dp.bindIfMounted(this.snap, res) : null;
    return { list: merged.entries.map((entry) => ({ name: entry.name, entry })), listed };
  }

  /**
   * `self`: the directory's entry from its parent's listing (none at the top of the walk).
   * An EMPTY directory of the UFS is what S3 calls a directory marker (`PUT dir/`, mkdir):
   * it is listed as the key `dir/` of no bytes, as S3 lists a marker object. A directory
   * with children is only their prefix (a marker beside children is not shown).
   */
  private async *walk(bucket: string, dirKey: string, namePrefix: string, delimiter: string, marker: string, depth: number, self?: UfsEntry): AsyncGenerator<Item> {
    if (depth > MAX_DEPTH) return;
    const { list, listed } = await this.childrenOf(bucket, dirKey);
    if (list.length === 0 && listed && dirKey !== '' && namePrefix === '' && compareUtf8(dirKey, marker) > 0) {
      const entry = self ?? (await this.dp.stat(listed).catch(() => null));
      if (entry?.type === 'directory') yield { kind: 'object', key: dirKey, entry };
      return;
    }
    for (const { name, entry } of list) {
      if (namePrefix && !name.startsWith(namePrefix)) continue;
      if (entry.type === 'file') {
        const key = dirKey + name;
        if (compareUtf8(key, marker) > 0) yield { kind: 'object', key, entry };
        continue;
      }
      const key = dirKey + name + '/';
      if (delimiter === '/') {
        if (compareUtf8(key, marker) > 0) yield { kind: 'prefix', key };
        continue;
      }
      // Whole subtree sorts at or before the marker: skip it without listing.
      if (marker && compareUtf8(marker, key) >= 0 && !marker.startsWith(key)) continue;
      yield* this.walk(bucket, key, '', delimiter, marker, depth + 1, entry);
    }
  }

  async list(input: ListInput): Promise<ListOutput> {
    const { bucket, prefix, delimiter, marker, maxKeys } = input;
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut < 0 ? '' : prefix.slice(0, cut + 1);
    const namePrefix = prefix.slice(cut + 1);
    const out: ListOutput = { contents: [], commonPrefixes: [], isTruncated: false, last: undefined };
    // Keys are canonical paths: no key starts with "/" or holds "//", so such a prefix
    // matches nothing (and must not list the bucket under invented names).
    if (prefix.startsWith('/') || prefix.includes('//')) return out;
    if (maxKeys === 0) return out;
    // With delimiter '/', a marker inside an already reported prefix skips that prefix.
    const effectiveMarker = marker;
    const walkDelim = delimiter === '/' ? '/' : '';
    let lastPrefix: string | undefined;
    let count = 0;
    const gen = this.walk(bucket, dirKey, namePrefix, walkDelim, effectiveMarker, 0);
    try {
      for await (const item of gen) {
        let emitted: Item = item;
        if (delimiter && delimiter !== '/' && item.kind === 'object') {
          const rest = item.key.slice(prefix.length);
          const i = rest.indexOf(delimiter);
          if (i >= 0) {
            const cp = prefix + rest.slice(0, i + delimiter.length);
            if (cp === lastPrefix) continue;
            if (compareUtf8(cp, marker) <= 0 || (marker.startsWith(cp) && marker !== cp)) {
              lastPrefix = cp;
              continue;
            }
            emitted = { kind: 'prefix', key: cp };
            lastPrefix = cp;
          }
        }
        if (count === maxKeys) {
          out.isTruncated = true;
          break;
        }
        count++;
        if (emitted.kind === 'object') out.contents.push({ key: emitted.key, entry: emitted.entry });
        else out.commonPrefixes.push(emitted.key);
        out.last = emitted.key;
      }
    } finally {
      await gen.return(undefined);
    }
    return out;
  }
}

export function encodeToken(last: string): string {
  return Buffer.from(last, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(token)) throw s3err.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  const s = Buffer.from(token, 'base64url').toString('utf8');
  // Only what encodeToken made: bytes that are not UTF-8 (decoded with U+FFFD) or padding
  // bits do not survive the round trip.
  if (encodeToken(s) !== token) throw s3err.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  return s;
}

