/**
 * The cache's REST endpoints on the worker's REST port (hooked into the worker with one line):
 *
 *   GET  /api/v1/cache/status[?path=P]   this worker's cache: capacity, used, pages, hit ratio;
 *                                        with path: files, bytes and bytes cached below P
 *   POST /api/v1/cache/load?path=P       start loading P into this worker's cache (202; joins a
 *                                        load of P already running); answers the job
 *   GET  /api/v1/cache/load[?path=P]     the job of P (404 when none), or every job
 *   POST /api/v1/cache/free?path=P       drop everything at or below P's UFS URI from this cache
 *
 * A worker without --cache-dir answers status with {"enabled": false} and refuses load and
 * free with 409 InvalidState. Errors: {"error": AlluxioError JSON}, status from the code.
 *
 * With ALLUXIO_S3_CREDENTIALS set, these endpoints require a SigV4 signature like every REST
 * endpoint (src/frontends/rest/auth.ts; the CLI signs with the first key of its own
 * ALLUXIO_S3_CREDENTIALS): 401/403 with the verifier's code otherwise.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AlluxioError, isAlluxioError } from '../domain/errors.js';
import { DataPath, type DataTarget } from '../frontends/common/data-path.js';
import type { Snapshot } from '../domain/snapshot.js';
import type { FrontendContext } from '../frontends/context.js';
import { CacheLoader, walkFiles } from './load.js';
import { jobJournal } from './job-journal.js';
import { HTTP_STATUS, RestError } from '../frontends/rest/errors.js';
import { sendJson } from '../frontends/rest/json.js';
import { authenticateRest, restAuthFromEnv, type RestAuthOptions } from '../frontends/rest/auth.js';

export type CacheAdmin = ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) & { loader: CacheLoader | undefined };

export function cacheAdminHandler(ctx: FrontendContext, auth: RestAuthOptions = restAuthFromEnv()): CacheAdmin {
  const dp = new DataPath(ctx);
  const cache = ctx.cache;
  const journal = cache && jobJournal(cache.store.dir, (what, e) => ctx.log.warn({ err: (e as Error).message }, `cache load journal: could not ${what}`));
  const loader = journal ? new CacheLoader(dp, 4, journal, () => cache.store.roomForWrites()) : undefined;
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://worker');
    if (!url.pathname.startsWith('/api/v1/cache/')) return false;
    const what = url.pathname.slice('/api/v1/cache/'.length);
    const path = url.searchParams.get('path');
    try {
      authenticateRest(req, auth);
      if (what === 'status' && req.method === 'GET') {
        if (!cache) return send(res, 200, { enabled: false });
        const c = cache.counters;
        const body: Record<string, unknown> = {
          enabled: true,
          ...cache.store.stats(),
          hits: c.hits,
          misses: c.misses,
          hitRatio: c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : 0,
          cacheReadBytes: c.cacheReadBytes,
          ufsReadBytes: c.ufsReadBytes,
          evictions: c.evictions,
          corruptPages: c.corruptPages,
          writeErrors: c.writeErrors,
          // This worker's share of the files in the cluster cache (null: no ring).
          share: ctx.cluster?.ring.selfShare() ?? null,
        };
        if (path) {
          const snap = dp.snapshot();
          const root = await existing(dp, snap, path);
          let files = 0;
          let bytes = 0;
          let cached = 0;
          // In a cluster cache: the files this worker owns (the workers' answers add up).
          for await (const f of walkFiles(dp, snap, root, path, undefined, (t) => !dp.ownedElsewhere(t))) {
            const st = await dp.stat(f.t);
            if (!st || st.type !== 'file') continue;
            files++;
            bytes += st.size;
            cached += cache.cachedBytes(f.t, st);
          }
          body.path = { path, files, bytes, cachedBytes: cached, percent: bytes > 0 ? (100 * cached) / bytes : 100 };
        }
        return send(res, 200, body);
      }
      if (what === 'load' && (req.method === 'POST' || req.method === 'GET')) {
        if (!loader) throw disabled();
        if (req.method === 'GET') {
          if (!path) return send(res, 200, { jobs: loader.list() });
          const job = loader.get(path);
          if (!job) throw new AlluxioError('NotFound', `no cache load of ${path} on this worker`);
          return send(res, 200, job);
        }
        if (!path) throw new AlluxioError('InvalidArgument', 'path is required');
        await existing(dp, dp.snapshot(), path); // (a job of nothing is no answer)
        return send(res, 202, loader.start(path));
      }
      if (what === 'free' && req.method === 'POST') {
        if (!cache) throw disabled();
        if (!path) throw new AlluxioError('InvalidArgument', 'path is required');
        const snap = dp.snapshot();
        // `/`: everything, mount by mount (it is in no mount itself)
        const uris = path === '/' ? snap.mounts.map((m) => m.ufsUri) : [dp.target(snap, { api: 'alluxio', path }).resolution.location!.uri];
        const dropped = { objects: 0, pages: 0 };
        for (const uri of uris) {
          const d = await cache.free(uri);
          dropped.objects += d.objects;
          dropped.pages += d.pages;
        }
        await cache.filesRemoved(); // removed by the page writer thread: requests go on meanwhile
        return send(res, 200, { path, uri: path === '/' ? null : uris[0], ...(path === '/' ? { uris } : {}), ...dropped });
      }
      throw new AlluxioError('NotFound', `no such endpoint ${req.method} ${url.pathname}`);
    } catch (e) {
      if (e instanceof RestError) return send(res, e.status, { error: { code: e.code, message: e.message } }, e.headers);
      const err = isAlluxioError(e) ? e : new AlluxioError('Internal', (e as Error).message);
      return send(res, HTTP_STATUS[err.code], { error: err.toJSON() });
    }
  };
  return Object.assign(handler, { loader });
}

/** The target of `path`, which must exist (a file or a directory): NotFound otherwise. */
async function existing(dp: DataPath, snap: Snapshot, path: string): Promise<DataTarget> {
  const t = dp.target(snap, { api: 'alluxio', path });
  if (!(await dp.stat(t))) throw new AlluxioError('NotFound', `${path} does not exist (resolved to ${t.resolution.location?.uri ?? 'no location'})`);
  return t;
}

function disabled(): AlluxioError {
  return new AlluxioError('InvalidState', 'this worker has no cache (start it with --cache-dir)');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  sendJson(res, status, body, headers);
  return true;
}
