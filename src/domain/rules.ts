/**
 * Virtual path mapping rules (resolution.md §3) as stored values.
 * Compilation into fast lookup structures lives in ./rule-index.ts.
 */
export type RuleKind = 'prefix' | 'regex';

export interface RuleSpec {
  id: string;
  order: number;
  kind: RuleKind;
  /** prefix: a canonical Alluxio path; regex: a pattern matched against the whole path. */
  src: string;
  /** prefix: a canonical Alluxio path; regex: a template with {{ varN }} / {{ name }}. */
  dst: string;
  exclude?: string;
  enabled: boolean;
}
