/**
 * The REST API's JSON shapes: entries, the `resolved` block, names written back in the form
 * the client used, and the JSON answers themselves (docs/rest-api.md).
 */
import type { ServerResponse } from 'node:http';
import { pathOf, segmentsOf } from '../../domain/paths.js';
import type { Resolution } from '../../domain/resolver.js';
import { formatRequestUri, parseRequestUri } from '../../domain/ufs-uri.js';
import type { UfsEntry } from '../../ufs/types.js';
import type { RestError } from './errors.js';

/** How URIs of a request are written back: in the form the client used. */
interface UriForm {
  self: string;
  child(name: string): string;
}

function trimSlash(uri: string): string {
  return uri.endsWith('/') && !uri.endsWith(':///') ? uri.slice(0, -1) : uri;
}

function isAlluxioForm(uri: string): boolean {
  return uri.startsWith('/') || /^alluxio:\/\//i.test(uri);
}

export function uriForm(uri: string, res: Resolution): UriForm {
  if (isAlluxioForm(uri)) {
    const segs = segmentsOf(res.alluxioPath);
    return { self: 'alluxio://' + res.alluxioPath, child: (name) => 'alluxio://' + pathOf([...segs, name]) };
  }
  // Raw names, as s3fs gives them: the client passes them back as they are.
  const p = parseRequestUri(uri);
  return {
    self: trimSlash(formatRequestUri(p.scheme, p.authority, p.segments)),
    child: (name) => formatRequestUri(p.scheme, p.authority, [...p.segments, name]),
  };
}

export function entryJson(uri: string, e: UfsEntry, virtual = false): Record<string, unknown> {
  return {
    name: uri,
    type: e.type,
    size: e.type === 'directory' ? 0 : e.size,
    mtime: e.mtimeMs / 1000,
    ...((e.declaredEtag ?? e.etag) ? { etag: e.declaredEtag ?? e.etag } : {}),
    ...(virtual ? { virtual: true } : {}),
  };
}

export function resolvedJson(r: Resolution): Record<string, unknown> {
  return {
    path: r.alluxioPath,
    rewrittenPath: r.rewrittenPath,
    rule: r.rule?.id ?? null,
    mount: r.mount?.path ?? null,
    readOnly: r.mount?.readOnly ?? null,
    ufsUri: r.ufsUri,
    revision: r.revision,
  };
}

/**
 * A JSON answer: of the REST API, and of the worker's own endpoints and cache admin on the
 * same port. `headers` are added after the three fixed ones (a name among them replaces it);
 * written in one go as a flat list, as S3's answers are. `head`: the headers alone (HEAD).
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, head = false): void {
  const text = JSON.stringify(body);
  const list: (string | number)[] = ['content-type', 'application/json', 'content-length', Buffer.byteLength(text), 'cache-control', 'no-store'];
  for (const name of Object.keys(headers)) {
    const i = list.indexOf(name.toLowerCase());
    if (i >= 0 && i % 2 === 0) list[i + 1] = headers[name]!;
    else list.push(name, headers[name]!);
  }
  res.writeHead(status, list);
  res.end(head ? undefined : text);
}

export function sendError(res: ServerResponse, e: RestError, method: string): void {
  const step = e.headers['x-alluxio-error-step'];
  sendJson(res, e.status, { error: { code: e.code, message: e.message, ...(step ? { step } : {}) } }, e.headers, method === 'HEAD');
}

