/**
 * Virtual path mapping rules (resolution.md §3) as stored values, and the helpers the
 * control plane and the export need. Validation of untrusted values lives in
 * ./rule-validation.ts; compilation into lookup structures in ./rule-index.ts.
 */
import { isCanonicalPath } from './paths.js';
import { escapeRegex } from './regex.js';

export type RuleKind = 'prefix' | 'regex';

export interface RuleSpec {
  id: string;
  order: number;
  kind: RuleKind;
  /** prefix: a canonical Alluxio path; regex: a pattern matched against the whole path. */
  src: string;
  /** prefix: a canonical Alluxio path; regex: a template with {{ varN }} / {{ name }}. */
  dst: string;
  /** Optional pattern; a path it matches (whole path, like src) is left alone by this rule. */
  exclude?: string;
  enabled: boolean;
}

/** The gap `path-mapping add` leaves after the largest order when no --order is given. */
export const ORDER_STEP = 10;
export const MIN_ORDER = -1_000_000_000;
export const MAX_ORDER = 1_000_000_000;

/** Evaluation order: by order, ties broken by id (so the order is always well defined). */
export function compareRules(a: Pick<RuleSpec, 'order' | 'id'>, b: Pick<RuleSpec, 'order' | 'id'>): number {
  if (a.order !== b.order) return a.order - b.order;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function sortRules<T extends Pick<RuleSpec, 'order' | 'id'>>(rules: readonly T[]): T[] {
  return [...rules].sort(compareRules);
}

/** The order a new rule gets when none is given: after every existing rule. */
export function nextOrder(rules: readonly Pick<RuleSpec, 'order'>[]): number {
  if (rules.length === 0) return ORDER_STEP;
  return Math.min(MAX_ORDER, Math.max(...rules.map((r) => r.order)) + ORDER_STEP);
}

/**
 * The regex rule equivalent to a prefix rule `src -> dst` (segment-aware):
 * `^/a/b(/.*)?$` -> `/c{{ var1 }}`. Used by `path-mapping export` (Alluxio's file has
 * regex rules only) and by the property test that both kinds agree.
 */
export function prefixAsRegex(src: string, dst: string): { src: string; dst: string } {
  if (src === '/') return { src: '^(/.*)$', dst: dst === '/' ? '{{ var1 }}' : `${dst}{{ var1 }}` };
  return { src: `^${escapeRegex(src)}(/.*)?$`, dst: dst === '/' ? '/{{ var1 }}' : `${dst}{{ var1 }}` };
}

/**
 * The prefix rule a regex rule of exactly prefixAsRegex's shape stands for (null for any
 * other regex rule): `path-mapping import` recovers what `export` wrote, so the round trip
 * gives the same rules back, virtual directories included (a regex source makes none).
 * Exact by construction: the answer is kept only if prefixAsRegex gives the input back.
 */
export function regexAsPrefix(src: string, dst: string): { src: string; dst: string } | null {
  const m = src === '^(/.*)$' ? ['', ''] : /^\^(.+)\(\/\.\*\)\?\$$/.exec(src);
  const t = /^(.*)\{\{ var1 \}\}$/.exec(dst);
  if (!m || !t) return null;
  const from = m[1] === '' ? '/' : m[1]!.replace(/\\(.)/g, '$1');
  const to = t[1] === '' || t[1] === '/' ? '/' : t[1]!;
  if (!isCanonicalPath(from) || !isCanonicalPath(to)) return null;
  const back = prefixAsRegex(from, to);
  return back.src === src && back.dst === dst ? { src: from, dst: to } : null;
}

/** A short readable id: `r-` + 6 base-36 characters. */
export function generateRuleId(taken: ReadonlySet<string>, random: () => number = Math.random): string {
  for (;;) {
    let s = '';
    for (let i = 0; i < 6; i++) s += Math.floor(random() * 36).toString(36);
    const id = `r-${s}`;
    if (!taken.has(id)) return id;
  }
}

/** Stored JSON value of a rule (stable key order). */
export function ruleValue(r: RuleSpec): string {
  return JSON.stringify({
    id: r.id,
    order: r.order,
    kind: r.kind,
    src: r.src,
    dst: r.dst,
    ...(r.exclude !== undefined ? { exclude: r.exclude } : {}),
    enabled: r.enabled,
  });
}
