/**
 * Rules compiled into lookup structures, so that resolving stays flat as rules grow, and
 * kept up to date INCREMENTALLY, so that a worker applies a one-rule change without
 * recompiling the other 10,000:
 *
 * - Every enabled rule is filed under one canonical directory key: a prefix rule under its
 *   source (`/model/latest`), a regex rule under the deepest complete directory of its
 *   literal prefix (`^/team/(.*)$` under `/team`, `^/team-(\w+)/...` under `/`).
 * - A lookup walks the keys that are segment prefixes of the path (`/`, `/a`, `/a/b`, ...:
 *   one Map probe each, independent of the number of rules) and keeps the matching rule
 *   that comes first in (order, id) order, so "the first rule in order that matches wins"
 *   holds across prefix and regex rules alike. Within one key entries are sorted in that
 *   order, so a scan stops at the first entry that cannot beat the best so far.
 * - Regex candidates are prefiltered by their literal prefix before RE2 runs.
 * - An index is immutable (a Snapshot that holds it may still be serving requests).
 *   `apply` derives a new one from a few removed / added / updated rules: only those are
 *   validated and compiled, only their keys' lists are copied; the rest is shared (the maps
 *   are copy-on-write by bucket, cow-map.ts). Order is
 *   compared on (order, id) directly, never as a position, so an insert renumbers nothing.
 *   The property test (test/domain/rule-index-incremental.test.ts) proves `apply` equal to
 *   `build` from scratch, structure and resolutions alike.
 *
 * Longer than ~300 lines on purpose: build, apply and match share one invariant (every list
 * sorted by (order, id), every rule filed under exactly one key) and stay side by side.
 */
import { AlluxioError } from './errors.js';
import { isPathPrefix, stripPathPrefix, joinPaths } from './paths.js';
import { capturesOf, compilePattern, compileTemplate, expandTemplate, type CompiledPattern, type CompiledTemplate } from './regex.js';
import { parseRuleSpec } from './rule-validation.js';
import { compareRules, type RuleSpec } from './rules.js';
import { CowMap } from './cow-map.js';

export interface CompiledRule {
  spec: RuleSpec;
  /** Directory key the rule is filed under. */
  key: string;
  /** regex only */
  pattern?: CompiledPattern;
  template?: CompiledTemplate;
  exclude?: CompiledPattern;
}

export interface RuleMatch {
  rule: CompiledRule;
  /** The rewritten path, before normalisation. */
  raw: string;
  captures?: Record<string, string>;
}

export interface FailedRule {
  rule: RuleSpec;
  error: string;
}

/** The deepest complete directory of a literal prefix: `/a/b/c` -> `/a/b` (or the whole thing if it is all literal). */
function directoryKey(literal: string, wholeLiteral: boolean): string {
  if (!literal.startsWith('/')) return '/';
  if (wholeLiteral && canonicalish(literal)) return literal;
  const i = literal.lastIndexOf('/');
  const dir = i <= 0 ? '/' : literal.slice(0, i);
  return canonicalish(dir) ? dir : '/';
}

function canonicalish(p: string): boolean {
  if (p === '/') return true;
  if (!p.startsWith('/') || p.endsWith('/') || p.includes('//')) return false;
  return !p.split('/').some((s) => s === '.' || s === '..');
}

export function compileRule(spec: RuleSpec): CompiledRule {
  if (spec.kind === 'prefix') {
    return { spec, key: spec.src, ...(spec.exclude !== undefined ? { exclude: compilePattern(spec.exclude, 'exclude pattern') } : {}) };
  }
  const pattern = compilePattern(spec.src, 'source pattern');
  const template = compileTemplate(spec.dst, pattern);
  return {
    spec,
    key: directoryKey(pattern.literal, pattern.wholeLiteral),
    pattern,
    template,
    ...(spec.exclude !== undefined ? { exclude: compilePattern(spec.exclude, 'exclude pattern') } : {}),
  };
}

export interface IndexBuild {
  index: RuleIndex;
  /** Rules that failed to validate or compile (skipped, never thrown), in (order, id) order. */
  failed: FailedRule[];
}

/** One change to apply: rules removed by id, rules added or replaced (by id; the last one of an id wins). */
export interface RuleChanges {
  remove?: readonly string[];
  upsert?: readonly RuleSpec[];
}

/** The index's shape, for tests comparing an incrementally maintained index with a rebuilt one. */
export interface RuleIndexStructure {
  compiled: string[];
  byKey: [string, string[]][];
  failed: [string, string][];
}

const before = (a: CompiledRule, b: CompiledRule): boolean => compareRules(a.spec, b.spec) < 0;

/** Index of the first element of sorted `list` that `c` goes before (where to insert it). */
function insertionPoint(list: readonly CompiledRule[], c: CompiledRule): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(list[mid]!, c)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function removeFrom(list: CompiledRule[], c: CompiledRule): void {
  const i = insertionPoint(list, c);
  if (list[i] === c) list.splice(i, 1);
  else {
    const j = list.indexOf(c); // not reached while (order, id) is unique; kept as a safe fallback
    if (j >= 0) list.splice(j, 1);
  }
}

function compileOrFail(r: RuleSpec): CompiledRule | FailedRule {
  try {
    return compileRule(parseRuleSpec(r));
  } catch (e) {
    return { rule: r, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Above this many changes at once, `apply` rebuilds the ordered list by sorting instead of splicing. */
const SPLICE_LIMIT = 64;

export class RuleIndex {
  /** Every rule that compiled, in (order, id) order, enabled or not. */
  readonly compiled: readonly CompiledRule[];
  /** key -> enabled rules filed under it, in (order, id) order */
  private readonly byKey: CowMap<readonly CompiledRule[]>;
  private readonly byId: CowMap<CompiledRule>;
  private readonly failedById: ReadonlyMap<string, FailedRule>;
  private readonly hasRoot: boolean;

  private constructor(compiled: readonly CompiledRule[], byKey: CowMap<readonly CompiledRule[]>, byId: CowMap<CompiledRule>, failed: ReadonlyMap<string, FailedRule>) {
    this.compiled = compiled;
    this.byKey = byKey;
    this.byId = byId;
    this.failedById = failed;
    this.hasRoot = byKey.has('/');
  }

  static empty(): RuleIndex {
    return new RuleIndex([], CowMap.empty(), CowMap.empty(), new Map());
  }

  /**
   * Compile `sorted` (sorted by order, then id) from scratch. Invalid ones are reported, not
   * thrown; a second rule with an id already seen is reported too (the first one is used).
   */
  static build(sorted: readonly RuleSpec[]): IndexBuild {
    const compiled: CompiledRule[] = [];
    const byKey = new Map<string, CompiledRule[]>();
    const byId = new Map<string, CompiledRule>();
    const failed = new Map<string, FailedRule>();
    for (const r of sorted) {
      if (byId.has(r.id) || failed.has(r.id)) {
        failed.set(`${r.id}\u0000${compiled.length}`, { rule: r, error: `duplicate rule id ${r.id}; the first one in order is used` });
        continue;
      }
      const c = compileOrFail(r);
      if (!('spec' in c)) {
        failed.set(r.id, c);
        continue;
      }
      compiled.push(c);
      byId.set(c.spec.id, c);
      if (!c.spec.enabled) continue;
      let list = byKey.get(c.key);
      if (!list) byKey.set(c.key, (list = []));
      list.push(c);
    }
    const index = new RuleIndex(compiled, CowMap.from(byKey), CowMap.from(byId), failed);
    return { index, failed: index.failed() };
  }

  /**
   * A new index with `changes` applied; this one is left as it was. Cost: the changed rules
   * are validated and compiled, the lists of their keys copied, the buckets of two
   * copy-on-write maps they fall in copied; nothing else is recompiled or re-sorted.
   */
  apply(changes: RuleChanges): IndexBuild {
    const upserts = new Map<string, RuleSpec>();
    for (const r of changes.upsert ?? []) upserts.set(r.id, r);
    const ids = new Set<string>(changes.remove ?? []);
    for (const id of upserts.keys()) ids.add(id);
    if (ids.size === 0) return { index: this, failed: this.failed() };

    const byKey = this.byKey.edit();
    const byId = this.byId.edit();
    const failed = new Map(this.failedById);
    const copied = new Map<string, CompiledRule[]>();
    const listOf = (key: string): CompiledRule[] => {
      let l = copied.get(key);
      if (!l) copied.set(key, (l = [...(byKey.get(key) ?? [])]));
      return l;
    };
    const removed: CompiledRule[] = [];
    const added: CompiledRule[] = [];
    for (const id of ids) {
      failed.delete(id);
      const old = byId.get(id);
      if (!old) continue;
      byId.delete(id);
      removed.push(old);
      if (old.spec.enabled) removeFrom(listOf(old.key), old);
    }
    for (const r of upserts.values()) {
      const c = compileOrFail(r);
      if (!('spec' in c)) {
        failed.set(r.id, c);
        continue;
      }
      byId.set(c.spec.id, c);
      added.push(c);
      if (c.spec.enabled) {
        const l = listOf(c.key);
        l.splice(insertionPoint(l, c), 0, c);
      }
    }
    for (const [key, l] of copied) {
      if (l.length > 0) byKey.set(key, l);
      else byKey.delete(key);
    }
    let compiled: CompiledRule[];
    if (removed.length + added.length > SPLICE_LIMIT) {
      const gone = new Set(removed);
      compiled = this.compiled.filter((c) => !gone.has(c));
      compiled.push(...added);
      compiled.sort((a, b) => compareRules(a.spec, b.spec));
    } else {
      compiled = [...this.compiled];
      for (const c of removed) removeFrom(compiled, c);
      for (const c of added) compiled.splice(insertionPoint(compiled, c), 0, c);
    }
    const index = new RuleIndex(compiled, byKey.done(), byId.done(), failed);
    return { index, failed: index.failed() };
  }

  get size(): number {
    return this.compiled.length;
  }

  /** The compiled rule of an id, if it compiled. */
  get(id: string): CompiledRule | undefined {
    return this.byId.get(id);
  }

  /** Rules that failed to validate or compile, in (order, id) order. */
  failed(): FailedRule[] {
    return [...this.failedById.values()].sort((a, b) => compareRules(a.rule, b.rule));
  }

  structure(): RuleIndexStructure {
    const ids = (l: readonly CompiledRule[]) => l.map((c) => c.spec.id);
    return {
      compiled: ids(this.compiled),
      byKey: [...this.byKey].map(([k, l]): [string, string[]] => [k, ids(l)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
      failed: this.failed().map((f): [string, string] => [f.rule.id, f.error]),
    };
  }

  /**
   * The first enabled rule (in order) that matches canonical `path` and does not exclude
   * it, with the rewritten (not yet normalised) path. `tried` collects rules that were
   * evaluated, for the trace.
   */
  match(path: string, tried?: { id: string; matched: boolean; excluded?: boolean }[]): RuleMatch | null {
    let best: CompiledRule | null = null;
    // Buckets are scanned by directory key, not in evaluation order: the trace is put in
    // that order afterwards, and ends at the winner (what a rule-by-rule evaluation tries).
    const seen: Tried[] | undefined = tried ? [] : undefined;
    if (this.hasRoot) best = scan(this.byKey.get('/')!, path, best, seen);
    if (path !== '/' && this.byKey.size > 0) {
      let i = path.indexOf('/', 1);
      for (;;) {
        const key = i < 0 ? path : path.slice(0, i);
        const list = this.byKey.get(key);
        if (list) best = scan(list, path, best, seen);
        if (i < 0) break;
        i = path.indexOf('/', i + 1);
      }
    }
    if (tried && seen) {
      seen.sort((a, b) => compareRules(a.rule.spec, b.rule.spec));
      for (const t of seen) {
        if (best && before(best, t.rule)) break;
        tried.push(t.entry);
      }
    }
    return best ? rewrite(best, path) : null;
  }
}

/** A rule evaluated for the trace. */
interface Tried {
  rule: CompiledRule;
  entry: { id: string; matched: boolean; excluded?: boolean };
}

/** The first rule of `list` that matches and comes before `best`, or `best`. Tests only: no captures yet. */
function scan(list: readonly CompiledRule[], path: string, best: CompiledRule | null, tried: Tried[] | undefined): CompiledRule | null {
  for (const c of list) {
    if (best && !before(c, best)) break;
    const m = matches(c, path);
    if (m === undefined) continue; // prefilter said no: not worth a trace line
    if (!m) {
      tried?.push({ rule: c, entry: { id: c.spec.id, matched: false } });
      continue;
    }
    if (c.exclude && c.exclude.re.test(path)) {
      tried?.push({ rule: c, entry: { id: c.spec.id, matched: true, excluded: true } });
      continue;
    }
    tried?.push({ rule: c, entry: { id: c.spec.id, matched: true } });
    return c; // later entries of this list come later in order
  }
  return best;
}

/** undefined: ruled out by the prefilter; false: tried and did not match. RE2 `test` is far cheaper than `exec`. */
function matches(c: CompiledRule, path: string): boolean | undefined {
  if (c.spec.kind === 'prefix') return isPathPrefix(c.spec.src, path) ? true : undefined;
  const pat = c.pattern!;
  if (pat.literal !== '' && !path.startsWith(pat.literal)) return undefined;
  return pat.re.test(path);
}

/** Apply the winning rule (exec once, for the captures). */
function rewrite(c: CompiledRule, path: string): RuleMatch {
  if (c.spec.kind === 'prefix') return { rule: c, raw: joinPaths(c.spec.dst, stripPathPrefix(c.spec.src, path)) };
  const m = c.pattern!.re.exec(path);
  if (!m) throw new AlluxioError('Internal', `rule ${c.spec.id} matched ${path} in test but not in exec`, { step: 'rule' });
  return { rule: c, raw: expandTemplate(c.template!, m), captures: capturesOf(m) };
}
