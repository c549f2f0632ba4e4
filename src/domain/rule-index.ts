/**
 * Rules compiled once per snapshot into lookup structures, so that resolving stays flat
 * as rules grow:
 *
 * - Every enabled rule is filed under one canonical directory key: a prefix rule under its
 *   source (`/model/latest`), a regex rule under the deepest complete directory of its
 *   literal prefix (`^/team/(.*)$` under `/team`, `^/team-(\w+)/...` under `/`).
 * - A lookup walks the keys that are segment prefixes of the path (`/`, `/a`, `/a/b`, ...:
 *   one Map probe each, independent of the number of rules) and keeps the matching rule of
 *   lowest rank. Rank is the position in (order, id) order, so "the first rule in order that
 *   matches wins" holds across prefix and regex rules alike. Within one key entries are
 *   sorted by rank, so a scan stops at the first entry that cannot beat the best so far.
 * - Regex candidates are prefiltered by their literal prefix before RE2 runs.
 */
import { AlluxioError } from './errors.js';
import { isPathPrefix, stripPathPrefix, joinPaths } from './paths.js';
import { capturesOf, compilePattern, compileTemplate, expandTemplate, type CompiledPattern, type CompiledTemplate } from './regex.js';
import { parseRuleSpec } from './rule-validation.js';
import type { RuleSpec } from './rules.js';

export interface CompiledRule {
  spec: RuleSpec;
  /** Position in evaluation order (0 = tried first). */
  rank: number;
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

export function compileRule(spec: RuleSpec, rank: number): CompiledRule {
  if (spec.kind === 'prefix') {
    return { spec, rank, key: spec.src, ...(spec.exclude !== undefined ? { exclude: compilePattern(spec.exclude, 'exclude pattern') } : {}) };
  }
  const pattern = compilePattern(spec.src, 'source pattern');
  const template = compileTemplate(spec.dst, pattern);
  return {
    spec,
    rank,
    key: directoryKey(pattern.literal, pattern.wholeLiteral),
    pattern,
    template,
    ...(spec.exclude !== undefined ? { exclude: compilePattern(spec.exclude, 'exclude pattern') } : {}),
  };
}

export interface IndexBuild {
  index: RuleIndex;
  /** Rules that failed to validate or compile (skipped, never thrown). */
  failed: { rule: RuleSpec; error: string }[];
}

export class RuleIndex {
  /** key -> enabled rules filed under it, by rank */
  private readonly byKey = new Map<string, CompiledRule[]>();
  readonly compiled: readonly CompiledRule[];
  private readonly hasRoot: boolean;

  private constructor(compiled: CompiledRule[]) {
    this.compiled = compiled;
    for (const c of compiled) {
      if (!c.spec.enabled) continue;
      let list = this.byKey.get(c.key);
      if (!list) this.byKey.set(c.key, (list = []));
      list.push(c);
    }
    this.hasRoot = this.byKey.has('/');
  }

  /** Compile `rules` (already sorted by order, then id). Invalid ones are reported, not thrown. */
  static build(sorted: readonly RuleSpec[]): IndexBuild {
    const compiled: CompiledRule[] = [];
    const failed: { rule: RuleSpec; error: string }[] = [];
    for (const r of sorted) {
      try {
        const spec = parseRuleSpec(r);
        compiled.push(compileRule(spec, compiled.length));
      } catch (e) {
        failed.push({ rule: r, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return { index: new RuleIndex(compiled), failed };
  }

  get size(): number {
    return this.compiled.length;
  }

  /**
   * The first enabled rule (in order) that matches canonical `path` and does not exclude
   * it, with the rewritten (not yet normalised) path. `tried` collects rules that were
   * evaluated, for the trace.
   */
  match(path: string, tried?: { id: string; matched: boolean; excluded?: boolean }[]): RuleMatch | null {
    let best: CompiledRule | null = null;
    if (this.hasRoot) best = this.scan(this.byKey.get('/')!, path, best, tried);
    if (path !== '/' && this.byKey.size > 0) {
      let i = path.indexOf('/', 1);
      for (;;) {
        const key = i < 0 ? path : path.slice(0, i);
        const list = this.byKey.get(key);
        if (list) best = this.scan(list, path, best, tried);
        if (i < 0) break;
        i = path.indexOf('/', i + 1);
      }
    }
    return best ? rewrite(best, path) : null;
  }

  /** The best (lowest-rank) rule of `list` that beats `best`, or `best`. Tests only: no captures yet. */
  private scan(list: readonly CompiledRule[], path: string, best: CompiledRule | null, tried: { id: string; matched: boolean; excluded?: boolean }[] | undefined): CompiledRule | null {
    for (const c of list) {
      if (best && c.rank >= best.rank) break;
      const m = matches(c, path);
      if (m === undefined) continue; // prefilter said no: not worth a trace line
      if (!m) {
        tried?.push({ id: c.spec.id, matched: false });
        continue;
      }
      if (c.exclude && c.exclude.re.test(path)) {
        tried?.push({ id: c.spec.id, matched: true, excluded: true });
        continue;
      }
      tried?.push({ id: c.spec.id, matched: true });
      return c; // later entries of this list rank lower
    }
    return best;
  }
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
