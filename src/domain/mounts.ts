/**
 * The mount table as a value: validation of one entry, and the table-wide rules
 * (unique paths, no nesting in the UFS namespace) checked before any write.
 */
import { parseDuration } from './duration.js';
import { AlluxioError } from './errors.js';
import { CONTROL_CHARS, normalizePath, segmentsOf } from './paths.js';
import { isUfsPrefix, joinUnderUfs, maskUserInfo, parseUfsUri, type ParsedUfsUri } from './ufs-uri.js';

export interface MountEntry {
  /** Canonical, exactly one segment: `/data`. */
  path: string;
  /** Canonical UFS URI (trailing `/`). */
  ufsUri: string;
  readOnly: boolean;
  options: Record<string, string>;
}

/** A validated mount with its URI parsed once (what the resolver indexes). */
export interface ParsedMount extends MountEntry {
  name: string;
  ufs: ParsedUfsUri;
}

export function validateMountPath(raw: string): string {
  const p = normalizePath(raw, 'mount-path');
  const segs = segmentsOf(p);
  if (segs.length === 0) throw new AlluxioError('InvalidMount', 'the root "/" cannot be a mount point; use a top-level path such as /data');
  if (segs.length > 1) {
    throw new AlluxioError('InvalidMount', `mount point "${p}" is nested; mount points are exactly one segment (/${segs[0]}), like Alluxio's top-level mounts`);
  }
  return p;
}

const OPTION_KEY = /^[A-Za-z0-9][A-Za-z0-9._\-]*$/;

/** Parse `k=v` (the value may contain `=`). */
export function parseOption(raw: string): [string, string] {
  const i = raw.indexOf('=');
  if (i < 0) throw new AlluxioError('InvalidOption', `option "${raw}" has no "="; write key=value`);
  const key = raw.slice(0, i);
  const value = raw.slice(i + 1);
  validateOption(key, value);
  return [key, value];
}

export function validateOption(key: string, value: string): void {
  if (!OPTION_KEY.test(key)) throw new AlluxioError('InvalidOption', `option key "${key}" is not allowed (letters, digits, ".", "_", "-")`);
  if (value === '') throw new AlluxioError('InvalidOption', `option "${key}" has an empty value; leave the option out instead`);
  if (CONTROL_CHARS.test(value)) throw new AlluxioError('InvalidOption', `option "${key}" contains control characters`);
  if (key === S3_SOCKET_TIMEOUT) s3SocketTimeoutMs(value);
}

/** The s3:// adapter's deadline option (src/ufs/s3.ts, docs/s3-api.md). */
export const S3_SOCKET_TIMEOUT = 's3a.socket.timeout';
/** Its largest value: Node's timers take at most 2^31-1 ms and treat more as 1 ms. */
const MAX_SOCKET_TIMEOUT_MS = 24 * 3_600_000;

/** s3a.socket.timeout in ms: a duration from 1ms to 24h (`30s`, `2m`, `1500ms`; a bare number is seconds). */
export function s3SocketTimeoutMs(raw: string): number {
  return durationOptionMs(S3_SOCKET_TIMEOUT, raw, 1, MAX_SOCKET_TIMEOUT_MS, 'a duration from 1ms to 24h, such as 30s');
}

/** A duration option's value in ms, from minMs to maxMs; otherwise InvalidOption saying what it must be. */
function durationOptionMs(key: string, raw: string, minMs: number, maxMs: number, mustBe: string): number {
  let ms = NaN;
  try {
    ms = parseDuration(raw, key);
  } catch {
    // said below
  }
  if (!(ms >= minMs && ms <= maxMs)) throw new AlluxioError('InvalidOption', `${key} "${raw}" must be ${mustBe} (a bare number is seconds)`);
  return ms;
}

/** The worker cache's metadata TTL (docs/cache.md): a duration; 0 = ask the UFS on every open. */
export const METADATA_TTL_OPTION = 'cache.metadata.ttl';

/** Its value when a mount does not set it. */
export const DEFAULT_METADATA_TTL_MS = 10_000;
/** Its largest value: 30 days. */
const MAX_METADATA_TTL_MS = 720 * 3_600_000;

/** cache.metadata.ttl in ms: a duration from 0 to 720h (`0`, `500ms`, `10s`, `5m`; a bare number is seconds). */
export function metadataTtlMs(raw: string): number {
  return durationOptionMs(METADATA_TTL_OPTION, raw, 0, MAX_METADATA_TTL_MS, 'a duration from 0 to 720h, such as 0, 500ms, 10s or 5m');
}

/**
 * cache.metadata.ttl as a worker reads it from a stored mount (`raw` undefined: not set, the
 * default): a value over the cap (allowed before the cap) is the cap, anything that is not a
 * duration (stored before writes were checked) is 0, never stale.
 */
export function storedMetadataTtlMs(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_METADATA_TTL_MS;
  let ms = NaN;
  try {
    ms = parseDuration(raw, METADATA_TTL_OPTION);
  } catch {
    return 0;
  }
  return ms >= 0 ? Math.min(ms, MAX_METADATA_TTL_MS) : 0;
}

/**
 * The options a write sets, checked for what readers tolerate but writers must not write: a
 * worker reads a bad cache.metadata.ttl as 0 (ask the UFS every time: never stale), so a mount
 * stored with one before this check keeps loading, and updates that leave it alone still pass.
 */
export function checkWrittenOptions(options: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(options)) {
    if (key === METADATA_TTL_OPTION) metadataTtlMs(value);
    if (key === PRUNE_EMPTY_DIRS_OPTION && value !== 'true' && value !== 'false') throw new AlluxioError('InvalidOption', `${key} "${value}" must be true or false`);
  }
}

/** The s3:// adapter's credential options, each with its aliases (src/ufs/s3.ts reads them in this order). */
export const S3_ACCESS_KEY_OPTIONS = ['s3a.accessKeyId', 'aws.accessKeyId', 's3a.access.key'] as const;
export const S3_SECRET_KEY_OPTIONS = ['s3a.secretKey', 'aws.secretKey', 's3a.secret.key'] as const;

/**
 * The checks of a whole mount as a write would store it (add, update, a migration's target):
 * an s3:// mount's access key and secret key are both set or neither. (One without the other
 * was stored, and every request to the mount then failed: S3 500, FUSE EINVAL.)
 */
export function checkWrittenMount(m: Pick<ParsedMount, 'ufs' | 'options'>): void {
  if (m.ufs.scheme !== 's3' && m.ufs.scheme !== 's3a') return;
  const has = (names: readonly string[]) => names.some((n) => m.options[n] !== undefined && m.options[n] !== '');
  const ak = has(S3_ACCESS_KEY_OPTIONS);
  if (ak !== has(S3_SECRET_KEY_OPTIONS)) {
    throw new AlluxioError('InvalidOption', `s3a.accessKeyId and s3a.secretKey must be given together: the mount would have ${ak ? 'an access key without its secret key' : 'a secret key without its access key'} (set both, or neither for the SDK's credential chain)`);
  }
}

/**
 * S3 DeleteObject on a file:// mount removes the directories it empties (as a prefix exists
 * only while a key is below it); `false` keeps them (directories made on purpose, through
 * FUSE or by other programs, that must outlive their files). Default true.
 */
export const PRUNE_EMPTY_DIRS_OPTION = 's3.prune.empty.dirs';

export function parseOptions(raw: readonly string[]): Record<string, string> {
  // A Map, not `k in obj`: keys such as "constructor" or "__proto__" are ordinary option keys.
  const out = new Map<string, string>();
  for (const r of raw) {
    const [k, v] = parseOption(r);
    if (out.has(k) && out.get(k) !== v) throw new AlluxioError('InvalidOption', `option "${k}" given twice with different values`);
    out.set(k, v);
  }
  return Object.fromEntries(out);
}

/** Validate and canonicalise one entry (from the CLI or from etcd; writes also checkWrittenOptions). */
export function parseMount(input: { path: string; ufsUri: string; readOnly?: boolean; options?: Record<string, string> }): ParsedMount {
  const path = validateMountPath(input.path);
  const ufs = parseUfsUri(input.ufsUri);
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(input.options ?? {})) {
    if (typeof v !== 'string') throw new AlluxioError('InvalidOption', `option "${k}" must be a string`);
    validateOption(k, v);
    entries.push([k, v]);
  }
  const options: Record<string, string> = Object.fromEntries(entries);
  return { path, name: path.slice(1), ufsUri: ufs.uri, ufs, readOnly: input.readOnly === true, options };
}

export function toEntry(m: ParsedMount): MountEntry {
  return { path: m.path, ufsUri: m.ufsUri, readOnly: m.readOnly, options: { ...m.options } };
}

/**
 * Check that `candidate` can join `table` (replacing the entry at the same path when
 * `replacing` is true): no duplicate path, and no URI nesting either way.
 */
export function checkMountAgainst(table: readonly ParsedMount[], candidate: ParsedMount, replacing: boolean): void {
  for (const m of table) {
    if (m.path === candidate.path) {
      if (!replacing) throw new AlluxioError('MountExists', `${candidate.path} is already mounted (to ${m.ufsUri})`, { details: { path: m.path } });
      continue;
    }
    if (m.ufsUri === candidate.ufsUri) {
      throw new AlluxioError('MountNested', `${candidate.ufsUri} is already mounted at ${m.path}`, { details: { path: m.path, ufsUri: m.ufsUri } });
    }
    if (isUfsPrefix(m.ufs, candidate.ufs) || isUfsPrefix(candidate.ufs, m.ufs)) {
      throw new AlluxioError(
        'MountNested',
        `${candidate.ufsUri} and ${m.ufsUri} (mounted at ${m.path}) would nest; mounts may not contain one another`,
        { details: { path: m.path, ufsUri: m.ufsUri } },
      );
    }
  }
}

// cli.md: keys containing secret, password, token, credential, accessKey (any case); also the
// Hadoop spellings (fs.s3a.access.key, passwd, private.key) so they never leak either.
const SECRET_KEY = /secret|passw(?:or)?d|token|credential|access[._-]?key|private[._-]?key/i;

export function isSecretOptionKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Options as shown: values of secret keys are `***`, and a URI value (an endpoint, a proxy)
 * has its user-info masked (`https://user:pw@host/` showed the password: the key was no
 * secret's).
 */
export function redactOptions(options: Record<string, string>, showSecrets: boolean): Record<string, string> {
  if (showSecrets) return { ...options };
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [k, isSecretOptionKey(k) ? '***' : maskUserInfo(v)]));
}

export function sortMounts<T extends { path: string }>(mounts: readonly T[]): T[] {
  return [...mounts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * The mount whose UFS contains `uri` (a resolved UFS URI, as a peer names an object), with
 * the decoded segments below it; null when none does. The result is proven by joining the
 * segments back under the mount (joinUnderUfs, the one containment check): it must give
 * `uri` exactly, so a URI with `..`, an encoded `/` or anything non-canonical names nothing.
 */
export function mountContaining(mounts: readonly ParsedMount[], uri: string): { mount: ParsedMount; rel: string[] } | null {
  for (const m of mounts) {
    const base = m.ufs.uri;
    if (!uri.startsWith(base) || uri.length === base.length) continue;
    let rel: string[];
    try {
      rel = uri.slice(base.length).split('/').map((s) => decodeURIComponent(s));
      if (joinUnderUfs(m.ufs, rel).uri !== uri) continue;
    } catch {
      continue;
    }
    return { mount: m, rel };
  }
  return null;
}
