/**
 * Regular expressions for path mapping rules, on RE2 (the `re2` package): linear-time
 * matching, so no pattern (`^/(a+)+$` included) can make a lookup slow. Backreferences
 * and lookaround are refused at compile time, which is what makes RE2 linear.
 *
 * - Whole-path matching: every pattern is wrapped as `^(?:pattern)$` (plus a `|^$` branch
 *   that only the empty string, never a path, can take), so it can never match in the
 *   middle of a path (Alluxio's files usually carry their own `^...$`, which is harmless
 *   inside the wrapper).
 * - Templates: `{{ varN }}` is the N-th capture group (`var0` the whole match), `{{ name }}`
 *   a named group `(?<name>...)` / `(?P<name>...)`. An unmatched optional group is ''.
 * - `literalPrefix` gives the text every match must start with, used to prefilter rules.
 */
import RE2 from 're2';
import { AlluxioError } from './errors.js';

export const MAX_PATTERN_LENGTH = 4096;
export const MAX_TEMPLATE_LENGTH = 4096;

export interface CompiledPattern {
  /** The pattern as written by the user. */
  source: string;
  re: RE2;
  /** Number of capture groups. */
  groups: number;
  /** Names of named groups. */
  names: readonly string[];
  /** Text every matching path starts with ('' when unknown). */
  literal: string;
  /** The pattern is nothing but `literal` (plus anchors). */
  wholeLiteral: boolean;
}

const cache = new Map<string, CompiledPattern>();
const CACHE_MAX = 50_000;

/** Compile (cached: RE2 objects without the g flag are stateless, so sharing is safe). */
export function compilePattern(source: string, what = 'regular expression'): CompiledPattern {
  const hit = cache.get(source);
  if (hit) return hit;
  if (typeof source !== 'string' || source === '') throw new AlluxioError('InvalidRule', `${what} is empty`);
  if (source.length > MAX_PATTERN_LENGTH) throw new AlluxioError('InvalidRule', `${what} is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (/[\u0000]/.test(source)) throw new AlluxioError('InvalidRule', `${what} contains a NUL character`);
  let re: RE2;
  let probe: RegExpExecArray | null;
  try {
    // Compiled alone first: a source with an unbalanced `)` must not escape the wrapper.
    new RE2(source, 'u');
    // One more compilation serves both matching and counting groups: `^(?:p)$` matches whole
    // paths only, and the `|^$` branch matches nothing but '' (never a path: every path
    // starts with '/'), so exec('') always matches and reports every group of p.
    re = new RE2(`^(?:${source})$|^$`, 'u');
    probe = re.exec('');
  } catch (e) {
    throw new AlluxioError('InvalidRule', `${what} ${JSON.stringify(source)} does not compile in RE2: ${(e as Error).message} (backreferences and lookaround are not supported: matching must stay linear-time)`);
  }
  const groups = probe ? probe.length - 1 : 0;
  const names = probe?.groups ? Object.keys(probe.groups) : [];
  const { literal, wholeLiteral } = literalPrefix(source);
  const out: CompiledPattern = { source, re, groups, names, literal, wholeLiteral };
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(source, out);
  return out;
}

const META = new Set(['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}']);
const QUANT = new Set(['?', '*', '+', '{']);

/** True when the pattern has an alternation `|` outside every group and class. */
function hasTopLevelAlternation(p: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (p[i + 1] === '^') i++;
      if (p[i + 1] === ']') i++;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}

/**
 * The literal text at the start of every match of the (implicitly anchored) pattern.
 * Conservative: stops at the first construct it does not fully understand.
 */
export function literalPrefix(p: string): { literal: string; wholeLiteral: boolean } {
  if (hasTopLevelAlternation(p)) return { literal: '', wholeLiteral: false };
  let i = 0;
  while (p[i] === '^') i++;
  let lit = '';
  for (;;) {
    if (i >= p.length) return { literal: lit, wholeLiteral: true };
    const c = p[i]!;
    let ch: string;
    let len: number;
    if (c === '\\') {
      const n = p[i + 1];
      // An escaped punctuation character is itself; \w, \d, \Q, \x.. and friends end the prefix.
      if (n === undefined || /[A-Za-z0-9]/.test(n)) break;
      ch = n;
      len = 2;
    } else if (META.has(c)) {
      if (c === '$' && /^\$*$/.test(p.slice(i))) return { literal: lit, wholeLiteral: true };
      break;
    } else {
      const cp = p.codePointAt(i)!;
      ch = String.fromCodePoint(cp);
      len = ch.length;
    }
    const next = p[i + len];
    if (next !== undefined && QUANT.has(next)) break; // `ab?`: the b is optional
    lit += ch;
    i += len;
  }
  return { literal: lit, wholeLiteral: false };
}

/** One piece of a destination template. */
export type TemplatePart = { lit: string } | { group: number } | { name: string };

export interface CompiledTemplate {
  source: string;
  parts: TemplatePart[];
}

const VAR = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

const templates = new Map<string, CompiledTemplate>();

/**
 * Parse `{{ varN }}` / `{{ name }}` and check each names a group of `pattern`. Cached by
 * (pattern, template): validating a rule and compiling it parse the same template once.
 */
export function compileTemplate(template: string, pattern: Pick<CompiledPattern, 'groups' | 'names' | 'source'>): CompiledTemplate {
  const key = typeof template === 'string' ? `${pattern.source}\u0000${template}` : undefined;
  const hit = key === undefined ? undefined : templates.get(key);
  if (hit && cache.get(pattern.source) === pattern) return hit;
  const out = parseTemplate(template, pattern);
  if (key !== undefined && cache.get(pattern.source) === pattern) {
    if (templates.size >= CACHE_MAX) templates.clear();
    templates.set(key, out);
  }
  return out;
}

function parseTemplate(template: string, pattern: Pick<CompiledPattern, 'groups' | 'names' | 'source'>): CompiledTemplate {
  if (typeof template !== 'string' || template === '') throw new AlluxioError('InvalidRule', 'destination template is empty');
  if (template.length > MAX_TEMPLATE_LENGTH) throw new AlluxioError('InvalidRule', `destination template is longer than ${MAX_TEMPLATE_LENGTH} characters`);
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of template.matchAll(VAR)) {
    const idx = m.index;
    if (idx > last) parts.push({ lit: template.slice(last, idx) });
    const name = m[1]!;
    const num = /^var(\d+)$/.exec(name);
    if (num && !pattern.names.includes(name)) {
      const n = Number(num[1]);
      if (n > pattern.groups) {
        throw new AlluxioError('InvalidRule', `template variable {{ ${name} }} has no capture group: ${JSON.stringify(pattern.source)} has ${pattern.groups} group(s)`);
      }
      parts.push({ group: n });
    } else {
      if (!pattern.names.includes(name)) {
        throw new AlluxioError('InvalidRule', `template variable {{ ${name} }} names no group of ${JSON.stringify(pattern.source)}` + (pattern.names.length ? ` (named groups: ${pattern.names.join(', ')})` : ' (write {{ var1 }} for the first group)'));
      }
      parts.push({ name });
    }
    last = idx + m[0].length;
  }
  if (last < template.length) parts.push({ lit: template.slice(last) });
  for (const p of parts) {
    if ('lit' in p && (p.lit.includes('{{') || p.lit.includes('}}'))) {
      throw new AlluxioError('InvalidRule', `destination template ${JSON.stringify(template)} has a malformed {{ }} variable`);
    }
  }
  return Object.freeze({ source: template, parts: Object.freeze(parts) as TemplatePart[] });
}

/** Fill a template from one match. */
export function expandTemplate(t: CompiledTemplate, m: RegExpExecArray): string {
  let out = '';
  for (const p of t.parts) {
    if ('lit' in p) out += p.lit;
    else if ('group' in p) out += m[p.group] ?? '';
    else out += m.groups?.[p.name] ?? '';
  }
  return out;
}

/** Captures of a match, for the trace: var1.. and named groups. */
export function capturesOf(m: RegExpExecArray): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; i < m.length; i++) out[`var${i}`] = m[i] ?? '';
  if (m.groups) for (const [k, v] of Object.entries(m.groups)) out[k] = v ?? '';
  return out;
}

/** Escape a literal string for use inside a pattern. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}
