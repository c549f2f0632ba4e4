/**
 * Resolver cost per call (not a test: prints figures). 1,000 mounts, and
 *   - 100 / 1,000 / 10,000 prefix rules (goal: median <= 1 us, flat as rules grow),
 *   - 1,000 regex rules (goal: <= 10 us, thanks to the literal-prefix prefilter),
 * each with hot paths (a rule fires; 1,000 paths cycling, so the snapshot's join memo
 * holds them), cold paths (a rule fires; 50,000 distinct paths, beyond the memo: every
 * call pays the full joinUnderUfs proof) and misses (no rule fires), against a baseline
 * with no rules measured in the same run. Three figures per case:
 *   match     the rule lookup alone (index walk + rule evaluation + template),
 *   resolve   snapshot.resolve(..., { trace: false }): what a front end pays per request,
 *   traced    snapshot.resolve(...) with the trace (what the CLI prints).
 * Run: node dist/bench/resolve.js   (BENCH_QUICK=1 for a short run)
 */
import { parseMount, type ParsedMount } from '../src/domain/mounts.js';
import { Snapshot } from '../src/domain/snapshot.js';
import type { RuleSpec } from '../src/domain/rules.js';
import type { RuleIndex } from '../src/domain/rule-index.js';
import { median } from './lib.js';

const QUICK = process.env.BENCH_QUICK === '1';
const REPEATS = QUICK ? 7 : 21;
const BATCH = QUICK ? 5_000 : 20_000;
const MOUNTS = 1000;

/** Median ns per call of fn over rotating inputs. */
function measure<T>(inputs: readonly T[], fn: (x: T) => unknown): number {
  let sink = 0;
  for (let i = 0; i < BATCH; i++) if (fn(inputs[i % inputs.length]!)) sink++; // warm-up
  const samples: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) if (fn(inputs[i % inputs.length]!)) sink++;
    samples.push(Number(process.hrtime.bigint() - t0) / BATCH);
  }
  if (sink < 0) console.log(sink);
  return median(samples);
}

const mounts: ParsedMount[] = [];
for (let i = 0; i < MOUNTS; i++) mounts.push(parseMount({ path: `/m${i}`, ufsUri: `s3://bench-bucket/tenant-${i}/` }));

function prefixRules(n: number): RuleSpec[] {
  const out: RuleSpec[] = [];
  for (let j = 0; j < n; j++) {
    const m = j % MOUNTS;
    out.push({ id: `p${j}`, order: j, kind: 'prefix', src: `/m${m}/alias${j}`, dst: `/m${(m + 1) % MOUNTS}/v${j}`, enabled: true });
  }
  return out;
}

function regexRules(n: number): RuleSpec[] {
  const out: RuleSpec[] = [];
  for (let j = 0; j < n; j++) {
    const m = j % MOUNTS;
    out.push({ id: `x${j}`, order: j, kind: 'regex', src: `^/m${m}/run-(\\d+)/rule${j}/(.*)$`, dst: `/m${m}/runs/{{ var1 }}/r${j}/{{ var2 }}`, enabled: true });
  }
  return out;
}

function hotPrefixPaths(n: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < 1000; k++) {
    const j = (k * 7919) % n;
    out.push(`/m${j % MOUNTS}/alias${j}/part-${k}/file.parquet`);
  }
  return out;
}
function hotRegexPaths(n: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < 1000; k++) {
    const j = (k * 7919) % n;
    out.push(`/m${j % MOUNTS}/run-${k}/rule${j}/part/file.parquet`);
  }
  return out;
}
/** 50,000 distinct paths that hit rules (more than the snapshot's join memo holds). */
function coldPaths(hot: (k: number) => string): string[] {
  const out: string[] = [];
  for (let k = 0; k < 50_000; k++) out.push(hot(k));
  return out;
}
function missPaths(): string[] {
  const out: string[] = [];
  for (let k = 0; k < 1000; k++) out.push(`/m${(k * 13) % MOUNTS}/plain-${k}/sub/file.parquet`);
  return out;
}

interface Row {
  name: string;
  match: number;
  resolve: number;
  traced: number;
}

function bench(name: string, rules: RuleSpec[], paths: string[], expectRule: boolean): Row {
  const t0 = process.hrtime.bigint();
  const snap = Snapshot.build(1, { mounts, rules });
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (snap.invalid.length) throw new Error(`bench rules invalid: ${snap.invalid[0]!.error}`);
  // Sanity: the hot paths really hit a rule, the misses really miss.
  for (const p of paths.slice(0, 50)) {
    const r = snap.resolve({ api: 'alluxio', path: p }, { trace: false });
    if ((r.rule !== null) !== expectRule) throw new Error(`${name}: ${p} ${expectRule ? 'did not hit' : 'hit'} a rule`);
  }
  const index = (snap as unknown as { index: RuleIndex }).index;
  const row: Row = {
    name,
    match: measure(paths, (p) => index.match(p)),
    resolve: measure(paths, (p) => snap.resolve({ api: 'alluxio', path: p }, { trace: false })),
    traced: measure(paths, (p) => snap.resolve({ api: 'alluxio', path: p })),
  };
  process.stderr.write(`  ${name}: snapshot built in ${buildMs.toFixed(1)} ms\n`);
  return row;
}

const fmt = (ns: number): string => (ns < 1000 ? `${ns.toFixed(0)} ns` : `${(ns / 1000).toFixed(2)} us`);
const ops = (ns: number): string => `${(1e9 / ns / 1e6).toFixed(2)} M/s`;

console.log(`resolver benchmark: ${MOUNTS} mounts, median of ${REPEATS} batches of ${BATCH} calls (node ${process.version})`);
const rows: Row[] = [];
rows.push(bench('baseline: no rules, any path', [], missPaths(), false));
rows.push(bench('baseline: no rules, cold', [], coldPaths((k) => `/m${k % MOUNTS}/plain-${k}/file.parquet`), false));
for (const n of [100, 1000, 10000]) {
  const rules = prefixRules(n);
  rows.push(bench(`${n} prefix rules, hot`, rules, hotPrefixPaths(n), true));
  rows.push(bench(`${n} prefix rules, cold`, rules, coldPaths((k) => { const j = (k * 7919) % n; return `/m${j % MOUNTS}/alias${j}/part-${k}/file.parquet`; }), true));
  rows.push(bench(`${n} prefix rules, miss`, rules, missPaths(), false));
}
const rx = regexRules(1000);
rows.push(bench('1000 regex rules, hot', rx, hotRegexPaths(1000), true));
rows.push(bench('1000 regex rules, cold', rx, coldPaths((k) => { const j = (k * 7919) % 1000; return `/m${j % MOUNTS}/run-${k}/rule${j}/part/file.parquet`; }), true));
rows.push(bench('1000 regex rules, miss', rx, missPaths(), false));
const mixed = [...prefixRules(5000), ...regexRules(1000).map((r) => ({ ...r, order: r.order + 10_000 }))];
rows.push(bench('5000 prefix + 1000 regex, regex hot', mixed, hotRegexPaths(1000), true));

const w = Math.max(...rows.map((r) => r.name.length));
console.log(`${'case'.padEnd(w)}  ${'match'.padStart(9)} ${'ops/s'.padStart(10)}  ${'resolve'.padStart(9)} ${'ops/s'.padStart(10)}  ${'traced'.padStart(9)} ${'ops/s'.padStart(10)}`);
for (const r of rows) {
  console.log(`${r.name.padEnd(w)}  ${fmt(r.match).padStart(9)} ${ops(r.match).padStart(10)}  ${fmt(r.resolve).padStart(9)} ${ops(r.resolve).padStart(10)}  ${fmt(r.traced).padStart(9)} ${ops(r.traced).padStart(10)}`);
}
const get = (n: string): Row => rows.find((r) => r.name === n)!;
const base = get('baseline: no rules, any path');
for (const kind of ['hot', 'cold', 'miss']) {
  const a = get(`100 prefix rules, ${kind}`);
  const b = get(`10000 prefix rules, ${kind}`);
  console.log(`growth 10k/100 prefix rules (${kind}): match x${(b.match / a.match).toFixed(2)}, resolve x${(b.resolve / a.resolve).toFixed(2)}`);
}
const rh = get('1000 regex rules, hot');
console.log(`1000 regex rules vs baseline: resolve x${(rh.resolve / base.resolve).toFixed(2)}; rule match alone ${fmt(rh.match)}`);
const p10k = get('10000 prefix rules, hot');
const p10c = get('10000 prefix rules, cold');
const rc = get('1000 regex rules, cold');
const coldBase = get('baseline: no rules, cold');
const met = (ns: number, goal: number): string => (ns <= goal ? 'met' : 'NOT met');
console.log(`goal <= 1 us, 10k prefix rules: match ${fmt(p10k.match)} ${met(p10k.match, 1000)}; resolve hot ${fmt(p10k.resolve)} ${met(p10k.resolve, 1000)}; resolve cold ${fmt(p10c.resolve)} ${met(p10c.resolve, 1000)} (of which the no-rule baseline, mostly normalizePath + joinUnderUfs, is ${fmt(coldBase.resolve)})`);
console.log(`goal <= 10 us, 1k regex rules: match ${fmt(rh.match)} ${met(rh.match, 10_000)}; resolve hot ${fmt(rh.resolve)} ${met(rh.resolve, 10_000)}; resolve cold ${fmt(rc.resolve)} ${met(rc.resolve, 10_000)}`);
