/**
 * Decoding the config prefix (key/value pairs) into mounts and rules. Shared by the CLI's
 * reads and the worker's informer, so both see the same thing. A malformed value (written
 * by hand with etcdctl) is reported and skipped; it never hides the rest of the config.
 */
import { isAlluxioError } from '../domain/errors.js';
import { parseMount, type ParsedMount } from '../domain/mounts.js';
import { parseRuleSpec } from '../domain/rule-validation.js';
import type { RuleSpec } from '../domain/rules.js';
import type { Layout } from './layout.js';

export type { InvalidEntry } from '../domain/snapshot.js';
import type { InvalidEntry } from '../domain/snapshot.js';

export interface DecodedConfig {
  mounts: ParsedMount[];
  rules: RuleSpec[];
  invalid: InvalidEntry[];
}

export function decodeConfig(layout: Layout, kvs: Iterable<readonly [string, string]>): DecodedConfig {
  const mounts: ParsedMount[] = [];
  const rules: RuleSpec[] = [];
  const invalid: InvalidEntry[] = [];
  for (const [key, value] of kvs) {
    try {
      if (key.startsWith(layout.mountsPrefix)) {
        const raw = JSON.parse(value) as Record<string, unknown>;
        const m = parseMount({
          path: raw.path as string,
          ufsUri: raw.ufsUri as string,
          readOnly: raw.readOnly === true,
          options: (raw.options ?? {}) as Record<string, string>,
        });
        if (layout.mountKey(m.path) !== key) throw new Error(`key does not match mount path ${m.path}`);
        mounts.push(m);
      } else if (key.startsWith(layout.rulesPrefix)) {
        const r = parseRuleSpec(JSON.parse(value));
        if (layout.ruleKey(r.id) !== key) throw new Error(`key does not match rule id ${r.id}`);
        rules.push(r);
      }
    } catch (e) {
      invalid.push({ key, error: isAlluxioError(e) || e instanceof Error ? e.message : String(e) });
    }
  }
  return { mounts, rules, invalid };
}
