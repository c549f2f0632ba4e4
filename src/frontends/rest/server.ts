/**
 * The worker's REST API (docs/rest-api.md), what the Python `alluxiofs` package reads
 * through. Served on the worker's REST port under /api/v1/ next to the worker's own
 * /api/v1/status.
 *
 * Every request reads the snapshot ONCE (ctx.snapshot()) and resolves its `uri` query
 * parameter through it with snapshot.resolve({api: 'fsspec', uri}): a UFS-native URI by
 * reverse mount lookup, `alluxio:///p` (or `/p`) as an Alluxio path; then the rules and
 * the mount table exactly as for S3 and POSIX. The query string is percent-decoded once
 * (by URLSearchParams) and never again: a UFS-native URI's path is raw text, like an
 * s3fs path (`s3://b/100%.csv` is the key `100%.csv`); the resolver's request-URI parser
 * splits it on "/" and rejects `.`/`..` segments and control characters. Listings give
 * names back in the same raw form.
 *
 * Bodies stream both ways through pipeline() (backpressure): a ranged GET never holds
 * more than the adapter's stream buffer, a PUT is written to the UFS as it arrives.
 *
 * Every resolution, target binding, stat, list, read, write, delete and mkdir goes through
 * THE data path (../common/data-path.ts), so the worker cache behind it sees them all;
 * errors are AlluxioErrors answered from ONE table (errors.ts HTTP_STATUS).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { AlluxioError, isAlluxioError } from '../../domain/errors.js';
import type { Resolution } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { SMALL_OBJECT_BYTES, type ByteRange, type UfsEntry } from '../../ufs/types.js';
import { DataPath, deleteGoneDirectory, type DataObject, type DataTarget, type OpenHint } from '../common/data-path.js';
import { isTraversable, isVirtualDirectory, listMerged } from '../common/listing.js';
import { openHint, parseRange } from '../common/range.js';
import { httpDate } from '../common/http-date.js';
import { sendLazyBody } from '../common/lazy-body.js';
import type { FrontendContext } from '../context.js';
import { authenticateRest, restAuthFromEnv, type RestAuthOptions } from './auth.js';
import { BodyVerifier } from '../s3/body.js';
import { S3Error } from '../s3/errors.js';
import { payloadSha256, throughStages } from '../s3/request-body.js';
import { commitWhileClientWaits, requireWaitingClient } from '../common/client-waiting.js';
import { againOnConflict } from '../common/again-on-conflict.js';
import type { VerifiedRequest } from '../s3/sigv4.js';
import { fromAlluxio, RestError, restErr } from './errors.js';
import { entryJson, resolvedJson, sendError, sendJson, uriForm } from './json.js';
import { isLocalPeer } from './local-peer.js';

export const API_PREFIX = '/api/v1/';
/** Recursive deletes descend at most this deep. */
const MAX_DEPTH = 256;

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  snap: Snapshot;
  /** Who signed the request (undefined when auth is off). */
  auth: VerifiedRequest | undefined;
}

function noMount(r: Resolution): AlluxioError {
  return new AlluxioError('NoMountForPath', `no mount for ${r.rewrittenPath}`, { step: 'mount' });
}

function notFound(r: Resolution, what = 'no such file or directory'): AlluxioError {
  return new AlluxioError('NotFound', `${r.input}: ${what}` + (r.rule ? ` (rewritten to ${r.rewrittenPath} by rule ${r.rule.id})` : ''));
}

function isADirectory(r: Resolution): AlluxioError {
  return new AlluxioError('IsADirectory', `${r.input} is a directory`);
}

export function createRestHandler(ctx: FrontendContext, auth: RestAuthOptions = restAuthFromEnv()): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const dp = new DataPath(ctx);

  function resolve(snap: Snapshot, uri: string, allowUnmounted: boolean): Resolution {
    return dp.resolve(snap, { api: 'fsspec', uri }, { allowUnmounted });
  }

  function uriParam(c: Call): string {
    const uri = c.url.searchParams.get('uri');
    if (uri === null || uri === '') throw new AlluxioError('InvalidArgument', 'the query parameter "uri" is required (a UFS URI such as s3://bucket/key, or alluxio:///path)');
    return uri;
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
    const r = dp.resolve(c.snap, { api: 'fsspec', uri }, { allowUnmounted: true, trace: true });
    sendJson(c.res, 200, { input: uri, ...resolvedJson(r), trace: r.trace });
  }

  /**
   * Short-circuit reads (docs/rest-api.md): the local path of a file for a client on this
   * host, when the mount's adapter has local files (UfsAdapter.localFile: the adapter's own
   * containment, symbolic links resolved inside the mount); the identity lets the client
   * check it opened that very file.
   */
  async function localGrant(req: IncomingMessage, t: DataTarget): Promise<Record<string, unknown>> {
    if (!isLocalPeer(req)) return { localPath: null, localReason: "the client is not on the worker's host" };
    if (!dp.hasLocalFiles(t)) return { localPath: null, localReason: `${t.mount.path} is not a file:// mount` };
    const f = await dp.localFile(t);
    if (!f) return { localPath: null, localReason: 'not a regular file inside the mount' };
    return { localPath: f.path, local: { size: f.size, mtimeNs: String(f.mtimeNs), ctimeNs: String(f.ctimeNs), ino: String(f.ino), dev: String(f.dev) } };
  }

  async function info(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, true);
    const form = uriForm(uri, r);
    const t = dp.bindIfMounted(c.snap, r);
    let entry: UfsEntry | null = t ? await dp.stat(t) : null;
    let virtual = false;
    if (!entry && (isVirtualDirectory(c.snap, r.alluxioPath) || (await isTraversable(dp, c.snap, r)))) {
      entry = { name: '', type: 'directory', size: 0, mtimeMs: 0 };
      virtual = true;
    }
    if (!entry) throw t ? notFound(r) : noMount(r);
    const local = t && entry.type === 'file' && c.url.searchParams.get('shortCircuit') === 'true' ? await localGrant(c.req, t) : {};
    sendJson(c.res, 200, { ...entryJson(form.self, entry, virtual), resolved: resolvedJson(r), ...local });
  }

  async function list(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, true);
    const form = uriForm(uri, r);
    const l = await listMerged(dp, c.snap, r);
    if (!l.exists) {
      if (l.ufsFile) throw new AlluxioError('NotADirectory', `${r.input} is a file, not a directory`);
      throw r.mount ? notFound(r, 'no such directory') : noMount(r);
    }
    const virtual = new Set(l.virtual);
    sendJson(c.res, 200, {
      name: form.self,
      resolved: resolvedJson(r),
      entries: l.entries.map((e) => entryJson(form.child(e.name), e, virtual.has(e.name) && e.mtimeMs === 0 && e.type === 'directory')),
    });
  }

  /** The entry of a file a GET names, or the error: missing, or a (virtual) directory. */
  function fileEntry(t: DataTarget, snap: Snapshot, st: UfsEntry | null): UfsEntry {
    if (!st) {
      if (isVirtualDirectory(snap, t.resolution.alluxioPath)) throw isADirectory(t.resolution);
      throw notFound(t.resolution, 'no such file');
    }
    if (st.type === 'directory') throw isADirectory(t.resolution);
    return st;
  }

  type Body = Buffer | Readable | ((dest: Writable) => Promise<void>);

  /**
   * GET/HEAD of a file. The headers (size, mtime, etag, the range checked against that
   * size) and the bytes come from ONE opened version (DataPath.open), as in the S3 front
   * end: a file replaced between a stat and an open can never give a Content-Length that
   * does not match the body.
   */
  async function getFile(c: Call, head: boolean): Promise<void> {
    // the object replaced between the metadata this worker trusted and the bytes: the
    // current version, while nothing was sent (as S3 GET)
    return againOnConflict(() => getFileOnce(c, head), { res: c.res });
  }

  async function getFileOnce(c: Call, head: boolean): Promise<void> {
    const uri = uriParam(c);
    const t = dp.bind(c.snap, resolve(c.snap, uri, false));
    const hint: OpenHint = openHint(typeof c.req.headers.range === 'string' ? c.req.headers.range : undefined, head);
    // x-alluxio-avoid: the workers the client failed on for this read (not asked as owners)
    const avoid = c.req.headers['x-alluxio-avoid'];
    if (typeof avoid === 'string' && avoid !== '') hint.avoid = new Set(avoid.split(',').map((n) => n.trim()).filter((n) => n !== ''));
    const f: DataObject | null = await dp.open(t, hint);
    let owned = true;
    try {
      const st = fileEntry(t, c.snap, f?.entry ?? null);
      return await serveFile(c, head, uri, st, async (range) => {
        const length = range ? range.end - range.start + 1 : st.size;
        // a page in the cache's memory answers at once (DataObject.bytesNow)
        if (length <= SMALL_OBJECT_BYTES) return f!.bytesNow?.(range ?? undefined) ?? f!.bytes(range ?? undefined);
        if (f!.sendTo) return (dest: Writable) => f!.sendTo!(dest, range ?? undefined);
        owned = false;
        return f!.stream(range ?? undefined);
      });
    } finally {
      if (owned) f?.close();
    }
  }

  async function serveFile(c: Call, head: boolean, uri: string, st: UfsEntry, open: (range: ByteRange | null) => Promise<Body>): Promise<void> {
    const range = parseRange(typeof c.req.headers.range === 'string' ? c.req.headers.range : undefined, st.size, restErr.invalidRange);
    const length = range ? range.end - range.start + 1 : st.size;
    const etag = st.declaredEtag ?? st.etag;
    const headers: (string | number)[] = ['content-type', 'application/octet-stream', 'content-length', length, 'accept-ranges', 'bytes', 'last-modified', httpDate(st.mtimeMs), 'x-alluxio-size', st.size];
    if (etag) headers.push('etag', `"${etag}"`);
    if (range) headers.push('content-range', `bytes ${range.start}-${range.end}/${st.size}`);
    const status = range ? 206 : 200;
    if (head || length === 0) {
      c.res.writeHead(status, headers);
      c.res.end();
      return;
    }
    const body = await open(range);
    if (Buffer.isBuffer(body)) {
      if (body.length !== length) throw new AlluxioError('UfsUnavailable', 'the file changed while it was read; retry');
      c.res.writeHead(status, headers);
      c.res.end(body);
      return;
    }
    try {
      await sendLazyBody(c.res, status, headers, body);
      if (!c.res.writableEnded) c.res.end();
    } catch (e) {
      // Nothing sent yet (the source failed before its first bytes: another version now,
      // the UFS down): the error is answered (getFile serves the current version once).
      if (!c.res.headersSent && !c.res.destroyed) throw e;
      // The client went away, or the UFS failed mid-body: the status line is out, so the
      // only honest signal left is a cut connection (the client sees a short body).
      ctx.log.debug({ err: (e as Error).message, uri }, 'REST read stream ended early');
      c.res.destroy();
    }
  }

  /**
   * A peer read (docs/cluster-cache.md): exactly the version a worker names, from this
   * worker's cache (its UFS on a miss), never forwarded to another worker.
   */
  async function peerRead(c: Call): Promise<void> {
    const q = c.url.searchParams;
    const uri = q.get('uri');
    const version = q.get('version');
    const size = Number(q.get('size'));
    if (!uri || !version || !Number.isSafeInteger(size) || size < 0) {
      throw new AlluxioError('InvalidArgument', 'a peer read needs uri, version and size (a non-negative integer)');
    }
    const f = dp.openVersion(c.snap, { uri, version, size });
    return serveFile(c, false, uri, f.entry, async (range) => {
      const length = range ? range.end - range.start + 1 : size;
      // (streamed: serveFile sends the status line with the first bytes, so another version
      // in the UFS, the first page fetched with If-Match, is answered 409, which the reader
      // acts on (re-stat), not a cut connection it must take for a failed peer)
      return length <= SMALL_OBJECT_BYTES ? f.bytes(range ?? undefined) : f.stream(range ?? undefined);
    });
  }

  /**
   * Co-located reads (docs/cluster-cache.md): the page files of a version this worker holds,
   * for a reader on this host only (a FUSE daemon beside its owner reads them itself instead
   * of through HTTP). Nothing is fetched; pages not on disk are simply not listed.
   */
  function peerPages(c: Call): void {
    if (!isLocalPeer(c.req)) throw new AlluxioError('InvalidState', 'page files are listed only to readers on this worker\'s host');
    const q = c.url.searchParams;
    const uri = q.get('uri');
    const version = q.get('version');
    const size = Number(q.get('size'));
    const start = Number(q.get('start'));
    const end = Number(q.get('end'));
    if (!uri || !version || ![size, start, end].every((n) => Number.isSafeInteger(n) && n >= 0) || start > end || end >= size) {
      throw new AlluxioError('InvalidArgument', 'a page listing needs uri, version, size, start and end (0 <= start <= end < size)');
    }
    sendJson(c.res, 200, dp.pageFiles({ uri, version, size }, start, end));
  }

  /**
   * A change announced by the worker (or FUSE daemon) that made it (docs/cluster-cache.md
   * "Writes"): drop what this worker cached of the UFS URI (and below it, with tree=true),
   * so its next open asks the UFS. 204 once dropped (pages below a tree go over the next
   * turns of the loop; the metadata at once).
   */
  function peerInvalidate(c: Call): void {
    const q = c.url.searchParams;
    const uri = q.get('uri');
    if (!uri) throw new AlluxioError('InvalidArgument', 'an invalidation needs the uri that changed');
    dp.dropCached(uri, q.get('tree') === 'true');
    c.res.writeHead(204).end();
  }

  async function putFile(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, false);
    const t = dp.bind(c.snap, r, { write: true });
    if (t.rel.length === 0 || isVirtualDirectory(c.snap, r.alluxioPath)) throw isADirectory(r);
    // A hash the body must have is checked as it streams: a body that does not match fails
    // the write (nothing lands) and is 400 XAmzContentSHA256Mismatch.
    let e: UfsEntry;
    try {
      const sha = payloadSha256(c.req.headers, c.auth, false);
      e = await throughStages(c.req, sha ? [new BodyVerifier({ sha256Hex: sha })] : [], (body) => dp.write(t, body, commitWhileClientWaits(c.req, `PUT ${uri}`)));
    } catch (err) {
      if (err instanceof S3Error) throw new RestError(err.status, err.code, err.message);
      throw err;
    }
    sendJson(c.res, 201, { ...entryJson(uriForm(uri, r).self, e), resolved: resolvedJson(r) });
  }

  /**
   * Delete a directory tree below the resolved location, through the data path: every
   * child is named relative to that directory (DataPath.child checks each listed name),
   * never resolved through the rules again, so a rule cannot send part of the delete elsewhere.
   */
  async function deleteTree(c: Call, t: DataTarget, depth: number): Promise<number> {
    if (depth > MAX_DEPTH) throw new AlluxioError('InvalidArgument', `directory tree deeper than ${MAX_DEPTH} levels`);
    let n = 0;
    // (a name an object store lists twice, object `a` and keys below `a/`: the file, then the
    // tree; the other workers are told once, for the whole tree: deleteFile)
    for (const child of await dp.list(t)) {
      const ct = dp.child(t, child.name);
      if (child.type === 'directory') n += await deleteTree(c, ct, depth + 1);
      else {
        await requireWaitingClient(c.req, `DELETE ${c.url.searchParams.get('uri') ?? ''} (recursive)`);
        await dp.delete(ct, { announce: false });
        n++;
      }
    }
    await deleteGoneDirectory(dp, t);
    return n + 1;
  }

  async function deleteFile(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, false);
    const t = dp.bind(c.snap, r, { write: true });
    const st = await dp.stat(t);
    if (!st) throw notFound(r);
    if (t.rel.length === 0) {
      // Refused before anything is deleted (until 2026-12-02 a recursive delete emptied the
      // mount first and was refused only at its root, so it read as "nothing happened").
      throw new AlluxioError('IsADirectory', `${r.input} is the root of mount ${t.mount.path}, which cannot be deleted; nothing was deleted (delete the entries below it, or remove the mount: alluxio mount remove --path ${t.mount.path})`);
    }
    const recursive = c.url.searchParams.get('recursive') === 'true';
    let deleted = 1;
    await requireWaitingClient(c.req, `DELETE ${uri}`);
    if (recursive) {
      // A file too: in an object store the name can also have keys below it (`a` and
      // `a/x`), which deleteTree lists and deletes, then the file; a file with nothing below
      // it lists as NotADirectory, and is deleted alone.
      try {
        deleted = await deleteTree(c, t, 0);
      } catch (e) {
        if (!(st.type === 'file' && isAlluxioError(e) && e.code === 'NotADirectory')) throw e;
        await dp.delete(t, { announce: false });
      } finally {
        await dp.announceTree(t); // (also after a failure part-way)
      }
    } else await dp.delete(t);
    sendJson(c.res, 200, { name: uriForm(uri, r).self, deleted, resolved: resolvedJson(r) });
  }

  async function mkdir(c: Call): Promise<void> {
    const uri = uriParam(c);
    const r = resolve(c.snap, uri, false);
    const t = dp.bind(c.snap, r, { write: true });
    const st = await dp.stat(t);
    if (st && st.type === 'file') throw new AlluxioError('NotADirectory', `${r.input} exists and is a file`);
    if (!st) await dp.mkdir(t);
    const now = (await dp.stat(t)) ?? { name: '', type: 'directory' as const, size: 0, mtimeMs: Date.now() };
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
    'peer/read': { GET: peerRead },
    'peer/pages': { GET: peerPages },
    'peer/invalidate': { POST: peerInvalidate },
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://worker');
    if (!url.pathname.startsWith(API_PREFIX)) return false;
    const route = routes[url.pathname.slice(API_PREFIX.length)];
    if (!route) return false;
    const method = req.method ?? 'GET';
    try {
      const signed = authenticateRest(req, auth); // every endpoint, before anything is resolved or read (auth.ts)
      const h = route[method];
      if (!h) throw restErr.methodNotAllowed(method, url.pathname, Object.keys(route));
      const snap = dp.snapshot(); // ONCE per request
      res.setHeader('x-alluxio-revision', String(snap.revision));
      await h({ req, res, url, snap, auth: signed });
    } catch (e) {
      const err = e instanceof RestError ? e : isAlluxioError(e) ? fromAlluxio(e) : fromAlluxio(new AlluxioError('Internal', (e as Error)?.message ?? String(e)));
      if (err.status === 500) ctx.log.error({ err: err.message, path: url.pathname }, 'REST request failed');
      if (res.headersSent) res.destroy();
      else sendError(res, err, method);
    }
    return true;
  };
}

const handlers = new WeakMap<FrontendContext, (req: IncomingMessage, res: ServerResponse) => Promise<boolean>>();

/** The handler for a context, created once (the worker asks for it on every request). */
export function restHandlerFor(ctx: FrontendContext): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  let h = handlers.get(ctx);
  if (!h) handlers.set(ctx, (h = createRestHandler(ctx)));
  return h;
}
