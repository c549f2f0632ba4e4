/**
 * Mount-table operations (the use cases behind `alluxio mount ...`): validate in the
 * domain, commit through the transactional config store.
 */
import { AlluxioError } from '../domain/errors.js';
import { checkMountAgainst, checkWrittenMount, checkWrittenOptions, parseMount, sortMounts, toEntry, type MountEntry } from '../domain/mounts.js';
import { validateMountPath } from '../domain/mounts.js';
import type { EtcdConnection } from '../store/connection.js';
import { readConfig, transact, type Committed, type Plan } from '../store/config-store.js';
import { assertNoActiveMigration } from '../migrate/store.js';

export interface MountList {
  revision: number;
  mounts: MountEntry[];
  invalid: { key: string; error: string }[];
}

export async function listMounts(conn: EtcdConnection): Promise<MountList> {
  // Read-only: through the gateway, so `mount list` does not load the grpc client.
  const state = await readConfig(conn);
  return {
    // the config revision (resolution.md §6): what resolve, worker list and --wait report,
    // not etcd's head, which membership writes move
    revision: state.configRevision,
    mounts: sortMounts(state.mounts).map(toEntry),
    invalid: state.invalid.filter((i) => i.key.startsWith(conn.layout.mountsPrefix)),
  };
}

export interface AddMountInput {
  path: string;
  ufsUri: string;
  readOnly?: boolean;
  options?: Record<string, string>;
}

export async function addMount(conn: EtcdConnection, input: AddMountInput): Promise<Committed<MountEntry>> {
  const candidate = parseMount(input);
  checkWrittenOptions(candidate.options);
  checkWrittenMount(candidate);
  return transact(conn, (state) => {
    checkMountAgainst(state.mounts, candidate, false);
    return { ops: [{ type: 'put', key: conn.layout.mountKey(candidate.path), value: JSON.stringify(toEntry(candidate)) }], result: toEntry(candidate) };
  }, { actor: 'mount add' });
}

export interface UpdateMountInput {
  path: string;
  ufsUri?: string | undefined;
  readOnly?: boolean | undefined;
  setOptions?: Record<string, string>;
  removeOptions?: string[];
}

export async function updateMount(conn: EtcdConnection, input: UpdateMountInput): Promise<Committed<{ before: MountEntry; after: MountEntry }>> {
  const path = validateMountPath(input.path);
  return transact(conn, async (state) => {
    const current = state.mounts.find((m) => m.path === path);
    if (!current) throw new AlluxioError('MountNotFound', `no mount at ${path}`);
    // A migration holding the mount (docs/migration.md) is read at the same revision.
    await assertNoActiveMigration(conn, path, state.revision, 'update');
    const options = { ...current.options, ...(input.setOptions ?? {}) };
    for (const k of input.removeOptions ?? []) {
      if (!Object.hasOwn(options, k)) throw new AlluxioError('InvalidOption', `mount ${path} has no option "${k}" to remove`);
      delete options[k];
    }
    const next = parseMount({
      path,
      ufsUri: input.ufsUri ?? current.ufsUri,
      readOnly: input.readOnly ?? current.readOnly,
      options,
    });
    checkWrittenOptions(input.setOptions ?? {});
    checkWrittenMount(next);
    checkMountAgainst(state.mounts, next, true);
    return {
      ops: [{ type: 'put', key: conn.layout.mountKey(path), value: JSON.stringify(toEntry(next)) }],
      result: { before: toEntry(current), after: toEntry(next) },
    };
  }, { actor: 'mount update' });
}

/**
 * Remove the mount at `rawPath`. With `expected`, only what the caller showed the user (in
 * the confirmation question): a mount now pointing elsewhere, or a valid mount stored where
 * they confirmed removing a malformed value, is refused (Conflict, exit 3) rather than a
 * binding nobody confirmed removed. `force` also removes a malformed value stored under the
 * path (result null).
 */
export async function removeMount(conn: EtcdConnection, rawPath: string, expected?: { ufsUri: string } | 'malformed', force = false): Promise<Committed<MountEntry | null>> {
  const path = validateMountPath(rawPath);
  return transact(conn, async (state): Promise<Plan<MountEntry | null>> => {
    const current = state.mounts.find((m) => m.path === path);
    if (!current) {
      const bad = state.invalid.find((i) => i.key === conn.layout.mountKey(path));
      if (bad && force) return { ops: [{ type: 'delete', key: conn.layout.mountKey(path) }], result: null };
      if (bad) throw malformedMount(path, bad.error);
      throw new AlluxioError('MountNotFound', `no mount at ${path}`);
    }
    if (expected === 'malformed') {
      // the user confirmed removing a malformed value; a valid mount stored since is not it
      throw new AlluxioError('Conflict', `mount ${path} is no longer malformed: it now points at ${current.ufsUri}; nothing removed (run the command again to remove it)`, {
        details: { path, actual: current.ufsUri },
      });
    }
    if (expected && current.ufsUri !== expected.ufsUri) {
      throw new AlluxioError('Conflict', `mount ${path} changed since it was confirmed: it now points at ${current.ufsUri}, not ${expected.ufsUri}; nothing removed (run the command again to remove the new binding)`, {
        details: { path, expected: expected.ufsUri, actual: current.ufsUri },
      });
    }
    await assertNoActiveMigration(conn, path, state.revision, 'remove');
    return { ops: [{ type: 'delete', key: conn.layout.mountKey(path) }], result: toEntry(current) };
  }, { actor: 'mount remove' });
}

/** Fail early (exit 4) when a mount a destructive command names does not exist. */
export async function getMount(conn: EtcdConnection, rawPath: string): Promise<MountEntry> {
  const path = validateMountPath(rawPath);
  const state = await readConfig(conn);
  const m = state.mounts.find((x) => x.path === path);
  if (!m) {
    const bad = state.invalid.find((i) => i.key === conn.layout.mountKey(path));
    if (bad) throw malformedMount(path, bad.error);
    throw new AlluxioError('MountNotFound', `no mount at ${path}`);
  }
  return toEntry(m);
}

/** A value is stored under the path but is no mount: not "not found" (exit 3, --force removes it). */
function malformedMount(path: string, error: string): AlluxioError {
  return new AlluxioError('InvalidState', `the value stored for mount ${path} is malformed (${error}); remove it with alluxio mount remove --path ${path} --force`, { details: { path } });
}

/**
 * Answer checks for `mount add` asked on a terminal: the same validation as the command
 * (path shape, URI shape, no duplicate or nesting against the table read before asking),
 * returning the message to show while the answer is not acceptable.
 */
export function mountAddQuestions(current: { mounts: readonly MountEntry[] }): { path: (v: string) => string | true; ufsUri: (path: string) => (v: string) => string | true } {
  const table = current.mounts.map((m) => parseMount(m));
  const check = (f: () => void): string | true => {
    try {
      f();
      return true;
    } catch (e) {
      return e instanceof AlluxioError ? e.message : String(e);
    }
  };
  return {
    path: (v) => check(() => {
      const path = validateMountPath(v);
      if (table.some((m) => m.path === path)) throw new AlluxioError('MountExists', `${path} is already mounted (alluxio mount update changes it)`);
    }),
    ufsUri: (path) => (v) => check(() => checkMountAgainst(table, parseMount({ path, ufsUri: v }), false)),
  };
}
