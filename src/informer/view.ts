/**
 * The informer's view of the config prefix, and the PURE steps that move it forward:
 *  - `applyList`: a LIST at one revision replaces the view; the diff against the previous
 *    view (keys put, keys deleted) is reported, deletes included (a relist after compaction
 *    or a wiped etcd is a diff, not a reset);
 *  - `applyEvents`: one watch response (one or more whole transactions) is applied as a
 *    whole and yields ONE new snapshot, never a mid-transaction one.
 * Values are decoded per key and memoised with the value (decoding is a pure function of
 * (key, value): the CLI decodes the same way, src/store/codec.ts). A LIST builds the
 * Snapshot from scratch; a watch response derives it from the previous one
 * (Snapshot.apply: only the changed rules are recompiled). No clock, no I/O: a view is an
 * immutable value, so the loop swaps it in atomically and tests build one by hand.
 */
import { Snapshot, type InvalidEntry, type SnapshotDelta } from '../domain/snapshot.js';
import type { ParsedMount } from '../domain/mounts.js';
import type { RuleSpec } from '../domain/rules.js';
import { CowMap } from '../domain/cow-map.js';
import { decodeConfig, type DecodedConfig } from '../store/codec.js';
import type { Layout } from '../store/layout.js';
import type { WatchEvent } from './decisions.js';
import type { ListResult } from './source.js';

export interface DecodedEntry {
  value: string;
  decoded: DecodedConfig;
}

export interface ConfigView {
  /** etcd revision the snapshot reflects (0 before the first list) */
  readonly revision: number;
  readonly clusterId: string;
  /** key (under config/) -> its value and the value's decoding */
  readonly entries: CowMap<DecodedEntry>;
  /** undefined until a snapshot could be built */
  readonly snapshot: Snapshot | undefined;
  /** the entries moved on but no snapshot could be built for them: the next step builds from scratch */
  readonly behind?: boolean;
}

export type ChangeReason = 'list' | 'watch' | 'relist';

export type ViewStep =
  | {
      kind: 'published';
      view: ConfigView;
      snapshot: Snapshot;
      previous: Snapshot | undefined;
      revision: number;
      reason: ChangeReason;
      /** keys written (a put of an unchanged value in a watch response counts) or deleted */
      put: string[];
      deleted: string[];
      /** entries of the keys this step changed that could not be decoded (to log once) */
      newlyInvalid: InvalidEntry[];
    }
  /** every event of the response was already applied (a replay) */
  | { kind: 'unchanged' }
  /** the values were taken in but no snapshot could be built: keep serving the last one */
  | { kind: 'failed'; view: ConfigView; revision: number; error: unknown };

export function emptyView(): ConfigView {
  return { revision: 0, clusterId: '', entries: CowMap.empty(), snapshot: undefined };
}

function decodeEntry(layout: Layout, prev: DecodedEntry | undefined, key: string, value: string): DecodedEntry {
  return prev && prev.value === value ? prev : { value, decoded: decodeConfig(layout, [[key, value]]) };
}

function gather(entries: CowMap<DecodedEntry>): { mounts: ParsedMount[]; rules: RuleSpec[]; invalid: InvalidEntry[] } {
  const out = { mounts: [] as ParsedMount[], rules: [] as RuleSpec[], invalid: [] as InvalidEntry[] };
  for (const { decoded: d } of entries.values()) {
    out.mounts.push(...d.mounts);
    out.rules.push(...d.rules);
    out.invalid.push(...d.invalid);
  }
  return out;
}

/** A LIST result replaces the view (decoding only values that changed); diffed against the previous view. */
export function applyList(view: ConfigView, layout: Layout, list: ListResult, reason: 'list' | 'relist'): ViewStep {
  const edit = CowMap.empty<DecodedEntry>().edit();
  const put: string[] = [];
  const newlyInvalid: InvalidEntry[] = [];
  for (const [k, v] of list.kvs) {
    const prev = view.entries.get(k);
    const e = decodeEntry(layout, prev, k, v);
    edit.set(k, e);
    if (prev?.value !== v) {
      put.push(k);
      newlyInvalid.push(...e.decoded.invalid);
    }
  }
  const entries = edit.done();
  const deleted = [...view.entries.keys()].filter((k) => !entries.has(k));
  const clusterId = list.clusterId || view.clusterId;
  const next = { revision: list.revision, clusterId, entries };
  let snapshot: Snapshot;
  try {
    snapshot = Snapshot.build(list.configRevision ?? list.revision, gather(entries));
  } catch (error) {
    return { kind: 'failed', view: { ...next, revision: view.revision, snapshot: view.snapshot, behind: true }, revision: list.revision, error };
  }
  return { kind: 'published', view: { ...next, snapshot }, snapshot, previous: view.snapshot, revision: list.revision, reason, put, deleted, newlyInvalid };
}

/**
 * One watch response. The applied revision comes from the events themselves (the highest
 * mod_revision applied), never from the response header: while etcd catches a watcher up
 * from far behind (at most 1000 revisions per response) EVERY catch-up response carries the
 * store's current revision in its header, so taking the header would claim revisions whose
 * events are still to come. Replays are skipped per event (mod_revision at or below what is
 * applied), never per response.
 */
export function applyEvents(view: ConfigView, layout: Layout, events: readonly WatchEvent[]): ViewStep {
  const edit = view.entries.edit();
  const put: string[] = [];
  const deleted: string[] = [];
  const touched = new Map<string, DecodedEntry | undefined>(); // key -> entry before this response
  let revision = view.revision;
  for (const ev of events) {
    if (ev.modRevision <= view.revision) continue; // replayed: already part of the applied view
    if (ev.modRevision > revision) revision = ev.modRevision;
    if (!touched.has(ev.key)) touched.set(ev.key, view.entries.get(ev.key));
    if (ev.type === 'delete') {
      if (edit.delete(ev.key)) deleted.push(ev.key);
    } else {
      edit.set(ev.key, decodeEntry(layout, edit.get(ev.key), ev.key, ev.value));
      put.push(ev.key);
    }
  }
  if (touched.size === 0) return { kind: 'unchanged' };
  const entries = edit.done();
  const next = { revision, clusterId: view.clusterId, entries };
  const delta = deltaOf(touched, entries, layout);
  const newlyInvalid = [...touched.keys()].flatMap((k) => {
    const e = entries.get(k);
    return e && e !== touched.get(k) ? e.decoded.invalid : [];
  });
  let snapshot: Snapshot;
  try {
    snapshot = view.snapshot && !view.behind ? view.snapshot.apply(revision, delta) : Snapshot.build(revision, gather(entries));
  } catch (error) {
    return { kind: 'failed', view: { ...next, revision: view.revision, snapshot: view.snapshot, behind: true }, revision, error };
  }
  return { kind: 'published', view: { ...next, snapshot }, snapshot, previous: view.snapshot, revision, reason: 'watch', put, deleted, newlyInvalid };
}

/** The Snapshot delta of the keys a response touched: rules by id; the mount table and the skipped entries whole, when they changed. */
function deltaOf(touched: ReadonlyMap<string, DecodedEntry | undefined>, entries: CowMap<DecodedEntry>, layout: Layout): SnapshotDelta {
  const removeRules: string[] = [];
  const upsertRules: RuleSpec[] = [];
  let mountsChanged = false;
  let invalidChanged = false;
  for (const [key, before] of touched) {
    const after = entries.get(key);
    if (before === after) continue;
    for (const r of before?.decoded.rules ?? []) removeRules.push(r.id);
    for (const r of after?.decoded.rules ?? []) upsertRules.push(r);
    if ((before?.decoded.mounts.length ?? 0) + (after?.decoded.mounts.length ?? 0) > 0) mountsChanged = true;
    if ((before?.decoded.invalid.length ?? 0) + (after?.decoded.invalid.length ?? 0) > 0) invalidChanged = true;
  }
  const delta: SnapshotDelta = { removeRules, upsertRules };
  if (mountsChanged) {
    const mounts: ParsedMount[] = [];
    for (const [k, e] of entries) if (k.startsWith(layout.mountsPrefix)) mounts.push(...e.decoded.mounts);
    delta.mounts = mounts;
  }
  if (invalidChanged) delta.invalid = [...entries.values()].flatMap((e) => e.decoded.invalid);
  return delta;
}
