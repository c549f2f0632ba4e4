/**
 * `alluxio resolve` and `alluxio path-mapping test`: read the config at one revision,
 * build a Snapshot (exactly what a worker builds), resolve one request with its trace.
 */
import { AlluxioError } from '../domain/errors.js';
import { Snapshot } from '../domain/snapshot.js';
import { DEFAULT_FUSE_ROOT, type Api, type Resolution, type ResolveRequest, type TraceStep } from '../domain/resolver.js';
import type { EtcdConnection } from '../store/connection.js';
import { readConfig } from '../store/config-store.js';

/**
 * The snapshot at the CONFIG revision (resolution.md §6: the revision of the last change to
 * mounts or rules, what a worker's snapshot and its REST `resolved.revision` report), not
 * etcd's read revision, which also moves with membership writes.
 */
export async function loadSnapshot(conn: EtcdConnection): Promise<Snapshot> {
  const state = await readConfig(conn);
  return Snapshot.build(state.configRevision, { mounts: state.mounts, rules: state.rules, invalid: state.invalid });
}

export interface ResolveCliInput {
  api: Api;
  arg?: string | undefined;
  fuseRoot?: string | undefined;
  bucket?: string | undefined;
  key?: string | undefined;
}

/** Turn CLI flags into a request; usage errors are InvalidArgument (exit 2). */
export function requestFromCli(input: ResolveCliInput): ResolveRequest {
  switch (input.api) {
    case 'alluxio':
      if (input.arg === undefined) throw new AlluxioError('InvalidArgument', 'give an Alluxio path, e.g. alluxio resolve /data/file.csv');
      if (/^[a-z][a-z0-9+.\-]*:\/\//i.test(input.arg) && !input.arg.startsWith('/')) {
        // A URI given without --api: treat it the way FSSpec would, which is what users mean.
        return { api: 'fsspec', uri: input.arg };
      }
      return { api: 'alluxio', path: input.arg };
    case 'posix':
      if (input.arg === undefined) throw new AlluxioError('InvalidArgument', `give a local path under the FUSE root, e.g. ${DEFAULT_FUSE_ROOT}/data/file.csv`);
      return { api: 'posix', path: input.arg, fuseRoot: input.fuseRoot ?? DEFAULT_FUSE_ROOT };
    case 's3': {
      if (input.bucket !== undefined && input.arg !== undefined) {
        throw new AlluxioError('InvalidArgument', `give either --bucket/--key or bucket/key as the argument, not both (got --bucket ${input.bucket} and ${JSON.stringify(input.arg)})`);
      }
      let bucket = input.bucket;
      let key = input.key;
      if (bucket === undefined && input.arg !== undefined) {
        // `resolve --api s3 bucket/key` or `s3://bucket/key` as a convenience.
        const m = /^(?:s3:\/\/)?([^/]+)(?:\/([\s\S]*))?$/.exec(input.arg);
        if (!m) throw new AlluxioError('InvalidArgument', `cannot read a bucket and key from ${JSON.stringify(input.arg)}`);
        bucket = m[1];
        key = key ?? m[2] ?? '';
      }
      if (bucket === undefined) throw new AlluxioError('InvalidArgument', 'give --bucket (and --key), e.g. alluxio resolve --api s3 --bucket data --key file.csv');
      return { api: 's3', bucket, key: key ?? '' };
    }
    case 'fsspec':
      if (input.arg === undefined) throw new AlluxioError('InvalidArgument', 'give a URI, e.g. alluxio resolve --api fsspec s3://my-bucket/data/file.csv');
      return { api: 'fsspec', uri: input.arg };
    default:
      throw new AlluxioError('InvalidArgument', `unknown --api ${JSON.stringify(input.api)}`);
  }
}

/** The JSON document of `resolve --json` and `path-mapping test --json` (cli.md). */
export type ResolutionDoc = Pick<Resolution, 'api' | 'input' | 'alluxioPath' | 'rewrittenPath' | 'rule' | 'mount' | 'ufsUri' | 'revision' | 'trace'>;

export function resolutionDoc(r: Resolution): ResolutionDoc {
  return {
    api: r.api,
    input: r.input,
    alluxioPath: r.alluxioPath,
    rewrittenPath: r.rewrittenPath,
    rule: r.rule,
    mount: r.mount ? { path: r.mount.path, ufsUri: r.mount.ufsUri, readOnly: r.mount.readOnly } : null,
    ufsUri: r.ufsUri,
    revision: r.revision,
    trace: r.trace,
  };
}

/** The trace as readable lines. */
export function formatTrace(trace: readonly TraceStep[]): string[] {
  const lines: string[] = [];
  for (const t of trace) {
    switch (t.step) {
      case 'input':
        lines.push(`input      ${String(t.input)}  (api ${String(t.api)}, revision ${String(t.revision)})`);
        break;
      case 'decode':
        if (t.reverseMount) lines.push(`decode     ${String(t.mountUri)} is mounted at ${String(t.reverseMount)} -> ${String(t.path)}`);
        else if (t.fuseRoot) lines.push(`decode     under FUSE root ${String(t.fuseRoot)} -> ${String(t.path)}`);
        else if (t.bucket !== undefined) lines.push(`decode     bucket ${JSON.stringify(t.bucket)} key ${JSON.stringify(t.key)} -> ${String(t.path)}`);
        else lines.push(`decode     -> ${String(t.path)}`);
        break;
      case 'normalize':
        lines.push(`normalize  ${String(t.path)}`);
        break;
      case 'rule': {
        const tried = (t.tried as { id: string; matched: boolean; excluded?: boolean }[] | undefined) ?? [];
        for (const x of tried) {
          lines.push(`rule       ${x.id}: ${x.excluded ? 'matched, but excluded' : x.matched ? 'matched' : 'no match'}`);
        }
        if (t.matched) {
          const caps = t.captures ? '  ' + Object.entries(t.captures as Record<string, string>).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ') : '';
          lines.push(`rule       -> ${String(t.matched)} (${String(t.kind)}: ${String(t.src)} -> ${String(t.dst)})${caps}`);
        } else lines.push('rule       no rule matched');
        break;
      }
      case 'rewrite':
        lines.push(`rewrite    ${String(t.from)} -> ${String(t.to)}`);
        break;
      case 'mount':
        lines.push(t.mount ? `mount      ${String(t.mount)} -> ${String(t.ufsUri)}` : 'mount      (no mount covers this path)');
        break;
      case 'join':
        lines.push(`ufs uri    ${String(t.ufsUri)}`);
        break;
      default:
        lines.push(`${t.step.padEnd(10)} ${JSON.stringify(t)}`);
    }
  }
  return lines;
}
