/**
 * The S3 front end of a worker: path-style S3 over HTTP, where a bucket is a top-level
 * mount (or a virtual top-level directory made by a rule) and the key is the rest of the
 * path. This file is the entry: parse the request line, authenticate, take the request's
 * snapshot, route (router.ts) to a handler (handlers/bucket.ts, object.ts, multipart.ts),
 * and answer errors as S3 XML (errors.ts holds the one ErrorCode -> S3 table).
 *
 *   router.ts          method + level + subresource -> operation (pure)
 *   preconditions.ts   If-Match / If-None-Match / If-(Un)Modified-Since (pure)
 *   ranges.ts          Range, partNumber, x-amz-copy-source-range (pure)
 *   request-body.ts    aws-chunked decoding and body verification -> the sink
 *   request.ts         Req, S3Context, answer helpers, key checks, target binding
 *   key-locks.ts       per-key serialisation of writes (conditional writes)
 *
 * Every resolution, read, write and delete goes through the one data path
 * (src/frontends/common/data-path.ts).
 *
 * Options (explicit parameter; `s3OptionsFromEnv` reads them from the environment):
 *   credentials   access key -> secret key; when set, SigV4 (header or presigned) is
 *                 verified; when unset, any credentials are accepted (like Alluxio).
 *                 env: ALLUXIO_S3_CREDENTIALS="AK:SK[,AK2:SK2]"
 *   stagingDir    where multipart parts are staged (env: ALLUXIO_S3_STAGING_DIR;
 *                 default <tmpdir>/alluxio-s3-multipart-<instance>, one per worker: an
 *                 upload lives on the worker that created it)
 *   region        reported by GetBucketLocation (env: ALLUXIO_S3_REGION; default us-east-1)
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { isAlluxioError } from '../../domain/errors.js';
import type { Snapshot } from '../../domain/snapshot.js';
import { DataPath } from '../common/data-path.js';
import type { FrontendContext } from '../context.js';
import { errorXml, fromAlluxio, S3Error, s3err } from './errors.js';
import * as bucket from './handlers/bucket.js';
import * as multipart from './handlers/multipart.js';
import * as object from './handlers/object.js';
import { KeyLocks } from './key-locks.js';
import { defaultStagingDir, MultipartStore } from './multipart.js';
import { baseHeaders, bucketExists, type Req, type S3Context } from './request.js';
import { levelOf, routeOf, unsupportedHeader, type Operation } from './router.js';
import { parseCredentials, parseQueryPairs, verifySigV4, type Credentials } from './sigv4.js';
import { parseDuration } from '../../cli/duration.js';
import { AlluxioError } from '../../domain/errors.js';

export interface S3HandlerOptions {
  credentials?: Credentials;
  stagingDir?: string;
  region?: string;
  /** Multipart uploads with no write for this long are removed (ms; default 24 h). */
  multipartMaxAgeMs?: number;
}

const DEFAULT_MULTIPART_MAX_AGE_MS = 24 * 3_600_000;

export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): S3HandlerOptions {
  const o: S3HandlerOptions = {};
  const creds = parseCredentials(env.ALLUXIO_S3_CREDENTIALS);
  if (creds) o.credentials = creds;
  if (env.ALLUXIO_S3_STAGING_DIR) o.stagingDir = env.ALLUXIO_S3_STAGING_DIR;
  if (env.ALLUXIO_S3_REGION) o.region = env.ALLUXIO_S3_REGION;
  if (env.ALLUXIO_S3_MULTIPART_MAX_AGE) {
    const ms = parseDuration(env.ALLUXIO_S3_MULTIPART_MAX_AGE, 'ALLUXIO_S3_MULTIPART_MAX_AGE');
    if (ms < 1000) throw new AlluxioError('InvalidArgument', `ALLUXIO_S3_MULTIPART_MAX_AGE="${env.ALLUXIO_S3_MULTIPART_MAX_AGE}" must be at least 1s (uploads idle that long are removed)`);
    o.multipartMaxAgeMs = ms;
  }
  return o;
}

type Handler = (ctx: S3Context, r: Req) => void | Promise<void>;

/** Operation -> handler: the compiler checks every routed operation has one. */
const HANDLERS: Record<Operation, Handler> = {
  ListBuckets: bucket.listBuckets,
  HeadBucket: bucket.headBucket,
  GetBucketLocation: bucket.getBucketLocation,
  GetBucketVersioning: bucket.getBucketVersioning,
  ListMultipartUploads: multipart.listUploads,
  ListObjectsV1: (c, r) => bucket.listObjects(c, r, false),
  ListObjectsV2: (c, r) => bucket.listObjects(c, r, true),
  DeleteObjects: bucket.deleteObjects,
  CreateBucket: bucket.createBucket,
  DeleteBucket: bucket.deleteBucket,
  GetObject: (c, r) => object.getObject(c, r, false),
  HeadObject: (c, r) => object.getObject(c, r, true),
  GetObjectTagging: object.getObjectTagging,
  PutObject: object.putObject,
  CopyObject: object.copyObject,
  DeleteObject: object.deleteObject,
  UploadPart: multipart.uploadPart,
  UploadPartCopy: multipart.uploadPartCopy,
  CompleteMultipartUpload: multipart.completeMultipart,
  AbortMultipartUpload: multipart.abortMultipart,
  ListParts: multipart.listParts,
  CreateMultipartUpload: multipart.createMultipart,
};

function expectsContinue(req: IncomingMessage): boolean {
  return String(req.headers.expect ?? '').toLowerCase() === '100-continue';
}

function sendError(req: IncomingMessage, res: ServerResponse, err: S3Error, resource: string, id: string, bodyWithheld: boolean): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const body = req.method === 'HEAD' ? '' : errorXml(err, resource, id);
  const headers: Record<string, string | number> = { ...baseHeaders(id), 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body), ...err.headers };
  // A body the client is still sending: read (and drop) it when small, else close after
  // replying. A client told nothing after Expect: 100-continue sends no body: close.
  const pending = !req.complete && (req.method === 'PUT' || req.method === 'POST');
  const cl = Number(req.headers['content-length'] ?? 'NaN');
  if (pending && (bodyWithheld || !(cl <= 64 * 1024 * 1024))) headers.Connection = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
  if (pending) {
    if (headers.Connection === 'close') res.once('finish', () => req.destroy());
    else req.resume();
  }
}

/**
 * Remove abandoned multipart uploads now and then every half of the maximum age (between
 * 1 s and 10 min), in the background (the timer does not keep the process alive).
 */
const sweepers = new Set<string>();

function sweepAbandonedUploads(frontend: FrontendContext, staging: MultipartStore, maxAgeMs: number): void {
  // One sweeper per staging directory and process (S3 servers of one worker share it).
  if (sweepers.has(staging.dir)) return;
  sweepers.add(staging.dir);
  const every = Math.min(10 * 60_000, Math.max(1000, Math.floor(maxAgeMs / 2)));
  const run = (): void => {
    void staging.sweep(maxAgeMs).then((r) => {
      if (r.uploads > 0) frontend.log.info({ uploads: r.uploads, bytes: r.bytes, maxAgeMs }, 's3: removed abandoned multipart uploads');
    });
  };
  run();
  setInterval(run, every).unref();
}

export function createS3Handler(frontend: FrontendContext, opts: S3HandlerOptions = s3OptionsFromEnv()): RequestListener {
  const ctx: S3Context = {
    frontend,
    dp: new DataPath(frontend),
    staging: opts.stagingDir !== undefined ? new MultipartStore(opts.stagingDir) : new MultipartStore(defaultStagingDir(frontend.instance), true),
    locks: new KeyLocks(),
    region: opts.region ?? 'us-east-1',
  };
  sweepAbandonedUploads(frontend, ctx.staging, opts.multipartMaxAgeMs ?? DEFAULT_MULTIPART_MAX_AGE_MS);
  frontend.atStop?.(() => ctx.staging.removeIfEmpty());

  // Request ids: a random per-process prefix and a counter (unique, and cheap per request).
  const idPrefix = randomBytes(4).toString('hex').toUpperCase();
  let idCounter = 0;
  const listener: RequestListener = (req, res) => {
    // Answer `Expect: 100-continue` ourselves (after authentication and the bucket check):
    // without a 'checkContinue' listener Node sends 100 before the request is seen. The
    // worker installs it on its S3 servers (host/listen.ts, answersContinue); a server
    // that did not gets it from its first request.
    const srv = (req.socket as unknown as { server?: Server }).server;
    const ownContinue = srv !== undefined && srv.listenerCount('checkContinue') > 0;
    if (srv && !ownContinue) srv.on('checkContinue', listener);
    if (srv && srv.listenerCount('checkExpectation') === 0) srv.on('checkExpectation', listener); // (other Expect values: served)
    idCounter = (idCounter + 1) % 0x100000000;
    const id = idPrefix + idCounter.toString(16).toUpperCase().padStart(8, '0');
    // True while the client waits for our 100 (Node already sent one if we had no listener yet).
    void serve(ctx, opts, new Pending(req, res, id, ownContinue && expectsContinue(req)));
  };
  return listener;
}

/**
 * One request between its arrival and its handler: what the error answer needs. A class
 * and module-level functions rather than closures per request: the bundle keeps function
 * names (scripts/bundle.mjs), which costs a defineProperty per named closure created.
 */
class Pending {
  readonly url: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly method: string;
  bucket = '';
  key = '';
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly id: string,
    /** True while the client waits for our 100 (Node already sent one if we had no listener yet). */
    public withheld: boolean,
  ) {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    this.url = url;
    this.rawPath = qi < 0 ? url : url.slice(0, qi);
    this.rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    this.method = req.method ?? 'GET';
  }
}

async function serve(ctx: S3Context, opts: S3HandlerOptions, p: Pending): Promise<void> {
  try {
    await run(ctx, opts, p);
  } catch (e) {
    fail(ctx, p, e);
  }
}

/** The credential scope's service a signature to the S3 API names (its region: `region` when set). */
const S3_SERVICES = ['s3'];

async function run(ctx: S3Context, opts: S3HandlerOptions, p: Pending): Promise<void> {
  const { req, res, rawPath, rawQuery, method } = p;
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
  const pairs = parseQueryPairs(rawQuery);
  const auth = opts.credentials ? verifySigV4({ method, rawPath, rawQuery, headers: req.headers, distinctHeaders: () => req.headersDistinct }, opts.credentials, { services: S3_SERVICES, sigV2: true, ...(opts.region !== undefined ? { region: opts.region } : {}) }) : undefined;
  const rest = rawPath.slice(1);
  const i = rest.indexOf('/');
  try {
    // Percent-decoding happens once, here (resolution.md §1).
    p.bucket = decodeURIComponent(i < 0 ? rest : rest.slice(0, i));
    p.key = i < 0 ? '' : decodeURIComponent(rest.slice(i + 1));
  } catch {
    throw new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
  }
  const bucketName = p.bucket;
  const key = p.key;
  // "//name/..." names no bucket: not the service (it answered ListBuckets)
  if (bucketName === '' && i >= 0) throw new S3Error('InvalidURI', 400, "Couldn't parse the specified URI.");
  const query = new Map(pairs);
  const op = routeOf({ method, bucket: bucketName, key, query, headers: req.headers });
  const level = levelOf(bucketName, key);
  if (level !== 'service' && mayAskUnsupported(req.rawHeaders)) {
    const h = unsupportedHeader(req.headers);
    if (h) throw new S3Error('NotImplemented', 501, `A header you provided implies functionality that is not implemented: ${h}`, { Header: h });
  }
  let snap: Snapshot;
  try {
    snap = ctx.dp.snapshot();
  } catch (e) {
    if (isAlluxioError(e)) throw s3err.serviceUnavailable(e.message);
    throw e;
  }
  const r: Req = { id: p.id, base: baseHeaders(p.id), method, rawPath, query, bucket: bucketName, key, snap, auth, req, res };
  if (p.withheld) {
    if (level !== 'service' && !bucketExists(ctx, r, bucketName)) throw s3err.noSuchBucket(bucketName);
    res.writeContinue();
    p.withheld = false;
  }
  await HANDLERS[op](ctx, r);
}

/**
 * Whether a request may carry a header `unsupportedHeader` refuses: every one of them is an
 * `x-amz-*` header, so a request without any (most GETs) skips the ~25 lookups.
 */
function mayAskUnsupported(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const c = raw[i]!.charCodeAt(0);
    if (c === 0x78 || c === 0x58) return true; // x / X
  }
  return false;
}

function fail(ctx: S3Context, p: Pending, e: unknown): void {
  const { req, res, method, url } = p;
  const frontend = ctx.frontend;
  let err: S3Error;
  if (e instanceof S3Error) err = e;
  else if (isAlluxioError(e)) err = fromAlluxio(e, { bucket: p.bucket, key: p.key });
  else if ((e as NodeJS.ErrnoException)?.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    // the client went away mid-transfer: nothing to answer
    if (!res.headersSent) res.destroy();
    return;
  } else {
    frontend.log.error({ err: e, method, url }, 's3 request failed');
    err = s3err.internal('We encountered an internal error. Please try again.');
  }
  if (err.status >= 500 && err.code !== 'NotImplemented') frontend.log.warn({ code: err.code, msg: err.message, url }, 's3 error');
  sendError(req, res, err, p.rawPath, p.id, p.withheld);
}
