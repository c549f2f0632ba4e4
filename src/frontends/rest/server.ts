/**
 * The worker's REST API (docs/rest-api.md), what the Python `alluxiofs` package reads
 * through. Served on the worker's REST port under /api/v1/ next to the worker's own
 * /api/v1/status.
 *
 * Every request reads the snapshot ONCE (ctx.snapshot()) and resolves its `uri` query
 * parameter through it with snapshot.resolve({api: 'fsspec', uri}): a UFS-native URI by
 * reverse mount lookup, `alluxio:///p` (or `/p`) as an Alluxio path; then the rules and
 * the mount table exactly as for S3 and POSIX. The query string is percent-decoded once
 * (by URLSearchParams); UFS-native URIs are then decoded per segment by the resolver's
 * URI parser, which rejects `..`, `%2e%2e` and `%2F` inside a segment.
 *
 * Bodies stream both ways through pipeline() (backpressure): a ranged GET never holds
 * more than the adapter's stream buffer, a PUT is written to the UFS as it arrives.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { AlluxioError, isAlluxioError } from '../../domain/errors.js';
import type { ParsedMount } from '../../domain/mounts.js';
import { pathOf, segmentsOf } from '../../domain/paths.js';
import type { Resolution } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { formatUfsUri, parseUfsUri } from '../../domain/ufs-uri.js';
import { FileUfs } from '../../ufs/file.js';
import type { UfsAdapter, UfsEntry } from '../../ufs/types.js';
import { isVirtualDirectory, listMerged } from '../common/listing.js';
import type { FrontendContext } from '../context.js';
import { authenticateRest, restAuthFromEnv, type RestAuthOptions } from './auth.js';
import { fromAlluxio, RestError, restErr } from './errors.js';
import { isLocalPeer } from './local-peer.js';

export const API_PREFIX = '/api/v1/';
/** Recursive deletes descend at most this deep. */
const MAX_DEPTH = 256;

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  snap: Snapshot;
}

interface Target {
  res: Resolution;
  mount: ParsedMount;
  adapter: UfsAdapter;
  rel: readonly string[];
}

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

function uriForm(uri: string, res: Resolution): UriForm {
  if (isAlluxioForm(uri)) {
    const segs = segmentsOf(res.alluxioPath);
    return { self: 'alluxio://' + res.alluxioPath, child: (name) => 'alluxio://' + pathOf([...segs, name]) };
  }
  const p = parseUfsUri(uri, 'InvalidPath');
  return {
    self: trimSlash(formatUfsUri(p.scheme, p.authority, p.segments)),
    child: (name) => trimSlash(formatUfsUri(p.scheme, p.authority, [...p.segments, name])),
  };
}

function entryJson(uri: string, e: UfsEntry, virtual = false): Record<string, unknown> {
  return {
    name: uri,
    type: e.type,
    size: e.type === 'directory' ? 0 : e.size,
    mtime: e.mtimeMs / 1000,
    ...(e.etag ? { etag: e.etag } : {}),
    ...(virtual ? { virtual: true } : {}),
  };
}

function resolvedJson(r: Resolution): Record<string, unknown> {
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

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, e: RestError, method: string): void {
  const body = JSON.stringify({ error: { code: e.code, message: e.message, ...(e.headers['x-alluxio-error-step'] ? { step: e.headers['x-alluxio-error-step'] } : {}) } });
  res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...e.headers });
  res.end(method === 'HEAD' ? undefined : body);
}

/** Parse a Range header against a size: null = the whole file (absent, multiple or malformed ranges are ignored). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw restErr.invalidRange(size);
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return null;
  if (start >= size) throw restErr.invalidRange(size);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

export function createRestHandler(ctx: FrontendContext, auth: RestAuthOptions = restAuthFromEnv()): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  function resolve(snap: Snapshot, uri: string, allowUnmounted: boolean): Resolution {
    const t0 = process.hrtime.bigint();
    try {
      return snap.resolve({ api: 'fsspec', uri }, { trace: false, allowUnmounted });
    } catch (e) {
      if (isAlluxioError(e)) throw fromAlluxio(e);
      throw e;
    } finally {
      ctx.observeResolve?.('fsspec', Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  function uriParam(c: Call): string {
    const uri = c.url.searchParams.get('uri');
    if (uri === null || uri === '') throw restErr.badRequest('the query parameter "uri" is required (a UFS URI such as s3://bucket/key, or alluxio:///path)');
    return uri;
  }

  function targetOf(snap: Snapshot, res: Resolution): Target {
    const mount = res.mount ? snap.mount(res.mount.path) : undefined;
    if (!mount || !res.location) throw new RestError(404, 'NoMountForPath', `no mount for ${res.rewrittenPath}`);
    let adapter: UfsAdapter;
    try {
      adapter = ctx.ufs(mount);
    } catch (e) {
      if (isAlluxioError(e)) throw new RestError(501, 'NotImplemented', e.message);
      throw e;
    }
    return { res, mount, adapter, rel: res.location.relSegments };
  }

  async function ufs<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (isAlluxioError(e)) throw fromAlluxio(e);
      throw e;
    }
  }

  function requireWritable(t: Target): void {
    if (t.mount.readOnly) throw restErr.readOnly(t.mount.path);
  }

  function notFound(res: Resolution, what = 'no such file or directory'): RestError {
    return new RestError(404, 'NotFound', `${res.input}: ${what}` + (res.rule ? ` (rewritten to ${res.rewrittenPath} by rule ${res.rule.id})` : ''));
  }

  // ---- endpoints --------------------------------------------------------------------

  function mounts(c: Call): void {
    sendJson(c.res, 200, {
      revision: c.snap.revision,
      mounts: c.snap.mounts.map((m) => ({ path: m.path, ufsUri: m.ufsUri, readOnly: m.readOnly })),
    });
  }

  function resolveEndpoint(c: Call): void {
    const uri = uriParam(c);
    let r: Resolution;
    try {
      r = c.snap.resolve({ api: 'fsspec', uri }, { allowUnmounted: true });
    } catch (e) {
      if (isAlluxioError(e)) throw fromAlluxio(e);
      throw e;
    }
    sendJson(c.res, 200, { input: uri, ...resolvedJson(r), trace: r.trace });
  }

  /**
   * Short-circuit reads (docs/rest-api.md): the local path of a file for a client on this
   * host, when the resolved mount is file://. The path comes from the file adapter's own
   * containment (FileUfs.localFile: the one join, symbolic links resolved inside the
   * mount); the identity lets the client check it opened that very file.
   */
  async function localGrant(req: IncomingMessage, t: Target): Promise<Record<string, unknown>> {
    if (!isLocalPeer(req)) return { localPath: null, localReason: "the client is not on the worker's host" };
    const adapter = t.adapter;
    if (!(adapter instanceof FileUfs)) return { localPath: null, localReason: `${t.mount.path} is not a file:// mount` };
    const f = await ufs(() => adapter.localFile(t.rel));
    if (!f) return { localPath: null, localReason: 'not a regular file inside the mount' };
    return { localPath: f.path, local: { size: f.size, mtimeNs: String(f.mtimeNs), ino: String(f.ino), dev: String(f.dev) } };
  }

  async function info(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, true);
    const form = uriForm(uri, r);
    let entry: UfsEntry | null = null;
    let t: Target | undefined;
    if (r.mount) {
      const target = (t = targetOf(c.snap, r));
      entry = await ufs(() => target.adapter.stat(target.rel));
    }
    let virtual = false;
    if (!entry && isVirtualDirectory(c.snap, r.alluxioPath)) {
      entry = { name: '', type: 'directory', size: 0, mtimeMs: 0 };
      virtual = true;
    }
    if (!entry) throw r.mount ? notFound(r) : new RestError(404, 'NoMountForPath', `no mount for ${r.rewrittenPath}`);
    const local = t && entry.type === 'file' && c.url.searchParams.get('shortCircuit') === 'true' ? await localGrant(c.req, t) : {};
    sendJson(c.res, 200, { ...entryJson(form.self, entry, virtual), resolved: resolvedJson(r), ...local });
  }

  async function list(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, true);
    const form = uriForm(uri, r);
    const l = await ufs(() => listMerged(ctx, c.snap, r));
    if (!l.ufsDirectory && l.virtual.length === 0) {
      if (l.ufsFile) throw new RestError(409, 'NotADirectory', `${r.input} is a file, not a directory`);
      if (!isVirtualDirectory(c.snap, r.alluxioPath)) {
        throw r.mount ? notFound(r, 'no such directory') : new RestError(404, 'NoMountForPath', `no mount for ${r.rewrittenPath}`);
      }
    }
    const virtual = new Set(l.virtual);
    sendJson(c.res, 200, {
      name: form.self,
      resolved: resolvedJson(r),
      entries: l.entries.map((e) => entryJson(form.child(e.name), e, virtual.has(e.name) && e.mtimeMs === 0 && e.type === 'directory')),
    });
  }

  async function statFile(t: Target, snap: Snapshot): Promise<UfsEntry> {
    const st = await ufs(() => t.adapter.stat(t.rel));
    if (!st) {
      if (isVirtualDirectory(snap, t.res.alluxioPath)) throw new RestError(409, 'IsADirectory', `${t.res.input} is a directory`);
      throw notFound(t.res, 'no such file');
    }
    if (st.type === 'directory') throw new RestError(409, 'IsADirectory', `${t.res.input} is a directory`);
    return st;
  }

  async function getFile(c: Call, head: boolean): Promise<void> {
    const uri = uriParam(c);
    const t = targetOf(c.snap, resolve(c.snap, uri, false));
    const st = await statFile(t, c.snap);
    const range = parseRange(typeof c.req.headers.range === 'string' ? c.req.headers.range : undefined, st.size);
    const length = range ? range.end - range.start + 1 : st.size;
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-length': length,
      'accept-ranges': 'bytes',
      'last-modified': new Date(st.mtimeMs).toUTCString(),
      'x-alluxio-size': st.size,
      ...(st.etag ? { etag: `"${st.etag}"` } : {}),
      ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${st.size}` } : {}),
    };
    const status = range ? 206 : 200;
    if (head || length === 0) {
      c.res.writeHead(status, headers);
      c.res.end();
      return;
    }
    const stream = await ufs(() => t.adapter.read(t.rel, range ?? undefined));
    c.res.writeHead(status, headers);
    try {
      await pipeline(stream, c.res);
    } catch (e) {
      // The client went away, or the UFS failed mid-body: the status line is out, so the
      // only honest signal left is a cut connection (the client sees a short body).
      ctx.log.debug({ err: (e as Error).message, uri }, 'REST read stream ended early');
      c.res.destroy();
    }
  }

  async function putFile(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, false);
    const t = targetOf(c.snap, r);
    requireWritable(t);
    if (t.rel.length === 0 || isVirtualDirectory(c.snap, r.alluxioPath)) throw new RestError(409, 'IsADirectory', `${r.input} is a directory`);
    const e = await ufs(() => t.adapter.write(t.rel, c.req));
    sendJson(c.res, 201, { ...entryJson(uriForm(uri, r).self, e), resolved: resolvedJson(r) });
  }

  async function deleteTree(snap: Snapshot, form: UriForm, t: Target, depth: number): Promise<number> {
    if (depth > MAX_DEPTH) throw new RestError(400, 'InvalidArgument', `directory tree deeper than ${MAX_DEPTH} levels`);
    let n = 0;
    for (const child of await ufs(() => t.adapter.list(t.rel))) {
      // Each child is resolved through the same snapshot, like any request for it.
      const childUri = form.child(child.name);
      const cr = resolve(snap, childUri, false);
      const ct = targetOf(snap, cr);
      requireWritable(ct);
      if (child.type === 'directory') n += await deleteTree(snap, uriForm(childUri, cr), ct, depth + 1);
      else {
        await ufs(() => ct.adapter.delete(ct.rel));
        n++;
      }
    }
    await ufs(() => t.adapter.delete(t.rel));
    return n + 1;
  }

  async function deleteFile(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, false);
    const t = targetOf(c.snap, r);
    requireWritable(t);
    const st = await ufs(() => t.adapter.stat(t.rel));
    if (!st) throw notFound(r);
    const recursive = c.url.searchParams.get('recursive') === 'true';
    let deleted = 1;
    if (st.type === 'directory' && recursive) deleted = await deleteTree(c.snap, uriForm(uri, r), t, 0);
    else await ufs(() => t.adapter.delete(t.rel));
    sendJson(c.res, 200, { name: uriForm(uri, r).self, deleted, resolved: resolvedJson(r) });
  }

  async function mkdir(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, false);
    const t = targetOf(c.snap, r);
    requireWritable(t);
    const st = await ufs(() => t.adapter.stat(t.rel));
    if (st && st.type === 'file') throw new RestError(409, 'NotADirectory', `${r.input} exists and is a file`);
    if (!st) await ufs(() => t.adapter.mkdir(t.rel));
    const now = (await ufs(() => t.adapter.stat(t.rel))) ?? { name: '', type: 'directory' as const, size: 0, mtimeMs: Date.now() };
    sendJson(c.res, st ? 200 : 201, { ...entryJson(uriForm(uri, r).self, now), created: !st, resolved: resolvedJson(r) });
  }

  // ---- routing ----------------------------------------------------------------------

  type Route = Partial<Record<string, (c: Call) => void | Promise<void>>>;
  const routes: Record<string, Route> = {
    mounts: { GET: mounts },
    resolve: { GET: resolveEndpoint },
    info: { GET: info },
    list: { GET: list },
    file: { GET: (c) => getFile(c, false), HEAD: (c) => getFile(c, true), PUT: putFile, DELETE: deleteFile },
    mkdir: { POST: mkdir, PUT: mkdir },
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://worker');
    if (!url.pathname.startsWith(API_PREFIX)) return false;
    const route = routes[url.pathname.slice(API_PREFIX.length)];
    if (!route) return false;
    const method = req.method ?? 'GET';
    try {
      authenticateRest(req, auth); // every endpoint, before anything is resolved or read (auth.ts)
      const h = route[method];
      if (!h) throw restErr.methodNotAllowed(method, url.pathname, Object.keys(route));
      const snap = ctx.snapshot(); // ONCE per request
      res.setHeader('x-alluxio-revision', String(snap.revision));
      await h({ req, res, url, snap });
    } catch (e) {
      const err = e instanceof RestError ? e : isAlluxioError(e) ? fromAlluxio(e) : new RestError(500, 'Internal', (e as Error)?.message ?? String(e));
      if (err.status === 500) ctx.log.error({ err: err.message, path: url.pathname }, 'REST request failed');
      if (res.headersSent) res.destroy();
      else sendError(res, err, method);
    }
    return true;
  };
}

export { AlluxioError };

const handlers = new WeakMap<FrontendContext, (req: IncomingMessage, res: ServerResponse) => Promise<boolean>>();

/** The handler for a context, created once (the worker asks for it on every request). */
export function restHandlerFor(ctx: FrontendContext): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  let h = handlers.get(ctx);
  if (!h) handlers.set(ctx, (h = createRestHandler(ctx)));
  return h;
}
