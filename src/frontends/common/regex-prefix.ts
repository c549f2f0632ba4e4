/**
 * Can a rule's pattern match some path strictly below a directory? (Per-component
 * lookups, traversal.ts.) Conservative from the literal prefix every match starts with
 * (regex.ts literalPrefix): a pattern whose literal start leads into or through `dir/`
 * may match below it; one whose literal start diverges from `dir/` cannot.
 */
import type { CompiledPattern } from '../../domain/regex.js';

export function mayMatchBelow(p: Pick<CompiledPattern, 'literal' | 'wholeLiteral' | 'source'>, dir: string): boolean {
  const x = dir === '/' ? '/' : dir + '/';
  if (p.wholeLiteral) return p.literal.length > x.length && p.literal.startsWith(x);
  return x.startsWith(p.literal) || p.literal.startsWith(x);
}
