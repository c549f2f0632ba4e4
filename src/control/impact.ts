/**
 * The impact of a change that --dry-run stopped before committing: the config diff, and
 * which paths would resolve differently before and after it (sample paths from --sample,
 * plus every mount root and prefix-rule source and destination of either config), and
 * the conflicts it would cause (a rule that no longer fires on its own source because an
 * earlier rule captures it, entries that would not validate).
 */
import { readFileSync } from 'node:fs';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import { applyChanges, changesOf, type DescribedChange, type KeyChange } from '../domain/history.js';
import type { ParsedMount } from '../domain/mounts.js';
import type { RuleSpec } from '../domain/rules.js';
import { normalizePath } from '../domain/paths.js';
import { Snapshot, type InvalidEntry } from '../domain/snapshot.js';
import type { Layout } from '../store/layout.js';
import { decodeConfig, type DecodedConfig } from '../store/codec.js';
import type { ConfigState } from '../store/config-store.js';
import type { DryRun } from '../store/dry-run.js';
import { describeChanges } from './history.js';

export interface PathImpact {
  path: string;
  before: string;
  after: string;
}

export interface DryRunReport {
  dryRun: true;
  /** The etcd revision the change was validated against. */
  revision: number;
  changes: DescribedChange[];
  impact: PathImpact[];
  /** Sample paths checked (given and built in). */
  checked: number;
  conflicts: string[];
}

/** Read --sample FILE: one Alluxio path per line; blank lines and # comments skipped. */
export function readSamples(file: string | undefined): string[] {
  if (file === undefined) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AlluxioError('InvalidArgument', `--sample ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const out: string[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    try {
      out.push(normalizePath(t));
    } catch (e) {
      throw new AlluxioError('InvalidArgument', `--sample ${file}:${i + 1}: ${isAlluxioError(e) ? e.message : String(e)}`);
    }
  }
  return out;
}

function outcome(snap: Snapshot, path: string): string {
  try {
    const r = snap.resolve({ api: 'alluxio', path }, { allowUnmounted: true, trace: false });
    const ro = r.mount?.readOnly ? ' (read-only)' : '';
    return r.ufsUri ? r.ufsUri + ro : `${r.rewrittenPath} (no mount)`;
  } catch (e) {
    return isAlluxioError(e) ? `error ${e.code}` : 'error';
  }
}

/** Prefix rules whose own source is captured by an earlier rule: they never fire on it. */
function shadowed(snap: Snapshot): string[] {
  const out: string[] = [];
  for (const r of snap.rules) {
    if (!r.enabled || r.kind !== 'prefix') continue;
    try {
      const res = snap.resolve({ api: 'alluxio', path: r.src }, { allowUnmounted: true, trace: false });
      if (res.rule && res.rule.id !== r.id) out.push(`rule ${r.id} (${r.src} -> ${r.dst}) no longer fires on ${r.src}: rule ${res.rule.id} captures it first`);
    } catch {
      // a source that does not resolve is reported by validation, not here
    }
  }
  return out;
}

/**
 * The snapshot after `changes`, derived from `before` as a worker applies a watch event
 * (Snapshot.apply): only the changed entries are decoded and only changed rules compiled.
 * Also the entries that would not validate afterwards, in key order of the new config.
 */
function afterChanges(layout: Layout, state: ConfigState, before: Snapshot, changes: readonly KeyChange[]): { next: Snapshot; invalid: InvalidEntry[] } {
  const changed = new Map<string, DecodedConfig | null>();
  const removeRules: string[] = [];
  const upsertRules: RuleSpec[] = [];
  let mountsChanged = false;
  for (const c of changes) {
    if (c.before !== null) for (const r of decodeConfig(layout, [[c.key, c.before]]).rules) removeRules.push(r.id);
    const now = c.after === null ? null : decodeConfig(layout, [[c.key, c.after]]);
    if (now) upsertRules.push(...now.rules);
    changed.set(c.key, now);
    if (c.key.startsWith(layout.mountsPrefix)) mountsChanged = true;
  }
  const mountOf = new Map(state.mounts.map((m) => [layout.mountKey(m.path), m]));
  const invalidOf = new Map<string, InvalidEntry[]>();
  for (const i of state.invalid) invalidOf.set(i.key, [...(invalidOf.get(i.key) ?? []), i]);
  const mounts: ParsedMount[] = [];
  const invalid: InvalidEntry[] = [];
  for (const key of applyChanges(state.raw, changes).keys()) {
    const now = changed.get(key);
    if (now !== undefined) {
      mounts.push(...(now?.mounts ?? []));
      invalid.push(...(now?.invalid ?? []));
      continue;
    }
    const m = mountOf.get(key);
    if (m) mounts.push(m);
    invalid.push(...(invalidOf.get(key) ?? []));
  }
  const next = before.apply(before.revision, { removeRules, upsertRules, ...(mountsChanged ? { mounts } : {}) });
  return { next, invalid };
}

export function dryRunReport(layout: Layout, stop: DryRun, samples: readonly string[], showSecrets = false): DryRunReport {
  const { state, ops } = stop;
  const changes = changesOf(state.raw, ops, (k) => layout.isConfigEntryKey(k));
  const before = Snapshot.build(state.configRevision, { mounts: state.mounts, rules: state.rules });
  const { next, invalid } = afterChanges(layout, state, before, changes);
  const paths = new Set<string>(samples);
  for (const s of [before, next]) {
    for (const m of s.mounts) paths.add(m.path);
    for (const r of s.rules) if (r.kind === 'prefix') (paths.add(r.src), paths.add(r.dst));
  }
  const impact: PathImpact[] = [];
  for (const p of [...paths].sort()) {
    const a = outcome(before, p);
    const b = outcome(next, p);
    if (a !== b) impact.push({ path: p, before: a, after: b });
  }
  const known = new Set(shadowed(before));
  const conflicts = [...shadowed(next).filter((c) => !known.has(c)), ...invalid.map((i) => `${i.key} would not validate: ${i.error}`)];
  const described = describeChanges(layout, changes, showSecrets);
  return { dryRun: true, revision: state.configRevision, changes: described, impact, checked: paths.size, conflicts };
}
