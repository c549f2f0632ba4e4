/**
 * Per-component lookups (resolution.md §2, "Per-component lookups"): rules match whole
 * paths, but a POSIX client walks one component at a time and a listing names one
 * directory. A directory D is traversable when some path BELOW it reaches something, even
 * where D's own resolution does not:
 *
 * - a prefix rule covering D whose exclude may match names below D: the excluded children
 *   fall through to later rules (or none), so they live in another directory than D's own
 *   rewrite (`--from /d/latest --to /d/v3 --exclude '.*\.csv'`: the CSVs under
 *   /d/latest/data stay there even where /d/v3/data does not exist);
 * - a regex rule that may match paths below D (`^/vx/([^/]+)/(.*)$`: /vx/any is a step
 *   towards /vx/any/f.txt, which the rule sends to /d/f.txt). Whether it can is exact
 *   (regex-prefix.ts); WHERE its children land is found by resolving a few probe children
 *   (`D/x`, `D/x.csv`, ...) through the real resolver: when a probe goes through the rule and
 *   lands at `T/probe`, the children of D map child-wise into T, which is then listed (and
 *   filtered name by name) like any other directory. A rule that maps children otherwise
 *   (`^/vq/(\w+)-(.*)$` sends /vq/abc-f.txt to /d/f.txt) makes no directory: its files
 *   are reachable by name only. So a missing path is never reported as a directory just
 *   because some pattern could match below it (that would break `create`).
 *
 * `traversalOf` computes, purely from the snapshot's rules, the other directories children
 * of D may land in and whether a pattern may take some of them elsewhere; `childLandsAt`
 * checks one listed name against its own whole-path resolution, so a listing shows a name
 * only where reading that name reaches the entry listed (every API agrees: the file at the
 * end always resolves through the rules as a whole path).
 */
import type { ParsedMount } from '../../domain/mounts.js';
import { isPathPrefix, joinPaths, normalizePath, parentOf, pathOf, segmentsOf, stripPathPrefix } from '../../domain/paths.js';
import { compilePattern } from '../../domain/regex.js';
import type { Resolution } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { joinUnderUfs } from '../../domain/ufs-uri.js';
import { mayMatchBelow } from './regex-prefix.js';

export interface Traversal {
  /**
   * Rewritten directories (canonical Alluxio paths, bound to their mounts) that children of
   * D may land in besides D's own rewrite, in rule order.
   */
  alternatives: Resolution[];
  /** A regex rule may match some path below D: some children may land elsewhere. */
  byPattern: boolean;
  /** Children may land somewhere other than "D's own location + name": check each listed name. */
  mixed: boolean;
}

const NONE: Traversal = { alternatives: [], byPattern: false, mixed: false };

/**
 * Where the children of the directory `res` (resolved with allowUnmounted) may land.
 * Pure: the snapshot's rules only (each pattern compiled once, cached by regex.ts).
 */
export function traversalOf(snap: Snapshot, res: Resolution): Traversal {
  if (snap.rules.length === 0) return NONE;
  const dir = res.alluxioPath;
  const dirs: string[] = [];
  let byPattern = false;
  let fallsThrough = true;
  for (const r of snap.rules) {
    if (!r.enabled) continue;
    const exclude = r.exclude !== undefined ? compilePattern(r.exclude, 'exclude pattern') : undefined;
    if (r.kind === 'prefix') {
      if (!isPathPrefix(r.src, dir)) continue; // unrelated, or below D (a virtual child of D's)
      dirs.push(joinPaths(r.dst, stripPathPrefix(r.src, dir)));
      if (!exclude || !mayMatchBelow(exclude, dir)) {
        fallsThrough = false; // every child is rewritten by this rule
        break;
      }
      continue; // the excluded children go on to later rules
    }
    if (!mayMatchBelow(compilePattern(r.src, 'source pattern'), dir)) continue;
    byPattern = true;
    for (const probe of PROBES) {
      const t = childWiseTarget(snap, dir, probe, r.id);
      if (t !== null) dirs.push(t);
    }
  }
  if (fallsThrough) dirs.push(dir);
  const alternatives: Resolution[] = [];
  const seen = new Set<string>([res.rewrittenPath]);
  for (const d of dirs) {
    if (seen.has(d)) continue;
    seen.add(d);
    const bound = bindDirectory(snap, res, d);
    if (bound) alternatives.push(bound);
  }
  return { alternatives, byPattern, mixed: byPattern || alternatives.length > 0 };
}

/** Child names tried to find where a pattern rule sends the children of a directory. */
const PROBES = ['x', 'x.x', 'x-x', 'x_x', '0', 'x.csv', 'x.txt', 'x.json', 'x.parquet', 'x.bin'];

/** When `dir/probe` goes through rule `ruleId` and lands at `T/probe`: T; else null. */
function childWiseTarget(snap: Snapshot, dir: string, probe: string, ruleId: string): string | null {
  let r: Resolution;
  try {
    r = snap.resolve({ api: 'alluxio', path: joinPaths(dir, '/' + probe) }, { allowUnmounted: true, trace: false });
  } catch {
    return null;
  }
  if (r.rule?.id !== ruleId || !r.rewrittenPath.endsWith('/' + probe)) return null;
  return parentOf(r.rewrittenPath);
}

/** A resolution of `res.alluxioPath` at the rewritten directory `rewritten` (null: no mount, or not joinable). */
function bindDirectory(snap: Snapshot, res: Resolution, rewritten: string): Resolution | null {
  const mount: ParsedMount | undefined = rewritten === '/' ? undefined : snap.mount(rewritten);
  if (!mount) return null;
  let location;
  try {
    location = joinUnderUfs(mount.ufs, segmentsOf(rewritten).slice(1));
  } catch {
    return null;
  }
  return {
    ...res,
    rewrittenPath: rewritten,
    mount: { path: mount.path, ufsUri: mount.ufsUri, readOnly: mount.readOnly },
    ufsUri: location.uri,
    location,
    trace: [],
  };
}

/**
 * Whether the child `name` of the requested directory `dir` (its Alluxio path), listed in
 * the UFS directory `listed` (a resolution of that directory), is what a lookup of
 * `dir/name` reaches: its whole-path resolution lands on exactly that entry, or (for a
 * listed directory) that directory is one its own children fall through to, so a lookup
 * finds it traversable. Names that cannot be Alluxio path segments never are.
 */
export function childLandsAt(snap: Snapshot, dir: string, name: string, listed: Resolution, type: 'file' | 'directory' = 'file'): boolean {
  if (!listed.ufsUri || !listed.location) return false;
  let child: string;
  try {
    child = normalizePath(joinPaths(dir, pathOf([name])));
  } catch {
    return false;
  }
  let r: Resolution;
  try {
    r = snap.resolve({ api: 'alluxio', path: child }, { allowUnmounted: true, trace: false });
  } catch {
    return false;
  }
  if (isChildOf(r, listed, name)) return true;
  return type === 'directory' && traversalOf(snap, r).alternatives.some((a) => isChildOf(a, listed, name));
}

/** `r` is the entry `name` directly inside the directory `listed` (same mount, one segment deeper). */
function isChildOf(r: Resolution, listed: Resolution, name: string): boolean {
  const want = listed.location!.relSegments;
  const got = r.location?.relSegments;
  if (!got || r.mount?.path !== listed.mount?.path || got.length !== want.length + 1 || got[got.length - 1] !== name) return false;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return false;
  return true;
}
