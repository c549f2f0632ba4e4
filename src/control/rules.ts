/**
 * Path-mapping rule operations (the use cases behind `alluxio path-mapping ...`): validate
 * in the domain, commit through the transactional config store, with the same discipline
 * as mounts: every change is checked against the exact state it commits on top of.
 */
import { isCanonicalPath } from '../domain/paths.js';
import { AlluxioError } from '../domain/errors.js';
import { Snapshot } from '../domain/snapshot.js';
import { parseRuleSpec, validateOrder, validateRuleBody, validateRuleId, validateTemplateSegments } from '../domain/rule-validation.js';
import { generateRuleId, nextOrder, prefixAsRegex, regexAsPrefix, ruleValue, sortRules, ORDER_STEP, type RuleKind, type RuleSpec } from '../domain/rules.js';
import { compilePattern } from '../domain/regex.js';
import type { EtcdConnection } from '../store/connection.js';
import { readConfig, transact, type Committed, type ConfigState, type Op } from '../store/config-store.js';

export interface RuleList {
  revision: number;
  rules: RuleSpec[];
  invalid: { key: string; error: string }[];
}

export function toPublic(r: RuleSpec): RuleSpec {
  return { id: r.id, order: r.order, kind: r.kind, src: r.src, dst: r.dst, ...(r.exclude !== undefined ? { exclude: r.exclude } : {}), enabled: r.enabled };
}

/** `id (order N, kind): src -> dst [excluding X] [disabled]` */
export function describeRule(r: RuleSpec): string {
  return `${r.id} (order ${r.order}, ${r.kind}): ${r.src} -> ${r.dst}${r.exclude !== undefined ? ` excluding ${r.exclude}` : ''}${r.enabled ? '' : ' [disabled]'}`;
}

export async function listRules(conn: EtcdConnection): Promise<RuleList> {
  const state = await readConfig(conn);
  return {
    // the config revision (resolution.md §6): what resolve, worker list and --wait report,
    // not etcd's head, which membership writes move
    revision: state.configRevision,
    rules: sortRules(state.rules).map(toPublic),
    invalid: state.invalid.filter((i) => i.key.startsWith(conn.layout.rulesPrefix)),
  };
}

export interface AddRuleInput {
  id?: string | undefined;
  order?: number | undefined;
  kind: RuleKind;
  src: string;
  dst: string;
  exclude?: string | undefined;
  enabled?: boolean;
}

export interface RuleChange {
  rule: RuleSpec;
  /** Human warnings (e.g. the target lands in no mount yet). */
  warnings: string[];
}

/** One mount-only snapshot per state read (an import checks every rule against it). */
const mountSnapshots = new WeakMap<object, Snapshot>();

/** Warnings about a rule against the table it is committed with (never errors). */
export function ruleWarnings(state: Pick<ConfigState, 'mounts' | 'rules' | 'revision'>, rule: RuleSpec): string[] {
  const warnings: string[] = [];
  let snap = mountSnapshots.get(state.mounts);
  if (!snap) mountSnapshots.set(state.mounts, (snap = Snapshot.build(state.revision, { mounts: state.mounts, rules: [] })));
  let target: string | null = null;
  if (rule.kind === 'prefix') target = rule.dst;
  else {
    const lead = rule.dst.split('{{')[0] ?? '';
    const first = lead.split('/').filter(Boolean)[0];
    if (lead.startsWith('/') && first !== undefined && (lead.indexOf('/', 1) > 0 || !rule.dst.includes('{{'))) target = '/' + first;
  }
  if (target !== null && !snap.mount(target)) {
    warnings.push(`rule ${rule.id}: its target ${target} is in no mount yet; paths it rewrites will not be found until a mount covers it`);
  }
  return warnings;
}

function checkUnique(state: ConfigState, id: string, key: string): void {
  if (state.rules.some((r) => r.id === id)) {
    throw new AlluxioError('RuleExists', `a rule with id ${id} already exists; change it with: alluxio path-mapping update --id ${id} ...`, { details: { id } });
  }
  if (state.invalid.some((i) => i.key === key)) {
    throw new AlluxioError('RuleExists', `a malformed value is stored under rule id ${id}; remove it first (alluxio path-mapping remove --id ${id} --force)`, { details: { id } });
  }
}

export async function addRule(conn: EtcdConnection, input: AddRuleInput): Promise<Committed<RuleChange>> {
  if (input.id !== undefined) validateRuleId(input.id);
  if (input.order !== undefined) validateOrder(input.order);
  validateRuleBody(input.kind, input.src, input.dst, input.exclude);
  if (input.kind === 'regex') validateTemplateSegments(input.dst);
  return transact(conn, (state) => {
    const id = input.id ?? generateRuleId(new Set(state.rules.map((r) => r.id)));
    checkUnique(state, id, conn.layout.ruleKey(id));
    const rule = parseRuleSpec({
      id,
      order: input.order ?? nextOrder(state.rules),
      kind: input.kind,
      src: input.src,
      dst: input.dst,
      ...(input.exclude !== undefined ? { exclude: input.exclude } : {}),
      enabled: input.enabled ?? true,
    });
    return { ops: [{ type: 'put', key: conn.layout.ruleKey(id), value: ruleValue(rule) }], result: { rule, warnings: ruleWarnings(state, rule) } };
  }, { actor: 'path-mapping add' });
}

export interface UpdateRuleInput {
  id: string;
  order?: number | undefined;
  /** New source: --from (prefix) or --src (regex); the kind follows. */
  kind?: RuleKind | undefined;
  src?: string | undefined;
  dst?: string | undefined;
  exclude?: string | undefined;
  removeExclude?: boolean;
  enabled?: boolean | undefined;
}

/** Change a rule in place (the everyday `/model/latest` -> v3 -> v4 move is one command). */
export async function updateRule(conn: EtcdConnection, input: UpdateRuleInput): Promise<Committed<RuleChange & { previous: RuleSpec }>> {
  const id = validateRuleId(input.id);
  if (input.order !== undefined) validateOrder(input.order);
  if (input.exclude !== undefined) compilePattern(input.exclude, 'exclude pattern (--exclude)');
  return transact(conn, (state) => {
    const current = state.rules.find((r) => r.id === id);
    if (!current) throw new AlluxioError('RuleNotFound', `no rule with id ${id}`, { details: { id } });
    const kind = input.kind ?? current.kind;
    if (kind !== current.kind && (input.src === undefined || input.dst === undefined)) {
      throw new AlluxioError('InvalidRule', `rule ${id} is a ${current.kind} rule; changing it to ${kind} needs both a new source and a new target`);
    }
    const exclude = input.removeExclude ? undefined : (input.exclude ?? current.exclude);
    const rule = parseRuleSpec({
      id,
      order: input.order ?? current.order,
      kind,
      src: input.src ?? current.src,
      dst: input.dst ?? current.dst,
      ...(exclude !== undefined ? { exclude } : {}),
      enabled: input.enabled ?? current.enabled,
    });
    if (rule.kind === 'regex' && input.dst !== undefined) validateTemplateSegments(rule.dst);
    return {
      ops: [{ type: 'put', key: conn.layout.ruleKey(id), value: ruleValue(rule) }],
      result: { rule, previous: toPublic(current), warnings: ruleWarnings(state, rule) },
    };
  }, { actor: 'path-mapping update' });
}

export async function setRuleEnabled(conn: EtcdConnection, rawId: string, enabled: boolean): Promise<Committed<RuleChange & { changed: boolean }>> {
  const id = validateRuleId(rawId);
  return transact(conn, (state) => {
    const current = state.rules.find((r) => r.id === id);
    if (!current) throw new AlluxioError('RuleNotFound', `no rule with id ${id}`, { details: { id } });
    const rule = { ...toPublic(current), enabled };
    const ops: Op[] = current.enabled === enabled ? [] : [{ type: 'put', key: conn.layout.ruleKey(id), value: ruleValue(rule) }];
    return { ops, result: { rule, changed: current.enabled !== enabled, warnings: [] } };
  }, { actor: enabled ? 'path-mapping enable' : 'path-mapping disable' });
}

export async function getRule(conn: EtcdConnection, rawId: string): Promise<RuleSpec> {
  const id = validateRuleId(rawId);
  const state = await readConfig(conn);
  const r = state.rules.find((x) => x.id === id);
  if (!r) {
    const bad = state.invalid.find((i) => i.key === conn.layout.ruleKey(id));
    if (bad) throw malformedRule(id, bad.error);
    throw new AlluxioError('RuleNotFound', `no rule with id ${id}`, { details: { id } });
  }
  return toPublic(r);
}

/** A value is stored under the id but is no rule: not "not found" (exit 3, --force removes it). */
function malformedRule(id: string, error: string): AlluxioError {
  return new AlluxioError('InvalidState', `the value stored for rule ${id} is malformed (${error}); remove it with --force`, { details: { id } });
}

/**
 * Remove a rule; `expected`: the rule as the user confirmed it, or `'malformed'` when they
 * confirmed removing a malformed value (a rule changed since, or a valid rule stored under
 * the id since, is not removed: Conflict); `force` also removes a malformed value stored
 * under the id (result null).
 */
export async function removeRule(conn: EtcdConnection, rawId: string, force = false, expected?: RuleSpec | 'malformed'): Promise<Committed<RuleSpec | null>> {
  const id = validateRuleId(rawId);
  const key = conn.layout.ruleKey(id);
  return transact(conn, (state) => {
    const current = state.rules.find((r) => r.id === id);
    if (!current) {
      const bad = state.invalid.find((i) => i.key === key);
      if (bad && force) return { ops: [{ type: 'delete', key }], result: null };
      if (bad) throw malformedRule(id, bad.error);
      throw new AlluxioError('RuleNotFound', `no rule with id ${id}`, { details: { id } });
    }
    if (expected === 'malformed') {
      throw new AlluxioError('Conflict', `rule ${id} is no longer malformed: it is now ${describeRule(toPublic(current))}; nothing removed (run the command again to remove it as it is now)`, {
        details: { id, actual: toPublic(current) },
      });
    }
    if (expected && describeRule(toPublic(current)) !== describeRule(toPublic(expected))) {
      throw new AlluxioError('Conflict', `rule ${id} changed since it was confirmed: it is now ${describeRule(toPublic(current))}; nothing removed (run the command again to remove it as it is now)`, {
        details: { id, expected: toPublic(expected), actual: toPublic(current) },
      });
    }
    return { ops: [{ type: 'delete', key }], result: toPublic(current) };
  }, { actor: 'path-mapping remove' });
}

// ---------------------------------------------------------------------------------------
// Alluxio's path_mapping.json

export interface AlluxioRuleFile {
  rules: { src: string; dst: string }[];
  virtualDirectories?: string[];
}

/** Parse and shape-check a rule file's text; throws InvalidRuleFile (exit 2). */
export function parseRuleFile(text: string, name = 'rule file'): AlluxioRuleFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, '')); // (a byte-order mark, as editors on Windows save it: Alluxio's parser takes it)
  } catch (e) {
    throw new AlluxioError('InvalidRuleFile', `${name} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new AlluxioError('InvalidRuleFile', `${name} is not Alluxio's path_mapping.json shape: expected {"rules": [{"src": ..., "dst": ...}], "virtualDirectories": [...]}`);
  }
  const d = doc as Record<string, unknown>;
  if (!Array.isArray(d.rules)) throw new AlluxioError('InvalidRuleFile', `${name}: "rules" must be an array of {"src", "dst"}`);
  const rules: { src: string; dst: string }[] = [];
  d.rules.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new AlluxioError('InvalidRuleFile', `${name}: rules[${i}] is not an object`);
    const o = r as Record<string, unknown>;
    if (typeof o.src !== 'string' || typeof o.dst !== 'string') throw new AlluxioError('InvalidRuleFile', `${name}: rules[${i}] needs string "src" and "dst"`);
    rules.push({ src: o.src, dst: o.dst });
  });
  let virtualDirectories: string[] | undefined;
  if (d.virtualDirectories !== undefined) {
    if (!Array.isArray(d.virtualDirectories) || d.virtualDirectories.some((v) => typeof v !== 'string')) {
      throw new AlluxioError('InvalidRuleFile', `${name}: "virtualDirectories" must be an array of strings`);
    }
    virtualDirectories = d.virtualDirectories as string[];
    for (const [i, v] of virtualDirectories.entries()) {
      if (!isCanonicalPath(v)) throw new AlluxioError('InvalidRuleFile', `${name}: virtualDirectories[${i}] (${JSON.stringify(v)}) is not an absolute Alluxio path such as /model/latest`);
    }
  }
  return { rules, ...(virtualDirectories ? { virtualDirectories } : {}) };
}

export interface ImportInput {
  file: AlluxioRuleFile;
  /** Id prefix for imported rules: `<prefix>-1`, `<prefix>-2`, ... */
  idPrefix?: string;
  /** Replace every existing rule (otherwise the imported rules go after them). */
  replace?: boolean;
}

export interface ImportResult {
  rules: RuleSpec[];
  removed: string[];
  warnings: string[];
}

/** Import as ordered regex rules, in ONE transaction: all or nothing. */
export async function importRules(conn: EtcdConnection, input: ImportInput): Promise<Committed<ImportResult>> {
  const prefix = input.idPrefix ?? 'import';
  validateRuleId(`${prefix}-1`);
  // Validate every rule before touching etcd (and again inside the transaction, against the state).
  input.file.rules.forEach((r, i) => {
    try {
      validateRuleBody('regex', r.src, r.dst, undefined);
      validateTemplateSegments(r.dst);
    } catch (e) {
      throw new AlluxioError('InvalidRule', `rules[${i}] (${JSON.stringify(r.src)}): ${(e as Error).message}`);
    }
  });
  return transact(conn, (state) => {
    const ops: Op[] = [];
    const removed: string[] = [];
    const existing = input.replace ? [] : state.rules;
    if (input.replace) {
      for (const r of state.rules) {
        ops.push({ type: 'delete', key: conn.layout.ruleKey(r.id) });
        removed.push(r.id);
      }
    }
    const taken = new Set(existing.map((r) => r.id));
    let order = existing.length ? nextOrder(existing) : ORDER_STEP;
    let n = 1;
    const rules: RuleSpec[] = [];
    const warnings: string[] = [];
    const listed = new Set(input.file.virtualDirectories ?? []);
    for (const r of input.file.rules) {
      while (taken.has(`${prefix}-${n}`)) n++;
      const id = `${prefix}-${n}`;
      taken.add(id);
      const rule = importedRule(id, order, r.src, r.dst, listed);
      order += ORDER_STEP;
      rules.push(rule);
      ops.push({ type: 'put', key: conn.layout.ruleKey(id), value: ruleValue(rule) });
      warnings.push(...ruleWarnings(state, rule));
    }
    return { ops, result: { rules, removed, warnings } };
  }, { actor: 'path-mapping import' });
}

/**
 * A rule of an imported file: the prefix rule it stands for when it has exactly the shape
 * export gives prefix rules (regexAsPrefix) and its source is among the file's virtual
 * directories (export lists every prefix rule's source there), else the regex rule as
 * written. (A regex rule written in that shape by hand came back as a prefix rule, whose
 * source then showed in listings: export, import, export was not the same file.)
 */
function importedRule(id: string, order: number, src: string, dst: string, virtualDirectories: ReadonlySet<string>): RuleSpec {
  const prefix = regexAsPrefix(src, dst);
  if (prefix && virtualDirectories.has(prefix.src)) {
    try {
      return parseRuleSpec({ id, order, kind: 'prefix', src: prefix.src, dst: prefix.dst, enabled: true });
    } catch {
      // a prefix rule this form cannot be (e.g. from /): kept as the regex rule it is
    }
  }
  return parseRuleSpec({ id, order, kind: 'regex', src, dst, enabled: true });
}

/** Export in Alluxio's shape; prefix rules become their equivalent regex rules. Disabled rules are left out. */
export function exportRules(rules: readonly RuleSpec[]): AlluxioRuleFile & { skipped: string[] } {
  const out: { src: string; dst: string }[] = [];
  const skipped: string[] = [];
  for (const r of sortRules(rules)) {
    if (!r.enabled) {
      skipped.push(`${r.id} (disabled)`);
      continue;
    }
    if (r.exclude !== undefined) skipped.push(`${r.id} (its exclude pattern has no equivalent in path_mapping.json; exported without it)`);
    out.push(r.kind === 'prefix' ? prefixAsRegex(r.src, r.dst) : { src: r.src, dst: r.dst });
  }
  // Virtual directories: every directory a rule source makes appear (what `ls` shows).
  const snap = Snapshot.build(0, { mounts: [], rules: [...rules] });
  const dirs: string[] = [];
  const walk = (dir: string): void => {
    for (const name of snap.virtualChildren(dir)) {
      const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
      dirs.push(p);
      walk(p);
    }
  };
  walk('/');
  return { rules: out, virtualDirectories: dirs, skipped };
}
