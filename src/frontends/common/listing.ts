/**
 * Directory listing shared by front ends: the UFS listing of a resolved directory merged
 * with the virtual directories the snapshot knows there (mount names under `/`, path
 * components of rule sources). Names are relative to the REQUESTED path: the caller
 * resolved the requested path, the UFS side lists the rewritten target, and the virtual
 * side uses the requested (pre-rewrite) Alluxio path, exactly as the S3 listing does.
 *
 * Used by the REST front end, FUSE and the S3 lister (src/frontends/s3/listing.ts). The UFS
 * side is read through THE data path (data-path.ts), never through an adapter directly.
 */
import { isAlluxioError, type ErrorCode } from '../../domain/errors.js';
import { baseName, parentOf } from '../../domain/paths.js';
import type { Resolution } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { compareUtf8 } from '../../ufs/order.js';
import type { UfsEntry } from '../../ufs/types.js';
import type { FrontendContext } from '../context.js';
import { DataPath } from './data-path.js';
import { childLandsAt, traversalOf } from './traversal.js';

export interface MergedListing {
  /**
   * Children sorted by name (UTF-8 byte order), one per name: virtual directories win over
   * files of the same name, and so do directories of the UFS (object stores: `a` and `a/x`).
   * With `keepBoth` (S3) such a file and directory are both here, sorted as S3 sorts keys.
   */
  entries: UfsEntry[];
  /** The UFS had a directory there (listing succeeded). */
  ufsDirectory: boolean;
  /** The UFS has a FILE there (listing said NotADirectory). */
  ufsFile: boolean;
  /** Names contributed by the snapshot (mounts, rule sources). */
  virtual: string[];
  /**
   * The requested path is a directory: the UFS has one there, or the snapshot makes one
   * (isVirtualDirectory). False means "no such directory" (or a file: see ufsFile) in every
   * API alike: S3 NoSuchBucket / an empty prefix, FSSpec FileNotFoundError, FUSE ENOENT.
   */
  exists: boolean;
}

/**
 * True when the requested Alluxio path is a directory only because the snapshot says so:
 * it has virtual children, or it is itself a virtual child of its parent (`/model/latest`
 * of a rule `/model/latest -> /model/v3`).
 */
export function isVirtualDirectory(snap: Snapshot, alluxioPath: string): boolean {
  if (snap.virtualChildren(alluxioPath).length > 0) return true;
  if (alluxioPath === '/') return false;
  return snap.virtualChildren(parentOf(alluxioPath)).includes(baseName(alluxioPath));
}

/**
 * List a resolved directory (resolve with `allowUnmounted: true` so `/` and virtual-only
 * directories work). UFS NotFound / NotADirectory are reported through the flags, other
 * adapter errors propagate. `keepBoth` (S3): a file and a directory of one name (an object
 * store's `a` and `a/x`) are both kept, sorted as S3 sorts keys (`a` by `a`, the directory
 * by `a/`); otherwise one entry per name, sorted by name: the directory (REST), or with
 * `fileWins` the file, as a lookup of the name finds it (FUSE: docs/fuse.md, design 6).
 */
export async function listMerged(via: FrontendContext | DataPath, snap: Snapshot, res: Resolution, opts: { keepBoth?: boolean; fileWins?: boolean } = {}): Promise<MergedListing> {
  const dp = via instanceof DataPath ? via : new DataPath(via);
  const keepBoth = opts.keepBoth === true;
  const fileWins = opts.fileWins === true;
  /** Entries by their sort key: the name, or with keepBoth a directory's name + '/'. */
  const byName = new Map<string, UfsEntry>();
  const keyOf = (e: UfsEntry): string => (keepBoth && e.type === 'directory' ? e.name + '/' : e.name);
  const perName = (entries: UfsEntry[]): UfsEntry[] => (keepBoth ? entries : onePerName(entries, fileWins));
  let ufsDirectory = false;
  let ufsFile = false;
  const trav = traversalOf(snap, res);
  const t = dp.bindIfMounted(snap, res);
  if (t) {
    try {
      for (const e of perName(await dp.list(t))) {
        // Where children may resolve elsewhere, show a name only where reading it reaches this entry.
        if (!trav.mixed || childLandsAt(snap, res.alluxioPath, e.name, res, e.type)) byName.set(keyOf(e), e);
      }
      ufsDirectory = true;
    } catch (e) {
      if (!isAlluxioError(e)) throw e;
      if (e.code === 'NotADirectory') ufsFile = true;
      else if (e.code !== 'NotFound') throw e;
    }
  }
  // Per-component lookups (traversal.ts): children that land in other directories.
  let traversable = false;
  for (const alt of ufsFile ? [] : trav.alternatives) {
    let listed: UfsEntry[];
    try {
      const at = dp.bindIfMounted(snap, alt);
      if (!at) continue;
      listed = perName(await dp.list(at));
    } catch (e) {
      if (isAlluxioError(e) && UNREACHED.has(e.code)) continue;
      throw e;
    }
    traversable = true;
    for (const e of listed) if (!byName.has(keyOf(e)) && childLandsAt(snap, res.alluxioPath, e.name, alt, e.type)) byName.set(keyOf(e), e);
  }
  const virtual = snap.virtualChildren(res.alluxioPath);
  for (const v of virtual) {
    // A virtual directory hides a file of its name.
    const dir: UfsEntry = { name: v, type: 'directory', size: 0, mtimeMs: 0 };
    if (keepBoth) byName.delete(v);
    const cur = byName.get(keyOf(dir));
    if (!cur || cur.type !== 'directory') byName.set(keyOf(dir), dir);
  }
  const entries = [...byName].sort((a, b) => compareUtf8(a[0], b[0])).map(([, e]) => e);
  const exists = ufsDirectory || virtual.length > 0 || (!ufsFile && (traversable || isVirtualDirectory(snap, res.alluxioPath)));
  return { entries, ufsDirectory, ufsFile, virtual, exists };
}

/**
 * One entry per name: of a name an object store lists twice (object `a` and keys below
 * `a/`: the file, then the directory, UfsAdapter.list), the directory, so what lies below
 * it can be walked; with `fileWins`, the file.
 */
function onePerName(entries: UfsEntry[], fileWins: boolean): UfsEntry[] {
  return fileWins ? entries.filter((e, i) => entries[i - 1]?.name !== e.name) : entries.filter((e, i) => entries[i + 1]?.name !== e.name);
}

/**
 * A path whose own resolution reaches nothing is still a directory when a directory its
 * children land in exists (traversal.ts: where a prefix rule's excluded children fall
 * through, or where a regex rule sends them child-wise). For POSIX lookups and `info`.
 */
export async function isTraversable(dp: DataPath, snap: Snapshot, res: Resolution): Promise<boolean> {
  const trav = traversalOf(snap, res);
  for (const alt of trav.alternatives) {
    try {
      const at = dp.bindIfMounted(snap, alt);
      if (at && (await dp.stat(at))?.type === 'directory') return true;
    } catch (e) {
      if (isAlluxioError(e) && UNREACHED.has(e.code)) continue;
      throw e;
    }
  }
  return false;
}

/** An alternative directory (traversal.ts) that is not there, or in a UFS not served here, holds nothing. */
const UNREACHED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['NotFound', 'NotADirectory', 'UfsNotSupported']);
