/**
 * The impact of a change that --dry-run stopped before committing: the config diff, and
 * which paths would resolve differently before and after it (sample paths from --sample,
 * plus every mount root and prefix-rule source and destination of either config), and
 * the conflicts it would cause (a rule that no longer fires on its own source because an
 * earlier rule captures it, entries that would not validate).
 */
import { readFileSync } from 'node:fs';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import { applyChanges, changesOf, type DescribedChange } from '../domain/history.js';
import { normalizePath } from '../domain/paths.js';
import { Snapshot } from '../domain/snapshot.js';
import type { Layout } from '../store/layout.js';
import { decodeConfig } from '../store/codec.js';
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

export function dryRunReport(layout: Layout, stop: DryRun, samples: readonly string[], showSecrets = false): DryRunReport {
  const { state, ops } = stop;
  const changes = changesOf(state.raw, ops, (k) => layout.isConfigEntryKey(k));
  const afterRaw = applyChanges(state.raw, changes);
  const after = decodeConfig(layout, afterRaw);
  const before = Snapshot.build(state.revision, { mounts: state.mounts, rules: state.rules });
  const next = Snapshot.build(state.revision, { mounts: after.mounts, rules: after.rules });
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
  const conflicts = [...shadowed(next).filter((c) => !known.has(c)), ...after.invalid.map((i) => `${i.key} would not validate: ${i.error}`)];
  const described = describeChanges(layout, changes, showSecrets);
  return { dryRun: true, revision: state.revision, changes: described, impact, checked: paths.size, conflicts };
}
