/**
 * Directory listing shared by front ends: the UFS listing of a resolved directory merged
 * with the virtual directories the snapshot knows there (mount names under `/`, path
 * components of rule sources). Names are relative to the REQUESTED path: the caller
 * resolved the requested path, the UFS side lists the rewritten target, and the virtual
 * side uses the requested (pre-rewrite) Alluxio path, exactly as the S3 listing does.
 *
 * Used by the REST front end and by the S3 lister (src/frontends/s3/listing.ts).
 */
import { isAlluxioError } from '../../domain/errors.js';
import { baseName, parentOf } from '../../domain/paths.js';
import type { Resolution } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { compareUtf8 } from '../../ufs/file.js';
import type { UfsEntry } from '../../ufs/types.js';
import type { FrontendContext } from '../context.js';

export interface MergedListing {
  /** Children sorted by name (UTF-8 byte order); virtual directories win over files of the same name. */
  entries: UfsEntry[];
  /** The UFS had a directory there (listing succeeded). */
  ufsDirectory: boolean;
  /** The UFS has a FILE there (listing said NotADirectory). */
  ufsFile: boolean;
  /** Names contributed by the snapshot (mounts, rule sources). */
  virtual: string[];
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
 * adapter errors propagate.
 */
export async function listMerged(ctx: FrontendContext, snap: Snapshot, res: Resolution): Promise<MergedListing> {
  const byName = new Map<string, UfsEntry>();
  let ufsDirectory = false;
  let ufsFile = false;
  if (res.mount && res.location) {
    const mount = snap.mount(res.mount.path);
    if (mount) {
      try {
        for (const e of await ctx.ufs(mount).list(res.location.relSegments)) byName.set(e.name, e);
        ufsDirectory = true;
      } catch (e) {
        if (!isAlluxioError(e)) throw e;
        if (e.code === 'NotADirectory') ufsFile = true;
        else if (e.code !== 'NotFound') throw e;
      }
    }
  }
  const virtual = snap.virtualChildren(res.alluxioPath);
  for (const v of virtual) {
    const cur = byName.get(v);
    if (!cur || cur.type !== 'directory') byName.set(v, { name: v, type: 'directory', size: 0, mtimeMs: 0 });
  }
  const entries = [...byName.values()].sort((a, b) => compareUtf8(a.name, b.name));
  return { entries, ufsDirectory, ufsFile, virtual };
}
