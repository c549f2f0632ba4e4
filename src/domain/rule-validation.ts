/**
 * Validation of rule values that come from outside (the CLI, a rule file, etcd written by
 * hand): the same checks at write time and when a worker decodes the config, so a value
 * that passed one passes the other. Throws AlluxioError('InvalidRule') naming the problem.
 */
import { AlluxioError, quote } from './errors.js';
import { normalizePath } from './paths.js';
import { compilePattern, compileTemplate } from './regex.js';
import { MAX_ORDER, MIN_ORDER, type RuleKind, type RuleSpec } from './rules.js';

export const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$/;

export function validateRuleId(id: unknown): string {
  if (typeof id !== 'string' || !RULE_ID.test(id)) {
    throw new AlluxioError('InvalidRule', `rule id ${quote(id)} is not allowed (letters, digits, ".", "_", "-"; starts with a letter or digit; at most 128)`);
  }
  return id;
}

export function validateOrder(order: unknown): number {
  if (typeof order !== 'number' || !Number.isSafeInteger(order) || order < MIN_ORDER || order > MAX_ORDER) {
    throw new AlluxioError('InvalidRule', `rule order ${quote(order)} must be an integer between ${MIN_ORDER} and ${MAX_ORDER}`);
  }
  return order;
}

/** A prefix rule's source or target must already be canonical: we never guess. */
export function validateCanonical(raw: unknown, what: string): string {
  if (typeof raw !== 'string') throw new AlluxioError('InvalidRule', `${what} must be a string`);
  let p: string;
  try {
    p = normalizePath(raw);
  } catch (e) {
    throw new AlluxioError('InvalidRule', `${what} ${quote(raw)} is not a valid Alluxio path: ${(e as Error).message}`);
  }
  if (p !== raw) throw new AlluxioError('InvalidRule', `${what} ${quote(raw)} is not canonical; write ${JSON.stringify(p)}`);
  if (p.includes('{{') || p.includes('}}')) throw new AlluxioError('InvalidRule', `${what} ${quote(raw)} contains "{{" or "}}", which would not survive export as a template`);
  return p;
}

/** Check a (kind, src, dst, exclude) quadruple; returns nothing, throws when invalid. */
export function validateRuleBody(kind: RuleKind, src: string, dst: string, exclude: string | undefined): void {
  if (kind === 'prefix') {
    validateCanonical(src, 'prefix source (--from)');
    validateCanonical(dst, 'prefix target (--to)');
    if (src === dst) throw new AlluxioError('InvalidRule', `prefix rule maps ${src} onto itself`);
  } else {
    const pat = compilePattern(src, 'source pattern (--src)');
    compileTemplate(dst, pat);
    const lead = dst.startsWith('{{') ? '' : dst;
    if (lead !== '' && !lead.startsWith('/')) {
      throw new AlluxioError('InvalidRule', `destination template ${quote(dst)} must produce an absolute path (start with "/")`);
    }
  }
  if (exclude !== undefined) compilePattern(exclude, 'exclude pattern (--exclude)');
}

/**
 * A regex rule's target, checked when the rule is written (add, update, import): a segment
 * of literal text that is "." or ".." makes every result it produces invalid
 * (RuleResultInvalid at each request), so it is refused up front, as a prefix target with
 * such a segment is. Not applied to stored rules: a stored rule that fails each request says
 * so, where a skipped one would silently resolve its paths elsewhere.
 */
export function validateTemplateSegments(dst: string): void {
  for (const seg of dst.split('/')) {
    if (seg === '.' || seg === '..') {
      throw new AlluxioError('InvalidRule', `destination template ${quote(dst)} has a "${seg}" segment: every path it produces would be refused (Alluxio paths have no "." or ".." segments)`);
    }
  }
}

/** Parse an untrusted rule value (from etcd or a file) into a validated RuleSpec. */
export function parseRuleSpec(raw: unknown): RuleSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AlluxioError('InvalidRule', 'rule is not a JSON object');
  const r = raw as Record<string, unknown>;
  const id = validateRuleId(r.id);
  const order = validateOrder(r.order);
  const kind = r.kind;
  if (kind !== 'prefix' && kind !== 'regex') throw new AlluxioError('InvalidRule', `rule ${id}: kind must be "prefix" or "regex", got ${quote(kind)}`);
  if (typeof r.src !== 'string') throw new AlluxioError('InvalidRule', `rule ${id}: src must be a string`);
  if (typeof r.dst !== 'string') throw new AlluxioError('InvalidRule', `rule ${id}: dst must be a string`);
  if (r.exclude !== undefined && r.exclude !== null && typeof r.exclude !== 'string') throw new AlluxioError('InvalidRule', `rule ${id}: exclude must be a string`);
  const exclude = typeof r.exclude === 'string' && r.exclude !== '' ? r.exclude : undefined;
  if (r.enabled !== undefined && typeof r.enabled !== 'boolean') throw new AlluxioError('InvalidRule', `rule ${id}: enabled must be true or false`);
  try {
    validateRuleBody(kind, r.src, r.dst, exclude);
  } catch (e) {
    if (e instanceof AlluxioError) throw new AlluxioError('InvalidRule', `rule ${id}: ${e.message}`);
    throw e;
  }
  return { id, order, kind, src: r.src, dst: r.dst, ...(exclude !== undefined ? { exclude } : {}), enabled: r.enabled !== false };
}
