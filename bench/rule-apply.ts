/**
 * Rule-change apply latency in a worker (prints figures; not a test).
 *
 * What a worker does when a watch response carrying ONE rule change arrives at a config of
 * N rules (+100 mounts, 10% of the rules regex): the informer's pure view applies it and
 * swaps in a new Snapshot. Measured in-process on the same code path the worker runs
 * (src/informer/view.ts applyEvents: decode the changed value, Snapshot.apply: recompile
 * that one rule, copy the index's maps and the changed key's list), for N = 100 / 1,000 /
 * 10,000, over a mix of changes (update a rule's target, add a rule, disable one, remove
 * one). Baseline in the same run: the full rebuild every change cost before
 * (decode memo + Snapshot.build of the whole config, as the informer did per response).
 *
 * Run: node dist/bench/rule-apply.js [--samples 400]   (npm run bench rule-apply)
 * Goal (issue 17): <= 20 ms p99 at 10,000 rules; before: p50 58 ms, p99 1.8 s commit->apply.
 */
import { cpus, loadavg } from 'node:os';
import { Snapshot } from '../src/domain/snapshot.js';
import { Layout } from '../src/store/layout.js';
import { decodeConfig } from '../src/store/codec.js';
import { applyEvents, applyList, emptyView, type ConfigView } from '../src/informer/view.js';
import type { WatchEvent } from '../src/informer/decisions.js';
import { median, numArg, runBench } from './lib.js';

const L = new Layout('bench');
const SAMPLES = numArg('samples', 400);
const BASELINE_MAX_MS = 15_000; // stop the baseline early at 10k rules: it is the slow one

function ruleValue(j: number, variant = 0, enabled = true): string {
  const id = `r${j}`;
  return j % 10 === 0
    ? JSON.stringify({ id, order: j, kind: 'regex', src: `^/m${j % 100}/run-(\\d+)/r${j}/(.*)$`, dst: `/m${j % 100}/runs${variant}/{{ var1 }}/{{ var2 }}`, enabled })
    : JSON.stringify({ id, order: j, kind: 'prefix', src: `/m${j % 100}/alias${j}`, dst: `/m${(j + 1) % 100}/v${j}-${variant}`, enabled });
}

function config(n: number): [string, string][] {
  const kvs: [string, string][] = [];
  for (let m = 0; m < 100; m++) kvs.push([L.mountKey(`/m${m}`), JSON.stringify({ path: `/m${m}`, ufsUri: `s3://bench/m${m}/`, readOnly: false, options: {} })]);
  for (let j = 0; j < n; j++) kvs.push([L.ruleKey(`r${j}`), ruleValue(j)]);
  return kvs;
}

/** The i-th change of the mix, at revision `rev`, against a config of n rules (+ added ones). */
function change(i: number, n: number, rev: number): WatchEvent {
  const j = (i * 7919) % n;
  switch (i % 4) {
    case 0:
      return { type: 'put', key: L.ruleKey(`r${j}`), value: ruleValue(j, i), modRevision: rev }; // retarget
    case 1:
      return { type: 'put', key: L.ruleKey(`r${n + i}`), value: ruleValue(n + i), modRevision: rev }; // add
    case 2:
      return { type: 'put', key: L.ruleKey(`r${j}`), value: ruleValue(j, i, false), modRevision: rev }; // disable
    default:
      return { type: 'delete', key: L.ruleKey(`r${n + i - 2}`), value: '', modRevision: rev }; // remove the one added two changes ago
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const fmt = (x: number): string => (x < 10 ? x.toFixed(3) : x.toFixed(1)).padStart(8) + ' ms';

/** The worker's road: one watch response through the pure view (decode + Snapshot.apply). */
function incremental(n: number, cpu: number[] = []): number[] {
  let view: ConfigView = applyListOrThrow(n);
  const out: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const step = applyEvents(view, L, [change(i, n, view.revision + 1)]);
    out.push(ms(t0));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (step.kind !== 'published') throw new Error(`change ${i} not applied: ${step.kind}`);
    view = step.view;
  }
  return out;
}

/** The road before: the changed value decoded (memo), every rule recompiled (Snapshot.build). */
function rebuild(n: number): number[] {
  let view: ConfigView = applyListOrThrow(n);
  const out: number[] = [];
  const started = Date.now();
  for (let i = 0; i < SAMPLES && Date.now() - started < BASELINE_MAX_MS; i++) {
    const ev = change(i, n, view.revision + 1);
    const t0 = process.hrtime.bigint();
    const edit = view.entries.edit();
    if (ev.type === 'delete') edit.delete(ev.key);
    else edit.set(ev.key, { value: ev.value, decoded: decodeConfig(L, [[ev.key, ev.value]]) });
    const entries = edit.done();
    const all = { mounts: [] as never[], rules: [] as never[], invalid: [] as never[] };
    for (const e of entries.values()) {
      all.mounts.push(...(e.decoded.mounts as never[]));
      all.rules.push(...(e.decoded.rules as never[]));
      all.invalid.push(...(e.decoded.invalid as never[]));
    }
    const snapshot = Snapshot.build(ev.modRevision, all);
    out.push(ms(t0));
    view = { ...view, entries, snapshot, revision: ev.modRevision };
  }
  return out;
}

function applyListOrThrow(n: number): ConfigView {
  const step = applyList(emptyView(), L, { revision: 1, clusterId: 'bench', kvs: config(n) }, 'list');
  if (step.kind !== 'published') throw new Error('initial list failed');
  if (step.snapshot.invalid.length) throw new Error(`bench config invalid: ${step.snapshot.invalid[0]!.error}`);
  return step.view;
}

runBench(async () => {
  console.log(`rule-change apply latency (one rule per watch response; mix of retarget / add / disable / remove; +100 mounts, 10% regex rules)`);
  console.log(`${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}, node ${process.version}; ${SAMPLES} changes per size`);
  console.log('wall = elapsed (includes being preempted on a loaded machine); cpu = this process\'s CPU time for the apply');
  console.log('   rules | incremental (Snapshot.apply), wall      cpu p99   | full rebuild (Snapshot.build), same run | p50 ratio');
  console.log('         |   median        p99        max                   |   median        p99     samples         |');
  for (const n of [100, 1000, 10_000]) {
    incremental(Math.min(n, 100)); // warm the JIT on a small config first
    const cpu: number[] = [];
    const inc = incremental(n, cpu);
    const full = rebuild(n);
    const line =
      `  ${String(n).padStart(6)} | ${fmt(median(inc))} ${fmt(pct(inc, 99))} ${fmt(Math.max(...inc))}  ${fmt(pct(cpu, 99))}   | ${fmt(median(full))} ${fmt(pct(full, 99))} ${String(full.length).padStart(7)}         | ` +
      `${(median(full) / median(inc)).toFixed(0)}x faster` +
      (n === 10_000 ? `   goal p99 <= 20 ms: ${pct(inc, 99) <= 20 ? 'met' : 'NOT met'} (wall), ${pct(cpu, 99) <= 20 ? 'met' : 'NOT met'} (cpu)` : '');
    console.log(line);
  }
});
