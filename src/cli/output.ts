/**
 * Human output: tables on a TTY (cli-table3), plain grep-friendly lines in a pipe, colour
 * only where wanted. chalk does not look at NO_COLOR by itself, so we map it here.
 */
import { createRequire } from 'node:module';
import chalk, { Chalk, type ChalkInstance } from 'chalk';
import type TableCtor from 'cli-table3';

// cli-table3 is only needed on a terminal: load it on first use, not on every start.
const requireCjs = createRequire(import.meta.url);
let TableImpl: typeof TableCtor | undefined;
function tableClass(): typeof TableCtor {
  return (TableImpl ??= requireCjs('cli-table3') as typeof TableCtor);
}

export function colorLevel(env: NodeJS.ProcessEnv, isTTY: boolean): 0 | 1 | 2 | 3 {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0;
    if (force === '2') return 2;
    if (force === '3') return 3;
    return 1;
  }
  return isTTY ? (chalk.level || 1) as 0 | 1 | 2 | 3 : 0;
}

export class Renderer {
  readonly color: ChalkInstance;
  constructor(readonly isTTY: boolean, env: NodeJS.ProcessEnv = process.env) {
    this.color = new Chalk({ level: colorLevel(env, isTTY) });
  }

  /** A table on a TTY; otherwise one line per row, columns separated by two spaces... or tabs. */
  table(head: string[], rows: (string | number)[][]): string {
    if (!this.isTTY) {
      return rows.map((r) => r.map((c) => String(c)).join('\t')).join('\n');
    }
    const Table = tableClass();
    const t = new Table({ head: head.map((h) => this.color.bold(h)), style: { head: [], border: [] } });
    for (const r of rows) t.push(r.map((c) => String(c)));
    return t.toString();
  }
}
