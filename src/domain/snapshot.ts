/**
 * A Snapshot: the mount table and the compiled rules of ONE etcd revision (resolution.md
 * §5). Built once per revision (by the CLI, or by a worker per watch response), then it
 * resolves any number of requests from every front end, purely: no I/O, no clock, no
 * mutation after construction.
 *
 * `Snapshot.build` compiles everything; `snapshot.apply(revision, delta)` derives the next
 * revision's snapshot from this one when a few rules (and/or the mount table) changed,
 * recompiling only those rules (rule-index.ts, virtual-children.ts). A worker applies a
 * one-rule change at 10,000 rules this way; the property test proves both roads equal.
 *
 * Longer than ~300 lines on purpose: one concern (a revision's resolution, resolution.md
 * §5-6), and the spec's single pass reads top to bottom in `resolve`.
 */
import { AlluxioError, isAlluxioError } from './errors.js';
import type { ParsedMount } from './mounts.js';
import { isPathPrefix, MAX_PATH_BYTES, normalizePath, pathOf, segmentsOf, stripPathPrefix } from './paths.js';
import { RuleIndex, type CompiledRule, type FailedRule } from './rule-index.js';
import { sortRules, type RuleSpec } from './rules.js';
import type { Resolution, ResolveOptions, ResolveRequest, TraceStep } from './resolver.js';
import { joinUnderUfs, maskUri, namespaceKey, parseRequestUri, type ParsedUfsUri, type UfsLocation } from './ufs-uri.js';
import { VirtualChildren } from './virtual-children.js';

/** Join memo bounds: entries, and the longest path worth remembering (memory stays a few MB). */
const JOIN_MEMO_MAX = 4096;
const JOIN_MEMO_MAX_PATH = 256;
/** S3 resolution memo bound (entries; cleared when full). */
const S3_MEMO_MAX = 8192;

/** A config entry that was skipped (malformed etcd value, rule that does not compile). */
export interface InvalidEntry {
  key: string;
  error: string;
}

export interface SnapshotConfig {
  mounts: ParsedMount[];
  rules: RuleSpec[];
  invalid?: InvalidEntry[];
}

/**
 * What changed since the snapshot `apply` is called on. Rules are identified by id: each
 * id comes from one source (etcd key `rules/<id>`), so an upsert replaces the rule of that id.
 */
export interface SnapshotDelta {
  /** The whole new mount table, when it changed. */
  mounts?: readonly ParsedMount[];
  removeRules?: readonly string[];
  upsertRules?: readonly RuleSpec[];
  /** Entries skipped before they got here (undecodable values): the whole new list, when it changed. */
  invalid?: readonly InvalidEntry[];
}

/** Where a snapshot's invalid entries come from (kept apart so `apply` can replace one part). */
interface InvalidParts {
  config: readonly InvalidEntry[];
  mountDupes: readonly InvalidEntry[];
  ruleDupes: readonly InvalidEntry[];
}

function ruleKeyOf(id: string): string {
  return `rule:${id}`;
}

/** Mounts sorted by path; a second mount of a name is reported, the first one used. */
function mountTable(all: readonly ParsedMount[]): { mounts: ParsedMount[]; dupes: InvalidEntry[] } {
  const mounts: ParsedMount[] = [];
  const dupes: InvalidEntry[] = [];
  const seen = new Set<string>();
  for (const m of [...all].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (seen.has(m.name)) {
      dupes.push({ key: `mount:${m.path}`, error: `duplicate mount ${m.path}; the first one is used` });
      continue;
    }
    seen.add(m.name);
    mounts.push(m);
  }
  return { mounts, dupes };
}

const failedEntry = (f: FailedRule): InvalidEntry => ({ key: ruleKeyOf(f.rule.id), error: f.error });

export class Snapshot {
  readonly revision: number;
  readonly mounts: readonly ParsedMount[];
  readonly invalid: readonly InvalidEntry[];
  private readonly byName: Map<string, ParsedMount>;
  /** `family://authority` (s3a is s3, ...) -> mounts there, deepest URI first (reverse lookup). */
  private readonly byAuthority: Map<string, ParsedMount[]>;
  private readonly index: RuleIndex;
  private readonly children: VirtualChildren;
  private readonly invalidParts: InvalidParts;
  /**
   * Memo of rewritten path -> UFS location. joinUnderUfs is pure and this snapshot never
   * changes, so a hit is exactly what the join would return; hot files (FUSE reads, S3
   * range GETs) skip re-proving the same join. Bounded: cleared when full.
   */
  private readonly joins = new Map<string, UfsLocation>();
  /**
   * Memo of S3 resolutions without a trace that landed in a mount: bucket -> key ->
   * Resolution. `resolve` is a pure function of the request and this snapshot, so a hit is
   * exactly what it would compute (a warm GET skips normalising, the rules and the join).
   * Failures are never remembered. Bounded: cleared when full. Callers never change a
   * Resolution.
   */
  private readonly s3Memo = new Map<string, Map<string, Resolution>>();
  private s3MemoSize = 0;

  private constructor(revision: number, mounts: ParsedMount[], parts: InvalidParts, failed: readonly FailedRule[], index: RuleIndex, children: VirtualChildren) {
    this.revision = revision;
    this.mounts = Object.freeze(mounts);
    this.invalidParts = parts;
    this.invalid = Object.freeze([...parts.config, ...parts.mountDupes, ...parts.ruleDupes, ...failed.map(failedEntry)]);
    this.index = index;
    this.children = children;
    this.byName = new Map(mounts.map((m) => [m.name, m]));
    this.byAuthority = new Map();
    for (const m of mounts) {
      const k = namespaceKey(m.ufs);
      let list = this.byAuthority.get(k);
      if (!list) this.byAuthority.set(k, (list = []));
      list.push(m);
    }
    for (const list of this.byAuthority.values()) list.sort((a, b) => b.ufs.segments.length - a.ufs.segments.length);
  }

  private rulesMemo: readonly RuleSpec[] | undefined;

  /** The rules that compiled, in evaluation order (derived on first use). */
  get rules(): readonly RuleSpec[] {
    return (this.rulesMemo ??= Object.freeze(this.index.compiled.map((c) => c.spec)));
  }

  static build(revision: number, config: SnapshotConfig): Snapshot {
    const { mounts, dupes } = mountTable(config.mounts);
    const sorted = sortRules(config.rules);
    const rules: RuleSpec[] = [];
    const ruleDupes: InvalidEntry[] = [];
    const ids = new Set<string>();
    for (const r of sorted) {
      if (ids.has(r.id)) {
        ruleDupes.push({ key: ruleKeyOf(r.id), error: `duplicate rule id ${r.id}; the first one in order is used` });
        continue;
      }
      ids.add(r.id);
      rules.push(r);
    }
    const { index, failed } = RuleIndex.build(rules);
    const parts = { config: [...(config.invalid ?? [])], mountDupes: dupes, ruleDupes };
    return new Snapshot(revision, mounts, parts, failed, index, VirtualChildren.build(mounts, index.compiled));
  }

  static empty(): Snapshot {
    return Snapshot.build(0, { mounts: [], rules: [] });
  }

  /**
   * The snapshot of `revision`: this one with `delta` applied. Only the changed rules are
   * validated and compiled; equal to `Snapshot.build` of the resulting config.
   */
  apply(revision: number, delta: SnapshotDelta): Snapshot {
    const ids = new Set<string>(delta.removeRules ?? []);
    for (const r of delta.upsertRules ?? []) ids.add(r.id);
    const { index, failed } = ids.size > 0 ? this.index.apply({ remove: delta.removeRules ?? [], upsert: delta.upsertRules ?? [] }) : { index: this.index, failed: this.index.failed() };
    let mounts = this.mounts as ParsedMount[];
    let mountDupes = this.invalidParts.mountDupes;
    if (delta.mounts) ({ mounts, dupes: mountDupes } = mountTable(delta.mounts));
    const removeRules: CompiledRule[] = [];
    const addRules: CompiledRule[] = [];
    for (const id of ids) {
      const was = this.index.get(id);
      const now = index.get(id);
      if (was === now) continue;
      if (was) removeRules.push(was);
      if (now) addRules.push(now);
    }
    const children =
      removeRules.length + addRules.length > 0 || delta.mounts
        ? this.children.apply({ removeRules, addRules, ...(delta.mounts ? { removeMounts: this.mounts, addMounts: mounts } : {}) })
        : this.children;
    const parts = { config: delta.invalid ? [...delta.invalid] : this.invalidParts.config, mountDupes, ruleDupes: this.invalidParts.ruleDupes };
    return new Snapshot(revision, [...mounts], parts, failed, index, children);
  }

  /** The rule index's shape and the virtual directory tree (tests compare an applied snapshot with a rebuilt one). */
  structure(): { rules: ReturnType<RuleIndex['structure']>; children: [string, readonly string[]][] } {
    return { rules: this.index.structure(), children: this.children.entries() };
  }

  /**
   * The mount a canonical Alluxio path falls under (by its first segment): `mount('/data')`
   * and `mount('/data/x/y')` both give the `/data` mount.
   */
  mount(path: string): ParsedMount | undefined {
    if (!path.startsWith('/')) return undefined;
    const i = path.indexOf('/', 1);
    return this.byName.get(i < 0 ? path.slice(1) : path.slice(1, i));
  }

  /**
   * Names appearing virtually directly under canonical dir `path`: mount names under '/',
   * and path components of enabled rule sources (a prefix rule's source; a regex rule's
   * literal prefix where it is a plain path). Sorted, unique.
   */
  virtualChildren(path: string): string[] {
    return [...this.children.of(path)];
  }

  /** Entries in the S3 resolution memo (for tests and diagnostics). */
  get s3MemoEntries(): number {
    return this.s3MemoSize;
  }

  resolve(req: ResolveRequest, opts: ResolveOptions = {}): Resolution {
    if (req.api !== 's3' || opts.trace !== false) return this.resolveNow(req, opts);
    // A mounted resolution is the same with or without allowUnmounted.
    const byKey = this.s3Memo.get(req.bucket);
    const known = byKey?.get(req.key);
    if (known !== undefined) return known;
    const r = this.resolveNow(req, opts);
    // Only short keys (as the join memo): an entry holds its key several times over, so
    // 8192 entries of long keys would be hundreds of MB. Frozen: every hit shares it.
    if (r.mount !== null && req.key.length <= JOIN_MEMO_MAX_PATH && req.bucket.length <= JOIN_MEMO_MAX_PATH) {
      if (this.s3MemoSize >= S3_MEMO_MAX) {
        this.s3Memo.clear();
        this.s3MemoSize = 0;
      }
      let m = this.s3Memo.get(req.bucket);
      if (!m) this.s3Memo.set(req.bucket, (m = new Map()));
      m.set(req.key, Object.freeze(r));
      this.s3MemoSize++;
    }
    return r;
  }

  private resolveNow(req: ResolveRequest, opts: ResolveOptions): Resolution {
    const tracing = opts.trace !== false;
    const trace: TraceStep[] = [];
    const input = describe(req);
    if (tracing) trace.push({ step: 'input', api: req.api, input, revision: this.revision });

    // 1. Front end -> Alluxio path.
    let alluxioPath: string;
    switch (req.api) {
      case 'alluxio': {
        alluxioPath = normalizePath(req.path, 'normalize');
        break;
      }
      case 'posix': {
        const root = normalizePath(req.fuseRoot, 'decode');
        // (the length limit is the Alluxio path's, whatever the mount point's length)
        const p = normalizePath(req.path, 'normalize', MAX_PATH_BYTES + Buffer.byteLength(root, 'utf8'));
        if (!isPathPrefix(root, p)) {
          throw new AlluxioError('InvalidPath', `${p} is not under the FUSE root ${root}`, { step: 'decode' });
        }
        alluxioPath = stripPathPrefix(root, p);
        if (Buffer.byteLength(alluxioPath, 'utf8') > MAX_PATH_BYTES) {
          throw new AlluxioError('NameTooLong', `path is longer than ${MAX_PATH_BYTES} bytes`, { step: 'normalize' });
        }
        if (tracing) trace.push({ step: 'decode', fuseRoot: root, path: alluxioPath });
        break;
      }
      case 's3': {
        const { bucket, key } = req;
        if (typeof bucket !== 'string' || bucket === '' || bucket.includes('/')) {
          throw new AlluxioError('InvalidPath', `bucket ${JSON.stringify(bucket)} is not one path segment`, { step: 'decode' });
        }
        if (typeof key !== 'string') throw new AlluxioError('InvalidPath', 'key must be a string', { step: 'decode' });
        const joined = key === '' ? `/${bucket}` : `/${bucket}/${key}`;
        if (tracing) trace.push({ step: 'decode', bucket, key, path: joined });
        alluxioPath = normalizePath(joined, 'normalize');
        break;
      }
      case 'fsspec': {
        alluxioPath = this.fromUri(req.uri, tracing ? trace : undefined);
        break;
      }
      default:
        throw new AlluxioError('InvalidArgument', `unknown api ${JSON.stringify((req as { api: unknown }).api)}`, { step: 'input' });
    }
    if (tracing) trace.push({ step: 'normalize', path: alluxioPath });

    // 2. Rules: first match in order, single pass, result normalised again.
    const tried = tracing ? ([] as { id: string; matched: boolean; excluded?: boolean }[]) : undefined;
    const m = this.index.match(alluxioPath, tried);
    let rewrittenPath = alluxioPath;
    let rule: Resolution['rule'] = null;
    if (m) {
      const spec = m.rule.spec;
      try {
        rewrittenPath = spec.kind === 'prefix' ? prefixResult(m.raw) : normalizePath(m.raw, 'rewrite');
      } catch (e) {
        throw new AlluxioError(
          'RuleResultInvalid',
          `rule ${spec.id} rewrote ${alluxioPath} to ${JSON.stringify(m.raw)}, which is not a valid Alluxio path: ${(e as Error).message}`,
          { step: 'rewrite', details: { rule: spec.id, path: alluxioPath, result: m.raw } },
        );
      }
      rule = m.captures ? { id: spec.id, kind: spec.kind, captures: m.captures } : { id: spec.id, kind: spec.kind };
      if (tracing) {
        trace.push({ step: 'rule', tried, matched: spec.id, kind: spec.kind, src: spec.src, dst: spec.dst, ...(m.captures ? { captures: m.captures } : {}) });
        trace.push({ step: 'rewrite', from: alluxioPath, to: rewrittenPath });
      }
    } else if (tracing) {
      trace.push({ step: 'rule', tried, matched: null });
    }

    // 3. Mount (first segment) and THE join.
    const mount = rewrittenPath === '/' ? undefined : this.mount(rewrittenPath);
    if (!mount) {
      if (!opts.allowUnmounted) {
        throw new AlluxioError(
          'NoMountForPath',
          rewrittenPath === '/' ? 'the root "/" is not inside any mount' : `no mount for ${rewrittenPath}` + (rewrittenPath !== alluxioPath ? ` (rewritten from ${alluxioPath} by rule ${rule!.id})` : ''),
          { step: 'mount', details: { path: rewrittenPath } },
        );
      }
      if (tracing) trace.push({ step: 'mount', mount: null });
      return { api: req.api, input, alluxioPath, rewrittenPath, rule, mount: null, ufsUri: null, location: null, revision: this.revision, trace };
    }
    if (tracing) trace.push({ step: 'mount', mount: mount.path, ufsUri: mount.ufsUri });
    let location = this.joins.get(rewrittenPath);
    if (location === undefined) {
      location = joinUnderUfs(mount.ufs, segmentsOf(rewrittenPath).slice(1));
      if (rewrittenPath.length <= JOIN_MEMO_MAX_PATH) {
        if (this.joins.size >= JOIN_MEMO_MAX) this.joins.clear();
        this.joins.set(rewrittenPath, location);
      }
    }
    if (tracing) trace.push({ step: 'join', ufsUri: location.uri });
    return {
      api: req.api,
      input,
      alluxioPath,
      rewrittenPath,
      rule,
      mount: { path: mount.path, ufsUri: mount.ufsUri, readOnly: mount.readOnly },
      ufsUri: location.uri,
      location,
      revision: this.revision,
      trace,
    };
  }

  /**
   * FSSpec: `alluxio:///p` or `/p` as is; a UFS-native URI by reverse mount lookup. The
   * URI is raw text (already decoded once by the front end that received it): its path is
   * never percent-decoded again (parseRequestUri).
   */
  private fromUri(uri: string, trace: TraceStep[] | undefined): string {
    if (typeof uri !== 'string' || uri === '') throw new AlluxioError('InvalidPath', 'URI is empty', { step: 'decode' });
    if (uri.startsWith('/')) return normalizePath(uri, 'normalize');
    const al = /^alluxio:\/\/([^/]*)(\/[\s\S]*)?$/i.exec(uri);
    if (al) {
      const p = normalizePath(al[2] ?? '/', 'normalize');
      trace?.push({ step: 'decode', scheme: 'alluxio', path: p });
      return p;
    }
    let parsed: ParsedUfsUri;
    try {
      parsed = parseRequestUri(uri);
    } catch (e) {
      // A too-long name stays NameTooLong (ENAMETOOLONG); anything else is an invalid path.
      throw new AlluxioError(isAlluxioError(e) && e.code === 'NameTooLong' ? 'NameTooLong' : 'InvalidPath', (e as Error).message, { step: 'decode' });
    }
    const list = this.byAuthority.get(namespaceKey(parsed));
    if (list) {
      for (const m of list) {
        if (m.ufs.segments.length > parsed.segments.length) continue;
        let ok = true;
        for (let i = 0; i < m.ufs.segments.length; i++) {
          if (m.ufs.segments[i] !== parsed.segments[i]) {
            ok = false;
            break;
          }
        }
        if (!ok) continue;
        const rest = parsed.segments.slice(m.ufs.segments.length);
        const p = normalizePath(pathOf([m.name, ...rest]), 'normalize');
        trace?.push({ step: 'decode', reverseMount: m.path, mountUri: m.ufsUri, path: p });
        return p;
      }
    }
    throw new AlluxioError('NoMountForUri', `no mount covers ${maskUri(uri)}`, { step: 'decode', details: { uri } });
  }
}

/**
 * A prefix rewrite is canonical by construction: a canonical target joined at a segment
 * boundary with the canonical remainder of a canonical path keeps every segment as it was.
 * Only the total length can break, so that is all we check (the property test compares
 * this with the equivalent regex rule, which goes through normalizePath).
 */
function prefixResult(raw: string): string {
  if (raw.length * 3 > MAX_PATH_BYTES && Buffer.byteLength(raw, 'utf8') > MAX_PATH_BYTES) {
    throw new AlluxioError('NameTooLong', `path is longer than ${MAX_PATH_BYTES} bytes`, { step: 'rewrite' });
  }
  return raw;
}

/** A short human string for a request (what `input` holds in the Resolution). */
function describe(req: ResolveRequest): string {
  switch (req.api) {
    case 'alluxio':
    case 'posix':
      return String(req.path);
    case 's3':
      return `s3://${String(req.bucket)}/${String(req.key)}`;
    case 'fsspec':
      return String(req.uri);
    default:
      return '';
  }
}
