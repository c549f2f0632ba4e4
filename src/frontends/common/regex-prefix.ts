/**
 * Can a rule's pattern match some path strictly below a directory? (Per-component lookups,
 * traversal.ts.) Exactly: the pattern is parsed and rewritten into its PREFIX CLOSURE, a
 * pattern matching every prefix of every string the original matches, and `dir/` is tested
 * against that with RE2 (linear time, like every rule match):
 *
 *   pre(atom)    = (?:|atom)                 pre(a b ...) = (?:pre(a)|a pre(b ...))
 *   pre(a|b)     = (?:pre(a)|pre(b))         pre(x{m,n})  = (?:x){0,n-1} pre(x)   (x* : (?:x)* pre(x))
 *   pre(^)       = ^                         pre($), pre(\b), pre(\B) = ''  (a prefix may stop anywhere)
 *
 * Sizes stay linear in the pattern (each node appears once in full and once as a prefix).
 * Capture groups become non-capturing (names would collide). A pattern this parser does not
 * fully understand (bare flag groups such as `(?i)`, anything malformed) falls back to the
 * conservative literal-prefix test: it may call a directory traversable that is not, never
 * the reverse.
 */
import RE2 from 're2';
import type { CompiledPattern } from '../../domain/regex.js';

type Node =
  | { t: 'atom'; s: string }
  | { t: 'zw'; s: string }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; alts: Node[] }
  | { t: 'group'; open: string; body: Node }
  | { t: 'rep'; node: Node; max: number };

class Unsupported extends Error {}

class Parser {
  private i = 0;
  constructor(private readonly p: string) {}

  parse(): Node {
    const n = this.alt();
    if (this.i !== this.p.length) throw new Unsupported('trailing input');
    return n;
  }

  private alt(): Node {
    const alts: Node[] = [this.seq()];
    while (this.p[this.i] === '|') {
      this.i++;
      alts.push(this.seq());
    }
    return alts.length === 1 ? alts[0]! : { t: 'alt', alts };
  }

  private seq(): Node {
    const items: Node[] = [];
    while (this.i < this.p.length && this.p[this.i] !== '|' && this.p[this.i] !== ')') {
      const a = this.atom();
      items.push(a.t === 'zw' ? a : this.quantified(a));
    }
    return { t: 'seq', items };
  }

  private quantified(node: Node): Node {
    let n = node;
    for (;;) {
      const c = this.p[this.i];
      let max: number | undefined;
      if (c === '*' || c === '+') {
        max = Infinity;
        this.i++;
      } else if (c === '?') {
        max = 1;
        this.i++;
      } else if (c === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.p.slice(this.i));
        if (!m) return n; // a literal "{" follows: the caller reads it as an atom
        max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
        this.i += m[0].length;
      } else return n;
      if (this.p[this.i] === '?') this.i++; // lazy: same language
      n = { t: 'rep', node: n, max };
    }
  }

  private atom(): Node {
    const p = this.p;
    const c = p[this.i]!;
    if (c === '^' || c === '$') {
      this.i++;
      return { t: 'zw', s: c };
    }
    if (c === '(') return this.group();
    if (c === '[') return { t: 'atom', s: this.cls() };
    if (c === '\\') return this.escape();
    if (c === '*' || c === '+' || c === '?') throw new Unsupported('quantifier without operand');
    const cp = String.fromCodePoint(p.codePointAt(this.i)!);
    this.i += cp.length;
    return { t: 'atom', s: c === '.' ? '.' : cp === '{' || cp === '}' ? '\\' + cp : cp };
  }

  private escape(): Node {
    const p = this.p;
    const start = this.i;
    const n = p[this.i + 1];
    if (n === undefined) throw new Unsupported('trailing backslash');
    if (n === 'b' || n === 'B') {
      this.i += 2;
      return { t: 'zw', s: '' };
    }
    if (n === 'A') {
      this.i += 2;
      return { t: 'zw', s: '^' };
    }
    if (n === 'z') {
      this.i += 2;
      return { t: 'zw', s: '$' };
    }
    if (n === 'Q') {
      const end = p.indexOf('\\E', this.i + 2);
      const text = p.slice(this.i + 2, end < 0 ? p.length : end);
      this.i = end < 0 ? p.length : end + 2;
      return { t: 'seq', items: [...text].map((ch) => ({ t: 'atom', s: ch.replace(/[\\^$.|?*+()[\]{}]/, '\\$&') }) as Node) };
    }
    if (n === 'p' || n === 'P') {
      const m = /^\\[pP](\{[^}]*\}|[A-Za-z])/.exec(p.slice(this.i));
      if (!m) throw new Unsupported('bad \\p');
      this.i += m[0].length;
      return { t: 'atom', s: m[0] };
    }
    if (n === 'x') {
      const m = /^\\x(\{[0-9A-Fa-f]+\}|[0-9A-Fa-f]{2})/.exec(p.slice(this.i));
      if (!m) throw new Unsupported('bad \\x');
      this.i += m[0].length;
      return { t: 'atom', s: m[0] };
    }
    if (/[0-7]/.test(n)) {
      const m = /^\\[0-7]{1,3}/.exec(p.slice(this.i))!;
      this.i += m[0].length;
      return { t: 'atom', s: m[0] };
    }
    const cp = String.fromCodePoint(p.codePointAt(this.i + 1)!);
    this.i += 1 + cp.length;
    return { t: 'atom', s: p.slice(start, this.i) };
  }

  private cls(): string {
    const p = this.p;
    const start = this.i;
    this.i++;
    if (p[this.i] === '^') this.i++;
    if (p[this.i] === ']') this.i++;
    while (this.i < p.length && p[this.i] !== ']') {
      if (p[this.i] === '\\') this.i += 2;
      else if (p.startsWith('[:', this.i)) {
        const end = p.indexOf(':]', this.i + 2);
        if (end < 0) throw new Unsupported('bad POSIX class');
        this.i = end + 2;
      } else this.i++;
    }
    if (p[this.i] !== ']') throw new Unsupported('unterminated class');
    this.i++;
    return p.slice(start, this.i);
  }

  private group(): Node {
    const p = this.p;
    let open = '(?:';
    if (p.startsWith('(?', this.i)) {
      const named = /^\(\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(p.slice(this.i));
      const flags = /^\(\?([imsU-]*):/.exec(p.slice(this.i));
      if (named) this.i += named[0].length;
      else if (flags) {
        open = flags[0];
        this.i += flags[0].length;
      } else throw new Unsupported('flag group'); // (?i) scopes to the rest of its group
    } else this.i++;
    const body = this.alt();
    if (p[this.i] !== ')') throw new Unsupported('unbalanced group');
    this.i++;
    return { t: 'group', open, body };
  }
}

function full(n: Node): string {
  switch (n.t) {
    case 'atom':
    case 'zw':
      return n.s;
    case 'seq':
      return n.items.map(full).join('');
    case 'alt':
      return n.alts.map(full).join('|');
    case 'group':
      return n.open + full(n.body) + ')';
    case 'rep':
      return `(?:${full(n.node)})${n.max === Infinity ? '*' : `{0,${n.max}}`}`;
  }
}

function pre(n: Node): string {
  switch (n.t) {
    case 'atom':
      return `(?:|${n.s})`;
    case 'zw':
      return n.s === '^' ? '^' : '';
    case 'seq':
      return preSeq(n.items, 0);
    case 'alt':
      return `(?:${n.alts.map(pre).join('|')})`;
    case 'group':
      return n.open + pre(n.body) + ')';
    case 'rep':
      if (n.max === 0) return '';
      return `(?:${full(n.node)})${n.max === Infinity ? '*' : `{0,${n.max - 1}}`}${pre(n.node)}`;
  }
}

function preSeq(items: readonly Node[], i: number): string {
  if (i >= items.length) return '';
  const first = items[i]!;
  if (i === items.length - 1) return pre(first);
  return `(?:${pre(first)}|${full(first)}${preSeq(items, i + 1)})`;
}

const closures = new Map<string, RE2 | null>();
const CLOSURES_MAX = 10_000;

/** The prefix closure of a pattern, anchored; null when this parser cannot build it. */
function closureOf(source: string): RE2 | null {
  let re = closures.get(source);
  if (re !== undefined) return re;
  try {
    re = new RE2(`^(?:${pre(new Parser(source).parse())})$`, 'u');
  } catch {
    re = null; // Unsupported syntax, or RE2 refused the rewrite: the literal test decides
  }
  if (closures.size >= CLOSURES_MAX) closures.clear();
  closures.set(source, re);
  return re;
}

/** Conservative: from the literal text every match starts with. */
function literalMayMatchBelow(p: Pick<CompiledPattern, 'literal' | 'wholeLiteral'>, x: string): boolean {
  if (p.wholeLiteral) return p.literal.length > x.length && p.literal.startsWith(x);
  return x.startsWith(p.literal) || p.literal.startsWith(x);
}

/** Whether the (whole-path) pattern may match some path strictly below canonical `dir`. */
export function mayMatchBelow(p: Pick<CompiledPattern, 'literal' | 'wholeLiteral' | 'source'>, dir: string): boolean {
  const x = dir === '/' ? '/' : dir + '/';
  if (!literalMayMatchBelow(p, x)) return false;
  const closure = closureOf(p.source);
  return closure === null ? true : closure.test(x);
}
