/**
 * Human rendering of described config changes (history show, diff, revert): one line per
 * mount or rule with its sign, then its value before and after.
 */
import type { DescribedChange } from '../domain/history.js';
import type { Renderer } from './output.js';

export function formatChanges(render: Renderer, changes: readonly DescribedChange[]): string {
  if (changes.length === 0) return 'No difference in the mount table or the rules.';
  const c = render.color;
  const lines: string[] = [];
  for (const ch of changes) {
    const sign = ch.action === 'added' ? c.green('+') : ch.action === 'removed' ? c.red('-') : c.yellow('~');
    lines.push(`${sign} ${ch.kind} ${ch.name}`);
    if (ch.before && ch.action !== 'added') lines.push(`    before: ${JSON.stringify(ch.before)}`);
    if (ch.after) lines.push(`    after:  ${JSON.stringify(ch.after)}`);
  }
  return lines.join('\n');
}
