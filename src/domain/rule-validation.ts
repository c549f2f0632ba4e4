import { AlluxioError } from './errors.js';
import type { RuleSpec } from './rules.js';

/** Parse an untrusted rule value (from etcd or a file). Replaced by full validation in the rules module. */
export function parseRuleSpec(raw: unknown): RuleSpec {
  if (typeof raw !== 'object' || raw === null) throw new AlluxioError('InvalidRule', 'rule is not an object');
  return raw as RuleSpec;
}
