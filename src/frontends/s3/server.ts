/**
 * The S3 front end of a worker: path-style S3 over HTTP, where a bucket is a top-level
 * mount (or a virtual top-level directory made by a rule) and the key is the rest of the
 * path. Every request reads the snapshot ONCE (ctx.snapshot()) and resolves its path
 * through it (snapshot.resolve({api: 's3', bucket, key})); nothing here splits or joins
 * paths itself. Bodies stream both ways through pipeline() (backpressure), so large GETs
 * and PUTs keep memory flat.
 *
 * Options (explicit parameter; `s3OptionsFromEnv` reads them from the environment):
 *   credentials   access key -> secret key; when set, SigV4 (header or presigned) is
 *                 verified; when unset, any credentials are accepted (like Alluxio).
 *                 env: ALLUXIO_S3_CREDENTIALS="AK:SK[,AK2:SK2]"
 *   stagingDir    where multipart parts are staged (env: ALLUXIO_S3_STAGING_DIR;
 *                 default <tmpdir>/alluxio-s3-multipart)
 *   region        reported by GetBucketLocation (env: ALLUXIO_S3_REGION; default us-east-1)
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, type Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isAlluxioError } from '../../domain/errors.js';
import type { ParsedMount } from '../../domain/mounts.js';
import type { Resolution } from '../../domain/resolver.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { SMALL_OBJECT_BYTES, type UfsAdapter, type UfsEntry } from '../../ufs/types.js';
import type { FrontendContext } from '../context.js';
import { AwsChunkedDecoder, BodyVerifier, declaredChecksums, isAwsChunked, trailerAlgorithm } from './body.js';
import { parseRange } from '../common/range.js';
import { errorXml, fromAlluxio, S3Error, s3err } from './errors.js';
import { decodeToken, encodeToken, Lister } from './listing.js';
import { MAX_PARTS, MIN_PART_SIZE, MultipartStore, type PartInfo } from './multipart.js';
import { awsUriEncode, parseCredentials, parseQueryPairs, verifySigV4, type Credentials, type VerifiedRequest } from './sigv4.js';
import { child, childrenNamed, esc, parseXml, XML_NS, xmlDoc, XmlParseError, type XmlNode } from './xml.js';

export interface S3HandlerOptions {
  credentials?: Credentials;
  stagingDir?: string;
  region?: string;
}

export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): S3HandlerOptions {
  const o: S3HandlerOptions = {};
  const creds = parseCredentials(env.ALLUXIO_S3_CREDENTIALS);
  if (creds) o.credentials = creds;
  if (env.ALLUXIO_S3_STAGING_DIR) o.stagingDir = env.ALLUXIO_S3_STAGING_DIR;
  if (env.ALLUXIO_S3_REGION) o.region = env.ALLUXIO_S3_REGION;
  return o;
}

const OWNER = { ID: 'alluxio', DisplayName: 'alluxio' };
const MAX_XML_BODY = 2 * 1024 * 1024;
const STARTED = new Date();

interface Req {
  id: string;
  /** Headers every response carries (request id, server). */
  base: Record<string, string>;
  method: string;
  rawPath: string;
  query: Map<string, string>;
  bucket: string;
  key: string;
  snap: Snapshot;
  auth: VerifiedRequest | undefined;
  req: IncomingMessage;
  res: ServerResponse;
}

interface Target {
  resolution: Resolution;
  mount: ParsedMount;
  adapter: UfsAdapter;
  rel: readonly string[];
}

const SUBRESOURCES_NOT_IMPLEMENTED = [
  'acl', 'policy', 'cors', 'lifecycle', 'tagging', 'website', 'logging', 'notification', 'replication', 'encryption',
  'object-lock', 'legal-hold', 'retention', 'torrent', 'requestPayment', 'accelerate', 'analytics', 'inventory',
  'metrics', 'intelligent-tiering', 'ownershipControls', 'publicAccessBlock', 'restore', 'select', 'attributes', 'versions', 'policyStatus',
];

/** Set with writeHead in one go (no setHeader first: that takes Node's slow header path). */
function baseHeaders(id: string): Record<string, string> {
  return { 'x-amz-request-id': id, 'x-amz-id-2': id, Server: 'AlluxioS3' };
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
function quoteEtag(e: UfsEntry): string {
  return `"${e.etag ?? createHash('md5').update(`${e.size}:${e.mtimeMs}`).digest('hex')}"`;
}

const MIME: Record<string, string> = {
  '.txt': 'text/plain', '.csv': 'text/csv', '.json': 'application/json', '.html': 'text/html', '.xml': 'application/xml',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.parquet': 'application/vnd.apache.parquet',
};
function contentTypeOf(key: string): string {
  return MIME[path.extname(key).toLowerCase()] ?? 'binary/octet-stream';
}

export function createS3Handler(ctx: FrontendContext, opts: S3HandlerOptions = s3OptionsFromEnv()): RequestListener {
  const staging = new MultipartStore(opts.stagingDir ?? path.join(tmpdir(), 'alluxio-s3-multipart'));
  const region = opts.region ?? 'us-east-1';

  // ---- plumbing ---------------------------------------------------------------------

  function resolveTarget(r: Req, bucket: string, key: string): Target {
    const t0 = process.hrtime.bigint();
    let resolution: Resolution;
    try {
      resolution = r.snap.resolve({ api: 's3', bucket, key }, { trace: false });
    } catch (e) {
      if (isAlluxioError(e)) throw fromAlluxio(e, { bucket, key });
      throw e;
    } finally {
      ctx.observeResolve?.('s3', Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const mount = resolution.mount ? r.snap.mount(resolution.mount.path) : undefined;
    if (!mount || !resolution.location) throw s3err.noSuchBucket(bucket);
    let adapter: UfsAdapter;
    try {
      adapter = ctx.ufs(mount);
    } catch (e) {
      if (isAlluxioError(e)) throw new S3Error('NotImplemented', 501, e.message);
      throw e;
    }
    return { resolution, mount, adapter, rel: resolution.location.relSegments };
  }

  function bucketExists(r: Req, bucket: string): boolean {
    try {
      const res = r.snap.resolve({ api: 's3', bucket, key: '' }, { trace: false, allowUnmounted: true });
      return res.mount !== null || r.snap.virtualChildren(res.alluxioPath).length > 0;
    } catch (e) {
      if (isAlluxioError(e)) return false;
      throw e;
    }
  }

  function requireWritable(t: Target): void {
    if (t.mount.readOnly) throw s3err.accessDenied(`Access Denied: ${t.mount.path} is mounted read-only`);
  }

  async function ufsCall<T>(r: Req, f: () => Promise<T>, key?: string): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (isAlluxioError(e)) throw fromAlluxio(e, { bucket: r.bucket, key: key ?? r.key });
      throw e;
    }
  }

  function sendXml(r: Req, status: number, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
    const xml = xmlDoc(root, body);
    r.res.writeHead(status, { ...r.base, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml), ...headers });
    r.res.end(r.method === 'HEAD' ? undefined : xml);
  }

  function sendEmpty(r: Req, status: number, headers: Record<string, string | number> = {}): void {
    r.res.writeHead(status, { ...r.base, 'Content-Length': 0, ...headers });
    r.res.end();
  }

  async function readSmallBody(r: Req): Promise<string> {
    const chunks: Buffer[] = [];
    let n = 0;
    const src = isAwsChunked(r.req.headers) ? r.req.pipe(makeDecoder(r)) : r.req;
    for await (const c of src) {
      n += (c as Buffer).length;
      if (n > MAX_XML_BODY) throw s3err.malformedXml('The XML document is too large');
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function readXml(r: Req, rootName: string) {
    const text = await readSmallBody(r);
    try {
      const root = parseXml(text);
      if (root.name !== rootName) throw new XmlParseError(`expected <${rootName}>`);
      return root;
    } catch (e) {
      if (e instanceof XmlParseError) throw s3err.malformedXml();
      throw e;
    }
  }

  function makeDecoder(r: Req): AwsChunkedDecoder {
    const h = r.req.headers;
    const alg = trailerAlgorithm(h);
    if (alg === 'unsupported') throw s3err.invalidArgument(`unsupported x-amz-trailer ${String(h['x-amz-trailer'])}`, 'x-amz-trailer');
    const dl = h['x-amz-decoded-content-length'];
    const decodedLength = typeof dl === 'string' && /^\d+$/.test(dl) ? Number(dl) : undefined;
    return new AwsChunkedDecoder({
      ...(alg ? { trailerChecksum: alg } : {}),
      ...(decodedLength !== undefined ? { decodedLength } : {}),
      ...(r.auth?.chunkSigner ? { signer: r.auth.chunkSigner } : {}),
      expectTrailer: alg !== undefined,
    });
  }

  /** The request body as the decoded, verified object bytes. */
  function bodyStages(r: Req): Transform[] {
    const h = r.req.headers;
    const stages: Transform[] = [];
    const sha = String(h['x-amz-content-sha256'] ?? '');
    if (isAwsChunked(h)) {
      stages.push(makeDecoder(r));
      const v = new BodyVerifier({ checksums: declaredChecksums(h), ...(h['content-md5'] ? { contentMd5: String(h['content-md5']) } : {}) });
      if (v.active) stages.push(v);
    } else {
      const v = new BodyVerifier({
        checksums: declaredChecksums(h),
        ...(h['content-md5'] ? { contentMd5: String(h['content-md5']) } : {}),
        ...(/^[0-9a-fA-F]{64}$/.test(sha) ? { sha256Hex: sha } : {}),
      });
      if (v.active) stages.push(v);
    }
    return stages;
  }

  /** Stream the request body through its stages into `sink`; body errors win over sink errors. */
  async function withBody<T>(r: Req, sink: (body: Readable) => Promise<T>): Promise<T> {
    const stages = bodyStages(r);
    if (stages.length === 0) return sink(r.req);
    const piping = pipeline([r.req, ...stages] as unknown as [Readable, ...Transform[]]).then(
      () => undefined,
      (e: unknown) => e,
    );
    let out: T;
    try {
      out = await sink(stages[stages.length - 1]!);
    } catch (e) {
      stages[0]!.destroy();
      const pe = await piping;
      if (pe instanceof S3Error) throw pe;
      throw e;
    }
    const pe = await piping;
    if (pe) throw pe;
    return out;
  }

  function evalConditions(h: IncomingMessage['headers'], etag: string, mtimeMs: number, prefix = ''): 200 | 304 | 412 {
    const get = (n: string) => {
      const v = h[prefix + n];
      return typeof v === 'string' ? v : undefined;
    };
    const matches = (list: string) => list.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === etag || `"${t.trim()}"` === etag);
    const secs = Math.floor(mtimeMs / 1000) * 1000;
    const ifMatch = get('if-match');
    const ifNone = get('if-none-match');
    const ifMod = get('if-modified-since');
    const ifUnmod = get('if-unmodified-since');
    if (ifMatch !== undefined && !matches(ifMatch)) return 412;
    if (ifMatch === undefined && ifUnmod !== undefined) {
      const t = Date.parse(ifUnmod);
      if (!Number.isNaN(t) && secs > t) return 412;
    }
    if (ifNone !== undefined && matches(ifNone)) return prefix ? 412 : 304;
    if (ifNone === undefined && ifMod !== undefined) {
      const t = Date.parse(ifMod);
      if (!Number.isNaN(t) && secs <= t) return prefix ? 412 : 304;
    }
    return 200;
  }

  // ---- service & bucket operations ---------------------------------------------------

  function listBuckets(r: Req): void {
    const names = r.snap.virtualChildren('/');
    sendXml(r, 200, 'ListAllMyBucketsResult', {
      Owner: OWNER,
      Buckets: { Bucket: names.map((n) => ({ Name: n, CreationDate: isoDate(STARTED.getTime()) })) },
    });
  }

  function headBucket(r: Req): void {
    if (!bucketExists(r, r.bucket)) throw s3err.noSuchBucket(r.bucket);
    sendEmpty(r, 200, { 'x-amz-bucket-region': region });
  }

  function listParams(r: Req, v2: boolean) {
    const q = r.query;
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const mk = q.get('max-keys');
    let maxKeys = 1000;
    if (mk !== undefined) {
      if (!/^\d+$/.test(mk)) throw s3err.invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', mk);
      maxKeys = Math.min(1000, Number(mk));
    }
    const enc = q.get('encoding-type');
    if (enc !== undefined && enc !== 'url') throw s3err.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', enc);
    let marker = '';
    let token: string | undefined;
    let startAfter: string | undefined;
    if (v2) {
      token = q.get('continuation-token');
      startAfter = q.get('start-after');
      if (token !== undefined) marker = decodeToken(token);
      else if (startAfter) marker = startAfter;
    } else marker = q.get('marker') ?? '';
    return { prefix, delimiter, maxKeys, url: enc === 'url', marker, token, startAfter };
  }

  async function listObjects(r: Req, v2: boolean): Promise<void> {
    if (!bucketExists(r, r.bucket)) throw s3err.noSuchBucket(r.bucket);
    const p = listParams(r, v2);
    const lister = new Lister(ctx, r.snap);
    const out = await lister.list({ bucket: r.bucket, prefix: p.prefix, delimiter: p.delimiter, marker: p.marker, maxKeys: p.maxKeys });
    const e = (s: string) => (p.url ? awsUriEncode(s, true) : s);
    const contents = out.contents.map((c) => ({
      Key: e(c.key),
      LastModified: isoDate(c.entry.mtimeMs),
      ETag: quoteEtag(c.entry),
      Size: c.entry.size,
      ...(v2 && r.query.get('fetch-owner') !== 'true' ? {} : { Owner: OWNER }),
      StorageClass: 'STANDARD',
    }));
    const cps = out.commonPrefixes.map((cp) => ({ Prefix: e(cp) }));
    if (v2) {
      sendXml(r, 200, 'ListBucketResult', {
        Name: r.bucket,
        Prefix: e(p.prefix),
        ...(p.delimiter ? { Delimiter: e(p.delimiter) } : {}),
        MaxKeys: p.maxKeys,
        ...(p.url ? { EncodingType: 'url' } : {}),
        KeyCount: contents.length + cps.length,
        IsTruncated: out.isTruncated,
        ...(p.token !== undefined ? { ContinuationToken: p.token } : {}),
        ...(out.isTruncated && out.last !== undefined ? { NextContinuationToken: encodeToken(out.last) } : {}),
        ...(p.startAfter !== undefined ? { StartAfter: e(p.startAfter) } : {}),
        Contents: contents,
        CommonPrefixes: cps,
      });
    } else {
      sendXml(r, 200, 'ListBucketResult', {
        Name: r.bucket,
        Prefix: e(p.prefix),
        Marker: e(p.marker),
        ...(p.delimiter ? { Delimiter: e(p.delimiter) } : {}),
        MaxKeys: p.maxKeys,
        ...(p.url ? { EncodingType: 'url' } : {}),
        IsTruncated: out.isTruncated,
        ...(out.isTruncated && out.last !== undefined ? { NextMarker: e(out.last) } : {}),
        Contents: contents,
        CommonPrefixes: cps,
      });
    }
  }

  async function deleteObjects(r: Req): Promise<void> {
    const doc = await readXml(r, 'Delete');
    const quiet = (child(doc, 'Quiet')?.text ?? '').trim() === 'true';
    const objects = childrenNamed(doc, 'Object');
    if (objects.length > 1000) throw s3err.malformedXml('A Delete request may name at most 1000 keys');
    const deleted: XmlNode[] = [];
    const errors: XmlNode[] = [];
    for (const o of objects) {
      const keyEl = child(o, 'Key');
      if (!keyEl) throw s3err.malformedXml();
      const key = keyEl.text;
      try {
        const t = resolveTarget(r, r.bucket, key);
        requireWritable(t);
        await deleteTarget(r, t, key);
        if (!quiet) deleted.push({ Key: key });
      } catch (e) {
        const s3 = e instanceof S3Error ? e : isAlluxioError(e) ? fromAlluxio(e, { bucket: r.bucket, key }) : s3err.internal((e as Error).message);
        errors.push({ Key: key, Code: s3.code, Message: s3.message });
      }
    }
    sendXml(r, 200, 'DeleteResult', { Deleted: deleted, Error: errors });
  }

  // ---- objects ----------------------------------------------------------------------

  async function statObject(r: Req, t: Target, key: string): Promise<UfsEntry> {
    const st = await ufsCall(r, () => t.adapter.stat(t.rel), key);
    if (!st) throw s3err.noSuchKey(key);
    if (st.type === 'directory' && !key.endsWith('/')) throw s3err.noSuchKey(key);
    return st;
  }

  async function getObject(r: Req, head: boolean): Promise<void> {
    const t = resolveTarget(r, r.bucket, r.key);
    if (t.adapter.openRead) {
      const f = await ufsCall(r, () => t.adapter.openRead!(t.rel));
      if (!f) throw s3err.noSuchKey(r.key);
      let owned = true;
      try {
        if (f.entry.type === 'directory' && !r.key.endsWith('/')) throw s3err.noSuchKey(r.key);
        return await serveObject(r, head, f.entry, async (range) => {
          const length = range ? range.end - range.start + 1 : f.entry.size;
          if (length <= SMALL_OBJECT_BYTES) return f.readBuffer(range ?? undefined);
          if (f.sendTo) return (dest: Writable) => f.sendTo!(dest, range ?? undefined);
          owned = false;
          return f.stream(range ?? undefined);
        });
      } finally {
        if (owned) f.close();
      }
    }
    const st = await statObject(r, t, r.key);
    return serveObject(r, head, st, async (range) => {
      const length = range ? range.end - range.start + 1 : st.size;
      if (t.adapter.readBuffer && length <= SMALL_OBJECT_BYTES) return ufsCall(r, () => t.adapter.readBuffer!(t.rel, range ?? undefined));
      return ufsCall(r, () => t.adapter.read(t.rel, range ?? undefined));
    });
  }

  type Body = Buffer | Readable | ((dest: Writable) => Promise<void>);

  async function serveObject(r: Req, head: boolean, st: UfsEntry, open: (range: { start: number; end: number } | null) => Promise<Body>): Promise<void> {
    const etag = quoteEtag(st);
    const lastModified = httpDate(st.mtimeMs);
    const cond = evalConditions(r.req.headers, etag, st.mtimeMs);
    if (cond === 304) return sendEmpty(r, 304, { ETag: etag, 'Last-Modified': lastModified });
    if (cond === 412) throw s3err.preconditionFailed('If-Match');
    const isDir = st.type === 'directory';
    const size = isDir ? 0 : st.size;
    let range: { start: number; end: number } | null = null;
    const pn = r.query.get('partNumber');
    if (pn !== undefined && pn !== '1') throw s3err.invalidRange(size);
    range = parseRange(typeof r.req.headers.range === 'string' ? r.req.headers.range : undefined, size, s3err.invalidRange);
    const q = r.query;
    const headers: Record<string, string | number> = {
      ...r.base,
      ETag: etag,
      'Last-Modified': lastModified,
      'Accept-Ranges': 'bytes',
      'Content-Type': q.get('response-content-type') ?? (isDir ? 'application/x-directory' : contentTypeOf(r.key)),
      'Content-Length': range ? range.end - range.start + 1 : size,
    };
    for (const [p, h] of [
      ['response-content-disposition', 'Content-Disposition'],
      ['response-content-encoding', 'Content-Encoding'],
      ['response-content-language', 'Content-Language'],
      ['response-cache-control', 'Cache-Control'],
      ['response-expires', 'Expires'],
    ] as const) {
      const v = q.get(p);
      if (v !== undefined) headers[h] = v;
    }
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
    const status = range ? 206 : 200;
    if (head || isDir || size === 0) {
      r.res.writeHead(status, headers);
      r.res.end();
      return;
    }
    const length = range ? range.end - range.start + 1 : size;
    const data = await open(range);
    if (Buffer.isBuffer(data)) {
      if (data.length !== length) throw s3err.internal('the object changed while it was read; retry');
      r.res.writeHead(status, headers);
      r.res.end(data);
      return;
    }
    r.res.writeHead(status, headers);
    if (typeof data === 'function') await data(r.res);
    else await pipeline(data, r.res);
  }

  async function putObject(r: Req): Promise<void> {
    const t = resolveTarget(r, r.bucket, r.key);
    requireWritable(t);
    if (r.key.endsWith('/')) {
      // A "directory marker": create the directory (the body must be empty).
      const n = await withBody(r, async (body) => {
        let len = 0;
        for await (const c of body) len += (c as Buffer).length;
        return len;
      });
      if (n !== 0) throw s3err.invalidRequest('An object key ending in "/" names a directory and cannot carry data');
      await ufsCall(r, () => t.adapter.mkdir(t.rel));
      sendEmpty(r, 200, { ETag: '"d41d8cd98f00b204e9800998ecf8427e"' });
      return;
    }
    const entry = await withBody(r, (body) => ufsCall(r, () => t.adapter.write(t.rel, body)));
    const headers: Record<string, string> = { ETag: quoteEtag(entry) };
    for (const [k, v] of Object.entries(r.req.headers)) if (k.startsWith('x-amz-checksum-') && typeof v === 'string') headers[k] = v;
    sendEmpty(r, 200, headers);
  }

  async function deleteTarget(r: Req, t: Target, key: string): Promise<void> {
    try {
      await t.adapter.delete(t.rel);
    } catch (e) {
      // S3: deleting what is not there (or a non-empty "directory") succeeds quietly.
      if (isAlluxioError(e) && (e.code === 'NotFound' || e.code === 'DirectoryNotEmpty' || e.code === 'IsADirectory' || e.code === 'NotADirectory')) return;
      if (isAlluxioError(e)) throw fromAlluxio(e, { bucket: r.bucket, key });
      throw e;
    }
  }

  async function deleteObject(r: Req): Promise<void> {
    const t = resolveTarget(r, r.bucket, r.key);
    requireWritable(t);
    await deleteTarget(r, t, r.key);
    sendEmpty(r, 204);
  }

  function copySource(r: Req): { bucket: string; key: string } {
    let raw = String(r.req.headers['x-amz-copy-source'] ?? '');
    const qi = raw.indexOf('?');
    if (qi >= 0) raw = raw.slice(0, qi);
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      throw s3err.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', raw);
    }
    if (decoded.startsWith('/')) decoded = decoded.slice(1);
    const i = decoded.indexOf('/');
    if (i <= 0 || i === decoded.length - 1) throw s3err.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', raw);
    return { bucket: decoded.slice(0, i), key: decoded.slice(i + 1) };
  }

  async function copyObject(r: Req): Promise<void> {
    const src = copySource(r);
    const srcT = resolveTarget(r, src.bucket, src.key);
    const dst = resolveTarget(r, r.bucket, r.key);
    requireWritable(dst);
    const st = await statObject(r, srcT, src.key);
    if (st.type !== 'file') throw s3err.noSuchKey(src.key);
    if (evalConditions(r.req.headers, quoteEtag(st), st.mtimeMs, 'x-amz-copy-source-') !== 200) throw s3err.preconditionFailed('x-amz-copy-source-If-Match');
    for await (const _ of r.req) {
      /* a copy has no body */
    }
    const body = await ufsCall(r, () => srcT.adapter.read(srcT.rel), src.key);
    const entry = await ufsCall(r, () => dst.adapter.write(dst.rel, body));
    sendXml(r, 200, 'CopyObjectResult', { LastModified: isoDate(entry.mtimeMs), ETag: quoteEtag(entry) });
  }

  // ---- multipart --------------------------------------------------------------------

  async function createMultipart(r: Req): Promise<void> {
    const t = resolveTarget(r, r.bucket, r.key);
    requireWritable(t);
    if (r.key.endsWith('/')) throw s3err.invalidRequest('An object key ending in "/" names a directory');
    const id = await staging.create(r.bucket, r.key);
    const alg = r.req.headers['x-amz-checksum-algorithm'];
    sendXml(r, 200, 'InitiateMultipartUploadResult', { Bucket: r.bucket, Key: r.key, UploadId: id }, typeof alg === 'string' ? { 'x-amz-checksum-algorithm': alg } : {});
  }

  function partNumberOf(r: Req): number {
    const raw = r.query.get('partNumber') ?? '';
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PARTS) throw s3err.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
    return n;
  }

  async function uploadPart(r: Req): Promise<void> {
    const id = r.query.get('uploadId')!;
    const n = partNumberOf(r);
    const t = resolveTarget(r, r.bucket, r.key);
    requireWritable(t);
    await staging.get(id, r.bucket, r.key);
    if (r.req.headers['x-amz-copy-source'] !== undefined) {
      const src = copySource(r);
      const srcT = resolveTarget(r, src.bucket, src.key);
      const st = await statObject(r, srcT, src.key);
      if (st.type !== 'file') throw s3err.noSuchKey(src.key);
      if (evalConditions(r.req.headers, quoteEtag(st), st.mtimeMs, 'x-amz-copy-source-') !== 200) throw s3err.preconditionFailed('x-amz-copy-source-If-Match');
      const rh = r.req.headers['x-amz-copy-source-range'];
      let range: { start: number; end: number } | undefined;
      if (typeof rh === 'string') {
        const m = /^bytes=(\d+)-(\d+)$/.exec(rh.trim());
        if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) >= st.size) throw s3err.invalidArgument('The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', 'x-amz-copy-source-range', rh);
        range = { start: Number(m[1]), end: Number(m[2]) };
      }
      for await (const _ of r.req) {
        /* no body */
      }
      const body = await ufsCall(r, () => srcT.adapter.read(srcT.rel, range), src.key);
      const { etag } = await staging.putPart(id, n, body);
      sendXml(r, 200, 'CopyPartResult', { LastModified: isoDate(Date.now()), ETag: `"${etag}"` });
      return;
    }
    const { etag } = await withBody(r, (body) => staging.putPart(id, n, body));
    const headers: Record<string, string> = { ETag: `"${etag}"` };
    for (const [k, v] of Object.entries(r.req.headers)) if (k.startsWith('x-amz-checksum-') && typeof v === 'string') headers[k] = v;
    sendEmpty(r, 200, headers);
  }

  async function completeMultipart(r: Req): Promise<void> {
    const id = r.query.get('uploadId')!;
    const t = resolveTarget(r, r.bucket, r.key);
    requireWritable(t);
    await staging.get(id, r.bucket, r.key);
    const doc = await readXml(r, 'CompleteMultipartUpload');
    const wanted = childrenNamed(doc, 'Part').map((p) => ({
      n: Number(child(p, 'PartNumber')?.text ?? NaN),
      etag: (child(p, 'ETag')?.text ?? '').trim().replace(/^"|"$/g, '').toLowerCase(),
    }));
    if (wanted.length === 0) throw s3err.malformedXml('The XML you provided was not well-formed or did not validate against our published schema');
    const have = new Map((await staging.parts(id)).map((p) => [p.partNumber, p]));
    const chosen: PartInfo[] = [];
    let prev = 0;
    for (const [i, w] of wanted.entries()) {
      if (!Number.isInteger(w.n) || w.n <= prev) throw new S3Error('InvalidPartOrder', 400, 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
      prev = w.n;
      const p = have.get(w.n);
      if (!p || (w.etag !== '' && w.etag !== p.etag)) {
        throw new S3Error('InvalidPart', 400, 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', { PartNumber: String(w.n) });
      }
      if (i < wanted.length - 1 && p.size < MIN_PART_SIZE) throw new S3Error('EntityTooSmall', 400, 'Your proposed upload is smaller than the minimum allowed object size.', { PartNumber: String(w.n) });
      chosen.push(p);
    }
    const entry = await ufsCall(r, () => t.adapter.write(t.rel, staging.concat(chosen)));
    await staging.abort(id).catch(() => undefined);
    sendXml(r, 200, 'CompleteMultipartUploadResult', {
      Location: `/${r.bucket}/${r.key}`,
      Bucket: r.bucket,
      Key: r.key,
      ETag: quoteEtag(entry),
    });
  }

  async function abortMultipart(r: Req): Promise<void> {
    const id = r.query.get('uploadId')!;
    await staging.get(id, r.bucket, r.key);
    await staging.abort(id);
    sendEmpty(r, 204);
  }

  async function listParts(r: Req): Promise<void> {
    const id = r.query.get('uploadId')!;
    await staging.get(id, r.bucket, r.key);
    const marker = Number(r.query.get('part-number-marker') ?? '0') || 0;
    const max = Math.min(1000, Number(r.query.get('max-parts') ?? '1000') || 1000);
    const all = (await staging.parts(id)).filter((p) => p.partNumber > marker);
    const page = all.slice(0, max);
    const truncated = all.length > max;
    sendXml(r, 200, 'ListPartsResult', {
      Bucket: r.bucket,
      Key: r.key,
      UploadId: id,
      Initiator: OWNER,
      Owner: OWNER,
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      ...(page.length ? { NextPartNumberMarker: page[page.length - 1]!.partNumber } : {}),
      MaxParts: max,
      IsTruncated: truncated,
      Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: isoDate(p.mtimeMs), ETag: `"${p.etag}"`, Size: p.size })),
    });
  }

  async function listUploads(r: Req): Promise<void> {
    if (!bucketExists(r, r.bucket)) throw s3err.noSuchBucket(r.bucket);
    const prefix = r.query.get('prefix') ?? '';
    const ups = (await staging.list()).filter((u) => u.bucket === r.bucket && u.key.startsWith(prefix));
    ups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.initiated < b.initiated ? -1 : 1));
    sendXml(r, 200, 'ListMultipartUploadsResult', {
      Bucket: r.bucket,
      KeyMarker: '',
      UploadIdMarker: '',
      Prefix: prefix,
      MaxUploads: 1000,
      IsTruncated: false,
      Upload: ups.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD', Initiated: u.initiated })),
    });
  }

  // ---- routing ----------------------------------------------------------------------

  async function route(r: Req): Promise<void> {
    const { method, query: q } = r;
    if (r.bucket === '') {
      if (method === 'GET' || method === 'HEAD') return listBuckets(r);
      throw s3err.methodNotAllowed(method);
    }
    const sub = SUBRESOURCES_NOT_IMPLEMENTED.find((s) => q.has(s));
    if (r.key === '') {
      switch (method) {
        case 'GET':
          if (q.has('location')) {
            if (!bucketExists(r, r.bucket)) throw s3err.noSuchBucket(r.bucket);
            const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${XML_NS}">${region === 'us-east-1' ? '' : esc(region)}</LocationConstraint>`;
            r.res.writeHead(200, { ...r.base, 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(xml) });
            r.res.end(xml);
            return;
          }
          if (q.has('versioning')) {
            if (!bucketExists(r, r.bucket)) throw s3err.noSuchBucket(r.bucket);
            return sendXml(r, 200, 'VersioningConfiguration', {});
          }
          if (q.has('uploads')) return listUploads(r);
          if (sub) throw s3err.notImplemented(`GET ?${sub}`);
          return listObjects(r, q.get('list-type') === '2');
        case 'HEAD':
          return headBucket(r);
        case 'PUT':
          if (sub) throw s3err.notImplemented(`PUT ?${sub}`);
          if (bucketExists(r, r.bucket)) throw new S3Error('BucketAlreadyOwnedByYou', 409, 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: r.bucket });
          throw s3err.notImplemented('CreateBucket (buckets are mounts: use `alluxio mount add`)');
        case 'DELETE':
          throw s3err.notImplemented('DeleteBucket (buckets are mounts: use `alluxio mount remove`)');
        case 'POST':
          if (q.has('delete')) return deleteObjects(r);
          throw s3err.notImplemented('POST on a bucket');
        default:
          throw s3err.methodNotAllowed(method);
      }
    }
    if (sub === 'tagging' && method === 'GET') {
      // No tags are stored; an empty tag set keeps copy tools (aws s3 cp) working.
      const t = resolveTarget(r, r.bucket, r.key);
      await statObject(r, t, r.key);
      return sendXml(r, 200, 'Tagging', { TagSet: {} });
    }
    if (sub) throw s3err.notImplemented(`${method} ?${sub}`);
    switch (method) {
      case 'GET':
        if (q.has('uploadId')) return listParts(r);
        return getObject(r, false);
      case 'HEAD':
        return getObject(r, true);
      case 'PUT':
        if (q.has('uploadId') || q.has('partNumber')) {
          if (!q.has('uploadId') || !q.has('partNumber')) throw s3err.invalidRequest('UploadPart needs both uploadId and partNumber');
          return uploadPart(r);
        }
        if (r.req.headers['x-amz-copy-source'] !== undefined) return copyObject(r);
        return putObject(r);
      case 'DELETE':
        if (q.has('uploadId')) return abortMultipart(r);
        return deleteObject(r);
      case 'POST':
        if (q.has('uploads')) return createMultipart(r);
        if (q.has('uploadId')) return completeMultipart(r);
        throw s3err.notImplemented('POST on an object');
      default:
        throw s3err.methodNotAllowed(method);
    }
  }

  function sendError(req: IncomingMessage, res: ServerResponse, err: S3Error, resource: string, id: string): void {
    if (res.headersSent) {
      res.destroy(err);
      return;
    }
    const body = req.method === 'HEAD' ? '' : errorXml(err, resource, id);
    const headers: Record<string, string | number> = { ...baseHeaders(id), 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), ...err.headers };
    // A body the client is still sending: read (and drop) it when small, else close after replying.
    const pending = !req.complete && (req.method === 'PUT' || req.method === 'POST');
    const cl = Number(req.headers['content-length'] ?? 'NaN');
    if (pending && !(cl <= 64 * 1024 * 1024)) headers.Connection = 'close';
    res.writeHead(err.status, headers);
    res.end(body);
    if (pending) {
      if (headers.Connection === 'close') res.once('finish', () => req.destroy());
      else req.resume();
    }
  }

  // Request ids: a random per-process prefix and a counter (unique, and cheap per request).
  const idPrefix = randomBytes(4).toString('hex').toUpperCase();
  let idCounter = 0;
  return (req, res) => {
    idCounter = (idCounter + 1) % 0x100000000;
    const id = idPrefix + idCounter.toString(16).toUpperCase().padStart(8, '0');
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    let bucket = '';
    let key = '';
    const run = async (): Promise<void> => {
      if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI', 400, 'Couldn\'t parse the specified URI.');
      const pairs = parseQueryPairs(rawQuery);
      const auth = opts.credentials ? verifySigV4({ method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers }, opts.credentials) : undefined;
      const rest = rawPath.slice(1);
      const i = rest.indexOf('/');
      try {
        // Percent-decoding happens once, here (resolution.md §1).
        bucket = decodeURIComponent(i < 0 ? rest : rest.slice(0, i));
        key = i < 0 ? '' : decodeURIComponent(rest.slice(i + 1));
      } catch {
        throw new S3Error('InvalidURI', 400, 'Couldn\'t parse the specified URI.');
      }
      let snap: Snapshot;
      try {
        snap = ctx.snapshot();
      } catch (e) {
        if (isAlluxioError(e)) throw new S3Error('ServiceUnavailable', 503, e.message, {}, { 'Retry-After': '1' });
        throw e;
      }
      await route({ id, base: baseHeaders(id), method: req.method ?? 'GET', rawPath, query: new Map(pairs), bucket, key, snap, auth, req, res });
    };
    run().catch((e: unknown) => {
      let err: S3Error;
      if (e instanceof S3Error) err = e;
      else if (isAlluxioError(e)) err = fromAlluxio(e, { bucket, key });
      else if ((e as NodeJS.ErrnoException)?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
        // the client went away mid-transfer: nothing to answer
        if (!res.headersSent) res.destroy();
        return;
      } else {
        ctx.log.error({ err: e, method: req.method, url }, 's3 request failed');
        err = s3err.internal('We encountered an internal error. Please try again.');
      }
      if (err.status >= 500 && err.code !== 'NotImplemented') ctx.log.warn({ code: err.code, msg: err.message, url }, 's3 error');
      sendError(req, res, err, rawPath, id);
    });
  };
}
