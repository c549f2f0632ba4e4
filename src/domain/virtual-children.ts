/**
 * The names that appear virtually under a directory (mount names under `/`; the path
 * components of enabled rule sources), kept as reference counts so that a Snapshot derived
 * from the previous one (one rule added, removed or toggled) updates them without walking
 * every rule again. Immutable: `apply` returns a new index sharing every directory it did
 * not touch.
 */
import type { ParsedMount } from './mounts.js';
import { normalizePath, pathOf, segmentsOf } from './paths.js';
import type { CompiledRule } from './rule-index.js';
import { CowMap } from './cow-map.js';

type Counts = ReadonlyMap<string, number>;

/** The plain-path part of a regex literal prefix (complete segments only), or null. */
function plainDirOf(literal: string, wholeLiteral: boolean): string | null {
  if (!literal.startsWith('/')) return null;
  let cand = wholeLiteral ? literal : literal.slice(0, literal.lastIndexOf('/'));
  if (cand === '') cand = '/';
  try {
    return normalizePath(cand) === cand ? cand : null;
  } catch {
    return null;
  }
}

/** (dir, name) pairs a rule contributes: every component of its source's plain path. */
function ruleEntries(c: CompiledRule): [string, string][] {
  if (!c.spec.enabled) return [];
  const dir = c.spec.kind === 'prefix' ? c.spec.src : plainDirOf(c.pattern!.literal, c.pattern!.wholeLiteral);
  if (!dir) return [];
  const segs = segmentsOf(dir);
  return segs.map((s, i) => [pathOf(segs.slice(0, i)), s]);
}

const mountEntries = (m: ParsedMount): [string, string][] => [['/', m.name]];

export class VirtualChildren {
  private readonly sorted = new Map<string, readonly string[]>();

  private constructor(private readonly counts: CowMap<Counts>) {}

  static build(mounts: readonly ParsedMount[], rules: readonly CompiledRule[]): VirtualChildren {
    return new VirtualChildren(CowMap.empty()).apply({ addMounts: mounts, addRules: rules });
  }

  /** A new index with these contributions removed and added. */
  apply(d: { removeMounts?: readonly ParsedMount[]; addMounts?: readonly ParsedMount[]; removeRules?: readonly CompiledRule[]; addRules?: readonly CompiledRule[] }): VirtualChildren {
    const counts = this.counts.edit();
    const copied = new Map<string, Map<string, number>>();
    const bump = ([dir, name]: [string, string], by: number): void => {
      let m = copied.get(dir);
      if (!m) copied.set(dir, (m = new Map(counts.get(dir) ?? [])));
      const n = (m.get(name) ?? 0) + by;
      if (n > 0) m.set(name, n);
      else m.delete(name);
    };
    for (const m of d.removeMounts ?? []) for (const e of mountEntries(m)) bump(e, -1);
    for (const c of d.removeRules ?? []) for (const e of ruleEntries(c)) bump(e, -1);
    for (const m of d.addMounts ?? []) for (const e of mountEntries(m)) bump(e, 1);
    for (const c of d.addRules ?? []) for (const e of ruleEntries(c)) bump(e, 1);
    for (const [dir, m] of copied) {
      if (m.size > 0) counts.set(dir, m);
      else counts.delete(dir);
    }
    return new VirtualChildren(counts.done());
  }

  /** Sorted, unique names directly under canonical `dir` (sorted once per index and dir). */
  of(dir: string): readonly string[] {
    let s = this.sorted.get(dir);
    if (!s) {
      s = [...(this.counts.get(dir)?.keys() ?? [])].sort();
      this.sorted.set(dir, s);
    }
    return s;
  }

  /** Every directory with its children, sorted (tests compare an updated index with a rebuilt one). */
  entries(): [string, readonly string[]][] {
    return [...this.counts.keys()].sort().map((d) => [d, this.of(d)]);
  }
}
